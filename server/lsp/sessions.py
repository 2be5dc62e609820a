"""`replayLens/sessions` and `replayLens/steps` (docs/protocol.md): the sessions of the workspace, page by page.

Listing walks every workspace folder with the engine's `discover`. The status of
a fixture or recording comes from the project's last check; any other session
is read once to count its steps and see whether it reads cleanly, and that count
is kept until the file changes (the VS Code extension lists sessions after each
check). A session above `COUNT_LIMIT` bytes is not counted: counting reads it
whole. Steps are read one page at a time by `page_steps`, which streams the
session and holds only the page. All reading runs in worker threads.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from server.engine import findings as codes
from server.engine.checks import TurnStatus
from server.engine.findings import Finding, Severity
from server.engine.sessions import SessionInfo, SessionNotFoundError, discover, page_steps, resolve
from server.engine.sessions.fixtures import KIND as FIXTURE
from server.engine.sessions.pages import page_json
from server.engine.sessions.postgres import is_url, mask
from server.lsp.answers import failed, shown
from server.lsp.context import Context
from server.lsp.convert import uri_to_path
from server.lsp.session import StepCount
from server.lsp.state import Analysis

SESSIONS = "replayLens/sessions"
STEPS = "replayLens/steps"
COUNT_LIMIT = 64 * 1024 * 1024
"""Largest session (bytes on disk) counted for the listing."""

Signature = tuple[tuple[str, int, int], ...]


def _signature(path: Path) -> Signature | None:
    """(name, size, mtime) of the file, or of each entry of a trace bundle folder; None when unreadable."""
    try:
        if path.is_dir():
            with os.scandir(path) as entries:
                stats = [(entry.name, entry.stat()) for entry in entries]
        else:
            stats = [(path.name, path.stat())]
    except OSError:
        return None
    return tuple(sorted((name, stat.st_size, stat.st_mtime_ns) for name, stat in stats))


def _count(info: SessionInfo, signature: Signature) -> StepCount:
    page = page_steps(info, 1, 1)
    return StepCount(signature, page.total, not any(f.severity is Severity.ERROR for f in page.findings))


def _list(
    folders: list[Path], known: dict[str, StepCount]
) -> tuple[list[SessionInfo], list[Finding], dict[str, StepCount]]:
    """Every session under `folders`, and their counts, reusing the `known` ones still current.

    Fixtures are not counted: the check knows their turns, and reading one as a
    session links it to the recordings of its whole workspace.
    """
    found = discover(folders)
    counts: dict[str, StepCount] = {}
    for info in found.sessions:
        signature = _signature(info.path) if info.kind != FIXTURE else None
        if signature is None or sum(size for _, size, _ in signature) > COUNT_LIMIT:
            continue
        previous = known.get(info.key)
        counts[info.key] = (
            previous if previous is not None and previous.signature == signature else _count(info, signature)
        )
    return found.sessions, found.findings, counts


def _errors(analysis: Analysis, path: Path) -> bool:
    """Whether the check found errors in the file other than stale keys (those make it "stale")."""
    return any(f.severity is Severity.ERROR and f.code is not codes.STALE_KEY for f in analysis.findings.get(path, []))


def checked(analyses: Iterable[Analysis]) -> dict[Path, tuple[int | None, str]]:
    """`{path: (steps or None, status)}` of the fixtures and recordings the projects' checks cover."""
    known: dict[Path, tuple[int | None, str]] = {}
    for analysis in analyses:
        stale = {
            item.link.recording.path
            for report in analysis.result.fixtures
            for item in report.turns
            if item.status is TurnStatus.STALE and item.link is not None
        }

        for report in analysis.result.fixtures:
            path = report.fixture.path
            status = "error" if _errors(analysis, path) else "stale" if report.count(TurnStatus.STALE) else "ok"
            known[path] = (len(report.fixture.turns), status)
        for recording in analysis.result.recordings:
            path = recording.recording.path
            known[path] = (None, "error" if _errors(analysis, path) else "stale" if path in stale else "ok")
    return known


async def list_sessions(context: Context, params: Any) -> dict[str, Any]:
    session = context.session
    state = session.state
    for folder in state.folders.values():
        await folder.discovered.wait()
    known = checked(project.analysis for project in state.projects() if project.analysis is not None)
    folders = sorted(state.folders) + [Path(url) for url in session.settings.databases]
    sessions, findings, counts = await asyncio.to_thread(_list, folders, session.step_counts)
    session.step_counts = counts
    listed = []
    for info in sessions:
        steps, status = known.get(info.path, (None, "unknown"))
        count = counts.get(info.key)
        if count is not None:
            steps = count.steps
            if info.path not in known:
                status = "ok" if count.clean else "error"
        entry = info.to_json()
        if steps is not None:
            entry["steps"] = steps
        entry["status"] = status
        listed.append(entry)
    document = {"sessions": listed, "findings": [finding.to_json() for finding in findings]}
    return shown(document, session.settings.reveal_secrets)


def _params(params: Any) -> dict[str, Any]:
    """Custom requests' params arrive as named tuples (or None); read them as a dict."""
    if params is None:
        return {}
    if isinstance(params, dict):
        return params
    as_dict = getattr(params, "_asdict", None)
    if as_dict is None:
        raise JsonRpcInvalidParams("params must be an object")
    value: dict[str, Any] = as_dict()
    return value


def _positive(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise JsonRpcInvalidParams(f"'{name}' must be an integer from 1")
    return value


def _page(path: Path, session_id: str | None, page: int, page_size: int, reveal: bool) -> dict[str, Any]:
    info, problems = resolve(path, session_id)
    steps = page_steps(info, page, page_size)
    steps.findings[:0] = problems
    return page_json(steps, reveal)


def _database(uri: str, databases: tuple[str, ...]) -> Path | None:
    """The configured database a session URI names (its masked URL, as listed), or None: no other is opened."""
    return next((Path(url) for url in databases if mask(url) == uri), None)


async def step_page(context: Context, params: Any) -> dict[str, Any]:
    session = context.session
    reveal = session.settings.reveal_secrets
    values = _params(params)
    uri, session_id = values.get("uri"), values.get("sessionId")
    if isinstance(uri, str) and is_url(uri):
        path = _database(uri, session.settings.databases)
        if path is None:
            raise JsonRpcInvalidParams("'uri' names a database that is not in the replayLens.databases setting")
    else:
        path = uri_to_path(uri) if isinstance(uri, str) else None
        if path is None:
            raise JsonRpcInvalidParams("'uri' must be the file: URI of a session")
        session.refuse_outside(path)
    if session_id is not None and not isinstance(session_id, str):
        raise JsonRpcInvalidParams("'sessionId' must be a string")
    page, page_size = _positive(values, "page", 1), _positive(values, "pageSize", 50)
    if not is_url(path) and not path.exists():
        raise failed(f"no such file or folder: {path}")
    try:
        return shown(await asyncio.to_thread(_page, path, session_id, page, page_size, reveal), reveal)
    except SessionNotFoundError as exc:
        raise failed(str(exc)) from None
