"""Edits to an open fixture: a lone edit is checked without waiting for the debounce, and keystrokes
re-checked turn by turn (kept findings and diagnostics) end up with exactly what a whole re-read shows."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.lsp.helpers import Client, open_document, position_of, replace_all, start


def keystroke(client: Client, uri: str, at: types.Position, length: int, new: str, version: int) -> None:
    """One incremental change, as an editor sends a keystroke."""
    end = types.Position(at.line, at.character + length)
    change = types.TextDocumentContentChangePartial(range=types.Range(start=at, end=end), text=new)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]
        )
    )


def shown(items: list[types.Diagnostic] | None) -> list[tuple[int, int, int, int, object, str]]:
    return [
        (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character, d.code, d.message)
        for d in items or []
    ]


async def published(client: Client, uri: str, version: int) -> list[types.Diagnostic]:
    found = await client.until(
        lambda: next((p for p in client.published if p.uri == uri and p.version == version), None),
        what=f"diagnostics of version {version}",
    )
    return list(found.diagnostics)


async def test_a_lone_edit_is_checked_without_waiting_for_the_debounce(client: Client, workspace: Path) -> None:
    await start(client, workspace, options={"debounceMs": 600_000})  # ten minutes: only an edit at once is seen
    path = workspace / "replay" / "write_note.ultra.json"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, path)
    before = shown(await published(client, uri, 1))
    at = position_of(text, '"input_hash": "')
    keystroke(client, uri, types.Position(at.line, at.character + len('"input_hash": "') + 4), 1, "#", 2)
    after = shown(await published(client, uri, 2))
    assert after != before
    assert any(code == "malformed-fixture" for *_, code, _ in after)


async def test_keystrokes_show_what_a_whole_reread_shows(client: Client, workspace: Path) -> None:
    await start(client, workspace, options={"debounceMs": 0})
    path = workspace / "replay" / "write_note.ultra.json"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, path)
    await published(client, uri, 1)
    key = '"input_hash": "'
    first, second = text.index(key) + len(key), text.index(key, text.index(key) + 1) + len(key)
    edits = [  # (offset, length, new text): keys broken and mended, lines added before later turns, astral text
        (second + 3, 1, "0"),
        (first + 5, 1, "f"),
        (text.index("{", text.index('"turns"')) + 1, 0, "\n   "),
        (text.index('"caller"'), 0, '"note": "😀 中文",\n      '),
        (second + 3, 1, text[second + 3]),
    ]
    version = 1
    for offset, length, new in edits:
        version += 1
        keystroke(client, uri, position_of(text[:offset] + "\0", "\0"), length, new, version)
        text = text[:offset] + new + text[offset + length :]
        typed = shown(await published(client, uri, version))
        # The same text read from scratch: emptied (an empty fixture is a problem of its own), then typed in whole.
        replace_all(client, uri, text, "", version + 1)
        assert shown(await published(client, uri, version + 1)) != typed
        replace_all(client, uri, "", text, version + 2)
        version += 2
        assert typed == shown(await published(client, uri, version))
