"""Positions with CJK text and emoji, in the UTF-16 (default) and UTF-8 position encodings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.lsp.helpers import Client, open_document, position_of, start
from tests.lsp.workspaces import Call, ai, keys_of, message, write_config, write_session

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


@pytest.mark.parametrize(("offered", "negotiated"), [(None, "utf-16"), (["utf-8"], "utf-8"), (["utf-32"], "utf-32")])
async def test_an_unopened_recording_in_each_encoding(
    client: Client, tmp_path: Path, offered: list[str] | None, negotiated: str
) -> None:
    """Unopened recordings are summaries in UTF-16 and parsed whole otherwise: the same positions either way."""
    write_config(tmp_path)
    volatile = "req_7Hq2Lm9xPz4Kw8Rt"
    calls = [
        Call(CALLER, [message("human", "你好 👋")], ai("答案 🌈")),
        Call(CALLER, [message("human", "你好 👋"), message("human", f"再见 🎉 {volatile}")], ai("拜拜 😀")),
    ]
    fixture, recording = write_session(tmp_path, "cjk", calls)
    with recording.open("a", encoding="utf-8") as handle:
        handle.write('{"caller": "研究员🚀", "input": [')  # cut mid-write
    text = recording.read_text(encoding="utf-8")
    await start(client, tmp_path, encodings=offered)
    items = await client.diagnostics_for(recording.as_uri(), lambda items: len(items) == 2)
    by_code = {item.code: item.range for item in items}
    assert by_code["volatile-text"].start == position_of(text, volatile, negotiated)
    assert by_code["invalid-json"].start == types.Position(line=2, character=0)

    uri = open_document(client, fixture)
    fixture_text = fixture.read_text(encoding="utf-8")
    second = position_of(fixture_text, '"caller"', negotiated, after=fixture_text.index('"caller"') + 1)
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=second)
    )
    assert isinstance(found, list) and len(found) == 1 and isinstance(found[0], types.Location)
    line = text.splitlines()[1]
    end = position_of(line + "\n", "\n", negotiated).character
    assert found[0].range == types.Range(types.Position(1, 0), types.Position(1, end))
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=second)
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "Normalized input" in hover.contents.value and "再见 🎉" in hover.contents.value
