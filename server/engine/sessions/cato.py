"""CATO SQLite audit logs as sessions, with their per-session hash chain verified.

Each `audit_log` row is one action (`tool_call`, `error`, ... an open set).
Rows chain per session: `prev_hash` is the previous row's `row_hash`, and
`row_hash` hashes the row's id, session, action, tool, cost, timestamp and
`prev_hash`. The chain does not cover `inputs_json` or `outputs_json`, so an
edit there is invisible to it: the facts say so instead of calling it verified.
Outputs may be cut at 2000 characters; a cut output is kept as text and marked.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.sessions.model import Session, SessionInfo, SourceRef, Step, StepKind, finding, iso_time
from server.engine.sessions.sqlite import DatabaseError, connect, describe

KIND = "cato-audit"
TABLE = "audit_log"
OUTPUT_LIMIT = 2000
CHAINED = ("id", "session_id", "action_type", "tool_name", "cost_cents", "timestamp", "prev_hash")
_MODEL_ACTIONS = frozenset({"llm_call", "model_call", "completion", "chat"})


def _text(values: list[Any]) -> list[str]:
    return ["" if value is None else str(value) for value in values]


# CATO's exact hash input is not published; these are the layouts tried, and the
# one under which the session's rows verify is reported in the facts.
LAYOUTS: dict[str, Callable[[list[Any]], str]] = {
    "json-sorted": lambda values: json.dumps(dict(zip(CHAINED, values, strict=True)), sort_keys=True),
    "json-compact": lambda values: json.dumps(
        dict(zip(CHAINED, values, strict=True)), sort_keys=True, separators=(",", ":")
    ),
    "pipe-joined": lambda values: "|".join(_text(values)),
    "concatenated": lambda values: "".join(_text(values)),
}


def row_hash(values: list[Any], layout: str) -> str:
    """The `row_hash` of a row's chained values under one layout."""
    return hashlib.sha256(LAYOUTS[layout](values).encode("utf-8")).hexdigest()


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    query = f"SELECT session_id, MIN(timestamp) FROM {TABLE} GROUP BY session_id ORDER BY MIN(id)"
    try:
        with connect(path) as connection:
            rows = connection.execute(query).fetchall()
    except (DatabaseError, sqlite3.Error) as exc:
        reason = str(exc) if isinstance(exc, DatabaseError) else describe(exc)
        problems.append(finding(codes.TRACE_ERROR, path, None, f"cannot list sessions: {reason}"))
        return [SessionInfo(KIND, path, path.name, title=f"unreadable audit log: {reason}")]
    return [
        SessionInfo(KIND, path, str(session), title=f"CATO session {session}", started_at=iso_time(started))
        for session, started in rows
    ]


@dataclass
class _Chain:
    """Incremental verification of one session's chain."""

    previous: str | None = None
    rows: int = 0
    layouts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LAYOUTS, 0))
    broken_links: list[Any] = field(default_factory=list)
    unhashed: list[tuple[Any, list[Any], Any]] = field(default_factory=list)

    def link(self, row: sqlite3.Row) -> bool:
        """Check `prev_hash` against the previous row; False when the link is broken."""
        stored = _column(row, "row_hash")
        ok = self.rows == 0 or _column(row, "prev_hash") == self.previous
        self.previous = stored
        self.rows += 1
        values = [_column(row, name) for name in CHAINED]
        self.unhashed.append((row["id"], values, stored))
        for layout in LAYOUTS:
            self.layouts[layout] += row_hash(values, layout) == stored
        if not ok:
            self.broken_links.append(row["id"])
        return ok

    def verdict(self) -> tuple[str | None, list[Any]]:
        """The layout most rows verify under (None when no row does) and the rows whose hash differs."""
        layout, count = max(self.layouts.items(), key=lambda item: item[1])
        if count == 0:
            return None, []
        return layout, [row_id for row_id, values, stored in self.unhashed if row_hash(values, layout) != stored]


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    del full_inputs
    chain = _Chain()
    steps_by_row: dict[Any, Step] = {}
    try:
        with connect(info.path) as connection:
            connection.row_factory = sqlite3.Row
            cursor = connection.execute(
                f"SELECT * FROM {TABLE} WHERE session_id = ? ORDER BY id",
                (info.id,),
            )
            for number, row in enumerate(cursor):
                step = _step(number, info.path, row)
                if not chain.link(row):
                    step.problem = "hash chain broken here: prev_hash is not the previous row's row_hash"
                steps_by_row[row["id"]] = step
    except DatabaseError as problem:
        yield _unreadable(info, sink, str(problem))
        return
    except sqlite3.Error as exc:
        yield from steps_by_row.values()
        yield _unreadable(info, sink, describe(exc), len(steps_by_row))
        return
    _verify(info, sink, chain, steps_by_row)
    yield from steps_by_row.values()


