"""`replayLens.runReplayTests` `{uri?}`: run the project's replay tests with the capture, on the user's command.

This is the one place where the server runs the user's code, and only when the user asks:
the client must have said the workspace is trusted (`workspaceTrusted: true` in
`initializationOptions`; VS Code sends it from its Workspace Trust). pytest runs with the
server's own interpreter (in a trusted workspace, the workspace's), in the project root,
with `--replay-lens=capture`, for the tests whose captures replay the fixture at `uri`
(all the tests when none is known yet). It shows work-done progress that the user can
cancel: cancelling (the progress's cancel or `$/cancelRequest`) kills pytest's whole
process group. When pytest ends, the captures folder is read again at once (no wait for
the watcher) and the result is returned: exit code, outcome counts, the last lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from server.engine.capture_files import CAPTURES_DIR, is_capture
from server.engine.fixture import Fixture
from server.lsp.answers import failed
from server.lsp.context import Context
from server.lsp.convert import uri_to_path
from server.lsp.session import Session
from server.lsp.state import Project

_KILL_GRACE_SECONDS = 3.0
_OUTCOME = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


async def _project(session: Session, args: tuple[Any, ...]) -> tuple[Project, Path | None]:
    uri = None
    if args and isinstance(args[0], dict):
        uri = args[0].get("uri")
    elif args and isinstance(args[0], str):
        uri = args[0]
    if uri is not None and not isinstance(uri, str):
        raise JsonRpcInvalidParams("'uri' must be a document URI")
    path = uri_to_path(uri) if uri is not None else None
    if uri is not None:
        if path is None:
            raise JsonRpcInvalidParams(f"not a file URI: {uri}")
        project = await session.state.project_for(path)
        if project is None:
            raise JsonRpcInvalidParams(f"not a file of the workspace: {uri}")
        return project, path
    for folder in list(session.state.folders.values()):  # a command sent right after start: its folders' projects
        await folder.discovered.wait()
    project = next(iter(session.state.projects()), None)
    if project is None:
        raise failed("no workspace folder to run the tests of")
    return project, None


def tests_of(project: Project, fixture: Path | None) -> list[str]:
    """The node ids of the tests whose captures replay `fixture` (all tests: an empty list)."""
    analysis = project.analysis
    if fixture is None or analysis is None:
        return []
    report = analysis.fixtures.get(fixture)
    if report is None:
        return []
    tests: set[str] = set()
    resolved = fixture.resolve()
    for recording in analysis.result.recordings:
        if not is_capture(recording.recording.path, project.config.root):
            continue
        hits = {index for index, linked in recording.linked.items() if any(f is report.fixture for f, _ in linked)}
        named = any(
            isinstance(finding.data.get("fixture"), str) and Path(finding.data["fixture"]) == fixture
            for finding in recording.findings
        )
        for call in recording.recording.calls:
            test = call.record.get("test")
            if isinstance(test, str) and (call.index in hits or named or _names(call.record, project, resolved)):
                tests.add(test)
    return sorted(test for test in tests if not test.startswith("-"))  # a node id, never an option


def _names(record: dict[str, Any], project: Project, resolved: Path) -> bool:
    """Whether the call's marker names the fixture whose resolved path is `resolved`."""
    named = record.get("fixture")
    return isinstance(named, str) and (project.config.root / named).resolve() == resolved


async def _start_pytest(root: Path, tests: list[str]) -> asyncio.subprocess.Process:
    """pytest with the capture, in its own process group (so a cancel can kill everything it started)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "--replay-lens=capture",
        "-q",
        "-p",
        "no:cacheprovider",
        *tests,
        cwd=root,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def _kill(process: asyncio.subprocess.Process) -> None:
    """Stop pytest and every process it started: SIGTERM to the group, SIGKILL after a grace."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sent)
        try:
            await asyncio.wait_for(process.wait(), _KILL_GRACE_SECONDS)
            return
        except TimeoutError:
            continue


