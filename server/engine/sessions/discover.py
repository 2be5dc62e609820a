"""Find sessions on disk, open one, read it whole or one page at a time.

Every source module has the same shape (`KIND`, `list_sessions`, `iter_steps`);
this module decides which one reads a path, by content rather than by name
where it can, and is the only place that walks directories for sessions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from server.engine.files import open_regular
from server.engine.findings import Finding
from server.engine.sessions import (
    cato,
    codex_rollout,
    codex_trace,
    fixtures,
    langgraph,
    majordomo,
    postgres,
    recordings,
)
from server.engine.sessions.model import Session, SessionInfo, Step, StepPage, unreadable_step
from server.engine.sessions.sqlite import SUFFIXES, DatabaseError, looks_like_database, tables
from server.engine.skipped import SKIPPED_DIRS

_SNIFF_BYTES = 64 * 1024
MAX_PAGE_SIZE = 1000


class Source(Protocol):
    """What a session source module provides."""

    KIND: str

    def list_sessions(self, path: Path, problems: list[Any]) -> list[SessionInfo]: ...

    def iter_steps(self, info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]: ...


class _Unreadable:
    """A file that looks like a trace database but cannot be opened: one marked step says why."""

    KIND = "database"

    def list_sessions(self, path: Path, problems: list[Any]) -> list[SessionInfo]:
        del problems
        return [SessionInfo(self.KIND, path, path.name, title=path.name)]

    def iter_steps(self, info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
        del full_inputs
        yield unreadable_step(info, sink, _database_reason(info.path))


UNREADABLE = _Unreadable()
SOURCES: dict[str, Source] = {
    source.KIND: source
    for source in (recordings, fixtures, codex_trace, codex_rollout, cato, langgraph, majordomo, postgres, UNREADABLE)
}


# Databases that can hold millions of rows page in SQL: (info, sink, first, size) -> (steps, total).
PAGED: dict[str, Callable[[SessionInfo, Session, int, int], tuple[list[Step], int]]] = {cato.KIND: cato.page}


def _database_reason(path: Path) -> str:
    try:
        found = tables(path)
    except DatabaseError as problem:
        return str(problem)
    return f"no known trace tables (found: {', '.join(sorted(found)) or 'none'})"


def detect(path: Path) -> Source | None:
    """The source that reads `path`, or None when it is not a session this engine knows."""
    if postgres.is_url(path):
        return postgres
    if path.is_dir():
        return codex_trace if codex_trace.sniff(path, b"") else None
    try:
        with open_regular(path) as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return None
    if looks_like_database(path, head):
        try:
            found = tables(path)
        except DatabaseError:
            return UNREADABLE
        if cato.TABLE in found:
            return cato
        if langgraph.TABLE in found:
            return langgraph
        if {majordomo.RUNS, majordomo.LOGS} <= found:
            return majordomo
        return None
    for source in (codex_rollout, recordings, fixtures):
        if source.sniff(path, head):
            return source
    return None


@dataclass
class Discovery:
    sessions: list[SessionInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def discover(paths: Iterable[Path]) -> Discovery:
    """Every session under `paths`, in path order; a trace bundle folder is one place, not walked into."""
    found = Discovery()
    for path in _candidates(paths):
        source = detect(path)
        if source is not None:
            found.sessions.extend(source.list_sessions(path, found.findings))
    return found


def _candidates(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if postgres.is_url(path) or not path.is_dir() or codex_trace.sniff(path, b""):
            yield path
            continue
        for directory, dirnames, filenames in os.walk(path, followlinks=False):
            here = Path(directory)
            bundles = sorted(d for d in dirnames if codex_trace.sniff(here / d, b""))
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and d not in bundles)
            yield from (here / d for d in bundles)
            for name in sorted(filenames):
                if name.endswith((".json", ".jsonl", ".zst", *SUFFIXES)):
                    yield here / name


class SessionNotFoundError(LookupError):
    """No session at the path, or several and none chosen: the message says which exist."""


def resolve(path: Path, session_id: str | None = None) -> tuple[SessionInfo, list[Finding]]:
    """The session at `path` (a file or a trace bundle folder), chosen by id when the file holds several."""
    source = detect(path)
    if source is None:
        raise SessionNotFoundError(f"{path}: not a session this version reads (see `sessions` for what is found)")
    problems: list[Finding] = []
    sessions = source.list_sessions(path, problems)
    if session_id is not None:
        chosen = [info for info in sessions if info.id == session_id]
        if not chosen and problems and len(sessions) == 1:
            return sessions[0], problems  # unlistable (locked, corrupt): reading it says why
        if not chosen:
            known = ", ".join(info.id for info in sessions) or "none"
            raise SessionNotFoundError(f"{path}: no session {session_id!r} (sessions: {known})")
        return chosen[0], problems
    if len(sessions) != 1:
        known = ", ".join(info.id for info in sessions) or "none"
        raise SessionNotFoundError(f"{path} holds {len(sessions)} sessions: choose one with --session-id ({known})")
    return sessions[0], problems


def read_session(info: SessionInfo) -> Session:
    """The whole session, with full inputs on every model call (what replay and recording need)."""
    session = Session(info)
    session.steps.extend(SOURCES[info.kind].iter_steps(info, session, full_inputs=True))
    return session


def page_steps(info: SessionInfo, page: int = 1, page_size: int = 50) -> StepPage:
    """One page of steps and the total, holding only that page in memory.

    Model calls on the page carry the input messages new since the previous call
    (`input_omitted` counts the earlier ones), so a long session's page stays
    small; `read_session` gives whole inputs.
    """
    page = max(page, 1)
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    first = (page - 1) * page_size
    sink = Session(info)
    pager = PAGED.get(info.kind)
    if pager is not None:
        steps, total = pager(info, sink, first, page_size)
        return StepPage(info, page, page_size, total, steps, sink.findings, sink.facts)
    kept: list[Step] = []
    total = 0
    for step in SOURCES[info.kind].iter_steps(info, sink, full_inputs=False):
        if first <= total < first + page_size:
            kept.append(step)
        total += 1
    return StepPage(info, page, page_size, total, kept, sink.findings, sink.facts)