def _unreadable(info: SessionInfo, sink: Session, reason: str, index: int = 0) -> Step:
    sink.findings.append(finding(codes.TRACE_ERROR, info.path, None, reason))
    return Step(index, StepKind.OPAQUE, name="unreadable database", problem=reason)


def _verify(info: SessionInfo, sink: Session, chain: _Chain, steps: dict[Any, Step]) -> None:
    layout, altered = chain.verdict()
    sink.facts["chain"] = {
        "rows": chain.rows,
        "layout": layout,
        "verified": layout is not None and not altered and not chain.broken_links,
        "altered_rows": altered,
        "broken_links": chain.broken_links,
        "covers": list(CHAINED),
        "not_covered": ["inputs_json", "outputs_json", "error"],
    }
    if chain.rows and layout is None:
        sink.findings.append(
            finding(
                codes.CHAIN_UNVERIFIABLE,
                info.path,
                None,
                f"session {info.id}: no row_hash matches any known hash layout; links checked only",
            )
        )
    for row_id in altered:
        step = steps[row_id]
        step.problem = "row altered: its row_hash does not match its fields"
        sink.findings.append(
            finding(
                codes.CHAIN_BROKEN,
                info.path,
                step.source,
                f"session {info.id}, row {row_id}: row_hash does not match the row's fields (layout {layout})",
                {"row": row_id, "session": info.id},
            )
        )
    for row_id in chain.broken_links:
        sink.findings.append(
            finding(
                codes.CHAIN_BROKEN,
                info.path,
                steps[row_id].source,
                f"session {info.id}, row {row_id}: prev_hash is not the previous row_hash (row removed or moved?)",
                {"row": row_id, "session": info.id},
            )
        )


def _column(row: sqlite3.Row, name: str) -> Any:
    """A column's value, None when this log's schema has no such column."""
    return row[name] if name in row.keys() else None  # noqa: SIM118 (sqlite3.Row has no __contains__ for names)


def _json(value: Any) -> tuple[Any, bool]:
    """(parsed value, cut) of a JSON column; a cut or invalid text is kept as text."""
    if not isinstance(value, str):
        return value, False
    try:
        return json.loads(value), False
    except ValueError:
        return value, len(value) >= OUTPUT_LIMIT


def _step(number: int, path: Path, row: sqlite3.Row) -> Step:
    action = str(_column(row, "action_type") or "")
    tool = _column(row, "tool_name")
    inputs, _ = _json(_column(row, "inputs_json"))
    outputs, cut = _json(_column(row, "outputs_json"))
    error = _column(row, "error")
    source = SourceRef(path, label=f"{TABLE} row {row['id']}")
    facts = {"row": row["id"], "action_type": action, "cost_cents": _column(row, "cost_cents")}
    when = iso_time(_column(row, "timestamp"))
    problem = f"output cut at {OUTPUT_LIMIT} characters by the audit log" if cut else None
    if action in _MODEL_ACTIONS and isinstance(inputs, list):
        return Step(
            number,
            StepKind.MODEL,
            caller=str(tool) if tool else None,
            input=inputs,
            output=outputs,
            started_at=when,
            status="error" if error else None,
            source=source,
            problem=problem,
            data=facts,
        )
    if action == "tool_call" or (tool and action == "error"):
        return Step(
            number,
            StepKind.TOOL,
            name=str(tool or ""),
            arguments=inputs,
            result=error or outputs,
            status="error" if error or action == "error" else "success",
            started_at=when,
            source=source,
            problem=problem,
            data=facts,
        )
    return Step(
        number,
        StepKind.OPAQUE,
        name=action or "row",
        arguments=inputs,
        result=outputs,
        started_at=when,
        source=source,
        problem=str(error) if error else problem,
        data=facts,
    )
