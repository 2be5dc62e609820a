"""Indexing: find the config scopes of a workspace folder, read its fixtures and recordings, check them.

A folder may hold several projects: its own config (found at or above it) and
any nested folder with a `replay-lens.toml` (or a `pyproject.toml` with a
`[tool.replay-lens]` table) of its own, like the sample workspace inside this
repository. Reading happens in worker threads in batches, so requests keep
being answered, and the client sees `$/progress` with a percentage.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from lsprotocol import types

from server.engine.cache import SummaryCache
from server.engine.config import (
    CONFIG_NAMES,
    Config,
    ConfigError,
    default_config,
    find_config_file,
    load_config,
)
from server.engine.fixture import Fixture
from server.engine.summary import worth_children
from server.engine.workspace import SKIPPED_DIRS, is_recording, iter_files, load_project_config, paused_gc
from server.lsp.convert import path_to_uri
from server.lsp.state import Document, Folder, Project, Unreadable, owner, read_disk

if TYPE_CHECKING:
    from server.lsp.server import ReplayLensServer

log = logging.getLogger(__name__)

_BATCH = 32
_OPEN_GRACE = 0.5
"""Seconds after a folder's first indexing starts before its big fixtures are read from disk."""


@dataclass(frozen=True, slots=True)
class Scope:
    """A folder checked under one config (the last good one, or defaults, when the file has an error)."""

    root: Path
    config: Config
    error: ConfigError | None = None


def _scope(root: Path, load: Callable[[], Config], previous: dict[Path, Config]) -> Scope:
    try:
        return Scope(root, load())
    except ConfigError as error:
        return Scope(root, previous.get(root) or default_config(root), error)


def discover_scopes(folder: Path, previous: dict[Path, Config]) -> list[Scope]:
    """The folder's own scope, then one per nested folder that holds a config of its own."""
    scopes = [_scope(folder, functools.partial(load_project_config, folder), previous)]
    for directory, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_DIRS)
        here = Path(directory)
        if here == folder or not any(name in filenames for name in CONFIG_NAMES):
            continue
        found = find_config_file(here)
        if found is not None and found.parent == here:
            scopes.append(_scope(here, functools.partial(load_config, found), previous))
    return scopes


def list_files(projects: list[Project]) -> tuple[dict[Project, list[Path]], list[Unreadable]]:
    """The candidate files of each project, in the CLI's walk order, and the folders that could not be listed."""
    unlistable: dict[Path, Unreadable] = {}

    def skipped(error: OSError) -> None:
        path = Path(str(error.filename or "?"))
        unlistable[path] = Unreadable(path, str(error.strerror or error))

    listing = {
        project: [
            path for path in iter_files([project.root], project.config, skipped) if owner(projects, path) is project
        ]
        for project in projects
    }
    return listing, list(unlistable.values())


def split_big(paths: list[Path], config: Config) -> tuple[list[Path], list[Path], list[Path]]:
    """The recordings of `worth_children` size, the other files of that size, and the rest, each in walk order."""
    recordings: list[Path] = []
    big: list[Path] = []
    others: list[Path] = []
    for path in paths:
        try:
            size = os.stat(path).st_size
        except OSError:
            size = 0  # reading it tells what is wrong
        if not worth_children(size):
            others.append(path)
        else:
            (recordings if is_recording(path, config) else big).append(path)
    return recordings, big, others


def read_batch(paths: list[Path], config: Config, cache: SummaryCache | None) -> list[Document | Unreadable]:
    return [document for document in (read_disk(path, config, cache) for path in paths) if document is not None]


class Progress:
    """Work-done progress for one indexing run, when the client supports it.

    Indexing does not wait for the client to accept the progress token: an
    editor restoring its tabs sends their text first, and the answer queues
    behind megabytes of `didOpen`. Progress is shown from whenever the token is
    accepted, starting at the latest percentage (and ending at once if indexing
    is already over).
    """

    def __init__(self, server: ReplayLensServer, title: str) -> None:
        self.server = server
        self.title = title
        self.token: str | None = None
        self.message: str | None = None
        self.percentage = 0
        self.summary = ""
        self._ended: str | None = None

    async def __aenter__(self) -> Progress:
        window = self.server.client_capabilities.window
        if window is not None and window.work_done_progress:
            self.server.spawn(self._create())
        return self

    async def _create(self) -> None:
        token = f"replay-lens/indexing/{uuid.uuid4()}"
        try:  # no timeout: a late answer still shows the progress, and nothing waits for it
            await self.server.work_done_progress.create_async(token)
        except Exception as exc:  # the client refused: index without progress
            log.debug("no work-done progress: %s", exc)
            return
        self.token = token
        self.server.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=self.title, cancellable=False, message=self.message, percentage=self.percentage
            ),
        )
        if self._ended is not None:
            self._end(self._ended)

    def report(self, message: str, percentage: int) -> None:
        if percentage == self.percentage and self.message is not None:
            return
        self.message, self.percentage = message, percentage
        if self.token is not None:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def _end(self, message: str) -> None:
        assert self.token is not None
        with contextlib.suppress(Exception):
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._ended = self.summary if error is None else "stopped"
        if self.token is not None:
            self._end(self._ended)


