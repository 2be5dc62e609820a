"""Stream a JSONL file line by line, with each line's exact place.

Line-based traces can be far larger than an editor will open, so they are never
read whole: each line is decoded and parsed on its own, and its range (in
UTF-16 code units, as LSP clients count) is computed from the line alone.
`.zst` files are decompressed as a stream, frame by frame, within a budget
(`server.engine.files.zstd_chunks`), and a line too long to hold is skipped.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from server.engine import findings as codes
from server.engine.files import MAX_LINE_BYTES, CutShortError, TooLargeError, open_regular, size_text, zstd_chunks
from server.engine.findings import Finding
from server.engine.sessions.model import SourceRef, finding
from server.engine.source import Position, Range, Span, code_units

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


_CHUNK = 1 << 16
_BREAKS = re.compile(rb"\n+")


def _chunks(path: Path, problems: list[Finding]) -> Iterator[bytes]:
    """The file's bytes in chunks, decompressed frame by frame, within a budget, when the name ends in `.zst`."""
    with open_regular(path) as raw:
        if not path.name.endswith(".zst"):
            while chunk := raw.read(_CHUNK):
                yield chunk
            return
        try:
            yield from zstd_chunks(raw)
        except CutShortError as exc:
            problems.append(finding(codes.TRACE_ERROR, path, None, str(exc)))
        except TooLargeError as exc:
            problems.append(finding(codes.TRACE_ERROR, path, None, str(exc.strerror)))


def iter_lines(path: Path, problems: list[Finding]) -> Iterator[Line]:
    """Every non-empty line of `path`; unreadable bytes become findings, never exceptions.

    A line is held in pieces until its break (never copied as it grows); one past
    `MAX_LINE_BYTES` is skipped, its characters only counted so later places stay exact.
    """
    offset = 0
    number = 0
    parts: list[bytes] = []
    held = 0
    skipping: codecs.IncrementalDecoder | None = None
    skipped = 0
    try:
        for chunk in _chunks(path, problems):
            start = 0
            while start <= len(chunk):
                if not parts and skipping is None and (run := _BREAKS.match(chunk, start)):
                    count = run.end() - start  # blank lines, counted at once (a bomb of line breaks)
                    number, offset, start = number + count, offset + count, run.end()
                    continue
                end = chunk.find(b"\n", start)
                piece = chunk[start:] if end < 0 else chunk[start:end]
                if skipping is None and held + len(piece) > MAX_LINE_BYTES:
                    problems.append(
                        finding(
                            codes.TRACE_ERROR,
                            path,
                            None,
                            f"line {number + 1} is longer than {size_text(MAX_LINE_BYTES)}: skipped",
                        )
                    )
                    skipping = codecs.getincrementaldecoder("utf-8")("replace")
                    skipped = sum(len(skipping.decode(part)) for part in parts)
                    parts, held = [], 0
                if skipping is not None:
                    skipped += len(skipping.decode(piece, final=end >= 0))
                else:
                    parts.append(piece)
                    held += len(piece)
                if end < 0:
                    break
                if skipping is not None:
                    width, skipping = skipped, None
                else:
                    line, width = _line(path, number, offset, b"".join(parts), complete=True, problems=problems)
                    if line is not None:
                        yield line
                parts, held = [], 0
                offset += width + 1
                number += 1
                start = end + 1
        if parts and skipping is None:
            line, _ = _line(path, number, offset, b"".join(parts), complete=False, problems=problems)
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
        Range(Position(number, 0), Position(number, code_units(text))),
        Span(offset, offset + len(text)),
    )
