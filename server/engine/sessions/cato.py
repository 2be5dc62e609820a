"""CATO SQLite audit logs as sessions, with their per-session hash chain verified.

Read as CATO's own `AuditLog` (benstone-E4L/Cato-FinanceOS `cato/audit/audit_log.py`,
commit 6e012a1) writes them: each `audit_log` row is one action, all shown as
tool steps (CATO logs no model input or output). Rows chain per session:
`row_hash = sha256(f"{id}:{session_id}:{action_type}:{tool_name}:{cost_cents}:{timestamp}:{prev_hash}")`
where `prev_hash` is the previous row of the same session ("" for its first).
`inputs_json`, `outputs_json` and `error` are not chained, so an edit there is
undetectable: the facts say so instead of calling those verified.

A log can hold millions of rows: pages are read with SQL `LIMIT`/`OFFSET`, and
the chain is checked in one streamed pass that keeps only the previous row's
hashes, naming at most `NAMED_ROWS` rows one by one.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.sessions.model import (
    Session,
    SessionInfo,
    SourceRef,
    Step,
    StepKind,
    finding,
    iso_time,
    unreadable_step,
)
from server.engine.sessions.sqlite import DatabaseError, connect, reason

KIND = "cato-audit"
TABLE = "audit_log"
OUTPUT_LIMIT = 2000
CHAINED = ("id", "session_id", "action_type", "tool_name", "cost_cents", "timestamp", "prev_hash")
NOT_COVERED = ("inputs_json", "outputs_json", "error")
RECIPE = "cato audit_log.py: sha256 of id:session_id:action_type:tool_name:cost_cents:timestamp:prev_hash"
NAMED_ROWS = 100
_LOOKUPS = 10  # broken links traced to the row they name (each a scan of the table)
_CARRIED = 8
_PROBED = 64  # rows of the log tried when none of a session's rows is CATO's
_CUT = re.compile(r"\.\.\. \[truncated (\d+) chars\]\Z")


def row_hash(row_id: Any, session_id: Any, action: Any, tool: Any, cost: Any, timestamp: Any, prev: Any) -> str:
    """CATO's `_row_hash`: every value formatted as an f-string does (None is "None", a float its repr)."""
    payload = f"{row_id}:{session_id}:{action}:{tool}:{cost}:{timestamp}:{prev}"
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    try:
        with connect(path) as connection:
            started = "MIN(timestamp)" if "timestamp" in _columns(connection) else "NULL"
            query = f"SELECT session_id, {started} FROM {TABLE} GROUP BY session_id ORDER BY MIN(rowid)"
            rows = connection.execute(query).fetchall()
    except (DatabaseError, sqlite3.Error) as exc:
        why = reason(exc)
        problems.append(finding(codes.TRACE_ERROR, path, None, f"cannot list sessions: {why}"))
        return [SessionInfo(KIND, path, path.name, title=f"unreadable audit log: {reason}")]
    return [
        SessionInfo(KIND, path, str(session), title=f"CATO session {session}", started_at=iso_time(started))
        for session, started in rows
    ]


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    """Every row of the session; the chain is checked first so each altered row is marked where it is shown."""
    del full_inputs
    count = 0
    try:
        with connect(info.path) as connection:
            connection.row_factory = sqlite3.Row
            marks = _check_chain(connection, info, sink, wanted=None)
            query = f"SELECT rowid AS rowid_, * FROM {TABLE} WHERE session_id = ? ORDER BY rowid"
            for row in connection.execute(query, (info.id,)):
                yield _marked(_step(count, info.path, row), marks)
                count += 1
    except (DatabaseError, sqlite3.Error) as exc:
        yield unreadable_step(info, sink, reason(exc), count)


def page(info: SessionInfo, sink: Session, first: int, size: int) -> tuple[list[Step], int]:
    """Steps `first` to `first + size` and the session's total, read with SQL paging (memory bounded by `size`)."""
    try:
        with connect(info.path) as connection:
            connection.row_factory = sqlite3.Row
            (total,) = connection.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE session_id = ?", (info.id,)).fetchone()
            query = f"SELECT rowid AS rowid_, * FROM {TABLE} WHERE session_id = ? ORDER BY rowid LIMIT ? OFFSET ?"
            rows = connection.execute(query, (info.id, size, first)).fetchall()
            steps = [_step(first + number, info.path, row) for number, row in enumerate(rows)]
            marks = _check_chain(connection, info, sink, wanted={row["rowid_"] for row in rows})
    except (DatabaseError, sqlite3.Error) as exc:
        return [unreadable_step(info, sink, reason(exc))], 1
    return [_marked(step, marks) for step in steps], total


def _marked(step: Step, marks: dict[int, str]) -> Step:
    mark = marks.get(step.data["row"]) if isinstance(step.data, dict) else None
    if mark:
        step.problem = f"{mark}; {step.problem}" if step.problem else mark
    return step