class _Reader:
    """Reads files from disk into their projects (as `read_batch` in worker threads), counting them for the progress."""

    def __init__(self, server: ReplayLensServer, progress: Progress, total: int, unreadable: list[Unreadable]) -> None:
        self.server = server
        self.progress = progress
        self.total = total
        self.done = 0
        self.unreadable = unreadable
        progress.report(f"0/{total} files", 0)

    async def read(self, project: Project, paths: list[Path], batch_size: int = _BATCH) -> None:
        server = self.server
        for start in range(0, len(paths), batch_size):
            batch = paths[start : start + batch_size]
            # An open document is parsed from the editor's text: reading it from disk too is wasted.
            unopened = [path for path in batch if not server.is_open(path_to_uri(path))]
            read_now: asyncio.Future[dict[Path, Document]] = asyncio.get_running_loop().create_future()
            server.sync.disk_reads.update((path, (project, read_now)) for path in unopened)
            results: list[Document | Unreadable] = []
            try:
                with server.changes.changes_during() as changed:
                    results = await asyncio.to_thread(read_batch, unopened, project.config, server.summaries)
            finally:
                for path in unopened:
                    server.sync.disk_reads.pop(path, None)
                read_now.set_result({r.path: r for r in results if isinstance(r, Document)})
            for result in results:  # a file changed meanwhile is the change queue's: its read is newer
                if result.path in changed:
                    log.debug("dropped the read of %s: it changed during the read", result.path)
                if server.is_open(result.uri) or result.path in changed:
                    continue
                if isinstance(result, Unreadable):
                    self.unreadable.append(result)
                else:
                    project.put(result)
            self.done += len(batch)
            self.progress.report(f"{self.done}/{self.total} files", self.done * 90 // max(self.total, 1))

    async def read_big(self, project: Project, recordings: list[Path], big: list[Path], open_by: float) -> None:
        """Big recordings at once; the other big files one by one from the loop time `open_by` on."""
        await self.read(project, recordings, 1)
        await asyncio.sleep(max(0.0, open_by - asyncio.get_running_loop().time()))
        await self.read(project, big, 1)


async def index_folder(server: ReplayLensServer, folder: Folder) -> None:
    async with Progress(server, f"Replay Lens: indexing {folder.path.name}") as progress:
        previous = {project.root: project.config for project in folder.projects}
        first = not folder.projects
        scopes = await asyncio.to_thread(discover_scopes, folder.path, previous)
        old = folder.projects
        projects = [server.new_project(scope) for scope in scopes]
        folder.projects = projects
        for project in old:
            project.stop()
        folder.discovered.set()
        server.diagnostics.show_config_errors(folder.path, projects)
        server.send_status()
        # Reading builds millions of acyclic objects: the cyclic collector would walk them again
        # and again (0.13 s of the first diagnostics of a 20 MB fixture). Requests answered
        # meanwhile still free their garbage by reference counting.
        with paused_gc():
            listing, unreadable = await asyncio.to_thread(list_files, projects)
            reader = _Reader(server, progress, sum(len(paths) for paths in listing.values()), unreadable)
            # Big files are read beside the others: child processes summarize a big recording while this
            # process parses the small files. Other big files wait until an editor restoring its tabs has
            # sent their text (`_OPEN_GRACE`): an open one is parsed once, and its two copies never
            # take memory at once.
            open_by = asyncio.get_running_loop().time() + (_OPEN_GRACE if first else 0.0)
            for project, paths in listing.items():
                recordings, big, others = await asyncio.to_thread(split_big, paths, project.config)
                await asyncio.gather(reader.read_big(project, recordings, big, open_by), reader.read(project, others))
            await server.sync.reparse_open(projects)
            checked = [project.next_analysis() for project in projects]
            for project in projects:
                project.ready.set()
                project.request_check()
            progress.report("checking", 90)
            await asyncio.gather(*checked)
            # The parsed workspace lives until the next index and holds no cycles: keep the
            # cyclic collector from walking all of it again during every later check.
            gc.freeze()
        server.diagnostics.prune(folder.path)
        for problem in unreadable:
            server.diagnostics.show_read_error(problem)
        documents = [document for project in projects for document in project.documents.values()]
        fixtures = sum(isinstance(document.parsed, Fixture) for document in documents)
        progress.summary = f"{fixtures} fixtures, {len(documents) - fixtures} recordings"
        log.info("indexed %s: %s", folder.path, progress.summary)


def reindex(server: ReplayLensServer, folder: Folder) -> None:
    """(Re)index a folder, abandoning an indexing run still in progress."""
    if folder.indexing is not None:
        folder.indexing.cancel()
    folder.indexing = asyncio.get_running_loop().create_task(index_folder(server, folder))
    folder.indexing.add_done_callback(functools.partial(_indexed, folder.path))


def _indexed(path: Path, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("indexing %s failed", path, exc_info=task.exception())


def add_folder(server: ReplayLensServer, path: Path) -> Folder:
    folder = server.state.folders.get(path)
    if folder is None:
        folder = server.state.folders[path] = Folder(path)
        reindex(server, folder)
    return folder


def remove_folder(server: ReplayLensServer, path: Path) -> None:
    folder = server.state.folders.pop(path, None)
    if folder is None:
        return
    if folder.indexing is not None:
        folder.indexing.cancel()
    for project in folder.projects:
        project.stop()
        for document in project.documents.values():
            server.diagnostics.clear(document.uri)


async def adopt(server: ReplayLensServer, path: Path) -> Project | None:
    """A project for a file opened outside every workspace folder.

    With a config above it, the config's folder is indexed like a workspace
    folder; without one, the file is checked on its own.
    """
    try:
        config = await asyncio.to_thread(load_project_config, path.parent)
        error = None
    except ConfigError as exc:
        config, error = default_config(path.parent), exc
    if config.path is not None:
        folder = add_folder(server, config.root)
        server.watcher.restart()
        await folder.discovered.wait()
        return folder.project_for(path)
    project = server.state.loose.get(path.parent)
    if project is None:
        project = server.new_project(Scope(path.parent, config, error))
        project.ready.set()
        server.state.loose[path.parent] = project
    return project if project.contains(path) else None
