"""The Replay Lens language server: its lifecycle, and the wiring of the session, its owners and the routes.

The mutable state is the `Session` (`server.lsp.session`); the current text of
each file is `Documents`' (`server.lsp.documents`); the published findings are
`Diagnostics`' (`server.lsp.diagnostics`); the folders are the `Indexer`'s
(`server.lsp.indexing`); every request is in the table of `server.lsp.routes`.
This module creates them, answers the lifecycle notifications (initialize,
folders, settings, document sync, shutdown) by calling them, and starts a transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from lsprotocol import types

# `server.engine.config` imports pydantic only when it reads a config file (a summarizing child never
# does): imported here at start, it is not on the first indexing's way to the first diagnostics.
from server.engine import config_schema  # noqa: F401
from server.lsp import buffers, routes, transports, watching
from server.lsp.convert import uri_to_path
from server.lsp.diagnostics import Diagnostics, client_folders
from server.lsp.documents import Documents
from server.lsp.indexing import Indexer
from server.lsp.logs import ClientLogHandler, attach_client_handler, setup_logging
from server.lsp.pygls_private import shut_workers_down
from server.lsp.session import Session
from server.lsp.state import Analysis, Project
from server.lsp.wire import Protocol, ResyncingInput, answer_unreadable_body

if TYPE_CHECKING:
    from pygls.server import ServerErrors

log = logging.getLogger(__name__)

HOST = "127.0.0.1"

try:
    VERSION = version("replay-lens")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0"


class ReplayLensServer(transports.Served):
    def __init__(self) -> None:
        super().__init__(
            "replay-lens",
            VERSION,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=Protocol,
        )
        self.session = Session(self)
        self.diagnostics = Diagnostics(self.session)
        self.watcher = watching.FileWatcher(self.session, self._changed_on_disk)
        self.documents = Documents(self.session, self.diagnostics, self._adopt, self._configs_changed)
        self.indexer = Indexer(self.session, self.documents, self.diagnostics, self.watcher)
        self.session.analysed = self._on_analysis
        self.log_handler: ClientLogHandler | None = None
        self.request_workers: routes.Workers | None = None
        """The background routes' worker pool (`server.lsp.routes`)."""

    def _changed_on_disk(self, paths: set[Path]) -> None:
        self.documents.add(paths)

    async def _adopt(self, path: Path) -> Project | None:
        return await self.indexer.adopt(path)

    async def _configs_changed(self, configs: set[Path]) -> None:
        await self.indexer.configs_changed(configs)

    def report_server_error(self, error: Exception, source: ServerErrors) -> None:
        """A body that is not JSON gets a JSON-RPC parse error; anything else is reported as pygls does."""
        if not answer_unreadable_body(self.protocol, error):
            super().report_server_error(error, source)

    def stop_serving(self) -> None:
        """End this server's work when its client left a TCP or WebSocket connection (the process goes on)."""
        self.watcher.stop()
        self.session.stop()
        if self.log_handler is not None:
            logging.getLogger("server").removeHandler(self.log_handler)
        shut_workers_down(self)
        if self.request_workers is not None:
            self.request_workers.shutdown()

    def _on_analysis(self, project: Project, analysis: Analysis) -> None:
        self.diagnostics.on_analysis(project, analysis)
        self._refresh_code_lenses(analysis)
        self.session.send_status()

    def _refresh_code_lenses(self, analysis: Analysis) -> None:
        """Ask the client to request lenses again when a check covered an open document."""
        workspace = self.client_capabilities.workspace
        supported = workspace is not None and workspace.code_lens is not None and workspace.code_lens.refresh_support
        if supported and any(self.session.is_open(document.uri) for document in analysis.documents.values()):
            self.workspace_code_lens_refresh(None)


def create_server(log_level: str = "INFO") -> ReplayLensServer:
    server = ReplayLensServer()
    _register_lifecycle(server, log_level)
    _register_sync(server)
    server.request_workers = routes.register(server, server.session, server.documents, server.diagnostics)
    return server


def _register_lifecycle(server: ReplayLensServer, log_level: str) -> None:
    session = server.session

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        buffers.install(server.protocol)
        server.log_handler = attach_client_handler(server, log_level)
        server.log_handler.loop = asyncio.get_running_loop()
        session.settings = session.settings.updated(params.initialization_options)
        options = params.initialization_options
        session.trusted = isinstance(options, dict) and options.get("workspaceTrusted") is True
        server.diagnostics.negotiate()
        log.info("Replay Lens %s (position encoding %s)", VERSION, session.encoding)

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        server.indexer.open_grace.start()
        session.spawn(watching.register_client_watchers(session))
        for folder in _folders(server):
            server.indexer.add_folder(folder)
        server.watcher.restart()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        before = session.settings
        session.settings = session.settings.updated(params.settings)
        if session.settings.watch_files != before.watch_files:
            server.watcher.restart()
        if session.settings.reveal_secrets != before.reveal_secrets:  # diagnostics and lenses show them, or not
            for project in session.state.projects():
                if project.analysis is not None:
                    server._on_analysis(project, project.analysis)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        for removed in params.event.removed:
            path = uri_to_path(removed.uri)
            if path is not None:
                server.indexer.remove_folder(path)
        for added in params.event.added:
            path = uri_to_path(added.uri)
            if path is not None:
                server.indexer.add_folder(path)
        server.watcher.restart()

    @server.feature(types.SHUTDOWN)
    def shutdown(params: None) -> None:
        server.watcher.stop()
        session.state.stop()


def _register_sync(server: ReplayLensServer) -> None:
    """The editor's buffers and the client's file events, each handed to `Documents`."""
    documents = server.documents

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(params: types.DidOpenTextDocumentParams) -> None:
        server.diagnostics.opened(params.text_document.uri)
        await documents.opened(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        documents.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(params: types.DidCloseTextDocumentParams) -> None:
        await documents.closed(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        documents.add(watching.changed_paths(params))


def _folders(server: ReplayLensServer) -> list[Path]:
    """Workspace folders, or the root URI of a client that sends no folders."""
    return client_folders(server.workspace)


def serve(transport: str, port: int, log_level: str, token: str | None = None) -> int:
    """Run the server: over stdio until the client disconnects (stdout is protocol-only then); over TCP or
    WebSocket until interrupted, one client at a time (`server.lsp.transports`)."""
    setup_logging(log_level)
    if transport == "stdio":
        server = create_server(log_level)
        protocol_out = sys.stdout.buffer
        sys.stdout = sys.stderr  # a stray print() from any library must not corrupt the stream
        stdin = ResyncingInput(sys.stdin.buffer, server.indexer.open_grace.input_drained)
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
