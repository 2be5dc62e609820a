"""Payload shards of Codex trace bundles (schema 3): `payloads/000001.zst`.

A shard is one zstd stream of records, each `u16 LE id length, u64 LE payload
length, id (UTF-8), payload (JSON)`; events point to a record by
`{"raw_payload_id": "raw_payload:N", "shard": 1}`. The shard is decompressed
as a bounded stream and its records are kept zlib-compressed (JSON shrinks
several times; a bomb's repeated bytes to almost nothing), inflated and parsed
only when an event asks for one. A shard cut short, a record whose length runs past the end,
or a shard that expands beyond `MAX_BYTES` keeps every record read before the
fault and says why the rest is missing.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from server.engine.files import CutShortError, TooLargeError, open_regular, zstd_chunks

MAX_BYTES = 256 << 20
"""Decompressed bytes read from one shard at most: a few KiB of zstd can expand to gigabytes."""
_HEADER = struct.Struct("<HQ")


def shard_name(number: int) -> str:
    return f"{number:06d}.zst"


@dataclass(slots=True)
class Shard:
    """The records read from one shard, and why some may be missing (None when it was read whole)."""

    packed: dict[str, bytes] = field(default_factory=dict)  # record id -> zlib-compressed payload
    problem: str | None = None

    def __len__(self) -> int:
        return len(self.packed)

    def __iter__(self) -> Iterator[str]:
        return iter(self.packed)

    def add(self, record_id: str, payload: bytes | bytearray) -> None:
        self.packed[record_id] = zlib.compress(payload, 1)

    def get(self, record_id: str) -> bytes | None:
        """A record's payload bytes, or None when the shard has no such record."""
        packed = self.packed.get(record_id)
        return None if packed is None else zlib.decompress(packed)


def read_shard(path: Path, limit: int = MAX_BYTES) -> Shard:
    """Every whole record of the shard at `path`; never raises for bad data."""
    shard = Shard()
    try:
        with open_regular(path) as raw:
            _read_records(raw, shard, limit)
    except FileNotFoundError:
        shard.problem = f"the payload shard {path.name} is missing"
    except TooLargeError as exc:
        shard.problem = f"the payload shard {path.name} {exc.strerror}: {len(shard)} records read"
    except OSError as exc:
        shard.problem = f"the payload shard {path.name} cannot be read: {exc.strerror or exc}"
    except CutShortError as exc:
        shard.problem = f"the payload shard {path.name}: {exc}; {len(shard)} records read"
    except zstandard.ZstdError as exc:
        shard.problem = f"the payload shard {path.name} is damaged after {len(shard)} records: {exc}"
    return shard


def _read_records(raw: BinaryIO, shard: Shard, limit: int) -> None:
    buffer = bytearray()
    total = 0
    for chunk in zstd_chunks(raw):
        kept = chunk[: limit - total]  # one chunk may hold many MiB: records before the cap are still read
        total += len(kept)
        buffer += kept
        consumed = _take_records(buffer, shard, total - len(buffer), limit)
        del buffer[:consumed]
        if shard.problem is not None:
            return
        if len(kept) < len(chunk):
            shard.problem = f"the payload shard expands past the {limit >> 20} MiB read at most: read stopped there"
            return
    if buffer:
        shard.problem = _runs_past_end(buffer, total - len(buffer))


def _take_records(buffer: bytearray, shard: Shard, base: int, limit: int) -> int:
    """Parse the whole records at the start of `buffer`; the number of bytes they took."""
    offset = 0
    while len(buffer) - offset >= _HEADER.size:
        id_length, payload_length = _HEADER.unpack_from(buffer, offset)
        end = offset + _HEADER.size + id_length + payload_length
        if id_length == 0:  # zeros (a bomb's favourite) read as endless empty records: no real record lacks an id
            shard.problem = f"the record at byte {base + offset} has no id: read stopped there"
            return offset
        if base + end > limit:  # never buffer a record that cannot end before the cap
            shard.problem = (
                f"the record at byte {base + offset} declares {end - offset} bytes, past the"
                f" {limit >> 20} MiB read at most: read stopped there"
            )
            return offset
        if end > len(buffer):
            break
        start = offset + _HEADER.size
        try:
            record_id = bytes(buffer[start : start + id_length]).decode("utf-8")
        except UnicodeDecodeError:
            shard.problem = f"the record at byte {base + offset} has an id that is not UTF-8: read stopped there"
            return offset
        shard.add(record_id, buffer[start + id_length : end])
        offset = end
    return offset


def _runs_past_end(rest: bytearray, at: int) -> str:
    if len(rest) < _HEADER.size:
        return f"the shard ends inside a record header at byte {at}"
    id_length, payload_length = _HEADER.unpack_from(rest, 0)
    wanted = _HEADER.size + id_length + payload_length
    return f"the record at byte {at} declares {wanted} bytes but only {len(rest)} follow before the end"
