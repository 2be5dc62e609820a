"""One table of every request the server answers: method → feature, where it runs, its scope and its timeout.

ruff's server model: a request runs in the **foreground** or in the
**background**.

- A background route's feature is a plain synchronous function of (snapshot,
  params), with no asyncio in it. The wrapper takes the snapshot of the
  request's document on the event loop (its newest text, parsed, and the check
  that covers it, waiting up to the route's timeout; None when there is none:
  a file outside the workspace, an edit newer than the request), then runs the
  feature in the request workers, a thread pool of `workers()` threads, so a
  slow answer never holds up the loop nor another request's snapshot. The
  snapshot is frozen, so the worker reads values the loop never changes under it.
- A foreground route's feature is a coroutine on the event loop: it is cheap,
  or it must await something only the loop has (a request to the client, a
  lock, a subprocess, the documents it names in its arguments). Its `because`
  says which. A `document` route's feature is a function of (snapshot, params),
  a `workspace` route's of (context, params), a `command` route's of (context,
  arguments) (`server.lsp.context`).

Errors and cancellation take one path, `_answer`. A `JsonRpcException` is the
request's error as raised. Any other exception is logged once, with its method
and traceback, and becomes the request's internal error (the server goes on).
A `$/cancelRequest` (pygls cancels the request's task) stops a foreground
request at its next await; a background request still queued for a worker is
skipped, and one already running finishes in its worker and its answer is
dropped: the client gets RequestCancelled either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.lsp.server import LanguageServer

from server.lsp import code_actions, code_lens, commands, hover, navigation, replay, run_tests, sessions
from server.lsp.command_ids import REHASH, REPLAY_SESSION, RUN_REPLAY_TESTS, SHOW_NORMALIZED_INPUT
from server.lsp.context import Context
from server.lsp.diagnostics import Diagnostics
from server.lsp.documents import Documents
from server.lsp.session import Session

log = logging.getLogger(__name__)

Scope = Literal["document", "workspace", "command"]
Runs = Literal["foreground", "background"]

WORKERS_VARIABLE = "REPLAY_LENS_REQUEST_WORKERS"
"""Environment variable setting the number of request workers (default: the cores, at most 4)."""

PAUSE_VARIABLE = "REPLAY_LENS_TEST_PAUSE"
"""Tests only, off when unset: `METHOD=FIFO` holds each background request of METHOD at a pause point in its
worker until the test writes to the FIFO and closes it; the feature then runs, or raises a `RuntimeError` if the
test wrote anything (see `_paused`)."""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    handler: Callable[[Any, Any], Any]
    """(snapshot, params) for a document route, (context, params) for a workspace route, (context, arguments) for a
    command; a plain function in the background, a coroutine function in the foreground."""
    timeout: float
    """Seconds the request waits for the check of its document (or of the documents it names)."""
    runs: Runs
    scope: Scope = "document"
    options: Any = None
    because: str = ""
    """Why a foreground route cannot run in the background."""

    def __post_init__(self) -> None:
        if self.runs == "background" and self.scope != "document":
            raise ValueError(f"{self.method}: only a document route runs in the background (its snapshot is taken)")
        if self.runs == "foreground" and not self.because:
            raise ValueError(f"{self.method}: a foreground route says why it is not in the background")


async def _pull_diagnostics(context: Context, params: types.DocumentDiagnosticParams) -> Any:
    return await context.diagnostics.pull(params, context.snapshot)


ROUTES = (
    Route(types.TEXT_DOCUMENT_HOVER, hover.hover, 2.0, "background"),
    Route(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, navigation.document_symbol, 1.0, "background"),
    Route(types.TEXT_DOCUMENT_DEFINITION, navigation.definition, 2.0, "background"),
    Route(types.TEXT_DOCUMENT_REFERENCES, navigation.references, 2.0, "background"),
    Route(
        types.TEXT_DOCUMENT_CODE_LENS,
        code_lens.code_lens,
        2.0,
        "background",
        options=types.CodeLensOptions(resolve_provider=False),
    ),
    Route(types.TEXT_DOCUMENT_CODE_ACTION, code_actions.code_action, 2.0, "background", options=code_actions.OPTIONS),
    Route(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        _pull_diagnostics,
        30.0,
        "foreground",
        "workspace",
        types.DiagnosticOptions(identifier="replay-lens", inter_file_dependencies=True, workspace_diagnostics=False),
        because="reads and updates the diagnostics store, which lives on the event loop",
    ),
    Route(
        sessions.SESSIONS,
        sessions.list_sessions,
        30.0,
        "foreground",
        "workspace",
        because="awaits the folders' discovery and keeps the step counts in the session; reads in a worker thread",
    ),
    Route(
        sessions.STEPS,
        sessions.step_page,
        30.0,
        "foreground",
        "workspace",
        because="names its session in its params (no document snapshot); reads the page in a worker thread",
    ),
    Route(
        REHASH,
        commands.rehash,
        30.0,
        "foreground",
        "command",
        because="awaits the client's workspace/applyEdit, or writes the file and reads it again into the documents",
    ),
    Route(
        SHOW_NORMALIZED_INPUT,
        commands.show_normalized_input,
        30.0,
        "foreground",
        "command",
        because="names its document in its arguments and awaits its snapshot; normalizes in a worker thread",
    ),
    Route(
        REPLAY_SESSION,
        replay.replay_session,
        30.0,
        "foreground",
        "command",
        because="holds the session's replay lock and puts its findings into the diagnostics store",
    ),
    Route(
        RUN_REPLAY_TESTS,
        run_tests.run_replay_tests,
        30.0,
        "foreground",
        "command",
        because="awaits pytest's subprocess and the client's progress, and kills pytest on a cancel",
    ),
)


def workers() -> int:
    """How many background requests run at once: `REPLAY_LENS_REQUEST_WORKERS`, else the cores (at most 4)."""
    configured = os.environ.get(WORKERS_VARIABLE, "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return min(4, os.cpu_count() or 1)


class Workers:
    """The request workers: a thread pool that knows how many of its threads are taken (to say when one waits)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="replay-lens-request")
        self._taken = 0
        self._lock = threading.Lock()

    def submit(self, work: Callable[[Any, Any], Any], snapshot: Any, params: Any) -> tuple[Future[Any], bool]:
        """`work(snapshot, params)` queued for a worker, and whether every worker was busy (so it waits)."""
        with self._lock:
            waits = self._taken >= self.size
            self._taken += 1
        future = self._pool.submit(work, snapshot, params)
        future.add_done_callback(self._release)
        return future, waits

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._taken -= 1

    def shutdown(self) -> None:
        """Drop the queued work; a running feature finishes in its thread (a thread cannot be stopped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def register(server: LanguageServer, session: Session, documents: Documents, diagnostics: Diagnostics) -> Workers:
    """Register every route with pygls, through `_answer`; the request workers (the caller shuts them down)."""
    pool = Workers(workers())
    for route in map(_paused, ROUTES):
        answer = _answer(route, session, documents, diagnostics, pool)
        if route.scope == "command":
            server.command(route.method)(answer)
        else:
            server.feature(route.method, route.options)(answer)
    return pool


def _paused(route: Route) -> Route:
    """`route` behind the test pause point when `REPLAY_LENS_TEST_PAUSE` names it (see `PAUSE_VARIABLE`).

    The tests of cancellation must hold a worker at a known point, and those of the error path need a feature
    that fails: no real feature blocks or fails on purpose (every read of a user's file is bounded and non-blocking).
    """
    method, _, fifo = os.environ.get(PAUSE_VARIABLE, "").partition("=")
    if method != route.method or route.runs != "background" or not fifo:
        return route

    def paused(snapshot: Any, params: Any) -> Any:
        with open(fifo, "rb") as pause:  # the test's FIFO, never a user's file: opening it waits for the test
            told = pause.read()
        if told:
            raise RuntimeError(f"the test pause point was told to fail ({len(told)} bytes)")
        return route.handler(snapshot, params)

    return replace(route, handler=paused)


def _answer(
    route: Route, session: Session, documents: Documents, diagnostics: Diagnostics, pool: Workers
) -> Callable[..., Any]:
    """The one wrapper of a routed request: its snapshot or context, where it runs, its errors and cancellation."""
    context = Context(session, documents, diagnostics, route.timeout)

    async def call(*args: Any) -> Any:
        if route.scope == "document":
            snapshot = await documents.current(args[0].text_document.uri, route.timeout)
            if snapshot is None:
                return None
            if route.runs == "background":
                return await _in_worker(route, pool, snapshot, args[0])
            return await route.handler(snapshot, args[0])
        return await route.handler(context, args if route.scope == "command" else args[0])

    async def answer(*args: Any) -> Any:
        try:
            return await call(*args)
        except JsonRpcException:
            raise
        except Exception as exc:
            log.exception("%s failed", route.method)
            # The answer names the error's kind only: its message may quote the user's file (secrets included).
            raise JsonRpcInternalError(f"{route.method} failed ({type(exc).__name__}): see the server's log") from None

    return answer


async def _in_worker(route: Route, pool: Workers, snapshot: Any, params: Any) -> Any:
    """Run a background feature in a request worker; a cancel skips it while it is queued."""
    work, waits = pool.submit(route.handler, snapshot, params)
    if waits:
        log.debug("%s waits for a worker: all %d are busy", route.method, pool.size)
    try:
        return await asyncio.wrap_future(work)
    except asyncio.CancelledError:
        # `wrap_future` cancels `work` on the cancel: that succeeds only while it waits for a worker.
        if work.cancelled():
            log.debug("%s cancelled before it started: skipped", route.method)
        else:
            log.debug("%s cancelled while running: its answer is dropped", route.method)
        raise
