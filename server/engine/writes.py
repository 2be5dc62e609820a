"""Safe rewrites of user files: atomic, mode-preserving, refusing stale content, written through symlinks.

A write is staged first: the target's content is checked against what the
caller read, and the new bytes go to a fsynced temporary file beside it. The
commit checks the target again, right before the rename: an editor's save that
landed while the temporary file was written is never overwritten. Several
staged writes commit together or not at all (`commit_all`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from server.engine.files import open_regular

_CHUNK = 1 << 20


class ChangedOnDiskError(Exception):
    """The file changed since it was read: writing would lose someone's edit."""


class AlreadyExistsError(Exception):
    """The file to create is already there: creating it would overwrite it."""


class NotRegularError(OSError):
    """The target is not a regular file (a FIFO would block the write, `/dev/zero` never ends)."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def before_commit() -> None:
    """Called between staging and the final check: tests replace it to land a save exactly there."""


@dataclass
class StagedWrite:
    """New bytes in a synced temporary file beside `target`, not yet renamed into place."""

    path: Path
    """The path the caller named (a symlink is written through to `target`)."""
    target: Path
    temp: str
    expected_hash: str | None
    """What `target` must still hold at commit (None: it must not exist)."""
    seen: tuple[int, ...] | None
    old: bytes | None
    """The bytes replaced, to put back if a later write of the same commit fails."""

    def commit(self) -> None:
        """Rename the temporary file into place, unless the target changed since it was staged."""
        if self.expected_hash is None:
            self._create()
        else:
            self._replace()
        _fsync_directory(self.target.parent)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)

    def undo(self) -> None:
        """Put back what a committed write replaced (or remove what it created)."""
        if self.old is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.target)
            return
        temp = _synced_temp(self.target, self.old, os.stat(self.target).st_mode & 0o7777)
        os.replace(temp, self.target)

    def _replace(self) -> None:
        try:
            current, after = _hash_and_stat(self.target)
            if current != self.expected_hash or after != self.seen:
                raise ChangedOnDiskError(f"{self.path} changed on disk while it was rewritten; nothing written")
            os.replace(self.temp, self.target)
        except BaseException:
            self.discard()
            raise

    def _create(self) -> None:
        try:
            os.link(self.temp, self.target)
        except FileExistsError:
            raise AlreadyExistsError(f"{self.path} already exists; nothing written") from None
        except OSError:  # no hard links here: an existence check, then a rename
            if os.path.lexists(self.target):
                raise AlreadyExistsError(f"{self.path} already exists; nothing written") from None
            os.replace(self.temp, self.target)
        finally:
            self.discard()


def stage_replace(path: Path, data: bytes, expected_hash: str | None) -> StagedWrite:
    """Stage `data` to replace `path`, which must still hold the bytes hashed as `expected_hash` (None:
    whatever it holds now, which must then stay unchanged until the commit)."""
    target = write_target(path)
    old, seen = _read_and_stat(target)
    current = content_hash(old)
    if expected_hash is not None and current != expected_hash:
        raise ChangedOnDiskError(f"{path} changed on disk since it was read; nothing written")
    temp = _synced_temp(target, data, os.stat(target).st_mode & 0o7777)
    return StagedWrite(path, target, temp, current, seen, old)


def stage_create(path: Path, data: bytes, mode: int = 0o644) -> StagedWrite:
    """Stage `data` as the new file `path` (never replacing an existing one)."""
    if os.path.lexists(path):
        raise AlreadyExistsError(f"{path} already exists; nothing written")
    return StagedWrite(path, path, _synced_temp(path, data, mode), None, None, None)


def commit_all(staged: Sequence[StagedWrite]) -> None:
    """Commit every staged write, or none: a failure undoes the ones committed before it."""
    done: list[StagedWrite] = []
    try:
        before_commit()
        for write in staged:
            write.commit()
            done.append(write)
    except BaseException:
        for write in staged[len(done) :]:
            write.discard()
        for write in reversed(done):
            with contextlib.suppress(OSError):
                write.undo()
        raise


def atomic_write(path: Path, data: bytes, expected_hash: str) -> None:
    """Replace `path` with `data` if it still holds the bytes hashed as `expected_hash`.

    The new bytes go to a temporary file in the same directory, are fsynced and
    renamed over the original, so a crash leaves either the old or the new file;
    the original is checked again right before the rename. A symlink is written
    through: its target gets the new bytes, the link stays a link.
    """
    commit_all([stage_replace(path, data, expected_hash)])


def atomic_create(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create `path` holding `data`, never replacing an existing file.

    The bytes go to a fsynced temporary file that is hard-linked into place, so
    the new file appears complete or not at all, and a file created meanwhile by
    someone else is never overwritten. Where hard links are not supported, an
    existence check followed by a rename is the fallback.
    """
    commit_all([stage_create(path, data, mode)])


def overwrite(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace whatever `path` holds (or create it) with `data`, atomically and without checking what it held:
    for files this tool owns and rewrites whole (the pytest plugin's captures). A symlink is written through."""
    target = write_target(path)
    temp = _synced_temp(target, data, mode)
    try:
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_directory(target.parent)


def write_target(path: Path) -> Path:
    """The regular file a write to `path` changes: `path`, or the file its symlinks lead to.

    Anything else (a FIFO, a device, a folder) raises `NotRegularError`.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        raise NotRegularError(f"{path} is not a regular file (a pipe, device or folder is never written)")
    return target


def _read_and_stat(path: Path) -> tuple[bytes, tuple[int, ...]]:
    """The bytes of a regular file and its identity (inode, size, times) as they were while read."""
    with open_regular(path) as handle:
        chunks = []
        while chunk := os.read(handle.fileno(), _CHUNK):
            chunks.append(chunk)
        return b"".join(chunks), _identity(os.fstat(handle.fileno()))


def _hash_and_stat(path: Path) -> tuple[str, tuple[int, ...]]:
    """The sha256 of a file's bytes, read in chunks, and its identity after the read."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := os.read(handle.fileno(), _CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), _identity(os.stat(path))


def _identity(status: os.stat_result) -> tuple[int, ...]:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _synced_temp(path: Path, data: bytes, mode: int) -> str:
    """A temporary file beside `path` holding `data`, flushed to disk, with `mode`."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return temp_name


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
