"""Find a project's config, fixtures and recordings on disk and read them.

This is the engine's only module that walks directories; readers get bytes.
"""

from __future__ import annotations

import fnmatch
import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from server.engine import findings as codes
from server.engine.cache import SummaryCache
from server.engine.capture_files import is_capture
from server.engine.checks import CheckResult, check
from server.engine.config import Config, default_config, find_config_file, load_config, project_root
from server.engine.files import content_digest, open_regular, read_all, read_head, resolved
from server.engine.findings import Finding
from server.engine.fixture import Fixture, read_fixture
from server.engine.recording import Recording, read_recording
from server.engine.source import SourceText, Span
from server.engine.summary import from_summary, summarize_file, summarize_files
from server.engine.summary_records import RecordingSummary

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        "dist",
        "build",
        ".idea",
        ".vscode-test",
    }
)
_SNIFF_BYTES = 64 * 1024


def load_project_config(start: Path, explicit: Path | None = None, default_root: Path | None = None) -> Config:
    """The config for `start` (raises `ConfigError`); defaults when there is none.

    Without a config the root is the nearest project folder (`project_root`), else
    `default_root`: the CLI passes its current directory; the server, which has no
    meaningful one, keeps the folder of `start`.
    """
    path = explicit or find_config_file(start.resolve())
    if path is None:
        start = start.resolve()
        return default_config(project_root(start, default_root or (start if start.is_dir() else start.parent)))
    return load_config(path)


def classify(path: Path, data: bytes | str, config: Config) -> str | None:
    """'fixture', 'recording' or None, by the config's globs or else by content.

    The content is bytes from disk or an editor's text: the markers are ASCII,
    so they are in the text exactly when they are in its UTF-8 bytes (20 MB of
    text need not be encoded to be told).
    """
    if is_capture(path, config.root):
        return "recording"
    relative = _relative(path, config.root)
    if config.fixtures or config.recordings:
        if _matches(relative, config.fixtures):
            return "fixture"
        if _matches(relative, config.recordings):
            return "recording"
        return None
    if (
        path.suffix == ".json"
        and _holds(data, '"turns"')
        and any(_holds(data, key) for key in ('"input_hash"', '"conversation_hash"'))
    ):
        return "fixture"
    if path.suffix == ".jsonl":
        head = data[:_SNIFF_BYTES]
        if isinstance(head, str):
            head = head.encode("utf-8", errors="surrogatepass")
        first = head[:_SNIFF_BYTES].split(b"\n", 1)[0]
        if (
            b'"input"' in first
            and b'"output"' in first
            and (b'"input_hash"' in first or b'"conversation_hash"' in first)
        ):
            return "recording"
    return None


def _holds(data: bytes | str, marker: str) -> bool:
    return marker in data if isinstance(data, str) else marker.encode() in data


def _relative(path: Path, root: Path) -> str:
    try:
        return resolved(path).relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _matches(relative: str, globs: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch("/" + relative, pattern) for pattern in globs)


def iter_files(
    paths: Iterable[Path], config: Config, on_error: Callable[[OSError], None] | None = None
) -> Iterator[Path]:
    """Candidate files under `paths`: no symlinked directories (no loops), skipped dirs pruned.

    A directory that cannot be listed is passed to `on_error` and skipped.
    """
    seen: set[Path] = set()
    for path in paths:
        if path.is_file():
            if path not in seen:
                seen.add(path)
                yield path
            continue
        for directory, dirnames, filenames in os.walk(path, onerror=on_error, followlinks=False):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in SKIPPED_DIRS and not _matches(_relative(Path(directory, d), config.root), config.exclude)
            )
            for name in sorted(filenames):
                if name.endswith((".json", ".jsonl")):
                    candidate = Path(directory, name)
                    if candidate not in seen and not _matches(_relative(candidate, config.root), config.exclude):
                        seen.add(candidate)
                        yield candidate


@dataclass
class Workspace:
    """Parsed fixtures and recordings of one run, plus files that could not be read."""

    config: Config
    fixtures: list[Fixture] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    unreadable: list[Finding] = field(default_factory=list)

    def check(self) -> CheckResult:
        with paused_gc():
            result = check(self.fixtures, self.recordings, self.config)
        result.problems.extend(self.unreadable)
        return result


def read_document(path: Path, data: bytes, kind: str) -> Fixture | Recording:
    return read_source(path, SourceText.from_bytes(data), kind)


def read_source(path: Path, source: SourceText, kind: str) -> Fixture | Recording:
    """The fixture or recording (`kind`, as `classify` tells) in `source`, read whole."""
    return read_fixture(path, source) if kind == "fixture" else read_recording(path, source)


def load_workspace(paths: Iterable[Path], config: Config, cache: SummaryCache | None = None) -> Workspace:
    """Read every fixture and recording under `paths`.

    A file named explicitly is always read: `.jsonl` as a recording, anything
    else as a fixture, so a broken file still gets its findings. With a `cache`,
    a recording unchanged since it was summarized is its summary recording
    (enough for `check`, not for readers of its inputs), and a recording that is
    read gets summarized for the next run.
    """
    workspace = Workspace(config)
    explicit = {path for path in paths if not path.is_dir()}
    with paused_gc():
        _read_into(workspace, paths, explicit, config, cache)
    return workspace


