"""Hover on fixture turns and recording lines: status, where it was recorded, previews, masked secrets."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.lsp.helpers import Client, open_document, position_of, start
from tests.lsp.workspaces import Call, ai, message, write_config, write_session

SECRET = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123"
BEARER = "eyJhbGciOiJIUzI1NiJ9abcdefghijkl"


def session(root: Path) -> tuple[Path, Path]:
    write_config(root)
    question = (
        "Run 7f3c2a10-4b5d-4e6f-8a9b-0c1d2e3f4a5b started 2026-03-04T05:06:07Z.\n"
        f"Use key {SECRET} and header Authorization: Bearer {BEARER}.\n" + "More context. " * 200
    )
    output = ai(
        "Looking it up 🌈",
        tool_calls=[{"name": "search", "args": {"query": "weather in 東京", "api_key": "hunter2-secret"}}],
        message_id="run-hover-1",
    )
    calls = [Call("lead_agent", [message("system", "You are helpful."), message("human", question)], output)]
    return write_session(root, "session", calls)


async def hover(client: Client, uri: str, position: types.Position) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position)
    )
    assert result is not None
    assert isinstance(result.contents, types.MarkupContent)
    assert result.contents.kind == types.MarkupKind.Markdown
    return result.contents.value


async def test_hover_on_a_fixture_turn(client: Client, tmp_path: Path) -> None:
    fixture, recording = session(tmp_path)
    await start(client, tmp_path, options={"previewChars": 600})
    text = fixture.read_text(encoding="utf-8")
    uri = open_document(client, fixture)
    await client.diagnostics_for(uri)
    markdown = await hover(client, uri, position_of(text, '"output"'))
    assert markdown.startswith("**Turn 0** · caller `lead_agent` · ✓ key valid under current rules")
    assert f"Recorded at [session.jsonl:1]({recording.as_uri()}#L1) (call 0)" in markdown
    assert "**Normalized input** (rules `deerflow` · fingerprint `" in markdown
    assert '"content": "Run <UUID> started <TS>.\\nUse key sk-proj-****' in markdown
    assert "You are helpful" not in markdown  # system messages are not part of the key
    assert "… cut: " in markdown and "more characters" in markdown
    assert "**Recorded output**" in markdown
    assert "Looking it up 🌈\n→ tool call search({" in markdown
    assert '"query": "weather in 東京"' in markdown
    for secret in (SECRET, BEARER, "hunter2-secret"):
        assert secret not in markdown
    assert '"api_key": "****"' in markdown


async def test_hover_on_a_recording_line(client: Client, tmp_path: Path) -> None:
    fixture, recording = session(tmp_path)
    await start(client, tmp_path)
    uri = open_document(client, recording)
    await client.diagnostics_for(uri)
    assert SECRET not in await hover(client, uri, types.Position(line=0, character=5))
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"replayLens": {"revealSecrets": True}})
    )
    markdown = await hover(client, uri, types.Position(line=0, character=5))
    assert markdown.startswith("**Recorded call 0** · line 1 · caller `lead_agent`")
    assert "✓ the recorded key is the key under current rules" in markdown
    assert f"Held by [session.json turn 0]({fixture.as_uri()}#L6)" in markdown
    assert "Run <UUID> started <TS>" in markdown
    assert SECRET in markdown  # revealSecrets: the user asked to see them


async def test_hover_on_a_stale_turn_and_an_unverifiable_one(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    path = workspace / "replay" / "legacy_search.flash.json"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, path)
    await client.diagnostics_for(uri)
    second = text.index('"input_hash"', text.index('"input_hash"') + 1)
    markdown = await hover(client, uri, position_of(text, '"input_hash"', after=second))
    assert markdown.startswith("**Turn 1** · legacy turn (no caller) · ? unverifiable")
    assert "- `legacy-key` legacy turn 1" in markdown
    assert "_No recording links to this turn" in markdown
    stale = workspace / "replay" / "write_note.ultra.json"
    stale_uri = open_document(client, stale)
    markdown = await hover(client, stale_uri, position_of(stale.read_text(encoding="utf-8"), '"caller"'))
    assert "✗ stale: the key differs under current rules" in markdown
    assert "- `stale-key` stale key in turn 0" in markdown
