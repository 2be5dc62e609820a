"""Read zstd files as bounded streams, and tell a cut file from a whole one.

Trace files are compressed by producers the user does not control: a file of a
few kilobytes can expand to gigabytes (a "zstd bomb"), and a file cut short
decompresses silently to a prefix. So output is read in bounded chunks
(`stream_reader`, never one `decompress` call over a whole input chunk), and
whether every frame ends is checked from the frame and block headers alone,
without decompressing anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

CHUNK = 1 << 16
_ZSTD_MAGIC = 0xFD2FB528
_SKIPPABLE = range(0x184D2A50, 0x184D2A60)


def chunks(raw: BinaryIO) -> Iterator[bytes]:
    """The decompressed bytes of every frame, at most `CHUNK` bytes at a time.

    Raises `zstandard.ZstdError` on damaged data; a cut file ends early
    without an error (see `cut_short`).
    """
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True)
    while chunk := reader.read(CHUNK):
        yield chunk


def cut_short(raw: BinaryIO) -> str | None:
    """Why the zstd file is not whole (cut mid-frame, not zstd), or None when every frame ends."""
    size = os.fstat(raw.fileno()).st_size
    position = 0

    def take(count: int) -> bytes | None:
        nonlocal position
        raw.seek(position)
        data = raw.read(count)
        position += count
        return data if len(data) == count else None

    while position < size:
        magic = take(4)
        if magic is None:
            return "the file ends inside a frame header"
        number = int.from_bytes(magic, "little")
        if number in _SKIPPABLE:
            length = take(4)
            if length is None:
                return "the file ends inside a skippable frame"
            position += int.from_bytes(length, "little")
            continue
        if number != _ZSTD_MAGIC:
            return f"not zstd data at byte {position - 4}"
        descriptor = take(1)
        if descriptor is None:
            return "the file ends inside a frame header"
        flags = descriptor[0]
        single_segment = bool(flags & 0x20)
        position += (0 if single_segment else 1) + (0, 1, 2, 4)[flags & 3]
        position += ((1 if single_segment else 0), 2, 4, 8)[flags >> 6]
        while True:
            header = take(3)
            if header is None:
                return "its last frame is incomplete"
            block = int.from_bytes(header, "little")
            kind = (block >> 1) & 3
            if kind == 3:
                return f"a reserved block type at byte {position - 3}"
            position += 1 if kind == 1 else block >> 3
            if block & 1:
                break
        position += 4 if flags & 0x04 else 0
    return "its last frame is incomplete" if position > size else None
