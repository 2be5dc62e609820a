"""Positions with CJK text and emoji, in the UTF-16 (default) and UTF-8 position encodings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp.helpers import Client, open_document, position_of, start
from tests.lsp.workspaces import Call, ai, keys_of, message, write_config

# Two turns on one line: only exact character arithmetic tells them apart.
CALLER = "研究员🚀"


def compact_fixture(root: Path) -> tuple[Path, str, str]:
    """A fixture written on one line per turn pair; returns (path, text, the correct input_hash of turn 1)."""
    write_config(root)
    first = Call(CALLER, [message("human", "你好 👋")], ai("答案 🌈"))
    second = Call(CALLER, [message("human", "再见 🎉")], ai("拜拜 😀"))
    turns: list[dict[str, Any]] = []
    for call in (first, second):
        keys = keys_of(call)
        turns.append({**keys, "output": call.output})
    correct = str(turns[1]["input_hash"])
    turns[1]["input_hash"] = "f" * 64  # not the key of its caller and conversation hash
    body = ", ".join(json.dumps(turn, ensure_ascii=False) for turn in turns)
    text = f'{{"scenario": "位置 🧭", "mode": "flash", "model": "m",\n"turns": [{body}]}}\n'
    path = root / "positions.json"
    path.write_text(text, encoding="utf-8")
    return path, text, correct


@pytest.mark.parametrize(
    ("offered", "negotiated"),
    [(None, "utf-16"), (["utf-8", "utf-16"], "utf-8"), (["utf-16", "utf-8"], "utf-16")],
)
async def test_positions_with_cjk_and_emoji(
    client: Client, tmp_path: Path, offered: list[str] | None, negotiated: str
) -> None:
    path, text, correct = compact_fixture(tmp_path)
    result = await start(client, tmp_path, encodings=offered)
    assert result.capabilities.position_encoding == negotiated
    uri = open_document(client, path)
    items = await client.diagnostics_for(uri, bool)
    mismatch = next(item for item in items if item.code == "caller-key-mismatch")
    value = '"' + "f" * 64
    # The test discriminates: the three ways of counting give three different columns on that line.
    columns = {position_of(text, value, unit).character for unit in ("utf-8", "utf-16")}
    assert len(columns | {text.index(value) - text.rfind("\n", 0, text.index(value)) - 1}) == 3
    assert mismatch.range.start == position_of(text, value, negotiated)
    assert mismatch.range.end.character - mismatch.range.start.character == 66  # ASCII inside the value

    # Hover on the second turn's opening brace: the range comes back in the same encoding.
    second = text.index("{", text.index("}, {") + 2)
    where = position_of(text, "{", negotiated, after=second)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=where)
    )
    assert hover is not None and hover.range is not None
    assert isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.value.startswith(f"**Turn 1** · caller `{CALLER}`")
    assert hover.range.start == where
    assert "拜拜 😀" in hover.contents.value

    # An incremental edit placed after the emoji fixes the hash: the position arithmetic must agree.
    value_start = position_of(text, "f" * 64, negotiated)
    value_end = types.Position(line=value_start.line, character=value_start.character + 64)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(range=types.Range(value_start, value_end), text=correct)
            ],
        )
    )
    await client.diagnostics_for(
        uri, lambda items: all(item.code != "caller-key-mismatch" for item in items), "the fixed hash"
    )
    assert client.published[-1].version == 2
