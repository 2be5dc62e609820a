"""Read files within bounds: regular files only, documents up to a size, decompression up to a budget.

A FIFO named `x.json` would block a reader forever and `/dev/zero` never ends;
a 3 GiB file read whole takes several times that in memory; a 33 KB zstd bomb
decompresses to gigabytes. Each is refused or cut here, with a reason for the finding.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

TYPE_CHECKING = False  # true for type checkers; `typing` is 2 ms of a warm `check`, which runs none of it
if TYPE_CHECKING:
    from typing import Any, BinaryIO

_CHUNK = 1 << 20
MAX_DOCUMENT_BYTES = 256 << 20
"""The largest file read whole (a fixture, a config, a recording without the cache): parsed, it takes several
times its size in memory. Recordings read line by line (`check` with its cache, the server) have no such limit."""
MAX_LINE_BYTES = 64 << 20
"""The longest line of a line-based file held in memory: a longer one (a sparse file, a bomb of zeros, a line
with no break) is skipped with a finding, its characters only counted so that later places stay exact."""
ZSTD_MIN_BUDGET = 64 << 20
ZSTD_MAX_RATIO = 200
"""A `.zst` file may decompress to `max(ZSTD_MIN_BUDGET, ZSTD_MAX_RATIO * its size)`: JSONL compresses 5 to 30
times, a zstd bomb thousands of times."""
_ZSTD_PIECE = 1 << 10
"""Compressed bytes fed at a time: zstd turns one byte into at most 32 KiB (a run-length block), so one step
makes at most 32 MiB, whatever the file holds."""


class TooLargeError(OSError):
    """A file, or what it decompresses to, is past its limit: read no further."""


class CutShortError(ValueError):
    """A compressed file ends inside a frame: what came before is all there is."""


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


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


def read_regular(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of a regular file (see `open_regular`), read in chunks straight from the descriptor.

    A file larger than `limit` (a sparse 3 GiB file takes no disk and all the memory) raises `TooLargeError`
    before its first byte is read, or as soon as it grows past `limit` while read.
    """
    with open_regular(path) as handle:
        return read_all(handle, path, limit)


def read_all(handle: BinaryIO, path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The rest of an open regular file, up to `limit` (see `read_regular`)."""
    _check_size(path, os.fstat(handle.fileno()).st_size, limit)
    chunks = []
    total = 0
    while chunk := os.read(handle.fileno(), _CHUNK):
        total += len(chunk)
        _check_size(path, total, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _check_size(path: Path, size: int, limit: int) -> None:
    if size > limit:
        reason = f"too large ({size_text(size)}): files over {size_text(limit)} are not read whole"
        raise TooLargeError(errno.EFBIG, reason, str(path))


def zstd_chunks(raw: BinaryIO) -> Iterator[bytes]:
    """The decompressed bytes of the zstd stream `raw` (frames one after another), in bounded chunks.

    Raises `TooLargeError` once the output passes its budget (see `ZSTD_MAX_RATIO`), `CutShortError` at the
    end when the last frame is incomplete (zstd itself would silently stop), `zstandard.ZstdError` on damage.
    """
    import zstandard  # noqa: PLC0415  (the part summarizer's children run without site-packages and never need it)

    budget = max(ZSTD_MIN_BUDGET, ZSTD_MAX_RATIO * os.fstat(raw.fileno()).st_size)
    produced = 0
    decompressor = zstandard.ZstdDecompressor()
    frame = decompressor.decompressobj()
    in_frame = False
    while chunk := raw.read(_ZSTD_PIECE):
        while chunk:
            in_frame = True
            out = frame.decompress(chunk)
            produced += len(out)
            if produced > budget:
                raise TooLargeError(
                    errno.EFBIG,
                    f"decompresses to more than {size_text(budget)} ({ZSTD_MAX_RATIO} times its size, "
                    "as a zip bomb does): the rest is not read",
                )
            if out:
                yield out
            if not frame.eof:
                break
            chunk, frame, in_frame = frame.unused_data, decompressor.decompressobj(), False
    if in_frame:
        raise CutShortError("compressed file is cut short: its last frame is incomplete")


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


def skip_line(handle: BinaryIO, first: bytes, digest: Any = None) -> tuple[int, int]:
    """Read on past the rest of a line of which `first` was read (without its break), a block at a time.

    The bytes and UTF-8 characters of the whole line, its break included (invalid bytes count as the
    replacement characters a decode would make); `digest`, a hash, is fed what is read. The handle is left
    at the next line's start.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    size, chars = len(first), len(decoder.decode(first))
    while block := handle.read(_CHUNK):
        end = block.find(b"\n")
        if end >= 0:
            handle.seek(end + 1 - len(block), os.SEEK_CUR)
            block = block[: end + 1]
        if digest is not None:
            digest.update(block)
        size += len(block)
        chars += len(decoder.decode(block, final=end >= 0))
        if end >= 0:
            break
    return size, chars + len(decoder.decode(b"", final=True))
