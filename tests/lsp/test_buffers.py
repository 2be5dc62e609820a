"""Incremental edits of open documents (`server.lsp.buffers`) give the text an editor has, in every encoding."""

from __future__ import annotations

import random
from typing import Any

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


def _batch(text: str, rng: random.Random, encoding: str, count: int, order: str) -> tuple[list[Any], str]:
    """`count` changes as an editor sends them in one `didChange`, and the text once they are applied in turn."""
    changes = []
    for _ in range(count):
        start = rng.randrange(len(text) + 1)
        end = min(len(text), start + rng.choice([0, 1, 5, 30]))
        if order == "descending" and changes:  # each before the previous one, as VS Code sends a Replace All
            limit = SourceText(text).offset(changes[-1].range.start, encoding_of(encoding))
            start, end = min(start, limit), min(end, limit)
        elif order == "ascending" and changes:  # each after the previous one's new text, as Neovim sends them
            previous = changes[-1]
            floor = SourceText(text).offset(previous.range.start, encoding_of(encoding)) + len(previous.text)
            start, end = max(start, floor), max(end, floor)
        new = "".join(rng.choice(PIECES) for _ in range(rng.choice([0, 1, 3])))
        changes.append(
            types.TextDocumentContentChangePartial(
                range=types.Range(position(text, start, encoding), position(text, end, encoding)), text=new
            )
        )
        text = text[:start] + new + text[end:]
    return changes, text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
@pytest.mark.parametrize("order", ["descending", "ascending", "random"])
def test_many_changes_in_one_did_change_match_a_plain_splice(
    monkeypatch: pytest.MonkeyPatch, encoding: str, order: str
) -> None:
    monkeypatch.setattr(buffers, "_BLOCK", 64)
    rng = random.Random(f"{encoding}{order}")
    text = "".join(rng.choice(PIECES) for _ in range(3000))
    buffer = Buffer("file:///tmp/a.json", source=text, position_codec=PositionCodec(encoding=encoding))
    for _ in range(20):
        changes, text = _batch(text, rng, encoding, rng.choice([1, 2, 10, 60]), order)
        for change in changes:
            buffer.apply_change(change)
        assert buffer.source == text


@pytest.mark.parametrize("order", ["descending", "ascending"])
def test_a_replace_all_on_a_big_fixture_is_one_pass(monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """5,000 edits of one `didChange` on a 20 MB document: one copy of the text, none per change."""
    text = ('{"prompt": "请 lorem ipsum 😋 dolor\n' * 600_000)[: 20 << 20]
    buffer = Buffer("file:///tmp/a.json", source=text, position_codec=PositionCodec(encoding="utf-16"))
    lines = text.split("\n")
    targets = list(range(0, len(lines) - 1, len(lines) // 5000))[:5000]  # one line in 120, each edited once
    column = len('{"prompt": "请 '.encode("utf-16-le")) // 2
    edits = [
        types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, column), types.Position(line, column + 5)), text="LOREM!"
        )
        for line in (reversed(targets) if order == "descending" else targets)
    ]
    monkeypatch.setattr(buffers, "_spliced", lambda *_: pytest.fail("a change was applied on its own"))
    for edit in edits:
        buffer.apply_change(edit)
    expected = text.split("\n")
    for line in targets:
        expected[line] = expected[line].replace("lorem", "LOREM!", 1)
    assert buffer.source == "\n".join(expected)
