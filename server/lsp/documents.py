"""The one owner of "the current text of a file": editor buffers, disk reads, indexing and watcher events.

Four things put a document into a project, and this module alone decides which
of them is newest:

- the editor's buffer (incremental sync applied by `server.lsp.buffers`): an
  edit after `debounceMs` of quiet is parsed at once, a keystroke within them
  schedules a parse after `debounceMs` of quiet; a request that needs
  positions calls `flush()` to parse the newest text at once. A parse finishing
  after a newer edit arrived is thrown away. An open buffer always wins over the disk;
- indexing's reads (`read()`): a file opened meanwhile keeps the editor's text
  (its parse reuses the read's when the text is the same), and a file reported
  changed while the read ran is left to the change's own, newer read;
- disk changes from the client's `didChangeWatchedFiles` and the watcher
  (`add()`): coalesced into one batch of reads, skipping files whose bytes did
  not change, so a change reported twice costs one read;
- closing a buffer: the file on disk is the truth again.

A changed config file is handed to `configs_changed` (the indexer), which
indexes the folders it governs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path

from server.engine.cache import SummaryCache
from server.engine.config import Config
from server.engine.config_files import CONFIG_NAMES
from server.engine.skipped import SKIPPED_DIRS
from server.lsp.buffers import Buffer, Snapshot
from server.lsp.convert import path_to_uri, uri_to_path
from server.lsp.diagnostics import Diagnostics
from server.lsp.session import Session
from server.lsp.session import Snapshot as DocumentSnapshot
from server.lsp.state import Document, Project, Unreadable, parse_text, read_disk

log = logging.getLogger(__name__)

ConfigsChanged = Callable[[set[Path]], Awaitable[None]]
Adopt = Callable[[Path], Awaitable[object]]


def relevant(path: Path) -> bool:
    """Whether a change to `path` can matter: a fixture/recording candidate or a config file."""
    if path.name not in CONFIG_NAMES and path.suffix not in (".json", ".jsonl"):
        return False
    return not any(part in SKIPPED_DIRS for part in path.parts)


def read_batch(paths: list[Path], config: Config, cache: SummaryCache | None) -> list[Document | Unreadable]:
    return [document for document in (read_disk(path, config, cache) for path in paths) if document is not None]


def _read_each(
    paths: list[Path], config: Config, cache: SummaryCache | None
) -> list[tuple[Path, Document | Unreadable | None]]:
    return [(path, read_disk(path, config, cache)) for path in paths]


class Documents:
    def __init__(
        self, session: Session, diagnostics: Diagnostics, adopt: Adopt, configs_changed: ConfigsChanged
    ) -> None:
        self.session = session
        self.diagnostics = diagnostics
        self._adopt = adopt
        """Gives a file opened outside every workspace folder a project (the indexer's `adopt`)."""
        self._configs_changed = configs_changed
        self._opening: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._last_change: dict[str, float] = {}
        """When each open buffer was last edited (the event loop's clock)."""
        self._running: dict[str, tuple[tuple[int, Project], asyncio.Task[None]]] = {}
        self._done: dict[str, tuple[int, Project]] = {}
        self._disk_reads: dict[Path, tuple[Project, asyncio.Future[dict[Path, Document]]]] = {}
        """Files indexing is reading from disk now: opened meanwhile, the read is awaited and its parse reused."""
        self._changed: set[Path] = set()
        self._draining: asyncio.Task[None] | None = None
        self._observers: list[set[Path]] = []

    # The editor's buffers.

    async def opened(self, uri: str) -> None:
        """A buffer was opened: a file outside every folder gets its project, then the text is parsed."""
        task = asyncio.get_running_loop().create_task(self._open(uri))
        self._opening[uri] = task
        try:
            await asyncio.shield(task)
        finally:
            if self._opening.get(uri) is task and task.done():
                del self._opening[uri]

    async def _open(self, uri: str) -> None:
        path = uri_to_path(uri)
        outside = path is not None and not self.session.inside_workspace(path)
        if path is not None and outside and await self.session.state.project_for(path) is None:
            await self._adopt(path)
        await self.parse(uri)

    def changed(self, uri: str) -> None:
        """An edit: parsed at once after `debounceMs` of quiet, else once the burst it belongs to is quiet.

        A lone edit waits for nothing (its re-read and check cost one turn, not the
        file); the keystrokes that follow it within `debounceMs` are coalesced.
        """
        self._cancel(uri)
        loop = asyncio.get_running_loop()
        delay = self.session.settings.debounce_ms / 1000
        now, last = loop.time(), self._last_change.get(uri)
        self._last_change[uri] = now
        quiet = last is None or now - last >= delay
        self._pending[uri] = loop.create_task(self._parse_later(uri, 0 if quiet else delay))

    async def closed(self, uri: str) -> None:
        """The editor's buffer is gone: the file on disk is the truth again."""
        self._cancel(uri)
        self._done.pop(uri, None)
        self._last_change.pop(uri, None)
        path = uri_to_path(uri)
        if path is not None:
            await self.refresh({path})

    async def flush(self, uri: str) -> None:
        """Make sure the editor's newest text is parsed, without waiting for the debounce."""
        opening = self._opening.get(uri)
        if opening is not None:
            await asyncio.shield(opening)
        self._cancel(uri)
        await self.parse(uri)

    async def reparse_open(self, projects: list[Project]) -> None:
        """Parse open buffers again under the configs of freshly indexed projects."""
        for uri in self.session.open_uris():
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
        buffer = self.session.buffer(uri)
        path = uri_to_path(uri)
        if buffer is None or path is None:
            return
        project = await self.session.state.project_for(path)
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
        reading = self._disk_reads.get(path)
        if reading is not None and reading[0] is project:  # parsing the same text twice at once costs twice
            previous = (await asyncio.shield(reading[1])).get(path, previous)
        document = await asyncio.to_thread(parse_text, path, uri, snapshot, version, project.config, previous)
        if self.session.editor_version(uri) != version or project.stopped:
            log.debug("dropped the parse of %s version %s: outdated", uri, version)
            return
        self._done[uri] = key
        if document is None:
            if project.remove(path) is not None:
                self.diagnostics.clear(uri)
            return
        project.put(document)

    # The snapshot a request works on.

    async def current(self, uri: str, timeout: float, *, wait_ready: bool = False) -> DocumentSnapshot | None:
        """The document at `uri` as the editor shows it now, and its check (waiting up to `timeout` for it).

        A pending debounced parse is run first, so positions in a request always
        match the parsed text. While the project is still indexing, the check is
        None unless `wait_ready` asks to wait for it. Taking a snapshot never
        indexes anything: a file outside the workspace has a project only once
        the editor opened it (`opened`).
        """
        path = uri_to_path(uri)
        if path is None:
            return None
        await self.flush(uri)
        state = self.session.state
        project = await state.project_for(path)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while project is not None and wait_ready and not project.ready.is_set() and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):  # a file not read yet is known once its folder is indexed
                await asyncio.wait_for(project.ready.wait(), 0.25)
            project = await state.project_for(path)  # a new indexing run replaces the project
        if project is None:
            return None
        document = project.documents.get(path)
        session = self.session
        if document is None or (session.is_open(uri) and document.version != session.editor_version(uri)):
            return None
        analysis = await project.analysis_of(document, timeout) if project.ready.is_set() or wait_ready else None
        return session.snapshot(project, document, analysis)

    # Reads from disk: indexing's, and those of reported changes.

    async def read(self, project: Project, paths: list[Path]) -> list[Unreadable]:
        """Read `paths` into `project` in a worker thread, unless a newer text is known; the unreadable ones."""
        session = self.session
        # An open document is parsed from the editor's text: reading it from disk too is wasted.
        unopened = [path for path in paths if not session.is_open(path_to_uri(path))]
        read_now: asyncio.Future[dict[Path, Document]] = asyncio.get_running_loop().create_future()
        self._disk_reads.update((path, (project, read_now)) for path in unopened)
        results: list[Document | Unreadable] = []
        try:
            with self._changes_during() as changed:
                results = await asyncio.to_thread(read_batch, unopened, project.config, session.summaries)
        finally:
            for path in unopened:
                self._disk_reads.pop(path, None)
            read_now.set_result({r.path: r for r in results if isinstance(r, Document)})
        unreadable = []
        for result in results:  # a file changed meanwhile is the change's: its read is newer
            if result.path in changed:
                log.debug("dropped the read of %s: it changed during the read", result.path)
            if session.is_open(result.uri) or result.path in changed:
                continue
            if isinstance(result, Unreadable):
                unreadable.append(result)
            else:
                project.put(result)
        return unreadable

    def add(self, paths: Iterable[Path]) -> None:
        """Files reported changed on disk (by the client or the watcher): read again in the next batch."""
        changed = {path for path in paths if relevant(path)}
        self._note(changed)
        self._changed |= changed
        if self._changed and (self._draining is None or self._draining.done()):
            self._draining = asyncio.get_running_loop().create_task(self._drain())

    @contextlib.contextmanager
    def _changes_during(self) -> Iterator[set[Path]]:
        """The paths reported changed while the block runs: a read begun before their change may be older."""
        changed: set[Path] = set()
        self._observers.append(changed)
        try:
            yield changed
        finally:
            self._observers.remove(changed)

    def _note(self, paths: set[Path]) -> None:
        for observer in self._observers:
            observer.update(paths)

    async def _drain(self) -> None:
        while self._changed:
            paths, self._changed = self._changed, set()
            try:
                await self.refresh(paths)
            except Exception:
                log.exception("applying file changes failed")

    async def refresh(self, paths: set[Path]) -> None:
        """Bring the workspace model in line with the files at `paths` on disk, now."""
        self._note(paths)
        configs = {path for path in paths if path.name in CONFIG_NAMES}
        if configs:
            await self._configs_changed(configs)
        by_project: dict[Project, list[Path]] = {}
        gone: set[Path] = set()
        session = self.session
        for path in sorted(paths - configs):
            if session.is_open(path_to_uri(path)):
                continue  # the editor's buffer wins over the disk
            project = await session.state.project_for(path)
            if project is not None:
                by_project.setdefault(project, []).append(path)
            elif not path.exists():
                gone.add(path)
        for project, batch in by_project.items():
            for path, document in await asyncio.to_thread(_read_each, batch, project.config, session.summaries):
                if self._apply(project, path, document):
                    gone.add(path)
        if gone:
            self._forget_under(gone)

    def _apply(self, project: Project, path: Path, document: Document | Unreadable | None) -> bool:
        """Put the document read at `path` into its project, or drop it; True when it may have been a folder."""
        if project.stopped:
            return False
        existing = project.documents.get(path)
        if existing is not None and existing.version is not None and self.session.is_open(existing.uri):
            return False
        if isinstance(document, Unreadable):
            project.remove(path)
            self.diagnostics.show_read_error(document)
            return False
        if document is None:
            removed = project.remove(path)
            self.diagnostics.clear(path_to_uri(path))  # its check's findings, or a read-error
            return removed is None and not path.exists()
        if existing is None or existing.digest != document.digest:
            project.put(document)
        return False

    def _forget_under(self, gone: set[Path]) -> None:
        """Deleted folders: drop every document below them (open buffers stay: the editor owns them).

        One pass over the documents for the whole batch, comparing strings: a
        `git checkout` deletes thousands of paths, and a pass for each would block
        the event loop for seconds.
        """
        prefixes = tuple(os.path.join(path, "") for path in gone)
        is_open = self.session.is_open
        for project in self.session.state.projects():
            held = project.documents.values()
            below = [d.path for d in held if str(d.path).startswith(prefixes) and not is_open(d.uri)]
            for path in below:
                project.remove(path)
                self.diagnostics.clear(path_to_uri(path))
