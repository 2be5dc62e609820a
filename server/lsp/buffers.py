"""Open documents whose incremental edits cost the size of the edit, not of the document.

pygls applies an incremental change by splitting the whole text into lines and
writing them all back: for a 20 MB fixture that is ~60 ms and a list of every
line per keystroke, on the event loop. A `Buffer` finds the edited line from
checkpoints (the number of line breaks before every 64K characters, counted at C
speed and shifted along with each edit) and splices the text once.

The changes of a `didChange` (an editor's Replace All sends thousands) are held
until the text is next read, then applied in one pass: a run of changes each
before the previous one (as VS Code sends them) or each after it (as Neovim does)
is resolved against the text before the run and spliced with one copy of the
text, not one copy per change.

Lines end at `\\n`, `\\r\\n` or `\\r` as LSP specifies (and as the engine counts
them); pygls also broke lines at U+2028 and other separators, which JSON strings
may hold raw, and then edited the wrong place.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument

from server.engine.source import Position, PositionEncoding, SourceText, code_units
from server.lsp.convert import encoding_of
from server.lsp.pygls_private import HookedDocument, HookedWorkspace, replace_workspace

_BLOCK = 1 << 16
_CONTEXT = 256
"""How many characters before an edit make it one place of the text to `_spliced` (a key, an id)."""


class _Checkpoints:
    """`breaks[k]` line breaks come before offset `offsets[k]`, for offsets about `_BLOCK` apart."""

    def __init__(self, text: str) -> None:
        self.offsets = list(range(0, len(text) + 1, _BLOCK))
        self.breaks = [0]
        for start in self.offsets[:-1]:
            self.breaks.append(self.breaks[-1] + text.count("\n", start, start + _BLOCK))

    def line_start(self, text: str, line: int) -> int:
        """Where `line` starts (the end of the text when there are fewer lines)."""
        k = bisect_left(self.breaks, line) - 1  # the last checkpoint with fewer than `line` breaks before it
        if k < 0:
            return 0
        index = self.offsets[k]
        for _ in range(line - self.breaks[k]):
            index = text.find("\n", index) + 1
            if index == 0:
                return len(text)
        return index

    def replaced(self, text: str, start: int, end: int, new: str) -> None:
        """Follow the replacement of `text[start:end]` by `new`: later checkpoints move with the text."""
        shift = len(new) - (end - start)
        breaks = new.count("\n") - text.count("\n", start, end)
        kept = bisect_left(self.offsets, start + 1)  # checkpoints at or before `start` are unchanged
        moved = bisect_left(self.offsets, end + 1)  # those inside the replaced text are dropped
        self.offsets[kept:] = [offset + shift for offset in self.offsets[moved:]]
        self.breaks[kept:] = [count + breaks for count in self.breaks[moved:]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A buffer's text at one moment, and how it differs from the snapshot before it (`base`).

    `kept` is how many leading and trailing characters are unchanged since
    `base`; None when that is not known (the first snapshot, a full change).
    """

    text: str
    serial: int
    base: int
    kept: tuple[int, int] | None


