"""Incremental edits of open documents (`server.lsp.buffers`) give the text an editor has, in every encoding."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types
from pygls.workspace import PositionCodec

from server.engine.source import SourceText
from server.lsp import buffers
from server.lsp.buffers import Buffer
from server.lsp.convert import encoding_of

PIECES = ["a", "bc", "\n", "東京", "😋", '"turns": [', "\u2028", "  ", "x" * 40]


def position(text: str, offset: int, encoding: str) -> types.Position:
    found = SourceText(text).position(offset, encoding_of(encoding))
    return types.Position(found.line, found.character)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
@pytest.mark.parametrize("line_break", ["\n", "\r\n"])
def test_random_edits_match_a_plain_splice(monkeypatch: pytest.MonkeyPatch, encoding: str, line_break: str) -> None:
    monkeypatch.setattr(buffers, "_BLOCK", 64)  # many checkpoints, so edits move and drop them
    rng = random.Random(f"{encoding}{line_break!r}")
    text = "".join(rng.choice(PIECES) for _ in range(3000)).replace("\n", line_break)
    buffer = Buffer("file:///tmp/a.json", source=text, position_codec=PositionCodec(encoding=encoding))
    for _ in range(300):
        start = rng.randrange(len(text) + 1)
        end = min(len(text), start + rng.choice([0, 1, 5, 200]))
        while 0 < start < len(text) and (text[start - 1 : start + 1] == "\r\n"):
            start -= 1  # a position never points between \r and \n
        while 0 < end < len(text) and (text[end - 1 : end + 1] == "\r\n"):
            end += 1
        new = "".join(rng.choice(PIECES) for _ in range(rng.choice([0, 1, 3, 80]))).replace("\n", line_break)
        change = types.TextDocumentContentChangePartial(
            range=types.Range(position(text, start, encoding), position(text, end, encoding)), text=new
        )
        buffer.apply_change(change)
        text = text[:start] + new + text[end:]
        assert buffer.source == text


def test_positions_past_a_line_or_the_text_are_clamped() -> None:
    buffer = Buffer("file:///tmp/a.json", source="ab\ncd\n", position_codec=PositionCodec())
    edit = types.Range(types.Position(0, 9), types.Position(1, 0))
    buffer.apply_change(types.TextDocumentContentChangePartial(range=edit, text="-"))
    assert buffer.source == "ab-cd\n"
    end = types.Range(types.Position(5, 0), types.Position(5, 0))
    buffer.apply_change(types.TextDocumentContentChangePartial(range=end, text="tail"))
    assert buffer.source == "ab-cd\ntail"
