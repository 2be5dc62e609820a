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

from lsprotocol import types

from server.engine.config import Config, ConfigError, default_config, load_config
from server.engine.config_files import CONFIG_NAMES, find_config_file
from server.engine.fixture import Fixture
from server.engine.skipped import SKIPPED_DIRS
from server.engine.summary_children import worth_children
from server.engine.workspace import is_recording, iter_files, load_project_config, paused_gc
from server.lsp.diagnostics import Diagnostics
from server.lsp.documents import Documents
from server.lsp.session import Session
from server.lsp.state import Folder, Project, Unreadable, owner
from server.lsp.watching import FileWatcher

log = logging.getLogger(__name__)

_BATCH = 32
_OPEN_GRACE = 0.5
"""Seconds after `initialized` (or a folder's first indexing) at most before its big fixtures are read from disk."""


class OpenGrace:
    """The wait of the first indexing for the files an editor restores: their `didOpen`s follow `initialized`.

    A big fixture is read from disk only after it, so the one being restored is
    parsed once, from the editor's text. It ends as soon as every message the
    editor sent with or after `initialized` is handled, each restored file then
    open: the stdio reader reports that its input is drained (`input_drained`)
    and a document is open (input drained before any `didOpen` is an editor that
    has not sent them yet). `_OPEN_GRACE` seconds after `initialized` end it
    anyway: an editor that restores nothing, a transport that cannot tell.
    """

    def __init__(self, open_count: Callable[[], int]) -> None:
        self.over = asyncio.Event()
        self._open_count = open_count
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """At `initialized`: drained input ends the grace from now on, and `_OPEN_GRACE` seconds end it anyway."""
        self._loop = asyncio.get_running_loop()
        self._loop.call_later(_OPEN_GRACE, self._end, f"{_OPEN_GRACE} s passed")

    def input_drained(self) -> bool:
        """From the reader's thread, about to wait for a message with none pending; False once the grace is over
        (the reader stops looking)."""
        if self.over.is_set():
            return False
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: nothing waits any more
                self._loop.call_soon_threadsafe(self._drained)
        return True

    def _drained(self) -> None:
        if self._open_count():
            self._end("the input is drained")

    def _end(self, why: str) -> None:
        if not self.over.is_set():
            self.over.set()
            log.debug("open grace over: %s, %d documents open", why, self._open_count())

    async def wait(self, until: float) -> None:
        """Until the grace is over, or the loop time `until`, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.over.wait(), max(0.0, until - asyncio.get_running_loop().time()))


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


class Progress:
    """Work-done progress for one indexing run, when the client supports it.

    Indexing does not wait for the client to accept the progress token: an
    editor restoring its tabs sends their text first, and the answer queues
    behind megabytes of `didOpen`. Progress is shown from whenever the token is
    accepted, starting at the latest percentage (and ending at once if indexing
    is already over).
    """

    def __init__(self, session: Session, title: str) -> None:
        self.session = session
        self.title = title
        self.token: str | None = None
        self.message: str | None = None
        self.percentage = 0
        self.summary = ""
        self._ended: str | None = None

    async def __aenter__(self) -> Progress:
        window = self.session.capabilities.window
        if window is not None and window.work_done_progress:
            self.session.spawn(self._create())
        return self

    async def _create(self) -> None:
        token = f"replay-lens/indexing/{uuid.uuid4()}"
        try:  # no timeout: a late answer still shows the progress, and nothing waits for it
            await self.session.client.work_done_progress.create_async(token)
        except Exception as exc:  # the client refused: index without progress
            log.debug("no work-done progress: %s", exc)
            return
        self.token = token
        self.session.client.work_done_progress.begin(
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
            self.session.client.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def _end(self, message: str) -> None:
        assert self.token is not None
        with contextlib.suppress(Exception):
            self.session.client.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._ended = self.summary if error is None else "stopped"
        if self.token is not None:
            self._end(self._ended)


class _Reader:
    """Reads files into their projects through `Documents.read`, counting them for the progress."""

    def __init__(
        self, documents: Documents, grace: OpenGrace, progress: Progress, total: int, unreadable: list[Unreadable]
    ) -> None:
        self.documents = documents
        self.grace = grace
        self.progress = progress
        self.total = total
        self.done = 0
        self.unreadable = unreadable
        progress.report(f"0/{total} files", 0)

    async def read(self, project: Project, paths: list[Path], batch_size: int = _BATCH) -> None:
        for start in range(0, len(paths), batch_size):
            batch = paths[start : start + batch_size]
            self.unreadable += await self.documents.read(project, batch)
            self.done += len(batch)
            self.progress.report(f"{self.done}/{self.total} files", self.done * 90 // max(self.total, 1))

    async def read_big(self, project: Project, recordings: list[Path], big: list[Path], open_by: float) -> None:
        """Big recordings at once; the other big files one by one once the open grace is over (by `open_by`)."""
        await self.read(project, recordings, 1)
        if big:
            await self.grace.wait(open_by)
        await self.read(project, big, 1)


class Indexer:
    """The workspace folders: indexing each (again on a config change), and files opened outside them."""

    def __init__(self, session: Session, documents: Documents, diagnostics: Diagnostics, watcher: FileWatcher) -> None:
        self.session = session
        self.documents = documents
        self.diagnostics = diagnostics
        self.watcher = watcher
        self.open_grace = OpenGrace(lambda: len(session.open_uris()))

    async def index_folder(self, folder: Folder) -> None:
        async with Progress(self.session, f"Replay Lens: indexing {folder.path.name}") as progress:
            previous = {project.root: project.config for project in folder.projects}
            first = not folder.projects
            scopes = await asyncio.to_thread(discover_scopes, folder.path, previous)
            old = folder.projects
            projects = [self.session.new_project(scope.root, scope.config, scope.error) for scope in scopes]
            folder.projects = projects
            for project in old:
                project.stop()
            folder.discovered.set()
            self.diagnostics.show_config_errors(folder.path, projects)
            self.session.send_status()
            # Reading builds millions of acyclic objects: the cyclic collector would walk them again
            # and again (0.13 s of the first diagnostics of a 20 MB fixture). Requests answered
            # meanwhile still free their garbage by reference counting.
            with paused_gc():
                listing, unreadable = await asyncio.to_thread(list_files, projects)
                reader = _Reader(
                    self.documents, self.open_grace, progress, sum(len(paths) for paths in listing.values()), unreadable
                )
                # Big files are read beside the others: child processes summarize a big recording while this
                # process parses the small files. Other big files wait until an editor restoring its tabs has
                # sent their text (`OpenGrace`): an open one is parsed once, and its two copies never
                # take memory at once.
                open_by = asyncio.get_running_loop().time() + (_OPEN_GRACE if first else 0.0)
                for project, paths in listing.items():
                    recordings, big, others = await asyncio.to_thread(split_big, paths, project.config)
                    big_ones = reader.read_big(project, recordings, big, open_by)
                    await asyncio.gather(big_ones, reader.read(project, others))
                await self.documents.reparse_open(projects)
                checked = [project.next_analysis() for project in projects]
                for project in projects:
                    project.ready.set()
                    project.request_check()
                progress.report("checking", 90)
                await asyncio.gather(*checked)
                # The parsed workspace lives until the next index and holds no cycles: keep the
                # cyclic collector from walking all of it again during every later check.
                gc.freeze()
            self.diagnostics.prune(folder.path)
            for problem in unreadable:
                self.diagnostics.show_read_error(problem)
            documents = [document for project in projects for document in project.documents.values()]
            fixtures = sum(isinstance(document.parsed, Fixture) for document in documents)
            progress.summary = f"{fixtures} fixtures, {len(documents) - fixtures} recordings"
            log.info("indexed %s: %s", folder.path, progress.summary)

    def reindex(self, folder: Folder) -> None:
        """(Re)index a folder, abandoning an indexing run still in progress."""
        if folder.indexing is not None:
            folder.indexing.cancel()
        folder.indexing = asyncio.get_running_loop().create_task(self.index_folder(folder))
        folder.indexing.add_done_callback(functools.partial(self._indexed, folder.path))

    @staticmethod
    def _indexed(path: Path, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("indexing %s failed", path, exc_info=task.exception())

    def add_folder(self, path: Path) -> Folder:
        folder = self.session.state.folders.get(path)
        if folder is None:
            folder = self.session.state.folders[path] = Folder(path)
            self.reindex(folder)
        return folder

    def remove_folder(self, path: Path) -> None:
        folder = self.session.state.folders.pop(path, None)
        if folder is None:
            return
        if folder.indexing is not None:
            folder.indexing.cancel()
        for project in folder.projects:
            project.stop()
            for document in project.documents.values():
                self.diagnostics.clear(document.uri)
        self.diagnostics.show_config_errors(path, [])

    async def adopt(self, path: Path) -> Project | None:
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
            folder = self.add_folder(config.root)
            self.watcher.restart()
            await folder.discovered.wait()
            return folder.project_for(path)
        project = self.session.state.loose.get(path.parent)
        if project is None:
            project = self.session.new_project(path.parent, config, error)
            project.ready.set()
            self.session.state.loose[path.parent] = project
        return project if project.contains(path) else None

    async def configs_changed(self, configs: set[Path]) -> None:
        """A config changed: every project it may govern is indexed again under the new rules."""
        state = self.session.state
        used = {
            path
            for project in state.projects()
            for path in (project.config.path, project.config_error.path if project.config_error else None)
            if path is not None
        }
        touched: set[Path] = set()
        for config in configs:
            if config in used or await asyncio.to_thread(_is_config, config):
                touched.add(config)
        folders: list[Folder] = []
        for folder in state.folders.values():
            governed = {p.config.path for p in folder.projects} | {
                p.config_error.path for p in folder.projects if p.config_error
            }
            if any(path.is_relative_to(folder.path) or path in governed for path in touched):
                folders.append(folder)
        for folder in folders:
            log.info("config changed: indexing %s again", folder.path)
            self.reindex(folder)


def _is_config(path: Path) -> bool:
    return path.name == "replay-lens.toml" or find_config_file(path.parent) == path