# -- the chain ------------------------------------------------------------------------------------
@dataclass
class _Chain:
    """One streamed pass over a session's chained columns, in row order, keeping only the last hashes."""

    rows: int = 0
    matching: int = 0
    accepted: set[str] = field(default_factory=lambda: {""})  # what the next row's prev_hash may be
    altered: list[int] = field(default_factory=list)  # the first NAMED_ROWS rows whose hash differs
    altered_count: int = 0
    links: list[_Link] = field(default_factory=list)  # the first NAMED_ROWS rows not linked to the previous one
    links_count: int = 0

    def add(self, row: sqlite3.Row) -> None:
        row_id, stored, prev = row["rowid_"], str(row["row_hash"]), str(row["prev_hash"])
        computed = row_hash(*(row[name] for name in CHAINED))
        altered = computed != stored
        if altered:
            self.altered_count += 1
            if len(self.altered) < NAMED_ROWS:
                self.altered.append(row_id)
        else:
            self.matching += 1
        linked = prev in self.accepted
        if not linked:
            self.links_count += 1
            if len(self.links) < NAMED_ROWS:
                self.links.append(_Link(row_id, prev, first=self.rows == 0, altered=altered))
        # A previous row whose row_hash alone was edited still links by its recomputed hash, and a row that does
        # not verify (maybe moved in from another session) may be skipped over: only that row is named.
        accepted = {stored, computed}
        if altered and len(self.accepted) < _CARRIED:
            accepted |= self.accepted
        self.accepted = accepted
        self.rows += 1


@dataclass(frozen=True)
class _Link:
    """A row whose prev_hash is not the previous row's row_hash."""

    row: int
    prev: str
    first: bool
    altered: bool


def _columns(connection: sqlite3.Connection) -> set[str]:
    return {str(row[1]) for row in connection.execute(f"PRAGMA table_info({TABLE})")}


def _check_chain(
    connection: sqlite3.Connection, info: SessionInfo, sink: Session, wanted: Collection[int] | None
) -> dict[int, str]:
    """Check the session's chain into `sink` (facts and findings); the marks of the rows in `wanted` (None: all)."""
    columns = _columns(connection)
    missing = [name for name in (*CHAINED, "row_hash") if name not in columns]
    if missing:
        sink.facts["chain"] = {
            "rows": None,
            "recipe": None,
            "verified": False,
            "not_covered": list(NOT_COVERED),
            "statement": f"Hash chain: not checked: the table has no {', '.join(missing)} column.",
        }
        sink.findings.append(
            finding(codes.CHAIN_UNVERIFIABLE, info.path, None, f"session {info.id}: no {', '.join(missing)} column")
        )
        return {}
    chain = _Chain()
    query = f"SELECT rowid AS rowid_, {', '.join(CHAINED)}, row_hash FROM {TABLE} WHERE session_id = ? ORDER BY rowid"
    for row in connection.execute(query, (info.id,)):
        chain.add(row)
    known = chain.matching > 0 or _cato_log(connection)
    # Without the recipe a session's first prev_hash cannot be judged (another writer may start from a genesis hash).
    links = [link for link in chain.links if known or not link.first]
    links_count = chain.links_count - (len(chain.links) - len(links))
    altered = chain.altered if known else []
    altered_count = chain.altered_count if known else 0
    problems: dict[int, list[str]] = {}
    for row_id in altered:
        problems.setdefault(row_id, []).append(
            "row altered: its row_hash is not CATO's hash of its chained fields (a chained field or the hash changed)"
        )
    marks: dict[int, str] = {}
    for number, link in enumerate(links):
        owner = _owner(connection, link) if known and number < _LOOKUPS else None
        named, reason, mark = _explain(info.id, link, owner, known=known)
        if reason not in problems.get(named, []):
            problems.setdefault(named, []).append(reason)
        if mark:
            marks[link.row] = mark
    for row_id, reasons in problems.items():
        if wanted is None or row_id in wanted:
            marks[row_id] = "; ".join(reasons)
    verified = known and not altered_count and not links_count
    sink.facts["chain"] = {
        "rows": chain.rows,
        "recipe": RECIPE if known else None,
        "cato_verify_chain": chain.matching == chain.rows,
        "links_ok": not links_count,
        "verified": verified,
        "altered_rows": altered,
        "broken_links": [link.row for link in links],
        "covers": list(CHAINED),
        "not_covered": list(NOT_COVERED),
        "statement": _statement(chain.rows, links_count, known=known, verified=verified),
    }
    if chain.rows and not known:
        sink.findings.append(
            finding(
                codes.CHAIN_UNVERIFIABLE,
                info.path,
                None,
                f"session {info.id}: no row_hash is CATO's hash of its row, so the recipe is unknown: "
                "only the links between rows (prev_hash = the previous row's row_hash) were checked",
            )
        )
    for row_id, reasons in problems.items():
        sink.findings.append(
            finding(
                codes.CHAIN_BROKEN,
                info.path,
                SourceRef(info.path, label=f"{TABLE} row {row_id}"),
                f"session {info.id}, row {row_id}: {'; '.join(reasons)}",
                {"row": row_id, "session": info.id},
            )
        )
    unnamed = altered_count - len(altered) + links_count - len(links)
    if unnamed:
        sink.findings.append(
            finding(codes.CHAIN_BROKEN, info.path, None, f"session {info.id}: {unnamed} more broken rows not named")
        )
    return marks