def _read_into(
    workspace: Workspace, paths: Iterable[Path], explicit: set[Path], config: Config, cache: SummaryCache | None
) -> None:
    """Read in walk order; the recordings to summarize are summarized together at the end (on every core,
    `summarize_files`) and put back in their places, so the workspace is the one reading them in turn makes."""
    read: list[Fixture | Recording | Finding | _Pending | None] = []

    def unlistable(error: OSError) -> None:
        read.append(_read_error(Path(str(error.filename or "?")), error))

    for path in iter_files(paths, config, unlistable):
        try:
            read.append(_read(path, config, path in explicit, cache))
        except OSError as exc:
            read.append(_read_error(path, exc))
    pending = [item for item in read if isinstance(item, _Pending)]
    if cache is not None and pending:
        summaries = summarize_files([item.path for item in pending], config)
        for made, summarized in zip(pending, summaries, strict=True):
            try:
                if isinstance(summarized, OSError):
                    raise summarized
                made.done = _stored(made.path, made.before, config, cache, *summarized)[0]
            except OSError as exc:  # unreadable, or gone since (its stat is taken again to cache it)
                made.done = _read_error(made.path, exc)
    for item in read:
        document: Fixture | Recording | Finding | None = item.done if isinstance(item, _Pending) else item
        if isinstance(document, Fixture):
            workspace.fixtures.append(document)
        elif isinstance(document, Recording):
            workspace.recordings.append(document)
        elif isinstance(document, Finding):
            workspace.unreadable.append(document)


@dataclass(slots=True)
class _Pending:
    """A recording to summarize (its cached summary missed), with its stat before it is read."""

    path: Path
    before: os.stat_result
    done: Recording | Finding | None = None


def _kind(path: Path, data: bytes, config: Config, explicit: bool) -> str | None:
    kind = classify(path, data, config)
    if kind is None and explicit:
        kind = "recording" if path.suffix == ".jsonl" else "fixture"
    return kind


def _read(
    path: Path, config: Config, explicit: bool, cache: SummaryCache | None
) -> Fixture | Recording | _Pending | None:
    """A fixture, or a recording: read whole without a cache, else its cached summary or one to make."""
    if cache is not None and is_recording(path, config, explicit=explicit):
        before = os.stat(path)
        known = _cached(path, before, config, cache)
        return _Pending(path, before) if known is None else known[0]
    data = read_candidate(path, config, explicit=explicit)
    kind = None if data is None else _kind(path, data, config, explicit)
    return None if kind is None or data is None else read_document(path, data, kind)


def read_candidate(path: Path, config: Config, *, explicit: bool = False) -> bytes | None:
    """The bytes of a file that may be a fixture or a recording; None when its path or head says it is neither.

    The file is opened first (a FIFO, a device or a dangling link is an `OSError`, whatever its name), then
    only what may be one is read whole, up to `MAX_DOCUMENT_BYTES` (else `TooLargeError`, an `OSError`):
    a 1 GiB `.jsonl` log that is not a recording is told by its first line, never read.
    """
    with open_regular(path) as handle:
        if not explicit:
            if config.fixtures or config.recordings:
                head = b""  # classified by its path alone
            elif path.suffix == ".jsonl":
                head = os.pread(handle.fileno(), _SNIFF_BYTES, 0)
            else:
                head = None  # a fixture's markers may come after megabytes of prompt: read whole
            if head is not None and classify(path, head, config) is None:
                return None
        return read_all(handle, path)


def is_recording(path: Path, config: Config, *, explicit: bool = False) -> bool:
    """Whether `path` is read as a recording summary, told without reading it whole.

    A capture is not: it is small, and its calls' inputs are replayed against the fixtures
    (a summary keeps no inputs), so it is read whole like a fixture."""
    if is_capture(path, config.root):
        return False
    if config.fixtures or config.recordings:
        head = b""  # classified by its path alone
    elif path.suffix == ".jsonl":
        head = read_head(path, _SNIFF_BYTES)
    else:
        return False  # without globs, only a `.jsonl` file is a recording
    return _kind(path, head, config, explicit) == "recording"


def read_summary(path: Path, config: Config, cache: SummaryCache, *, offload: bool = False) -> tuple[Recording, str]:
    """The summary recording of the recording at `path` (cached, or made line by line) and the sha256 of its bytes.

    `offload` as in `summarize_file`."""
    before = os.stat(path)
    known = _cached(path, before, config, cache)
    if known is not None:
        return known
    return _stored(path, before, config, cache, *summarize_file(path, config, offload=offload))


def _cached(path: Path, before: os.stat_result, config: Config, cache: SummaryCache) -> tuple[Recording, str] | None:
    """The cached summary recording of `path` (whose stat is `before`) and its digest; None when there is none."""
    known = cache.load(path, before, config)
    if known is not None:
        return known
    if cache.knows(path):  # touched, maybe not changed (a checkout, a copy back): its content may be known
        digest = content_digest(path)
        recording = cache.load_digest(path, digest, config)
        if recording is not None:
            cache.remember(path, _unchanged(path, before), digest)
            return recording, digest
    return None


def _stored(
    path: Path, before: os.stat_result, config: Config, cache: SummaryCache, summary: RecordingSummary, digest: str
) -> tuple[Recording, str]:
    """The summary recording of a `summary` just made, kept in the cache for the next run."""
    cache.store(path, _unchanged(path, before), digest, summary, config)
    return from_summary(path, summary, config), digest


def _unchanged(path: Path, before: os.stat_result) -> os.stat_result | None:
    """The file's stat now, when it is the one it had before it was read (else it changed during the read)."""
    after = os.stat(path)
    return (
        after
        if (before.st_size, before.st_mtime_ns, before.st_ino) == (after.st_size, after.st_mtime_ns, after.st_ino)
        else None
    )


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector while parsing builds millions of acyclic objects.

    Parsed JSON holds no reference cycles, yet each generation-2 pass would walk
    all of it: on a 240 MB workspace that doubled the time. Reference counting
    still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_error(path: Path, exc: OSError) -> Finding:
    return Finding.at(codes.READ_ERROR, path, SourceText(""), Span(0, 0), f"cannot read: {exc.strerror or exc}")
