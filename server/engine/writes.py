"""Safe rewrites of user files: atomic, mode-preserving, refusing stale content."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


class ChangedOnDiskError(Exception):
    """The file changed since it was read: writing would lose someone's edit."""


class AlreadyExistsError(Exception):
    """The file to create is already there: creating it would overwrite it."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes, expected_hash: str) -> None:
    """Replace `path` with `data` if it still holds the bytes hashed as `expected_hash`.

    The new bytes go to a temporary file in the same directory, are fsynced and
    renamed over the original, so a crash leaves either the old or the new file.
    """
    current = path.read_bytes()
    if content_hash(current) != expected_hash:
        raise ChangedOnDiskError(f"{path} changed on disk since it was read; nothing written")
    temp_name = _synced_temp(path, data, path.stat().st_mode & 0o7777)
    try:
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def atomic_create(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create `path` holding `data`, never replacing an existing file.

    The bytes go to a fsynced temporary file that is hard-linked into place, so
    the new file appears complete or not at all, and a file created meanwhile by
    someone else is never overwritten. Where hard links are not supported, an
    existence check followed by a rename is the fallback.
    """
    temp_name = _synced_temp(path, data, mode)
    try:
        os.link(temp_name, path)
    except FileExistsError:
        raise AlreadyExistsError(f"{path} already exists; nothing written") from None
    except OSError:
        if path.exists():
            raise AlreadyExistsError(f"{path} already exists; nothing written") from None
        os.replace(temp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
    _fsync_directory(path.parent)


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