def _cato_log(connection: sqlite3.Connection) -> bool:
    """Whether any of the log's first rows is hashed with CATO's recipe (for a session none of whose rows is)."""
    query = f"SELECT {', '.join(CHAINED)}, row_hash FROM {TABLE} ORDER BY rowid LIMIT {_PROBED}"
    return any(row_hash(*row[:-1]) == row[-1] for row in connection.execute(query))


def _owner(connection: sqlite3.Connection, link: _Link) -> tuple[int, str] | None:
    """The earlier row whose row_hash a broken link's prev_hash is, with its session (one scan of the table)."""
    found = connection.execute(
        f"SELECT rowid, session_id FROM {TABLE} WHERE row_hash = ? AND rowid < ? ORDER BY rowid DESC LIMIT 1",
        (link.prev, link.row),
    ).fetchone()
    return None if found is None else (int(found[0]), str(found[1]))


def _explain(session: str, link: _Link, owner: tuple[int, str] | None, *, known: bool) -> tuple[int, str, str]:
    """(row to name, why, mark for the linking row) of a broken link.

    A row moved to another session (its `session_id` changed) is the one named:
    in its new session it does not verify, and in its old one the next row's
    prev_hash still names it there.
    """
    if not known:
        return (
            link.row,
            "prev_hash is not the previous row's row_hash: this row or the previous one was changed, "
            "or a row between them removed",
            "hash chain broken here: prev_hash is not the previous row's row_hash",
        )
    elsewhere = owner is not None and owner[1] != session
    if elsewhere and link.altered:
        assert owner is not None
        return link.row, f"moved here: its prev_hash is that of row {owner[0]} of session {owner[1]}", ""
    if elsewhere and not link.altered:
        assert owner is not None
        return (
            owner[0],
            f"moved out of this session into session {owner[1]} (its session_id was changed?): "
            f"row {link.row}'s prev_hash still names it",
            f"prev_hash names row {owner[0]}, now in session {owner[1]}",
        )
    if link.first:
        return link.row, "the session's first row has a prev_hash: earlier rows were removed, or it was changed", ""
    return (
        link.row,
        "prev_hash is not the previous row's row_hash: a row before it was removed, or its prev_hash changed",
        "",
    )


def _statement(rows: int, broken_links: int, *, known: bool, verified: bool) -> str:
    uncovered = f"it does not cover {', '.join(NOT_COVERED)} (an edit there is undetectable)."
    if not rows:
        return "Hash chain: no rows."
    if not known:
        verdict = "the links hold" if not broken_links else f"{broken_links} links broken"
        return (
            f"Hash chain: NOT verified: no row_hash is CATO's recipe, so only the links were checked over {rows} rows "
            f"({verdict}); {uncovered}"
        )
    verdict = "verifies" if verified else "does NOT verify"
    return f"Hash chain: {verdict} over {rows} rows (CATO's recipe); {uncovered}"


# -- rows as steps --------------------------------------------------------------------------------
def _column(row: sqlite3.Row, name: str) -> Any:
    """A column's value, None when this log's schema has no such column."""
    return row[name] if name in row.keys() else None  # noqa: SIM118 (sqlite3.Row has no __contains__ for names)


def _output(value: Any) -> tuple[Any, int | None]:
    """(output, characters CATO cut or None): a cut output is kept as text, anything else parsed when it is JSON."""
    if not isinstance(value, str):
        return value, None
    cut = _CUT.search(value)
    if cut is not None and cut.start() == OUTPUT_LIMIT:
        return value, int(cut.group(1))
    try:
        return json.loads(value), None
    except (ValueError, RecursionError):  # too deeply nested: kept as text
        return value, None


def _inputs(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # too deeply nested: kept as text
        return value


def _step(number: int, path: Path, row: sqlite3.Row) -> Step:
    """Every CATO row is a tool step named by its `tool_name` (its action type in `data`)."""
    row_id = row["rowid_"]
    action = str(_column(row, "action_type") or "")
    tool = _column(row, "tool_name")
    outputs, cut = _output(_column(row, "outputs_json"))
    error = _column(row, "error")
    failed = bool(error) or action == "error"
    facts: dict[str, Any] = {"row": row_id, "action_type": action, "cost_cents": _column(row, "cost_cents")}
    if error:
        facts["error"] = error
    status = "error" if failed else "pending" if action == "approval_pending" else "success"
    return Step(
        number,
        StepKind.TOOL,
        name=str(tool) if tool not in (None, "") else action or "row",
        arguments=_inputs(_column(row, "inputs_json")),
        result=error if error and outputs in ({}, "", None) else outputs,
        status=status,
        started_at=iso_time(_column(row, "timestamp")),
        source=SourceRef(path, label=f"{TABLE} row {row_id}"),
        problem=f"output cut by CATO at {OUTPUT_LIMIT} characters ({cut} more)" if cut is not None else None,
        data=facts,
    )
