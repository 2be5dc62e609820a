"""The Replay Lens language server: lifecycle, shared state and the wiring of every feature module.

The document requests of `server.lsp.routes` are functions of (snapshot,
params), registered here through one wrapper; the other features still have a
`register(server)` function (issue 15 moves them to the table). This module
owns what they share: settings, the workspace model, the position encoding and
`current()`, which takes the snapshot of a document: its up-to-date parse and
check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

# `server.engine.config` imports pydantic only when it reads a config file (a summarizing child never
# does): imported here at start, it is not on the first indexing's way to the first diagnostics.
from server.engine import config_schema  # noqa: F401
from server.engine.cache import SummaryCache
from server.engine.source import PositionEncoding
from server.lsp import (
    buffers,
    code_actions,
    commands,
    diagnostics,
    indexing,
    replay,
    routes,
    run_tests,
    sessions,
    status,
    sync,
    transports,
    watching,
)
from server.lsp.answers import failed
from server.lsp.convert import encoding_of, path_to_uri, uri_to_path
from server.lsp.logs import ClientLogHandler, attach_client_handler, setup_logging
from server.lsp.session import Snapshot
from server.lsp.settings import Settings
from server.lsp.state import Analysis, Project, WorkspaceState
from server.lsp.wire import Protocol, ResyncingInput, answer_unreadable_body

if TYPE_CHECKING:
    from pygls.server import ServerErrors

log = logging.getLogger(__name__)

HOST = "127.0.0.1"

try:
    VERSION = version("replay-lens")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0"


class ReplayLensServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "replay-lens",
            VERSION,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=Protocol,
        )
        self.settings = Settings()
        self.state = WorkspaceState()
        self.sync = sync.DocumentSync(self)
        self.diagnostics = diagnostics.Diagnostics(self)
        self.changes = watching.ChangeQueue(self)
        self.open_grace = indexing.OpenGrace(lambda: len(self.workspace.text_documents))
        self.watcher = watching.FileWatcher(self)
        self.log_handler: ClientLogHandler | None = None
        self.background: set[asyncio.Task[None]] = set()
        self._cache = SummaryCache.default()
        self.workspace_trusted = False
        """What the client said in `initializationOptions.workspaceTrusted`: only then may it run the tests."""

    @property
    def encoding(self) -> PositionEncoding:
        return encoding_of(self.workspace.position_encoding)

    @property
    def summaries(self) -> SummaryCache | None:
        """The cache recordings are read through as summaries, when positions are UTF-16 (what summaries count).

        A client that negotiated UTF-8 or UTF-32 positions gets recordings parsed
        whole: their ranges are computed from the text.
        """
        return self._cache if self.encoding == "utf-16" else None

    def buffer(self, uri: str) -> TextDocument | None:
        """The editor's open document at `uri` (pygls keys them unquoted: `with%20space` is `with space`)."""
        document: TextDocument | None = self.workspace.text_documents.get(unquote(uri))
        return document

    def is_open(self, uri: str) -> bool:
        return self.buffer(uri) is not None

    def editor_version(self, uri: str) -> int | None:
        document = self.buffer(uri)
        return document.version if document is not None else None

    def report_server_error(self, error: Exception, source: ServerErrors) -> None:
        """A body that is not JSON gets a JSON-RPC parse error; anything else is reported as pygls does."""
        if not answer_unreadable_body(self.protocol, error):
            super().report_server_error(error, source)

    def stop_serving(self) -> None:
        """End this server's work when its client left a TCP or WebSocket connection (the process goes on)."""
        self.watcher.stop()
        self.state.stop()
        if self.log_handler is not None:
            logging.getLogger("server").removeHandler(self.log_handler)
        if self._thread_pool is not None:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)
        for task in list(self.background):
            task.cancel()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine in the background, keeping a reference so it is not collected mid-flight."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def new_project(self, scope: indexing.Scope) -> Project:
        project = Project(scope.root, scope.config, self._on_analysis, scope.error)
        project.start()
        return project

    def _on_analysis(self, project: Project, analysis: Analysis) -> None:
        self.diagnostics.on_analysis(project, analysis)
        self._refresh_code_lenses(analysis)
        self.send_status()

    def send_status(self) -> None:
        """`replayLens/status`: the workspace's counts, after each check and each indexing."""
        self.protocol.notify(status.STATUS, status.summary(self.state.projects()))

    def _refresh_code_lenses(self, analysis: Analysis) -> None:
        """Ask the client to request lenses again when a check covered an open document."""
        workspace = self.client_capabilities.workspace
        supported = workspace is not None and workspace.code_lens is not None and workspace.code_lens.refresh_support
        if supported and any(self.is_open(document.uri) for document in analysis.documents.values()):
            self.workspace_code_lens_refresh(None)

    async def project_for(self, path: Path) -> Project | None:
        """The project that holds `path`; a file outside every folder gets a project of its own only when the
        editor opened it: a request merely naming a file elsewhere never indexes it (another project's)."""
        project = await self.state.project_for(path)
        if project is None and not self.inside_workspace(path) and self.is_open(path_to_uri(path)):
            project = await indexing.adopt(self, path)
        return project

    def inside_workspace(self, path: Path) -> bool:
        """Whether `path` is in a workspace folder: the server writes, indexes or reads sessions only there."""
        return self.state.folder_of(path) is not None

    def refuse_outside(self, path: Path) -> None:
        """Fail a request about `path` when it is outside every workspace folder."""
        if not self.inside_workspace(path):
            raise failed(f"outside the workspace: {path}")

    async def current(self, uri: str, *, timeout: float = 5.0, wait_ready: bool = False) -> Snapshot | None:
        """The document at `uri` as the editor shows it now, and its check.

        A pending debounced parse is run first, so positions in a request always
        match the parsed text. While the project is still indexing, the check is
        None unless `wait_ready` asks to wait for it.
        """
        path = uri_to_path(uri)
        if path is None:
            return None
        await self.sync.flush(uri)
        project = await self.project_for(path)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while project is not None and wait_ready and not project.ready.is_set() and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):  # a file not read yet is known once its folder is indexed
                await asyncio.wait_for(project.ready.wait(), 0.25)
            project = await self.project_for(path)  # a new indexing run replaces the project
        if project is None:
            return None
        document = project.documents.get(path)
        if document is None or (self.is_open(uri) and document.version != self.editor_version(uri)):
            return None
        analysis = await project.analysis_of(document, timeout) if project.ready.is_set() or wait_ready else None
        return Snapshot(
            project, document, analysis, self.settings, self.encoding, self.client_capabilities, self.workspace_trusted
        )


