"""Outline, definition/references between turns and recording lines, and code lenses."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.lsp.helpers import Client, open_document, position_of, start


async def test_document_symbols_list_turns_by_index_and_caller(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    path = workspace / "replay" / "write_note.ultra.json"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, path)
    await client.diagnostics_for(uri)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert symbols is not None
    assert all(isinstance(symbol, types.DocumentSymbol) for symbol in symbols)
    names = [(symbol.name, symbol.detail) for symbol in symbols if isinstance(symbol, types.DocumentSymbol)]
    assert names == [
        ("turn 0 · lead_agent", "✗ stale · rehash"),
        ("turn 1 · middleware:title", "✓ valid"),
        ("turn 2 · lead_agent", "✗ stale · rehash"),
        ("turn 3 · lead_agent", "✗ stale · rehash"),
    ]
    first = symbols[0]
    assert isinstance(first, types.DocumentSymbol)
    assert first.selection_range.start == position_of(text, '{\n      "caller"')
    recording = open_document(client, workspace / "recordings" / "write_note.ultra.jsonl")
    calls = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=recording))
    )
    assert [symbol.name for symbol in calls or []] == [
        "call 0 · lead_agent",
        "call 1 · title_agent",  # as recorded (the key normalizes it to middleware:title)
        "call 2 · lead_agent",
        "call 3 · lead_agent",
    ]


async def test_definition_and_references_between_turns_and_recording_lines(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    fixture = workspace / "replay" / "write_note.ultra.json"
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    text = fixture.read_text(encoding="utf-8")
    uri = open_document(client, fixture)
    await client.diagnostics_for(uri)
    third_turn = text.index('"caller"', text.index('"caller"', text.index('"caller"') + 1) + 1)
    found = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, '"caller"', after=third_turn),
        )
    )
    assert isinstance(found, list) and len(found) == 1
    (location,) = found
    assert isinstance(location, types.Location)
    assert location.uri == recording.as_uri()
    assert location.range.start == types.Position(line=2, character=0)

    recording_uri = open_document(client, recording)
    references = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=recording_uri),
            position=types.Position(line=2, character=10),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert references is not None
    assert [(item.uri, item.range.start.line) for item in references] == [(uri, text.count("\n", 0, third_turn) - 1)]
    back = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=recording_uri), position=types.Position(line=2, character=0)
        )
    )
    assert isinstance(back, list)
    assert back == list(references)


async def test_code_lenses(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    path = workspace / "replay" / "write_note.ultra.json"
    uri = open_document(client, path)
    await client.diagnostics_for(uri)
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert lenses is not None
    titles = [lens.command.title for lens in lenses if lens.command is not None]
    assert titles == [
        "4 turns · 3 stale · 0 unverifiable",
        "turn 0 · lead_agent · ✗ stale · rehash",
        "turn 1 · middleware:title · ✓ valid",
        "turn 2 · lead_agent · ✗ stale · rehash",
        "turn 3 · lead_agent · ✗ stale · rehash",
        "▶ Replay",
    ]
    header, stale, valid = lenses[0].command, lenses[1].command, lenses[2].command
    assert header is not None and stale is not None and valid is not None
    assert header.command == "replayLens.rehash" and list(header.arguments or []) == [{"uri": uri}]
    assert stale.command == "replayLens.rehash" and list(stale.arguments or []) == [{"uri": uri, "turn": 0}]
    assert valid.command == ""  # a label: nothing to do
    legacy = open_document(client, workspace / "replay" / "legacy_search.flash.json")
    await client.diagnostics_for(legacy)
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=legacy))
    )
    assert lenses is not None and lenses[0].command is not None
    assert lenses[0].command.title == "2 turns · 0 stale · 1 unverifiable"
