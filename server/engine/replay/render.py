"""Normalized inputs as readable lines, and line diffs between two of them.

The canonical text a key is hashed from is one long JSON line: useless for a
diff. Rendering the same projection one message header and one content line
per line makes `difflib` point at the exact line that changed.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from itertools import compress, count
from operator import is_not
from typing import Any

from server.engine.normalize import InputShapeError, Normalizer
from server.engine.replay.similar import ratio


def render(normalizer: Normalizer, messages: Sequence[Any]) -> list[str]:
    """The normalized projection of `messages`, one line per header, content line and tool call."""
    try:
        entries = normalizer.project(messages)
    except InputShapeError as exc:
        return [f"(input cannot be projected: {exc})"]
    return _lines(normalizer, entries)


class Renderer:
    """`render` for many inputs that re-send the same message objects (a session's, a recording's read back).

    A message's projection depends on that message alone, so each is rendered once
    and its lines reused: ranking a miss against every recorded input of a deep
    session costs O(n) rendering instead of O(n²). An input that cannot be
    projected is rendered whole, for the same error line as `render`'s.
    """

    def __init__(self, normalizer: Normalizer) -> None:
        self.normalizer = normalizer
        self.known: dict[int, tuple[Any, list[str]]] = {}  # by id, holding the message so the id stays its own
        self.sized: tuple[list[Any], list[int]] = ([], [0])  # the input `size` saw last, lines before each message

    def __call__(self, messages: Sequence[Any]) -> list[str]:
        lines: list[str] = []
        for message in messages:
            rendered = self._message(message)
            if rendered is None:
                return render(self.normalizer, messages)
            lines.extend(rendered)
        return lines

    def size(self, messages: Sequence[Any]) -> int:
        """`len(self(messages))` without building the list: ranking a miss sizes every recorded input.

        Inputs sized one after the other share their history: the running line counts of the last one
        are kept, and only the messages after the prefix it shares (by identity, found in C) are counted."""
        sized, totals = self.sized
        shared = next(compress(count(), map(is_not, sized, messages)), min(len(sized), len(messages)))
        totals = totals[: shared + 1]
        for message in messages[shared:]:
            rendered = self._message(message)
            if rendered is None:
                return len(render(self.normalizer, messages))
            totals.append(totals[-1] + len(rendered))
        self.sized = (list(messages), totals)
        return totals[-1]

    def _message(self, message: Any) -> list[str] | None:
        """One message's lines (None: it cannot be projected alone)."""
        known = self.known.get(id(message))
        if known is None:
            try:
                entries = self.normalizer.project([message])
            except InputShapeError:
                return None
            known = self.known[id(message)] = (message, _lines(self.normalizer, entries))
        return known[1]


def _lines(normalizer: Normalizer, entries: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for entry in entries:
        name = f" name={entry['name']}" if "name" in entry else ""
        lines.append(f"[{entry['type']}]{name}")
        if entry["content"]:
            lines.extend(f"  {line}" for line in str(entry["content"]).split("\n"))
        for call in entry.get("tool_calls", []):
            args = json.dumps(call.get("args"), sort_keys=True, ensure_ascii=False)
            try:
                args = normalizer.text(args)
            except InputShapeError as exc:  # a rule ran over its budget: shown as recorded, and why
                args = f"{args} (not normalized: {exc})"
            lines.append(f"  -> {call.get('name')}({args})")
    return lines


def similarity(first: Sequence[str], second: Sequence[str]) -> float:
    """How alike two rendered inputs are, line by line (1.0: identical): difflib's ratio, without autojunk."""
    return ratio(first, second)


def percent(ratio: float) -> str:
    """A similarity as people read it: whole percents, floored, and one decimal above 99.5 %, so that two
    inputs that differ never read "100%" (0.9996 is "99.9%", 0.996 "99.6%", 0.5 "50%", 1.0 "100%")."""
    if ratio >= 1.0:
        return "100%"
    if ratio >= 0.995:
        return f"{min(999, math.floor(ratio * 1000 + 1e-9)) / 10:.1f}%"
    return f"{max(0, math.floor(ratio * 100 + 1e-9))}%"


def line_diff(before: Sequence[str], after: Sequence[str], before_label: str, after_label: str) -> str:
    """A unified diff (3 lines of context); empty when the two are equal."""
    return "\n".join(difflib.unified_diff(list(before), list(after), before_label, after_label, lineterm=""))
