"""The server's mutable state (`Session`), and the immutable snapshot a request handler gets (`Snapshot`).

The ruff-server model: one `Session` holds what changes while the server runs
(settings, the workspace model, the trust flag, the client's connection, its
capabilities and position encoding), and it changes only on the event loop.
A request handler gets a `Snapshot`: a frozen view of one document and what it
was checked under; a feature is a function of (snapshot, params) that never
reaches back into the session, so it can be read, and tested, alone. A later
edit, a new check or a settings change makes a new snapshot, never a changed one.

This module imports no other stateful module of `server/lsp`: the owners of
documents (`documents.py`), diagnostics (`diagnostics.py`) and folders
(`indexing.py`) are given the session; `server.py` wires them together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from server.engine.cache import SummaryCache
from server.engine.config import Config, ConfigError
from server.engine.source import PositionEncoding
from server.lsp import status
from server.lsp.answers import failed
from server.lsp.convert import encoding_of, path_to_uri
from server.lsp.settings import Settings
from server.lsp.state import Analysis, Document, Project, WorkspaceState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document at the editor's current version, and the check that covers it (None while indexing)."""

    project: Project
    document: Document
    analysis: Analysis | None
    settings: Settings
    encoding: PositionEncoding
    capabilities: types.ClientCapabilities
    trusted: bool
    """What the client said in `initializationOptions.workspaceTrusted`: only then may it run the tests."""
    config_text: tuple[str, int | None] | None = None
    """The editor's text and version of the project's config file, when it is open (a rule is added to that text)."""


@dataclass(frozen=True, slots=True)
class StepCount:
    """A session's step count and whether it read without errors, for its files as they were (`signature`)."""

    signature: tuple[tuple[str, int, int], ...]
    steps: int
    clean: bool


class Session:
    """What changes while the server runs; changed on the event loop only."""

    def __init__(self, client: LanguageServer) -> None:
        self.client = client
        """The connection to the editor: notifications, requests to it, its open buffers."""
        self.settings = Settings()
        self.state = WorkspaceState()
        self.trusted = False
        """What the client said in `initializationOptions.workspaceTrusted`: only then may it run the tests."""
        self.step_counts: dict[str, StepCount] = {}
        """The sessions listing's step counts, kept until a session's files change (`server.lsp.sessions`)."""
        self.replaying = asyncio.Lock()
        """Replays run one at a time, so the findings shown are those of the last one."""
        self.analysed: Callable[[Project, Analysis], None] = lambda project, analysis: None
        """Told of each new check of a project (wired by `server.lsp.server`)."""
        self._background: set[asyncio.Task[None]] = set()
        self._cache = SummaryCache.default()

    @property
    def capabilities(self) -> types.ClientCapabilities:
        return self.client.client_capabilities

    @property
    def encoding(self) -> PositionEncoding:
        return encoding_of(self.client.workspace.position_encoding)

    @property
    def summaries(self) -> SummaryCache | None:
        """The cache recordings are read through as summaries, when positions are UTF-16 (what summaries count).

        A client that negotiated UTF-8 or UTF-32 positions gets recordings parsed
        whole: their ranges are computed from the text.
        """
        return self._cache if self.encoding == "utf-16" else None

    def buffer(self, uri: str) -> TextDocument | None:
        """The editor's open document at `uri` (pygls keys them unquoted: `with%20space` is `with space`)."""
        document: TextDocument | None = self.client.workspace.text_documents.get(unquote(uri))
        return document

    def open_uris(self) -> list[str]:
        return [buffer.uri for buffer in self.client.workspace.text_documents.values()]

    def is_open(self, uri: str) -> bool:
        return self.buffer(uri) is not None

    def editor_version(self, uri: str) -> int | None:
        document = self.buffer(uri)
        return document.version if document is not None else None

    def inside_workspace(self, path: Path) -> bool:
        """Whether `path` is in a workspace folder: the server writes, indexes or reads sessions only there."""
        return self.state.folder_of(path) is not None

    def refuse_outside(self, path: Path) -> None:
        """Fail a request about `path` when it is outside every workspace folder."""
        if not self.inside_workspace(path):
            raise failed(f"outside the workspace: {path}")

    def new_project(self, root: Path, config: Config, error: ConfigError | None) -> Project:
        project = Project(root, config, self.analysed, error)
        project.start()
        return project

    def snapshot(self, project: Project, document: Document, analysis: Analysis | None) -> Snapshot:
        config = project.config.path
        buffer = self.buffer(path_to_uri(config)) if config is not None else None
        return Snapshot(
            project,
            document,
            analysis,
            self.settings,
            self.encoding,
            self.capabilities,
            self.trusted,
            (buffer.source, buffer.version) if buffer is not None else None,
        )

    def send_status(self) -> None:
        """`replayLens/status`: the workspace's counts, after each check and each indexing."""
        self.client.protocol.notify(status.STATUS, status.summary(self.state.projects()))

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine in the background, keeping a reference so it is not collected mid-flight."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def stop(self) -> None:
        """Stop every project's checker and every background task."""
        self.state.stop()
        for task in list(self._background):
            task.cancel()
