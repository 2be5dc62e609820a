"""Open documents whose incremental edits cost the size of the edit, not of the document.

pygls applies an incremental change by splitting the whole text into lines and
writing them all back: for a 20 MB fixture that is ~60 ms and a list of every
line per keystroke, on the event loop. A `Buffer` finds the edited line from
checkpoints (the number of line breaks before every 64K characters, counted at C
speed and shifted along with each edit) and splices the text once.

Lines end at `\\n`, `\\r\\n` or `\\r` as LSP specifies (and as the engine counts
them); pygls also broke lines at U+2028 and other separators, which JSON strings
may hold raw, and then edited the wrong place.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace

from server.engine.source import Position, SourceText
from server.lsp.convert import encoding_of

_BLOCK = 1 << 16


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


class Buffer(TextDocument):
    """A pygls text document with incremental changes applied in place (`\\n` line breaks only; else pygls's way)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._checkpoints: _Checkpoints | None = None
        self._serial = 0
        self._kept: tuple[int, int] | None = None

    def snapshot(self) -> Snapshot:
        """The text now; the next snapshot will say what changed after this one."""
        text = self.source
        self._serial += 1
        taken = Snapshot(text, self._serial, self._serial - 1, self._kept)
        self._kept = (len(text), len(text))
        return taken

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        super()._apply_full_change(change)
        self._checkpoints = None
        self._kept = None

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        text = self.source
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
        self._source = _spliced(text, start, end, change.text)

    def _offset_in(self, source: SourceText, position: types.Position) -> int:
        encoding = encoding_of(self.position_codec.encoding)
        return source.offset(Position(position.line, position.character), encoding)

    def _offset(self, text: str, checkpoints: _Checkpoints, position: types.Position) -> int:
        """The string offset of an LSP position: its line found from the checkpoints, its column in that line."""
        start = checkpoints.line_start(text, position.line)
        end = text.find("\n", start)
        line = SourceText(text[start : end if end >= 0 else len(text)])
        return start + self._offset_in(line, types.Position(0, position.character))


def _spliced(text: str, start: int, end: int, new: str) -> str:
    """`text[:start] + new + text[end:]`, built with one new copy of the text in memory rather than two.

    Joining slices holds the slices and the result at once: three copies of a
    20 MB document (with the old one) for a keystroke. The tail is appended in
    blocks instead, and CPython grows a string held only here in place.
    """
    spliced = text[:start]
    spliced += new
    for block in range(end, len(text), _BLOCK):
        spliced += text[block : block + _BLOCK]
    return spliced


class BufferWorkspace(Workspace):
    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return Buffer(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=types.TextDocumentSyncKind.Incremental,
            position_codec=self.position_codec,
        )


def install(protocol: LanguageServerProtocol) -> None:
    """Replace the workspace pygls built at `initialize` (no document is open yet) by one of `Buffer`s."""
    built = protocol.workspace
    protocol._workspace = BufferWorkspace(
        built.root_uri,
        types.TextDocumentSyncKind.Incremental,
        list(built.folders.values()),
        built.position_encoding,
    )
