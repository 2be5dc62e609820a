"""The workspace model: projects, their parsed documents and their last check.

State changes happen on the event loop only. Reading, parsing and checking run
in worker threads over immutable snapshots (`Document`s are frozen and replaced
whole), and a check result is kept as an `Analysis` that remembers exactly which
document objects it saw. A result is current for a document only while that
document object is still the project's, which is how outdated results are
recognized and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fnmatch
import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from server.engine import findings as codes
from server.engine.cache import SummaryCache
from server.engine.checks import CheckResult, FixtureReport, RecordingReport, check
from server.engine.config import Config, ConfigError
from server.engine.findings import Finding
from server.engine.fixture import Fixture, reread_fixture
from server.engine.recording import Recording
from server.engine.skipped import SKIPPED_DIRS
from server.engine.source import SourceText, Span
from server.engine.workspace import (
    classify,
    is_recording,
    read_candidate,
    read_source,
    read_summary,
    walk_order,
)
from server.lsp.buffers import Snapshot
from server.lsp.convert import path_to_uri

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed fixture or recording, from an editor buffer (`version`) or from disk (`digest`)."""

    path: Path
    uri: str
    parsed: Fixture | Recording
    version: int | None = None
    digest: str | None = None
    serial: int | None = None
    """The buffer snapshot it was parsed from, so the next one can re-read only what changed."""

    @property
    def source(self) -> SourceText:
        return self.parsed.source


def parse_text(
    path: Path, uri: str, snapshot: Snapshot, version: int, config: Config, previous: Document | None = None
) -> Document | None:
    """A document from an editor buffer (the editor already decoded it and hides any BOM).

    When `previous` is the fixture parsed from the snapshot before this one, an
    edit inside one turn re-reads that turn only. When it is the fixture read
    from disk with the same text (a file opened as it is, often just after
    indexing read it), its parse is taken as it is.
    """
    text = snapshot.text
    if previous is not None and isinstance(previous.parsed, Fixture):
        if previous.serial == snapshot.base and snapshot.kept is not None:
            reread = reread_fixture(previous.parsed, text, *snapshot.kept)
            if reread is not None:
                return Document(path, uri, reread, version=version, serial=snapshot.serial)
        source = previous.parsed.source
        if previous.version is None and source.text == text and not source.bom and source.decode_problem is None:
            # Over the editor's string (an empty edit keeps the line index): the disk's copy is freed.
            same = dataclasses.replace(previous.parsed, source=source.edited(text, 0, 0))
            return Document(path, uri, same, version=version, serial=snapshot.serial)
    kind = classify(path, text, config)
    if kind is None:
        return None
    parsed = _parsed(path, SourceText(text), kind)
    return Document(path, uri, parsed, version=version, serial=snapshot.serial)