class Buffer(HookedDocument):
    """A pygls text document with incremental changes applied in place (`\\n` line breaks only; else pygls's way)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._checkpoints: _Checkpoints | None = None
        self._serial = 0
        self._kept: tuple[int, int] | None = None
        self._pending: list[types.TextDocumentContentChangePartial] = []

    @property
    def source(self) -> str:
        """The text, with the changes received since it was last read applied."""
        if self._pending:
            self._apply_pending()
        return self.stored_text

    def apply_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        """Hold an incremental change until the text is read; a full change replaces the text and what was held."""
        if isinstance(change, types.TextDocumentContentChangePartial) and self.incremental:
            self._pending.append(change)
            return
        self._pending.clear()
        super().apply_change(change)

    def _apply_pending(self) -> None:
        changes, self._pending = self._pending, []
        if len(changes) == 1:  # a keystroke: no run to find, and no pass over the text for `\r`
            self.incremental_change(changes[0])
            return
        text = self.stored_text
        plain = "\r" not in text and not any("\r" in change.text for change in changes)
        for run in _runs(changes, self._units) if plain else [[change] for change in changes]:
            if len(run) == 1 or not self._apply_run(run):
                for change in run:
                    self.incremental_change(change)

    def snapshot(self) -> Snapshot:
        """The text now; the next snapshot will say what changed after this one."""
        text = self.source
        self._serial += 1
        taken = Snapshot(text, self._serial, self._serial - 1, self._kept)
        self._kept = (len(text), len(text))
        return taken

    def full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        super().full_change(change)
        self._checkpoints = None
        self._kept = None

    def incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        text = self.stored_text
        if "\r" in change.text or (self._checkpoints is None and "\r" in text):
            self._checkpoints = None
            source = SourceText(text)  # line breaks of every kind: the engine's own line index
            start, end = (self._offset_in(source, position) for position in (change.range.start, change.range.end))
        else:
            if self._checkpoints is None:
                self._checkpoints = _Checkpoints(text)
            start, end = (
                self._offset(text, self._checkpoints, position) for position in (change.range.start, change.range.end)
            )
            self._checkpoints.replaced(text, start, end, change.text)
            if len(change.text) > _BLOCK:  # a large paste: count its lines again on the next edit
                self._checkpoints = None
        end = max(start, end)
        if self._kept is not None:
            self._kept = (min(self._kept[0], start), min(self._kept[1], len(text) - end))
        self.stored_text = _spliced(text, start, end, change.text)

    def _offset_in(self, source: SourceText, position: types.Position) -> int:
        encoding = encoding_of(self.position_codec.encoding)
        return source.offset(Position(position.line, position.character), encoding)

    def _offset(self, text: str, checkpoints: _Checkpoints, position: types.Position) -> int:
        """The string offset of an LSP position: its line found from the checkpoints, its column in that line."""
        start = checkpoints.line_start(text, position.line)
        end = text.find("\n", start)
        return _advance(text, start, end if end >= 0 else len(text), position.character, self._encoding)

    @property
    def _encoding(self) -> PositionEncoding:
        return encoding_of(self.position_codec.encoding)

    def _units(self, text: str) -> int:
        """`text`'s length in the negotiated position units."""
        return code_units(text, self._encoding)

    def _apply_run(self, run: Sequence[types.TextDocumentContentChangePartial]) -> bool:
        """Apply a run of changes (see `_runs`) with one copy of the text; False when their ranges overlap."""
        text = self.stored_text
        if self._checkpoints is None:
            self._checkpoints = _Checkpoints(text)
        edits = _base_ranges(run, self._units)
        positions = sorted({position for start, end, _ in edits for position in (start, end)})
        offsets = self._offsets(text, self._checkpoints, positions)
        spans = sorted(
            (offsets[start], order, max(offsets[start], offsets[end]), new)
            for order, (start, end, new) in enumerate(edits)
        )
        if any(spans[k][2] > spans[k + 1][0] for k in range(len(spans) - 1)):
            return False
        pieces = []
        position = 0
        for start, _, end, new in spans:
            pieces += [text[position:start], new]
            position = end
        pieces.append(text[position:])
        if self._kept is not None:
            self._kept = (min(self._kept[0], spans[0][0]), min(self._kept[1], len(text) - spans[-1][2]))
        self._checkpoints = None  # counted again on the next edit (C speed)
        self.stored_text = "".join(pieces)
        return True

    def _offsets(
        self, text: str, checkpoints: _Checkpoints, positions: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], int]:
        """The offsets of sorted positions, in one sweep: each line found once, each column from the last."""
        found: dict[tuple[int, int], int] = {}
        line = -1
        start = end = origin = column = 0
        for position in positions:
            if position[0] != line:
                line = position[0]
                start = origin = checkpoints.line_start(text, line)
                stop = text.find("\n", start)
                end, column = (stop if stop >= 0 else len(text)), 0
            origin = _advance(text, origin, end, position[1] - column, self._encoding)
            column = position[1]
            found[position] = origin
        return found


def _advance(text: str, origin: int, limit: int, units: int, encoding: str) -> int:
    """The offset `units` position units after `origin`, at most `limit` (the end of its line), at C speed."""
    segment = text[origin : min(limit, origin + max(units, 0))]  # a unit is at most a character
    if encoding == "utf-32" or segment.isascii():
        return origin + len(segment)
    codec, width = ("utf-8", 1) if encoding == "utf-8" else ("utf-16-le", 2)
    data = segment.encode(codec, "surrogatepass")[: units * width]
    return origin + len(data.decode(codec, "replace"))  # a character cut in two counts whole, as editors mean


