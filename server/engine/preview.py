"""Human-readable previews of what a key was computed from and what a turn answers.

Adapters (hovers, commands, reports) show these texts; they are built here so
every adapter shows the same thing. All previews go through `mask_secrets`
unless the caller explicitly asks to reveal them.
"""

from __future__ import annotations

import json
from typing import Any

from server.engine.normalize import InputShapeError, content_to_text
from server.engine.secrets import mask_secrets


def normalized_input(canonical: str) -> str:
    """The canonical text a key was hashed from, pretty-printed (placeholders stay visible).

    The canonical text is JSON by construction; if a rule broke its syntax (the
    second pass runs over the dumped text), it is shown as is.
    """
    try:
        value = json.loads(canonical)
    except (ValueError, RecursionError):  # nested deeper than the parser goes from here
        return canonical
    return _pretty(value)


PREVIEW_DEPTH = 64
"""Levels of a value a preview shows; deeper ones read `…`. JSON may nest about 1,000 levels, and
pretty-printing that deep from a request handler's stack exceeds Python's recursion limit."""


def _pretty(value: Any, indent: int | None = 2) -> str:
    return json.dumps(shallow(value, PREVIEW_DEPTH), indent=indent, ensure_ascii=False)


def shallow(value: Any, depth: int) -> Any:
    """A copy of a JSON value whose containers deeper than `depth` levels are replaced by `"…"`.

    Walked with a stack of its own, never by recursion, so any depth the parser accepts is fine.
    """
    top: list[Any] = [None]
    pending: list[tuple[Any, Any, Any, int]] = [(value, top, 0, 0)]
    while pending:
        item, into, at, level = pending.pop()
        if isinstance(item, dict | list) and level >= depth:
            into[at] = "…"
        elif isinstance(item, dict):
            into[at] = mapping = dict.fromkeys(item)
            pending.extend((child, mapping, key, level + 1) for key, child in item.items())
        elif isinstance(item, list):
            into[at] = copy = [None] * len(item)
            pending.extend((child, copy, position, level + 1) for position, child in enumerate(item))
        else:
            into[at] = item
    return top[0]


def render_output(output: Any) -> str:
    """A recorded output as plain text: the assistant's text, then each tool call with its args."""
    if not isinstance(output, dict) or not isinstance(output.get("data"), dict):
        return _pretty(output)
    data: dict[str, Any] = output["data"]
    lines: list[str] = []
    text = _content_text(data.get("content", ""))
    lines.append(text if text.strip() else "(no text)")
    calls = data.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        if isinstance(call, dict):
            args = _pretty(call.get("args"))
            lines.append(f"→ tool call {call.get('name')}({args})")
    invalid = data.get("invalid_tool_calls")
    if isinstance(invalid, list) and invalid:
        lines.append(f"({len(invalid)} invalid tool call{'s' if len(invalid) != 1 else ''})")
    return "\n".join(lines)


def _content_text(content: Any) -> str:
    try:
        return content_to_text(content)
    except InputShapeError:
        return _pretty(content, indent=None)


def cut(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters on a line boundary, with a note saying how much is hidden."""
    if limit <= 0 or len(text) <= limit:
        return text
    end = text.rfind("\n", 0, limit)
    if end < limit // 2:
        end = limit
    hidden = len(text) - end
    lines = text[end:].strip("\n").count("\n") + 1
    return f"{text[:end]}\n… cut: {hidden:,} more characters ({lines:,} more line{'s' * (lines != 1)}) not shown"


def safe(text: str, *, reveal: bool = False) -> str:
    """`text` ready to show: secrets masked unless the user asked to reveal them."""
    return text if reveal else mask_secrets(text)
