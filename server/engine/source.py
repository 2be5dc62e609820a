"""Source text of one file: decoding, line index and LSP positions.

Readers work on Python string offsets (code points); editors speak LSP positions
whose `character` counts UTF-16 code units by default (or UTF-8 / UTF-32 when
negotiated). This module is the one place that converts between the two.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Literal

PositionEncoding = Literal["utf-16", "utf-8", "utf-32"]

LINE_BREAK = re.compile(r"\r\n|\r|\n")
BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class Position:
    """A zero-based LSP position."""

    line: int
    character: int

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "character": self.character}


@dataclass(frozen=True, slots=True)
class Range:
    """A zero-based, end-exclusive LSP range."""

    start: Position
    end: Position

    def to_json(self) -> dict[str, dict[str, int]]:
        return {"start": self.start.to_json(), "end": self.end.to_json()}


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of string offsets into a `SourceText`."""

    start: int
    end: int

    def contains(self, offset: int) -> bool:
        return self.start <= offset <= self.end


@dataclass(frozen=True, slots=True)
class DecodeProblem:
    """Where the bytes of a file stopped being valid UTF-8."""

    offset: int
    message: str


@dataclass(slots=True)
class SourceText:
    """Decoded text plus a lazily built line index.

    A UTF-8 byte order mark is kept aside (editors hide it) so offsets and
    positions match what the user sees, and `encode()` gives back the exact bytes.
    """

    text: str
    bom: bool = False
    decode_problem: DecodeProblem | None = None
    _line_starts: list[int] | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes, at_byte: int = 0) -> SourceText:
        """The text of `data`, which starts at byte `at_byte` of its file (a BOM only stands at byte 0)."""
        try:
            text = data.decode("utf-8")
            problem = None
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8", errors="replace")
            prefix = data[: exc.start].decode("utf-8", errors="replace")
            problem = DecodeProblem(len(prefix), f"invalid UTF-8 at byte {at_byte + exc.start}: {exc.reason}")
        bom = at_byte == 0 and text.startswith(BOM)
        if bom:
            text = text[1:]
            if problem is not None:
                problem = DecodeProblem(max(problem.offset - 1, 0), problem.message)
        return cls(text, bom=bom, decode_problem=problem)

    def edited(self, text: str, start: int, old_end: int) -> SourceText:
        """The source of `text`, this text with `[start, old_end)` replaced; the line index is shifted, not rebuilt.

        Rebuilding the index of a 20 MB fixture costs more than re-reading the
        turn a keystroke changed; moving the later line starts is a third of it.
        """
        edited = SourceText(text, bom=self.bom)
        starts = self._line_starts
        if starts is None or "\r" in self.text or "\r" in text[start : len(text) - (len(self.text) - old_end)]:
            return edited
        delta = len(text) - len(self.text)
        new_end = old_end + delta
        kept, moved = bisect_right(starts, start), bisect_right(starts, old_end)
        inside = []
        index = text.find("\n", start, new_end)
        while index >= 0:
            inside.append(index + 1)
            index = text.find("\n", index + 1, new_end)
        edited._line_starts = [*starts[:kept], *inside, *(offset + delta for offset in starts[moved:])]
        return edited

    def encode(self) -> bytes:
        return ((BOM if self.bom else "") + self.text).encode("utf-8")

    @property
    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            self._line_starts = _line_starts(self.text)
        return self._line_starts

    @property
    def indexed(self) -> bool:
        """Whether the line index is built (`edited` shifts it only when no `\r` is in the text or the edit)."""
        return self._line_starts is not None

    def index_lines(self) -> None:
        """Find the line starts now rather than at the first position asked for (a server does it off its loop)."""
        _ = self.line_starts

    def line_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset) - 1

    def position(self, offset: int, encoding: PositionEncoding = "utf-16") -> Position:
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        start = self.line_starts[line]
        if self._one_unit_a_character(encoding):  # no copy of the line's start to count
            return Position(line, offset - start)
        return Position(line, code_units(self.text[start:offset], encoding))

    def _one_unit_a_character(self, encoding: PositionEncoding) -> bool:
        """Whether every character of the text is one code unit of `encoding`, told in O(1)."""
        text = self.text
        return encoding == "utf-32" or text.isascii() or (encoding == "utf-16" and _within_bmp(text))

    def range(self, span: Span, encoding: PositionEncoding = "utf-16") -> Range:
        return Range(self.position(span.start, encoding), self.position(span.end, encoding))

    def offset(self, position: Position, encoding: PositionEncoding = "utf-16") -> int:
        """The string offset of an LSP position (clamped to its line, like editors do)."""
        starts = self.line_starts
        if position.line >= len(starts):
            return len(self.text)
        start = starts[position.line]
        end = starts[position.line + 1] if position.line + 1 < len(starts) else len(self.text)
        line_text = self.text[start:end].rstrip("\r\n")
        if encoding == "utf-32" or line_text.isascii() or (encoding == "utf-16" and _within_bmp(line_text)):
            return start + max(0, min(position.character, len(line_text)))
        units = 0
        for index, char in enumerate(line_text):
            if units >= position.character:
                return start + index
            units += _char_units(char, encoding)
        return start + len(line_text)

    def line_text(self, line: int) -> str:
        starts = self.line_starts
        start = starts[line]
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")


def _line_starts(text: str) -> list[int]:
    """Offsets where lines start; `str.find` skips long lines at C speed (recordings have few, huge lines)."""
    if "\r" in text:
        return [0, *(match.end() for match in LINE_BREAK.finditer(text))]
    starts = [0]
    index = text.find("\n")
    while index >= 0:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def code_units(text: str, encoding: PositionEncoding = "utf-16") -> int:
    """How many code units of `encoding` `text` takes (an LSP `character` count).

    In UTF-16 a character takes two units past U+FFFF and one otherwise (a lone
    surrogate too), so most texts, CJK included, are counted without a pass
    over them (`_within_bmp`); the others are encoded, at C speed.
    """
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", errors="surrogatepass"))
    if _within_bmp(text):
        return len(text)
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


_COMPACT_HEADER = sys.getsizeof("\u0100") - 2 * 2 if sys.implementation.name == "cpython" else None
"""CPython stores a string in 1, 2 or 4 bytes a character, the fewest its largest character needs: a compact
string's size is this header plus (length + 1) times that width (any other layout is larger)."""


def _within_bmp(text: str) -> bool:
    """True only when no character of `text` is past U+FFFF, told in O(1) from CPython's storage width.

    A string stored 4 bytes a character, or one whose layout is unknown, is
    never claimed (its size is at least the bound): it is counted exactly.
    """
    return _COMPACT_HEADER is not None and sys.getsizeof(text) < _COMPACT_HEADER + 4 * (len(text) + 1)


def _char_units(char: str, encoding: PositionEncoding) -> int:
    code = ord(char)
    if encoding == "utf-8":
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return 2 if code > 0xFFFF else 1
