"""Disk changes: the client's `didChangeWatchedFiles` plus a watchfiles watcher of our own.

Editors do not report every change (a test run re-recording a fixture, a `git
checkout`, files outside what they watch), so a watcher thread runs too. Both
sources feed one `ChangeQueue`, which coalesces bursts into one batch of reads
and skips files whose bytes did not change, so a change reported twice costs
one read. Indexing runs alongside: it asks the queue which paths changed while
it read a batch, and leaves those to the queue, whose read is newer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles
from lsprotocol import types

from server.engine.cache import SummaryCache
from server.engine.config import CONFIG_NAMES, Config, find_config_file
from server.engine.workspace import SKIPPED_DIRS
from server.lsp.convert import path_to_uri, uri_to_path
from server.lsp.indexing import reindex
from server.lsp.state import Document, Folder, Project, Unreadable, read_disk

if TYPE_CHECKING:
    from server.lsp.server import ReplayLensServer

log = logging.getLogger(__name__)

CLIENT_GLOBS = ("**/*.json", "**/*.jsonl", *(f"**/{name}" for name in CONFIG_NAMES))
_RELEVANT_ENDINGS = (".json", ".jsonl", *(f"/{name}" for name in CONFIG_NAMES))
"""How the URI of a file `relevant` may keep ends (these names are ASCII, so escaping leaves them as they are)."""
_WATCH_DEBOUNCE_MS = 300
_WATCH_STEP_MS = 30


def relevant(path: Path) -> bool:
    """Whether a change to `path` can matter: a fixture/recording candidate or a config file."""
    if path.name not in CONFIG_NAMES and path.suffix not in (".json", ".jsonl"):
        return False
    return not any(part in SKIPPED_DIRS for part in path.parts)


def _read_each(
    paths: list[Path], config: Config, cache: SummaryCache | None
) -> list[tuple[Path, Document | Unreadable | None]]:
    return [(path, read_disk(path, config, cache)) for path in paths]


def _is_config(path: Path) -> bool:
    return path.name == "replay-lens.toml" or find_config_file(path.parent) == path


class ChangeQueue:
    """Paths changed on disk, from any source, applied in coalesced batches."""

    def __init__(self, server: ReplayLensServer) -> None:
        self.server = server
        self._paths: set[Path] = set()
        self._task: asyncio.Task[None] | None = None
        self._observers: list[set[Path]] = []

    def add(self, paths: Iterable[Path]) -> None:
        changed = {path for path in paths if relevant(path)}
        self._note(changed)
        self._paths |= changed
        if self._paths and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._drain())

    @contextlib.contextmanager
    def changes_during(self) -> Iterator[set[Path]]:
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
        while self._paths:
            paths, self._paths = self._paths, set()
            try:
                await self.refresh(paths)
            except Exception:
                log.exception("applying file changes failed")

    async def refresh(self, paths: set[Path]) -> None:
        """Bring the workspace model in line with the files at `paths` on disk."""
        self._note(paths)
        configs = {path for path in paths if path.name in CONFIG_NAMES}
        if configs:
            await self._configs_changed(configs)
        by_project: dict[Project, list[Path]] = {}
        gone: set[Path] = set()
        for path in sorted(paths - configs):
            if self.server.is_open(path_to_uri(path)):
                continue  # the editor's buffer wins over the disk
            project = await self.server.state.project_for(path)
            if project is not None:
                by_project.setdefault(project, []).append(path)
            elif not path.exists():
                gone.add(path)
        for project, batch in by_project.items():
            for path, document in await asyncio.to_thread(_read_each, batch, project.config, self.server.summaries):
                if self._apply(project, path, document):
                    gone.add(path)
        if gone:
            self._forget_under(gone)

    def _apply(self, project: Project, path: Path, document: Document | Unreadable | None) -> bool:
        """Put the document read at `path` into its project, or drop it; True when it may have been a folder."""
        if project.stopped:
            return False
        existing = project.documents.get(path)
        if existing is not None and existing.version is not None and self.server.is_open(existing.uri):
            return False
        if isinstance(document, Unreadable):
            project.remove(path)
            self.server.diagnostics.show_read_error(document)
            return False
        if document is None:
            removed = project.remove(path)
            self.server.diagnostics.clear(path_to_uri(path))  # its check's findings, or a read-error
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
        for project in self.server.state.projects():
            held = project.documents.values()
            below = [d.path for d in held if str(d.path).startswith(prefixes) and not self.server.is_open(d.uri)]
            for path in below:
                project.remove(path)
                self.server.diagnostics.clear(path_to_uri(path))

    async def _configs_changed(self, configs: set[Path]) -> None:
        """A config changed: every project it may govern is indexed again under the new rules."""
        used = {
            path
            for project in self.server.state.projects()
            for path in (project.config.path, project.config_error.path if project.config_error else None)
            if path is not None
        }
        touched: set[Path] = set()
        for config in configs:
            if config in used or await asyncio.to_thread(_is_config, config):
                touched.add(config)
        folders: list[Folder] = []
        for folder in self.server.state.folders.values():
            governed = {p.config.path for p in folder.projects} | {
                p.config_error.path for p in folder.projects if p.config_error
            }
            if any(path.is_relative_to(folder.path) or path in governed for path in touched):
                folders.append(folder)
        for folder in folders:
            log.info("config changed: indexing %s again", folder.path)
            reindex(self.server, folder)


class FileWatcher:
    """A watchfiles thread over the workspace folders, feeding the `ChangeQueue`."""

    def __init__(self, server: ReplayLensServer) -> None:
        self.server = server
        self._stop: threading.Event | None = None

    def restart(self) -> None:
        self.stop()
        roots = [folder.path for folder in self.server.state.folders.values() if folder.path.is_dir()]
        if not self.server.settings.watch_files or not roots:
            return
        self._stop = threading.Event()
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._run, args=(roots, self._stop, loop), name="replay-lens-watcher", daemon=True
        )
        thread.start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def _run(self, roots: list[Path], stop: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
        log.debug("watching %s", ", ".join(map(str, roots)))
        try:
            for changes in watchfiles.watch(
                *roots,
                watch_filter=lambda _change, path: relevant(Path(path)),
                stop_event=stop,
                debounce=_WATCH_DEBOUNCE_MS,
                step=_WATCH_STEP_MS,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                paths = {Path(path) for _change, path in changes}
                loop.call_soon_threadsafe(self.server.changes.add, paths)
        except RuntimeError:
            pass  # the event loop closed: the server is exiting
        except Exception:
            log.exception("the file watcher stopped")


async def register_client_watchers(server: ReplayLensServer) -> None:
    """Ask the client to report changes to fixtures, recordings and configs (when it can register)."""
    workspace = server.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=glob) for glob in CLIENT_GLOBS]
    )
    registration = types.Registration(
        id=f"replay-lens/watch/{uuid.uuid4()}",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=options,
    )
    try:
        await server.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
    except Exception as exc:
        log.warning("the client did not register file watchers: %s", exc)


def register(server: ReplayLensServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        # A checkout reports thousands of events, most of them repeats or other files: look at each URI once.
        uris = {change.uri for change in params.changes if change.uri.endswith(_RELEVANT_ENDINGS)}
        paths = [uri_to_path(uri) for uri in uris]
        server.changes.add(path for path in paths if path is not None)
