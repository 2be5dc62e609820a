"""`replayLens.replaySession` through the real server: the CLI's report, the Replay lens, misses on the fixture."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import run_cli
from tests.lsp.helpers import Client, codes, open_document, replace_all, start

REPLAY = "replayLens.replaySession"
REPLAY_CODES = ("replay-miss", "replay-exhausted", "tool-mismatch", "unused-turn")


async def replay(client: Client, arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=REPLAY, arguments=[arguments])
    )


def replay_facts(items: Sequence[types.Diagnostic]) -> list[tuple[int, str, str]]:
    """(line, code, message) of the replay's findings shown on a file: problems of their own, or facts related to
    a turn's cause (`relatedInformation`, "code: message")."""
    own = [(item.range.start.line, str(item.code), item.message) for item in items]
    related = [
        (info.location.range.start.line, code, message)
        for item in items
        for info in item.related_information or []
        for code, message in [info.message.split(": ", 1)]
    ]
    return sorted((line, code, message) for line, code, message in own + related if code in REPLAY_CODES)


def replay_codes(items: Sequence[types.Diagnostic]) -> list[str]:
    return sorted(code for _, code, _ in replay_facts(items))


async def test_replay_of_a_recording_is_the_cli_report(client: Client, workspace: Path) -> None:
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    cli = run_cli("replay", recording, "--format", "json")
    assert cli.code == 1
    await start(client, workspace)
    report = await replay(client, {"uri": recording.as_uri()})
    assert portable(report) == cli.json()
    assert [step["status"] for step in report["steps"]] == ["miss", "hit", "tool", "miss", "tool", "miss"]
    assert report["summary"]["misses"] == 3 and report["unused"] == [0, 2, 3] and report["first_divergence"] == 0
    nearest = report["steps"][0]["nearest"]
    assert nearest["turn"] == 0 and nearest["uri"] == (workspace / "replay" / "write_note.ultra.json").as_uri()
    assert "-  --- BEGIN USER INPUT ---" in nearest["diff"].splitlines()


async def test_replay_of_a_fixture_replays_its_linked_recording(client: Client, workspace: Path) -> None:
    fixture = workspace / "replay" / "write_note.ultra.json"
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    await start(client, workspace)
    report = await replay(client, {"uri": fixture.as_uri(), "sessionId": "write_note.ultra"})
    assert portable(report) == run_cli("replay", recording, "--against", fixture, "--format", "json").json()
    assert report["session"]["uri"] == recording.as_uri() and report["session"]["kind"] == "recording"
    assert report["fixture"]["uri"] == fixture.as_uri()
    assert [step["nearest"]["turn"] for step in report["steps"] if step["status"] == "miss"] == [0, 2, 3]


async def test_a_fixture_no_recording_links_to_is_a_clear_error(client: Client, workspace: Path) -> None:
    (workspace / "recordings" / "write_note.ultra.jsonl").unlink()
    fixture = workspace / "replay" / "write_note.ultra.json"
    await start(client, workspace)
    with pytest.raises(JsonRpcException, match=r"no recording links to write_note\.ultra\.json"):
        await replay(client, {"uri": fixture.as_uri()})
    with pytest.raises(JsonRpcException, match="not a session this version reads"):
        await replay(client, {"uri": (workspace / "replay-lens.toml").as_uri()})
    # The server is still serving.
    other = await replay(client, {"uri": (workspace / "replay" / "translate_cn.flash.json").as_uri()})
    assert other["session"]["kind"] == "recording"


async def test_replay_lenses_run_the_replay(client: Client, workspace: Path) -> None:
    (workspace / "recordings" / "legacy_search.flash.jsonl").unlink()
    await start(client, workspace)
    fixture = workspace / "replay" / "write_note.ultra.json"
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    for path in (fixture, recording):
        uri = open_document(client, path)
        await client.diagnostics_for(uri)
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert lenses is not None
        replays = [lens for lens in lenses if lens.command is not None and lens.command.title == "▶ Replay"]
        assert len(replays) == 1 and replays[0].command is not None
        assert replays[0].range == lenses[0].range  # on the line of the file's summary lens
        assert replays[0].command.command == REPLAY
        (arguments,) = replays[0].command.arguments or []
        report = await replay(client, arguments)  # what the editor runs on a click
        assert report["fixture"]["uri"] == fixture.as_uri() and report["summary"]["misses"] == 3
    unlinked = open_document(client, workspace / "replay" / "legacy_search.flash.json")
    await client.diagnostics_for(unlinked)
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=unlinked))
    )
    assert lenses and not any(lens.command is not None and "Replay" in lens.command.title for lens in lenses)