async def run_replay_tests(context: Context, args: tuple[Any, ...]) -> dict[str, Any]:
    session = context.session
    if not session.trusted:
        raise failed(
            "running the replay tests runs the project's code: allowed only in a trusted workspace "
            "(the client sends workspaceTrusted: true)"
        )
    project, path = await _project(session, args)
    fixture = path if path is not None and isinstance(_parsed(project, path), Fixture) else None
    tests = tests_of(project, fixture)
    root = project.config.root
    title = f"Replay tests{f' of {fixture.name}' if fixture else ''}"
    progress = _CancellableProgress(session, title)
    await progress.begin("starting pytest…")
    try:
        process = await _start_pytest(root, tests)
    except OSError as exc:
        progress.end(f"pytest did not start: {exc}")
        raise failed(f"pytest did not start: {exc.strerror or exc}") from None
    tail: deque[str] = deque(maxlen=40)
    outcome = asyncio.ensure_future(_read(process, tail, progress))
    cancelled = asyncio.ensure_future(progress.cancelled.wait())
    try:
        await asyncio.wait({outcome, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # $/cancelRequest
        await _kill(process)
        progress.end("cancelled")
        raise
    finally:
        cancelled.cancel()
    if not outcome.done():
        await _kill(process)
        outcome.cancel()
        progress.end("cancelled")
        await _refresh_captures(context, project)
        return {
            "cancelled": True,
            "exitCode": None,
            "tests": tests,
            "outcomes": {},
            "summary": "cancelled",
            "output": list(tail),
        }
    code = await process.wait()
    summary = next((line for line in reversed(tail) if _OUTCOME.search(line)), tail[-1] if tail else "")
    progress.end(summary.strip("= ") or f"pytest exited with {code}")
    await _refresh_captures(context, project)
    return {
        "cancelled": False,
        "exitCode": code,
        "tests": tests,
        "outcomes": {word: int(number) for number, word in _OUTCOME.findall(summary)},
        "summary": summary.strip("= "),
        "output": list(tail),
    }


def _parsed(project: Project, path: Path) -> Any:
    document = project.documents.get(path)
    return document.parsed if document is not None else None


async def _read(process: asyncio.subprocess.Process, tail: deque[str], progress: _CancellableProgress) -> None:
    assert process.stdout is not None
    async for raw in process.stdout:
        line = raw.decode("utf-8", errors="replace").rstrip()
        if line:
            tail.append(line)
            progress.report(line[:120])


async def _refresh_captures(context: Context, project: Project) -> None:
    """Read the captures folder again now: written, rewritten and removed captures alike."""
    folder = project.config.root / CAPTURES_DIR
    known = {path for path in project.documents if is_capture(path, project.config.root)}
    on_disk = set(folder.glob("*.jsonl")) if folder.is_dir() else set()
    if known | on_disk:
        await context.documents.refresh(known | on_disk)


class _CancellableProgress:
    """Work-done progress the user can cancel (without progress support, the request's cancel still works)."""

    def __init__(self, session: Session, title: str) -> None:
        self.session = session
        self.title = title
        self.token: str | None = None
        self.cancelled = asyncio.Event()

    async def begin(self, message: str) -> None:
        window = self.session.capabilities.window
        if window is None or not window.work_done_progress:
            return
        token = f"replay-lens/tests/{uuid.uuid4()}"
        try:
            await asyncio.wait_for(self.session.client.work_done_progress.create_async(token), 5.0)
        except Exception:  # the client refused or did not answer: run without progress
            return
        self.token = token
        self.session.client.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, message=message)
        )
        future = self.session.client.work_done_progress.tokens.get(token)
        if future is not None:
            loop = asyncio.get_running_loop()
            future.add_done_callback(lambda _: loop.call_soon_threadsafe(self.cancelled.set))

    def report(self, message: str) -> None:
        if self.token is not None:
            self.session.client.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def end(self, message: str) -> None:
        if self.token is not None:
            token, self.token = self.token, None
            with contextlib.suppress(Exception):
                self.session.client.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
