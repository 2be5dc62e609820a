"""Code actions and commands: rehash (same bytes as `check --fix`) and add a rule for volatile text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types

from tests.lsp.helpers import (
    SERVER_ENV,
    Client,
    apply_text_edits,
    codes,
    copy_samples,
    edit_changes,
    open_document,
    position_of,
    replace_all,
    start,
)


def fixed_by_cli(tmp_path: Path, name: str) -> str:
    """The bytes `python -m server check --fix` writes for the sample fixture `name`."""
    copy = copy_samples(tmp_path / "cli")
    subprocess.run(
        [sys.executable, "-m", "server", "check", "--fix"], cwd=copy, env=SERVER_ENV, capture_output=True, check=False
    )
    return (copy / "replay" / name).read_text(encoding="utf-8")


async def actions(
    client: Client, uri: str, where: types.Range, diagnostics: list[types.Diagnostic], only: list[str] | None = None
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=where,
            context=types.CodeActionContext(diagnostics=diagnostics, only=only),
        )
    )
    return [action for action in result or [] if isinstance(action, types.CodeAction)]


async def test_quick_fix_and_source_action_give_the_cli_bytes(client: Client, workspace: Path, tmp_path: Path) -> None:
    expected = fixed_by_cli(tmp_path, "write_note.ultra.json")
    await start(client, workspace)
    path = workspace / "replay" / "write_note.ultra.json"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, path)
    items = list(await client.diagnostics_for(uri, lambda items: len(items) == 3))
    stale = items[1]  # turn 2
    found = await actions(client, uri, stale.range, [stale])
    quick = [action for action in found if action.kind == types.CodeActionKind.QuickFix]
    assert [action.title for action in quick] == ["Rehash this turn under current rules"]
    assert list(quick[0].diagnostics or []) == [stale]
    assert quick[0].is_preferred
    assert quick[0].edit is not None
    (edits,) = edit_changes(quick[0].edit).values()
    one_turn = apply_text_edits(text, edits, "utf-16")
    replace_all(client, uri, text, one_turn, version=2)
    remaining = await client.diagnostics_for(uri, lambda items: len(items) == 2, "one stale turn fewer")
    assert [item.data and item.data["turn"] for item in remaining] == [0, 3]

    source = await actions(client, uri, types.Range(types.Position(0, 0), types.Position(0, 0)), [], ["source"])
    assert [action.title for action in source] == ["Rehash all stale turns in this file"]
    assert source[0].kind == "source.fixAll.replayLens"
    assert source[0].edit is not None
    (edits,) = edit_changes(source[0].edit).values()
    all_turns = apply_text_edits(one_turn, edits, "utf-16")
    assert all_turns == expected
    replace_all(client, uri, one_turn, all_turns, version=3)
    await client.diagnostics_for(uri, lambda items: not items, "a clean file")
    assert client.published[-1].version == 3


async def test_rehash_command_through_apply_edit(client: Client, workspace: Path, tmp_path: Path) -> None:
    expected = fixed_by_cli(tmp_path, "write_note.ultra.json")
    await start(client, workspace)
    path = workspace / "replay" / "write_note.ultra.json"
    await client.diagnostics_for(path.as_uri(), lambda items: len(items) == 3)
    client.apply_to_disk = True  # the client applies the edit to the file, like an editor saving it
    result: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="replayLens.rehash", arguments=[{"uri": path.as_uri(), "turn": 3}])
    )
    assert result["applied"] is True
    assert result["turns"] == [3]
    assert client.edits[0].label == "Rehash 1 stale turn"
    remaining = await client.diagnostics_for(path.as_uri(), lambda items: len(items) == 2, "turn 3 rehashed")
    assert [item.data and item.data["turn"] for item in remaining] == [0, 2]
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="replayLens.rehash", arguments=[{"uri": path.as_uri()}])
    )
    assert result["turns"] == [0, 2]
    await client.diagnostics_for(path.as_uri(), lambda items: not items, "a clean file")
    assert path.read_text(encoding="utf-8") == expected


async def test_rehash_command_writes_the_file_when_the_client_cannot_edit(
    client: Client, workspace: Path, tmp_path: Path
) -> None:
    expected = fixed_by_cli(tmp_path, "write_note.ultra.json")
    await start(client, workspace, apply_edit=False)
    path = workspace / "replay" / "write_note.ultra.json"
    await client.diagnostics_for(path.as_uri(), lambda items: len(items) == 3)
    result: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="replayLens.rehash", arguments=[{"uri": path.as_uri()}])
    )
    assert result == {"applied": True, "turns": [0, 2, 3], "message": None}
    assert path.read_bytes() == expected.encode("utf-8")
    await client.diagnostics_for(path.as_uri(), lambda items: not items, "a clean file")
    again = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="replayLens.rehash", arguments=[path.as_uri()])
    )
    assert again == {"applied": False, "turns": [], "message": "nothing to rehash"}


async def test_show_normalized_input_command(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    fixture = workspace / "replay" / "translate_cn.flash.json"
    await client.diagnostics_for(fixture.as_uri())
    result: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="replayLens.showNormalizedInput", arguments=[{"uri": fixture.as_uri(), "turn": 0}]
        )
    )
    assert result["text"].startswith('[\n  {\n    "content": "请把这句话翻译成英文')
    unknown: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="replayLens.showNormalizedInput", arguments=[{"uri": fixture.as_uri(), "turn": 3}]
        )
    )
    assert unknown["text"] is None
    recording = workspace / "recordings" / "translate_cn.flash.jsonl"
    by_call: Any = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="replayLens.showNormalizedInput", arguments=[{"uri": recording.as_uri(), "turn": 0}]
        )
    )
    assert by_call["text"] == result["text"]


async def test_add_a_rule_for_volatile_text(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    uri = open_document(client, recording)
    (volatile,) = await client.diagnostics_for(uri, lambda items: codes(items) == ["volatile-text"])
    found = await actions(client, uri, volatile.range, [volatile])
    assert [action.title for action in found] == ["Add a normalization rule for this text"]
    assert found[0].edit is not None
    ((config_uri, edits),) = edit_changes(found[0].edit).items()
    config = workspace / "replay-lens.toml"
    assert config_uri == config.as_uri()
    text = config.read_text(encoding="utf-8")
    new = apply_text_edits(text, edits, "utf-16")
    assert (
        new
        == text + "\n[[rules]]\nname = 'prefixed-id'\npattern = '\\breq[-_][A-Za-z0-9]{8,}\\b'\nreplacement = '<ID>'\n"
    )
    fixture = (workspace / "replay" / "write_note.ultra.json").as_uri()
    before = {item.data and item.data["turn"]: item.message for item in await client.diagnostics_for(fixture)}
    config.write_text(new, encoding="utf-8")  # the user saves the config: the rule takes effect
    await client.diagnostics_for(uri, lambda items: "volatile-text" not in codes(items), "the volatile text normalized")
    # The turn whose input held the id now has another key under the new rules.
    items = await client.diagnostics_for(fixture, lambda items: items[1].message != before[2], "new keys for turn 2")
    assert codes(items) == ["stale-key"] * 3
    assert items[0].message == before[0]


async def test_add_a_rule_on_a_recording_that_is_not_open(client: Client, workspace: Path) -> None:
    """An unopened recording is held as a summary (no text): its findings are matched by their ranges."""
    await start(client, workspace)
    uri = (workspace / "recordings" / "write_note.ultra.jsonl").as_uri()
    (volatile,) = await client.diagnostics_for(uri, lambda items: codes(items) == ["volatile-text"])
    inside = types.Position(volatile.range.start.line, volatile.range.start.character + 3)
    found = await actions(client, uri, types.Range(inside, inside), [volatile])
    assert [action.title for action in found] == ["Add a normalization rule for this text"]
    before = types.Position(volatile.range.start.line, volatile.range.start.character - 2)
    assert await actions(client, uri, types.Range(before, before), []) == []
    elsewhere = types.Position(0, 3)
    assert await actions(client, uri, types.Range(elsewhere, elsewhere), []) == []


async def test_add_a_rule_creates_the_config_when_there_is_none(client: Client, workspace: Path) -> None:
    (workspace / "replay-lens.toml").unlink()
    await start(client, workspace)
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    text = recording.read_text(encoding="utf-8")
    uri = open_document(client, recording)
    await client.diagnostics_for(uri, lambda items: "volatile-text" in codes(items))
    where = position_of(text, "req_7Hq2Lm9xPz4Kw8Rt")
    found = await actions(client, uri, types.Range(where, where), [])
    assert [action.title for action in found] == ["Add a normalization rule for this text"]
    assert found[0].edit is not None and found[0].edit.document_changes is not None
    create, edit = found[0].edit.document_changes
    assert isinstance(create, types.CreateFile)
    assert create.uri == (workspace / "replay-lens.toml").as_uri()
    assert isinstance(edit, types.TextDocumentEdit)
    (content,) = [e.new_text for e in edit.edits if isinstance(e, types.TextEdit)]
    assert "preset = 'deerflow'\n\n[[rules]]\nname = 'prefixed-id'" in content
