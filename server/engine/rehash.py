"""Rehash: the text edits that write recomputed keys into a fixture.

Only the changed JSON string values are replaced, so the file keeps its layout
byte for byte. The CLI (`check --fix`) and the language server's quick fixes
both use these edits, so they produce identical bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from server.engine.checks import FixtureReport
from server.engine.jsontext import dumps
from server.engine.source import Span


@dataclass(frozen=True, slots=True)
class Edit:
    span: Span
    new_text: str


def rehash_edits(report: FixtureReport, turns: Iterable[int] | None = None) -> list[Edit]:
    """Edits for every stale turn of a cleanly parsed fixture (or just `turns`)."""
    if not report.fixture.parsed_cleanly:
        return []
    wanted = set(turns) if turns is not None else None
    edits: list[Edit] = []
    for turn_report in report.turns:
        values = turn_report.rehash
        if values is None:
            continue
        if wanted is not None and turn_report.turn.index not in wanted:
            continue
        for key, value in values.items():
            member = turn_report.turn.members[key]
            if member.value != value:
                edits.append(Edit(member.span, dumps(value)))  # a lone surrogate is written escaped
    return sorted(edits, key=lambda edit: edit.span.start)


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (sorted by start) to `text`."""
    parts: list[str] = []
    position = 0
    for edit in edits:
        parts.append(text[position : edit.span.start])
        parts.append(edit.new_text)
        position = edit.span.end
    parts.append(text[position:])
    return "".join(parts)