def create_server(log_level: str = "INFO") -> ReplayLensServer:
    server = ReplayLensServer()
    _register_lifecycle(server, log_level)
    for module in (sync, watching, diagnostics, code_actions, commands, run_tests, replay, sessions):
        module.register(server)
    for route in routes.ROUTES:
        server.feature(route.method, route.options)(_answer(server, route))
    return server


def _answer(server: ReplayLensServer, route: routes.Route) -> Callable[[Any], Coroutine[Any, Any, Any]]:
    """The one wrapper of a routed request: the snapshot of its document, or None without one."""

    async def answer(params: Any) -> Any:
        snapshot = await server.current(params.text_document.uri, timeout=route.timeout)
        return None if snapshot is None else await route.handler(snapshot, params)

    return answer


def _register_lifecycle(server: ReplayLensServer, log_level: str) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        buffers.install(server.protocol)
        server.log_handler = attach_client_handler(server, log_level)
        server.log_handler.loop = asyncio.get_running_loop()
        server.settings = server.settings.updated(params.initialization_options)
        options = params.initialization_options
        server.workspace_trusted = isinstance(options, dict) and options.get("workspaceTrusted") is True
        server.diagnostics.negotiate()
        log.info("Replay Lens %s (position encoding %s)", VERSION, server.encoding)

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        server.open_grace.start()
        server.spawn(watching.register_client_watchers(server))
        for folder in _folders(server):
            indexing.add_folder(server, folder)
        server.watcher.restart()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        before = server.settings
        server.settings = server.settings.updated(params.settings)
        if server.settings.watch_files != before.watch_files:
            server.watcher.restart()
        if server.settings.reveal_secrets != before.reveal_secrets:  # diagnostics and lenses show them, or not
            for project in server.state.projects():
                if project.analysis is not None:
                    server._on_analysis(project, project.analysis)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        for removed in params.event.removed:
            path = uri_to_path(removed.uri)
            if path is not None:
                indexing.remove_folder(server, path)
        for added in params.event.added:
            path = uri_to_path(added.uri)
            if path is not None:
                indexing.add_folder(server, path)
        server.watcher.restart()

    @server.feature(types.SHUTDOWN)
    def shutdown(params: None) -> None:
        server.watcher.stop()
        server.state.stop()


def _folders(server: ReplayLensServer) -> list[Path]:
    """Workspace folders, or the root URI of a client that sends no folders."""
    uris = [folder.uri for folder in server.workspace.folders.values()]
    if not uris and server.workspace.root_uri:
        uris = [server.workspace.root_uri]
    return [path for path in map(uri_to_path, uris) if path is not None]


def serve(transport: str, port: int, log_level: str, token: str | None = None) -> int:
    """Run the server: over stdio until the client disconnects (stdout is protocol-only then); over TCP or
    WebSocket until interrupted, one client at a time (`server.lsp.transports`)."""
    setup_logging(log_level)
    if transport == "stdio":
        server = create_server(log_level)
        protocol_out = sys.stdout.buffer
        sys.stdout = sys.stderr  # a stray print() from any library must not corrupt the stream
        stdin = ResyncingInput(sys.stdin.buffer, server.open_grace.input_drained)
        server.start_io(cast(BinaryIO, stdin), protocol_out)
        return 0

    def per_connection() -> ReplayLensServer:
        server = create_server(log_level)
        cast(Protocol, server.protocol).exit_ends_process = False
        return server

    with contextlib.suppress(KeyboardInterrupt):
        if transport == "tcp":
            log.info("listening on %s:%d (TCP, loopback only), one client at a time", HOST, port)
            transports.serve_tcp(per_connection, HOST, port)
        else:
            log.info(
                "listening on %s:%d (WebSocket, loopback only), one client at a time, local origins, %s",
                HOST,
                port,
                "token required" if token else "no token",
            )
            transports.serve_ws(per_connection, HOST, port, token)
    return 0
