"""`replayLens.replaySession`: the dry-run replay of the CLI's `replay`, for editors (docs/protocol.md).

The report is what `python -m server replay --format json` prints, with the
same serializer, run in a worker thread. A session's uri is replayed as the CLI
does (`replay_path`, reading the session, the fixture and the recordings from
disk). A fixture's uri replays the recording that links the most of its turns
against it (`replay RECORDING --against FIXTURE`) from the check the server
holds (`replay_checked`): the fixture as the editor shows it and its links, with
no second load of the project and no second check. The report's findings on the
fixture (misses, unused turns, differing tool calls) are shown with its
diagnostics. Replays run one at a time, so the findings shown are those of the
last one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from server.engine.config import ConfigError
from server.engine.fixture import Fixture
from server.engine.replay import FixtureNotFoundError, ReplayReport, replay_path
from server.engine.replay.checked import linked_recording, replay_checked
from server.engine.sessions import SessionNotFoundError
from server.lsp.answers import failed, shown
from server.lsp.context import Context
from server.lsp.convert import uri_to_path
from server.lsp.session import Session
from server.lsp.state import Document, Project

log = logging.getLogger(__name__)


def _arguments(args: tuple[Any, ...]) -> tuple[str, str | None]:
    """(uri, sessionId) from `[{"uri", "sessionId"?}]` or `[uri, sessionId?]`."""
    if len(args) == 1 and isinstance(args[0], dict):
        args = (args[0].get("uri"), args[0].get("sessionId"))
    if not args or not isinstance(args[0], str):
        raise JsonRpcInvalidParams("the first argument must be a fixture or session URI")
    session_id = args[1] if len(args) > 1 else None
    if session_id is not None and not isinstance(session_id, str):
        raise JsonRpcInvalidParams("'sessionId' must be a string")
    return args[0], session_id


def _run(run: Callable[[], ReplayReport]) -> tuple[ReplayReport, dict[str, Any]]:
    report = run()
    return report, report.to_json()


async def replay_session(context: Context, args: tuple[Any, ...]) -> dict[str, Any]:
    uri, session_id = _arguments(args)
    session = context.session
    path = uri_to_path(uri)
    if path is None:
        raise JsonRpcInvalidParams(f"no such file or folder: {uri}")
    session.refuse_outside(path)
    if not path.exists():
        raise JsonRpcInvalidParams(f"no such file or folder: {uri}")
    run = functools.partial(replay_path, path, session_id=session_id)
    project = await session.state.project_for(path) if path.is_file() else None
    if project is not None:
        try:  # until the project is indexed, a fixture of it may not be known as one yet
            await asyncio.wait_for(project.ready.wait(), context.timeout)
        except TimeoutError:
            raise failed("the workspace is still being indexed; try again") from None
        current = await context.snapshot(uri)
        if current is not None and isinstance(current.document.parsed, Fixture):
            if current.analysis is None:
                raise failed("the workspace is still being checked; try again")
            checked = current.analysis.fixtures.get(current.document.path)
            linked = linked_recording(checked) if checked is not None else None
            if checked is None or linked is None:
                raise failed(
                    f"no recording links to {path.name}: none of its turns has a recorded call, so there is no "
                    "session to replay against it (replay a session file instead, or record one)"
                )
            # For a fixture, `sessionId` is its own id (from the sessions list): the linked recording is replayed.
            if current.project.config_error is None:
                config = current.analysis.config
                run = functools.partial(replay_checked, linked, checked, config.rules, config.root)
            else:  # reading the config again fails the request with its error, as the CLI does
                run = functools.partial(replay_path, linked, against=current.document.path)
    async with session.replaying:
        try:
            report, document = await asyncio.to_thread(_run, run)
        except (SessionNotFoundError, FixtureNotFoundError) as exc:
            raise failed(str(exc)) from None
        except ConfigError as exc:
            raise failed(f"config: {exc}") from None
        await _show(context, report)
    return shown(document, session.settings.reveal_secrets)


async def _held(session: Session, path: Path) -> tuple[Project, Document] | None:
    """The project and document the server holds for `path` (the engine may have resolved symlinks)."""
    project = await session.state.project_for(path)
    if project is not None and path in project.documents:
        return project, project.documents[path]
    for project in session.state.projects():
        for document in project.documents.values():
            if document.path.name == path.name and document.path.resolve() == path.resolve():
                return project, document
    return None


async def _show(context: Context, report: ReplayReport) -> None:
    """Put the report's findings on the fixture, if the server holds it with the text the replay read."""
    fixture = report.fixture
    held = await _held(context.session, fixture.path)
    if held is None:
        log.info("replay findings of %s not shown: not a fixture of the workspace", fixture.path)
        return
    project, document = held
    if document.source.text != fixture.source.text:
        log.info("replay findings of %s not shown: the editor's text differs from the file", fixture.path.name)
        return
    context.diagnostics.show_replay(project, document, report.rules.fingerprint(), report.diagnostics)
