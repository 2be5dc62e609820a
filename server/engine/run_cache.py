"""A whole `check` run's output, kept for the next run that would read exactly the same files the same way.

A run's output follows from its settings (arguments, current folder, config,
this engine's and CLI's code, Python's version, the installed `regex`) and from
the bytes of the files its walk reads. `run_key` digests the settings (the code
and `regex` told by their files' stat, as the walk tells fixtures: neither read
nor imported); `walk_signature` digests the walk: every `.json`/`.jsonl` file
under the targets (a superset of what `workspace.iter_files` yields: excluded
folders are walked too, so a change there only misses) with its path, size,
mtime, ctime, inode, device and mode, a symlink's target, each target's real
path and each folder that cannot be listed. A later run with the same key and
signature reads the same bytes, so it prints the kept output without reading any
file: one `stat` per file and one query, as ruff's cache does.

A signature is only kept when no file was modified in the last `RACY_SECONDS`
before the walk (a second write in the same clock tick would keep the stat: as
the `files` index of the cache) and none had its inode changed in the last
`CHANGE_SECONDS` (a write that puts the old mtime back still changes the ctime),
and the output only when it is not a function of time (no rule ran out of time).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from server.engine.cache import CHANGE_SECONDS, RACY_SECONDS
from server.engine.skipped import SKIPPED_DIRS

_SUFFIXES = (".json", ".jsonl")
_SERVER = Path(__file__).resolve().parent.parent
_CODE = (str(_SERVER / "engine"), str(_SERVER / "cli"))
"""The code whose every line can shape a run's output: the engine's, and the CLI's rendering of it."""


class Signature:
    """The digest of a walk, whether it may be kept (no file modified within `RACY_SECONDS` of it), and the
    bytes of the `.jsonl` files it saw (what tells a run, before its config is read, that it has recordings
    enough to share out: `summary_children.started_early`).

    A plain class: `dataclasses` imports `inspect` and `NamedTuple` `typing` (6 ms of a warm run)."""

    __slots__ = ("digest", "jsonl_bytes", "settled")

    def __init__(self, digest: str, settled: bool, jsonl_bytes: int) -> None:
        self.digest = digest
        self.settled = settled
        self.jsonl_bytes = jsonl_bytes


def run_key(settings: Sequence[object], targets: Iterable[Path]) -> str:
    """The digest of everything but the files that shapes a run's output: the caller's `settings` (its
    arguments as given, the color chosen, the config file and root), the current folder, each target's real
    path, the code, Python's version, the installed `regex` and the user it runs as."""
    parts = [
        repr(list(settings)),
        os.fsencode(os.getcwd()).hex(),
        repr([os.fsencode(os.path.realpath(target)).hex() for target in targets]),
        _code_identity(),
        sys.version,
        _regex_identity(),  # the rules' matching is this library's
        repr((os.geteuid(), os.getegid(), sorted(os.getgroups()))),  # what may be read
    ]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _code_identity() -> str:
    """The identity of each source file of `_CODE`, told as the walk tells a fixture: an edited, checked out
    or installed file is a new one. Reading and hashing them all (as `cache.engine_digest` does for the
    summaries, which outlive a checkout) took 4 ms of a warm run."""
    return _identity([path for folder in _CODE for path in _files(folder, ".py", recurse=True)])


def _regex_identity() -> str:
    """The identity of each file of the `regex` that `import regex` would load, found without importing it (7 ms
    a warm run has no other use for): another version, or a rebuild under the same `__version__`, is other files.

    Found as the path finder finds it: the first folder of the import path that holds a package `regex` (or a
    module `regex.py`). Not with `importlib.util.find_spec`: the package keeps out of the import machinery
    (tests/test_trust.py), and `importlib.metadata` takes 40 ms to import."""
    for entry in sys.path:
        package = os.path.join(entry or os.curdir, "regex")
        if os.path.isfile(os.path.join(package, "__init__.py")):
            return _identity(_files(package, "", recurse=False))
        if os.path.isfile(f"{package}.py"):
            return _identity([f"{package}.py"])
    return "no regex"


def _files(folder: str, suffix: str, *, recurse: bool) -> list[str]:
    """The files in `folder` named `*suffix` (and in its subfolders when `recurse`, but not compiled code's); a
    folder that cannot be listed is told by its own stat only."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return [folder]
    files = []
    for entry in entries:
        if entry.is_dir():
            if recurse and entry.name != "__pycache__":
                files.extend(_files(entry.path, suffix, recurse=True))
        elif entry.name.endswith(suffix):
            files.append(entry.path)
    return files


def _identity(paths: Iterable[str]) -> str:
    """The size, mtime, ctime, inode and device of each of `paths`, or why it has none: a file written since
    (even with its old size and mtime put back) is another identity."""
    identities: list[tuple[str | int, ...]] = []
    for path in sorted(set(paths)):
        try:
            stat = os.stat(path)
        except OSError as exc:
            identities.append((path, exc.errno or 0))
            continue
        identities.append((path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev))
    return repr(identities)


def walk_signature(targets: Iterable[Path], config_file: Path | None) -> Signature:
    """The signature of the files a run over `targets` could read, and of its config file."""
    began = time.time_ns()
    walk = _Walk()
    if config_file is not None:
        walk.file(os.fsencode(config_file), None)
    for target in targets:
        name = os.fsencode(target)
        if os.path.isdir(target):
            walk.folder(name)
        else:
            walk.file(name, None)
    settled = walk.modified < began - int(RACY_SECONDS * 1e9) and walk.changed < began - int(CHANGE_SECONDS * 1e9)
    return Signature(walk.digest.hexdigest(), settled, walk.jsonl_bytes)


class _Walk:
    """One stat per candidate file (`os.scandir` tells folders and symlinks apart without one)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.modified = 0
        self.changed = 0
        self.jsonl_bytes = 0

    def folder(self, path: bytes) -> None:
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            self.digest.update(b"!%s\0%d\n" % (path, exc.errno or 0))
            return
        folders = []
        for entry in entries:
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if is_folder:
                if entry.name not in _SKIPPED:
                    folders.append(entry.path)
            elif entry.name.endswith(_BYTE_SUFFIXES):
                self.file(entry.path, entry)
        for folder in folders:  # `iter_files` yields a folder's files before its subfolders'
            self.folder(folder)

    def file(self, path: bytes, entry: os.DirEntry[bytes] | None) -> None:
        try:
            stat = entry.stat() if entry is not None else os.stat(path)
            link = os.readlink(path) if (entry.is_symlink() if entry is not None else os.path.islink(path)) else b""
        except OSError as exc:
            self.digest.update(b"?%s\0%d\n" % (path, exc.errno or 0))
            return
        if path.endswith(b".jsonl"):
            self.jsonl_bytes += stat.st_size
        self.modified = max(self.modified, stat.st_mtime_ns)
        self.changed = max(self.changed, stat.st_ctime_ns)
        self.digest.update(
            b"%s\0%d\0%d\0%d\0%d\0%d\0%d\0%s\n"
            % (
                path,
                stat.st_size,
                stat.st_mtime_ns,
                stat.st_ctime_ns,
                stat.st_ino,
                stat.st_dev,
                stat.st_mode,
                link,
            )
        )


_SKIPPED = frozenset(os.fsencode(name) for name in SKIPPED_DIRS)
_BYTE_SUFFIXES = tuple(suffix.encode() for suffix in _SUFFIXES)