_Position = tuple[int, int]


def _runs(
    changes: Sequence[types.TextDocumentContentChangePartial], units: Any
) -> list[list[types.TextDocumentContentChangePartial]]:
    """The changes cut into runs, each either descending (every change ends before the previous one starts)
    or ascending (every change starts after where the previous one's new text ends)."""
    runs: list[list[types.TextDocumentContentChangePartial]] = []
    direction = 0
    for change in changes:
        if runs:
            previous = runs[-1][-1]
            before = _pos(change.range.end) <= _pos(previous.range.start)
            after = _pos(change.range.start) >= _end_after(previous, units)
            step = -1 if before else 1 if after else 0
            if step and direction in (0, step):
                runs[-1].append(change)
                direction = step
                continue
        runs.append([change])
        direction = 0
    return runs


def _pos(position: types.Position) -> _Position:
    return (position.line, position.character)


def _end_after(change: types.TextDocumentContentChangePartial, units: Any) -> _Position:
    """Where a change's new text ends, once applied."""
    start = change.range.start
    breaks = change.text.count("\n")
    last = change.text[change.text.rfind("\n") + 1 :]
    return (start.line + breaks, (0 if breaks else start.character) + units(last))


def _base_ranges(
    run: Sequence[types.TextDocumentContentChangePartial], units: Any
) -> list[tuple[_Position, _Position, str]]:
    """Each change of a run as a range of the text before the run, and its new text, in document order
    (inserts at one place in the order their texts end up in).

    In a descending run nothing before a change has moved. In an ascending run a
    position after the previous change is moved back by the lines that change
    added, and on the line where its new text ends, by the columns it added.
    """
    if len(run) < 2 or _pos(run[1].range.end) <= _pos(run[0].range.start):
        return [(_pos(change.range.start), _pos(change.range.end), change.text) for change in reversed(run)]
    edits = []
    lines = 0  # lines added so far
    now_end: _Position | None = None  # where the previous change's new text ends, and
    was_end: _Position = (0, 0)  # where its range ended before it was applied

    def before(position: types.Position) -> _Position:
        if now_end is not None and position.line == now_end[0]:
            return (was_end[0], was_end[1] + position.character - now_end[1])
        return (position.line - lines, position.character)

    for change in run:
        start, end = before(change.range.start), before(change.range.end)
        edits.append((start, end, change.text))
        lines += change.text.count("\n") - (end[0] - start[0])
        now_end, was_end = _end_after(change, units), end
    return edits


def _spliced(text: str, start: int, end: int, new: str) -> str:
    """`text[:start] + new + text[end:]`, with one new copy of the text in memory and no copy of a copy.

    Joining slices holds the slices and the result at once: three copies of a
    20 MB document (with the old one) for a keystroke. `str.replace` of the
    edited span with the characters before it (found first in the text, so it
    is this place) allocates the result once at its size and copies into it.
    Otherwise the tail is appended in blocks to a string held only here, which
    CPython grows in place; but glibc moves a block it cannot grow, copying it
    (`make lsp-bench`, a 33 MB text: a keystroke peaked 50 MB over the open
    document that way, 35 MB by the replace).
    """
    if end - start <= _BLOCK:
        before = max(0, start - _CONTEXT)
        span = text[before:end]
        if text.find(span) == before:
            return text.replace(span, text[before:start] + new, 1)
    spliced = text[:start]
    spliced += new
    for block in range(end, len(text), _BLOCK):
        spliced += text[block : block + _BLOCK]
    return spliced


class BufferWorkspace(HookedWorkspace):
    def make_document(self, uri: str, source: str | None, version: int | None, language_id: str | None) -> TextDocument:
        return Buffer(
            uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=types.TextDocumentSyncKind.Incremental,
            position_codec=self.position_codec,
        )


def install(protocol: LanguageServerProtocol) -> None:
    """Replace the workspace pygls built at `initialize` (no document is open yet) by one of `Buffer`s."""
    built = protocol.workspace
    replace_workspace(
        protocol,
        BufferWorkspace(
            built.root_uri,
            types.TextDocumentSyncKind.Incremental,
            list(built.folders.values()),
            built.position_encoding,
        ),
    )
