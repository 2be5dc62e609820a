"""Open documents: incremental sync (applied by pygls), debounced re-parsing, back to disk on close.

A keystroke only schedules a parse after `debounceMs` of quiet; requests that
need positions call `flush()` to parse the newest text right away. A parse that
finishes after a newer edit arrived is thrown away: only the parse of the
editor's current version enters the workspace model.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from server.lsp.buffers import Buffer, Snapshot
from server.lsp.convert import uri_to_path
from server.lsp.state import Document, Project, parse_text

if TYPE_CHECKING:
    from server.lsp.server import ReplayLensServer

log = logging.getLogger(__name__)


class DocumentSync:
    def __init__(self, server: ReplayLensServer) -> None:
        self.server = server
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, tuple[tuple[int, Project], asyncio.Task[None]]] = {}
        self._done: dict[str, tuple[int, Project]] = {}
        self.disk_reads: dict[Path, tuple[Project, asyncio.Future[dict[Path, Document]]]] = {}
        """Files indexing is reading from disk now: opened meanwhile, the read is awaited and its parse reused."""

    def changed(self, uri: str) -> None:
        self._cancel(uri)
        delay = self.server.settings.debounce_ms / 1000
        self._pending[uri] = asyncio.get_running_loop().create_task(self._parse_later(uri, delay))

    async def closed(self, uri: str) -> None:
        """The editor's buffer is gone: the file on disk is the truth again."""
        self._cancel(uri)
        self._done.pop(uri, None)
        path = uri_to_path(uri)
        if path is not None:
            await self.server.changes.refresh({path})

    async def flush(self, uri: str) -> None:
        """Make sure the editor's newest text is parsed, without waiting for the debounce."""
        self._cancel(uri)
        await self.parse(uri)

    async def reparse_open(self, projects: list[Project]) -> None:
        """Parse open buffers again under the configs of freshly indexed projects."""
        for uri in [buffer.uri for buffer in self.server.workspace.text_documents.values()]:
            path = uri_to_path(uri)
            if path is not None and any(path.is_relative_to(project.root) for project in projects):
                await self.parse(uri)

    def _cancel(self, uri: str) -> None:
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()

    async def _parse_later(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._pending.get(uri) is asyncio.current_task():
            del self._pending[uri]
        await self.parse(uri)

    async def parse(self, uri: str) -> None:
        """Parse the editor's text of `uri` off the event loop and put it into its project.

        Each version is parsed once per project: a request that needs the parse
        while it runs waits for it instead of starting another.
        """
        buffer = self.server.buffer(uri)
        path = uri_to_path(uri)
        if buffer is None or path is None:
            return
        project = await self.server.project_for(path)
        if project is None:
            return
        key = (buffer.version or 0, project)
        if self._done.get(uri) == key:
            return
        running = self._running.get(uri)
        if running is None or running[0] != key:
            snapshot = buffer.snapshot() if isinstance(buffer, Buffer) else Snapshot(buffer.source, 0, -1, None)
            task = asyncio.get_running_loop().create_task(self._parse(uri, path, snapshot, key))
            running = self._running[uri] = (key, task)
        try:
            await asyncio.shield(running[1])
        finally:
            if self._running.get(uri) is running and running[1].done():
                del self._running[uri]

    async def _parse(self, uri: str, path: Path, snapshot: Snapshot, key: tuple[int, Project]) -> None:
        version, project = key
        previous = project.documents.get(path)
        reading = self.disk_reads.get(path)
        if reading is not None and reading[0] is project:  # parsing the same text twice at once costs twice
            previous = (await asyncio.shield(reading[1])).get(path, previous)
        document = await asyncio.to_thread(parse_text, path, uri, snapshot, version, project.config, previous)
        if self.server.editor_version(uri) != version or project.stopped:
            log.debug("dropped the parse of %s version %s: outdated", uri, version)
            return
        self._done[uri] = key
        if document is None:
            if project.remove(path) is not None:
                self.server.diagnostics.clear(uri)
            return
        project.put(document)


def register(server: ReplayLensServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(params: types.DidOpenTextDocumentParams) -> None:
        server.diagnostics.opened(params.text_document.uri)
        await server.sync.parse(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        server.sync.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(params: types.DidCloseTextDocumentParams) -> None:
        await server.sync.closed(params.text_document.uri)