def _parsed(path: Path, source: SourceText, kind: str) -> Fixture | Recording:
    """The document read whole, its line index built here in the parsing worker thread: every finding
    and request on it converts positions, and the first check need not pay for the index."""
    parsed = read_source(path, source, kind)
    source.index_lines()
    return parsed


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A file that is there but cannot be read, or a folder that cannot be listed: a `read-error`, as in `check`."""

    path: Path
    reason: str

    @property
    def uri(self) -> str:
        return path_to_uri(self.path)

    def finding(self) -> Finding:
        return Finding.at(codes.READ_ERROR, self.path, SourceText(""), Span(0, 0), f"cannot read: {self.reason}")


def read_disk(path: Path, config: Config, cache: SummaryCache | None) -> Document | Unreadable | None:
    """The file as it is on disk; None when it is gone (or a folder), `Unreadable` when it is stuck.

    With a `cache`, a recording is its summary recording (cached, or read line
    by line, a big one in child processes): the server then holds its keys and
    places, not its inputs, which readers of the inputs read back from the
    file. Other files are parsed whole.
    """
    try:
        if cache is not None and is_recording(path, config):
            recording, digest = read_summary(path, config, cache, offload=True)
            return Document(path, path_to_uri(path), recording, digest=digest)
        data = read_candidate(path, config)  # only what may be a fixture or recording, up to a size
    except IsADirectoryError:
        return None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and not os.path.islink(path):
            return None  # gone; a dangling symlink is there, and `check` reports it
        log.warning("cannot read %s: %s", path, exc.strerror or exc)
        return Unreadable(path, str(exc.strerror or exc))
    if data is None:
        return None
    kind = classify(path, data, config)
    if kind is None:
        return None
    digest = hashlib.sha256(data).hexdigest()
    source = SourceText.from_bytes(data)
    del data  # the parse needs the text only: a big fixture's bytes are freed before it is parsed
    return Document(path, path_to_uri(path), _parsed(path, source, kind), digest=digest)


@dataclass(slots=True)
class Analysis:
    """A completed check and the exact documents it was computed from."""

    result: CheckResult
    documents: dict[Path, Document]
    config: Config
    fixtures: dict[Path, FixtureReport] = field(default_factory=dict)
    recordings: dict[Path, RecordingReport] = field(default_factory=dict)
    findings: dict[Path, list[Finding]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self.fixtures = {report.fixture.path: report for report in self.result.fixtures}
        self.recordings = {report.recording.path: report for report in self.result.recordings}
        for finding in self.result.findings:
            self.findings[finding.path].append(finding)

    def covers(self, document: Document) -> bool:
        return self.documents.get(document.path) is document


AnalysisListener = Callable[["Project", Analysis], None]


class Project:
    """The fixtures and recordings under one config scope, checked together.

    `root` is the folder that is indexed (a workspace folder, or a nested folder
    holding its own config). One checker task per project runs at most one check
    at a time; requests made while it runs coalesce into one more check.
    """

    def __init__(
        self,
        root: Path,
        config: Config,
        listener: AnalysisListener,
        config_error: ConfigError | None = None,
    ) -> None:
        self.root = root
        self.config = config
        self.config_error = config_error
        self.documents: dict[Path, Document] = {}
        self.analysis: Analysis | None = None
        self.ready = asyncio.Event()
        self._listener = listener
        self._wanted = asyncio.Event()
        self._analysed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Exclude globs are relative to the config's folder, like the CLI's (which resolves paths).
        try:
            self._base = root.resolve().relative_to(config.root)
        except ValueError:
            self._base = root

    def contains(self, path: Path) -> bool:
        """True when `path` is under the root and neither in a skipped folder nor excluded by the config."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return False
        if any(part in SKIPPED_DIRS for part in parts[:-1]):
            return False
        excluded = self.config.exclude
        for depth in range(1, len(parts) + 1 if excluded else 1):
            relative = self._base.joinpath(*parts[:depth]).as_posix()
            if any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch("/" + relative, p) for p in excluded):
                return False
        return True

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._check_forever(), name=f"check {self.root}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def stopped(self) -> bool:
        return self._task is None

    def put(self, document: Document) -> None:
        self.documents[document.path] = document
        self.request_check()

    def remove(self, path: Path) -> Document | None:
        removed = self.documents.pop(path, None)
        if removed is not None:
            self.request_check()
        return removed

    def request_check(self) -> None:
        self._wanted.set()

    def ordered(self) -> list[Document]:
        return sorted(self.documents.values(), key=lambda document: walk_order(document.path, self.root))

    async def analysis_of(self, document: Document, timeout: float) -> Analysis | None:
        """The analysis that covers `document`, waiting up to `timeout` seconds for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            analysis = self.analysis
            if analysis is not None and analysis.covers(document):
                return analysis
            if self.documents.get(document.path) is not document:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._analysed.wait(), remaining)

    def next_analysis(self) -> Coroutine[Any, Any, Literal[True]]:
        """An awaitable for the next completed check (bound now, so no completion slips between)."""
        return self._analysed.wait()

    async def _check_forever(self) -> None:
        while True:
            await self._wanted.wait()
            await self.ready.wait()
            self._wanted.clear()
            documents = self.ordered()
            config = self.config
            fixtures = [d.parsed for d in documents if isinstance(d.parsed, Fixture)]
            recordings = [d.parsed for d in documents if isinstance(d.parsed, Recording)]
            try:
                result = await asyncio.to_thread(check, fixtures, recordings, config)
                analysis = Analysis(result, {d.path: d for d in documents}, config)
                self.analysis = analysis
                log.debug("checked %s: %d fixtures, %d recordings", self.root, len(fixtures), len(recordings))
                self._listener(self, analysis)
            except Exception:
                log.exception("check of %s failed", self.root)
            finally:
                done, self._analysed = self._analysed, asyncio.Event()
                done.set()


@dataclass(slots=True)
class Folder:
    """A workspace folder: its projects, known once the config scopes under it are discovered."""

    path: Path
    projects: list[Project] = field(default_factory=list)
    discovered: asyncio.Event = field(default_factory=asyncio.Event)

    indexing: asyncio.Task[None] | None = None

    def project_for(self, path: Path) -> Project | None:
        return owner(self.projects, path)


def owner(projects: list[Project], path: Path) -> Project | None:
    """The project of the deepest scope holding `path`, if it takes the file (safe in worker threads)."""
    best: Project | None = None
    for project in projects:
        if path.is_relative_to(project.root) and (best is None or len(project.root.parts) > len(best.root.parts)):
            best = project
    return best if best is not None and best.contains(path) else None


class WorkspaceState:
    """All folders and their projects; plus loose projects for files opened outside any folder."""

    def __init__(self) -> None:
        self.folders: dict[Path, Folder] = {}
        self.loose: dict[Path, Project] = {}

    def folder_of(self, path: Path) -> Folder | None:
        holders = [folder for root, folder in self.folders.items() if path.is_relative_to(root)]
        return max(holders, key=lambda folder: len(folder.path.parts), default=None)

    async def project_for(self, path: Path) -> Project | None:
        folder = self.folder_of(path)
        if folder is not None:
            await folder.discovered.wait()
            return folder.project_for(path)
        return next((p for root, p in self.loose.items() if path.is_relative_to(root) and p.contains(path)), None)

    def projects(self) -> Iterator[Project]:
        for folder in self.folders.values():
            yield from folder.projects
        yield from self.loose.values()

    def stop(self) -> None:
        for project in self.projects():
            project.stop()
