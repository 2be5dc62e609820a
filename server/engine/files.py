"""Open only regular files: a FIFO named `x.json` would block a reader forever, `/dev/zero` never ends."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for binary reading; anything but a regular file raises `OSError` before a byte is read.

    The type is checked on the descriptor, opened without blocking, so it cannot
    be swapped between the check and the read.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device is never read)", str(path))
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file (see `open_regular`), read in chunks straight from the descriptor."""
    with open_regular(path) as handle:
        chunks = []
        while chunk := os.read(handle.fileno(), _CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)


def content_digest(path: Path) -> str:
    """The sha256 of a regular file's bytes, read in chunks (never held whole)."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := os.read(handle.fileno(), _CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_head(path: Path, size: int) -> bytes:
    """The first `size` bytes (or fewer) of a regular file."""
    with open_regular(path) as handle:
        return os.read(handle.fileno(), size)


def resolved(path: Path) -> Path:
    """`path.resolve()`, or the absolute path when a symlink loop makes resolving impossible."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()
