"""Stream a JSONL file line by line, with each line's exact place.

Line-based traces can be far larger than an editor will open, so they are never
read whole: each line is decoded and parsed on its own, and its range (in
UTF-16 code units, as LSP clients count) is computed from the line alone.
`.zst` files are decompressed as a bounded stream (`zstd_stream`), and a line
longer than `MAX_LINE` is skipped with a finding, so no file, however it
expands, takes more memory than one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from server.engine import findings as codes
from server.engine.files import open_regular
from server.engine.findings import Finding
from server.engine.sessions import zstd_stream
from server.engine.sessions.model import SourceRef, finding
from server.engine.source import Position, Range, Span

_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class Line:
    """One non-empty line: 0-based number, text without its break, and place."""

    number: int
    text: str
    ref: SourceRef
    complete: bool

    def parse(self) -> tuple[Any, str | None]:
        """(value, None), or (None, why) when the line is not one JSON value."""
        try:
            return json.loads(self.text), None
        except RecursionError:
            return None, "JSON nested too deeply to read"
        except ValueError as exc:
            if not self.complete:
                return None, f"truncated last line ({len(self.text)} characters): the file stopped mid-write"
            return None, f"invalid JSON: {exc}"


def utf16_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


_CHUNK = 1 << 16
MAX_LINE = 64 << 20
"""Characters of one line held at most: a longer line (or a decompression bomb without line breaks) is skipped."""


def _chunks(path: Path, problems: list[Finding]) -> Iterator[bytes]:
    """The file's bytes in chunks, decompressed as a bounded stream when the name ends in `.zst`.

    A `.zst` file cut short decompresses silently to a prefix, so whether its
    frames end is checked from their headers and a cut is reported.
    """
    with open_regular(path) as raw:
        if not path.name.endswith(".zst"):
            while chunk := raw.read(_CHUNK):
                yield chunk
            return
        cut = zstd_stream.cut_short(raw)
        raw.seek(0)
        yield from zstd_stream.chunks(raw)
        if cut is not None:
            problems.append(finding(codes.TRACE_ERROR, path, None, f"compressed file is cut short: {cut}"))


def iter_lines(path: Path, problems: list[Finding]) -> Iterator[Line]:
    """Every non-empty line of `path`; unreadable bytes become findings, never exceptions."""
    offset = 0
    number = 0
    pending = b""
    skipping = 0  # bytes of an overlong line skipped so far
    try:
        for chunk in _chunks(path, problems):
            data = chunk
            if skipping:
                cut, newline, data = chunk.partition(b"\n")
                skipping += len(cut)
                if not newline:
                    continue
                offset, number, skipping = offset + skipping + 1, number + 1, 0
            pending += data
            *whole, pending = pending.split(b"\n")
            for raw in whole:
                line, width = _line(path, number, offset, raw, complete=True, problems=problems)
                offset += width + 1
                number += 1
                if line is not None:
                    yield line
            if len(pending) > MAX_LINE:
                why = f"line {number + 1} is longer than {MAX_LINE >> 20} MiB: skipped (later positions count bytes)"
                problems.append(finding(codes.TRACE_ERROR, path, None, why))
                skipping, pending = len(pending), b""
        if pending:
            line, _ = _line(path, number, offset, pending, complete=False, problems=problems)
            if line is not None:
                yield line
    except OSError as exc:
        problems.append(finding(codes.READ_ERROR, path, None, f"cannot read: {exc.strerror or exc}"))
    except zstandard.ZstdError as exc:
        problems.append(
            finding(codes.TRACE_ERROR, path, None, f"compressed data is damaged after line {number}: {exc}")
        )


def _line(
    path: Path, number: int, offset: int, raw: bytes, *, complete: bool, problems: list[Finding]
) -> tuple[Line | None, int]:
    """The line (None when blank) and its width in characters before the line break."""
    decoded = raw.decode("utf-8", errors="replace")
    if number == 0 and decoded.startswith(_BOM):
        decoded = decoded[1:]
    text = decoded.rstrip("\r")
    ref = _ref(path, number, offset, text)
    if "\ufffd" in text and b"\xef\xbf\xbd" not in raw:
        problems.append(finding(codes.TRACE_ERROR, path, ref, "invalid UTF-8 on this line (read with replacements)"))
    return (Line(number, text, ref, complete) if text.strip() else None), len(decoded)


def _ref(path: Path, number: int, offset: int, text: str) -> SourceRef:
    return SourceRef(
        path,
        Range(Position(number, 0), Position(number, utf16_length(text))),
        Span(offset, offset + len(text)),
    )
