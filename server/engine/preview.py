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
    except ValueError:
        return canonical
    return json.dumps(value, indent=2, ensure_ascii=False)


def render_output(output: Any) -> str:
    """A recorded output as plain text: the assistant's text, then each tool call with its args."""
    if not isinstance(output, dict) or not isinstance(output.get("data"), dict):
        return json.dumps(output, indent=2, ensure_ascii=False)
    data: dict[str, Any] = output["data"]
    lines: list[str] = []
    text = _content_text(data.get("content", ""))
    lines.append(text if text.strip() else "(no text)")
    calls = data.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        if isinstance(call, dict):
            args = json.dumps(call.get("args"), indent=2, ensure_ascii=False)
            lines.append(f"→ tool call {call.get('name')}({args})")
    invalid = data.get("invalid_tool_calls")
    if isinstance(invalid, list) and invalid:
        lines.append(f"({len(invalid)} invalid tool call{'s' if len(invalid) != 1 else ''})")
    return "\n".join(lines)


def _content_text(content: Any) -> str:
    try:
        return content_to_text(content)
    except InputShapeError:
        return json.dumps(content, ensure_ascii=False)


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