async def test_misses_of_the_last_replay_are_diagnostics_on_the_fixture(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    fixture = workspace / "replay" / "write_note.ultra.json"
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    uri = fixture.as_uri()
    checked = await client.diagnostics_for(uri, lambda items: codes(items) == ["stale-key"] * 3)
    report = await replay(client, {"uri": recording.as_uri()})
    items = await client.diagnostics_for(uri, replay_codes, "replay findings")
    # One problem per stale turn, the replay's facts related to it (tests/lsp/test_diagnostics_store.py).
    assert codes(items) == ["stale-key"] * 3
    assert [item.range for item in items] == [item.range for item in checked]  # merged with the check's
    assert replay_codes(items) == sorted(["replay-miss"] * 3 + ["unused-turn"] * 3)
    expected = sorted((d["range"]["start"]["line"], d["code"], d["message"]) for d in report["diagnostics"])
    assert replay_facts(items) == expected
    assert [item.data and item.data["turn"] for item in items] == [0, 2, 3]

    # The next replay replaces them: the session lost its last call, so one miss fewer.
    lines = recording.read_text(encoding="utf-8").splitlines(keepends=True)
    recording.write_text("".join(lines[:3]), encoding="utf-8")
    again = await replay(client, {"uri": uri})
    assert again["summary"]["misses"] == 2
    await client.diagnostics_for(uri, lambda items: replay_codes(items).count("replay-miss") == 2, "2 misses")

    # An edit of the fixture clears them; the check's diagnostics stay.
    text = fixture.read_text(encoding="utf-8")
    open_document(client, fixture)
    replace_all(client, uri, text, text.replace('"scenario": "write_note"', '"scenario": "renamed"'), version=2)
    items = await client.diagnostics_for(uri, lambda items: not replay_codes(items), "replay findings cleared")
    assert "stale-key" in codes(items)


async def test_pulling_clients_are_asked_to_pull_the_replay_findings(client: Client, workspace: Path) -> None:
    await start(client, workspace, pull=True)
    uri = open_document(client, workspace / "replay" / "write_note.ultra.json")
    params = types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    before = await client.text_document_diagnostic_async(params)
    assert isinstance(before, types.RelatedFullDocumentDiagnosticReport)
    assert codes(before.items) == ["stale-key"] * 3
    refreshes = client.diagnostic_refresh_count
    await replay(client, {"uri": uri})
    await client.until(lambda: client.diagnostic_refresh_count > refreshes, what="a diagnostic refresh")
    after = await client.text_document_diagnostic_async(params)
    assert isinstance(after, types.RelatedFullDocumentDiagnosticReport)
    assert replay_codes(after.items) == sorted(["replay-miss"] * 3 + ["unused-turn"] * 3)
    assert not client.diagnostics.get(uri)  # pulled, never pushed as well


async def test_replay_of_a_fixture_replays_the_text_the_editor_shows(client: Client, workspace: Path) -> None:
    """A fixture's replay starts from the server's check of the editor's text, not from a second load of the
    project: an unsaved edit that moves every turn two lines down moves the report's findings with it, and the
    findings are shown on the fixture (the text they were computed from is the text the editor shows)."""
    fixture = workspace / "replay" / "write_note.ultra.json"
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    on_disk = run_cli("replay", recording, "--against", fixture, "--format", "json").json()
    await start(client, workspace)
    uri = open_document(client, fixture)
    text = fixture.read_text(encoding="utf-8")
    replace_all(client, uri, text, "\n\n" + text, version=2)
    report = await replay(client, {"uri": uri})
    lines = [item["range"]["start"]["line"] for item in report["diagnostics"]]
    assert lines and lines == [item["range"]["start"]["line"] + 2 for item in on_disk["diagnostics"]]
    assert report["summary"] == on_disk["summary"] and report["unused"] == on_disk["unused"]
    items = await client.diagnostics_for(uri, replay_codes, "replay findings")
    assert [line for line, _, _ in replay_facts(items)] == sorted(lines)


def portable(value: Any) -> Any:
    """The editor's report as the CLI writes it: each place named by its root-relative `file` only (issue 16)."""
    if isinstance(value, list):
        return [portable(item) for item in value]
    if not isinstance(value, dict):
        return value
    document = {key: portable(item) for key, item in value.items() if not ("file" in value and key == "uri")}
    return {**document, "path": value["file"]} if "file" in value else document
