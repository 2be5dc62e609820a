"""Diagnostics pushed for every fixture and recording, kept current through edits and disk changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.lsp.helpers import Client, codes, open_document, replace_all, start
from tests.lsp.workspaces import Call, ai, message, write_config, write_session


async def test_every_file_of_the_workspace_gets_diagnostics(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    stale_fixture = (workspace / "replay" / "write_note.ultra.json").as_uri()
    items = await client.diagnostics_for(stale_fixture)
    assert codes(items) == ["stale-key", "stale-key", "stale-key"]
    first = items[0]
    assert first.data is not None
    assert first.source == "replay-lens"
    assert first.severity == types.DiagnosticSeverity.Error
    assert first.code_description is not None
    assert first.code_description.href.endswith("README.md#stale-key")
    assert first.data["turn"] == 0
    assert first.data["rehash"]["input_hash"].startswith("b2729027d714")
    # Files that are never opened are checked too, and a clean file gets an empty list.
    clean = (workspace / "recordings" / "translate_cn.flash.jsonl").as_uri()
    assert list(await client.diagnostics_for(clean)) == []
    volatile = await client.diagnostics_for((workspace / "recordings" / "write_note.ultra.jsonl").as_uri())
    assert codes(volatile) == ["volatile-text"]
    assert volatile[0].range.start == types.Position(line=2, character=1546)


async def test_edit_into_invalid_json_and_back(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    path = workspace / "replay" / "write_note.ultra.json"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, path)
    await client.diagnostics_for(uri, lambda items: codes(items) == ["stale-key"] * 3)
    broken = text.replace('"caller": "middleware:title",', '"caller": "middleware:title"', 1)
    replace_all(client, uri, text, broken, version=2)
    items = await client.diagnostics_for(uri, lambda items: "invalid-json" in codes(items), "invalid JSON")
    invalid = next(item for item in items if item.code == "invalid-json")
    assert invalid.range.start.line == text[: text.index('"caller": "middleware:title"')].count("\n") + 1
    # The turns that still parse are still checked: the stale turn after the broken one is reported.
    assert "stale-key" in codes(items)
    assert client.published[-1].version == 2
    replace_all(client, uri, broken, text, version=3)
    await client.diagnostics_for(uri, lambda items: codes(items) == ["stale-key"] * 3, "the file repaired")
    assert client.published[-1].version == 3
    # Closed without saving an edit: the file on disk is what counts again.
    replace_all(client, uri, text, broken, version=4)
    await client.diagnostics_for(uri, lambda items: "invalid-json" in codes(items), "invalid JSON again")
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri)))
    await client.diagnostics_for(uri, lambda items: codes(items) == ["stale-key"] * 3, "the disk version")
    assert client.published[-1].version is None


async def test_rules_change_on_disk_rechecks_every_fixture(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    write_note = (workspace / "replay" / "write_note.ultra.json").as_uri()
    await client.diagnostics_for(write_note, lambda items: codes(items) == ["stale-key"] * 3)
    # The sample's stale turns were recorded under rules with no substitutions: the "none" preset.
    config = workspace / "replay-lens.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('preset = "deerflow"', 'preset = "none"'))
    await client.diagnostics_for(write_note, lambda items: not items, "no stale turn under the old rules")
    config.write_text('preset = "nope"\n', encoding="utf-8")
    errors = await client.diagnostics_for(config.as_uri(), bool, "the config error")
    assert errors[0].code == "config-error"
    assert "unknown preset" in errors[0].message
    config.write_text('preset = "deerflow"\nfixtures = ["replay/*.json"]\nrecordings = ["recordings/*.jsonl"]\n')
    await client.diagnostics_for(config.as_uri(), lambda items: not items, "the config error cleared")
    await client.diagnostics_for(write_note, lambda items: codes(items) == ["stale-key"] * 3, "deerflow rules again")


async def test_recording_written_by_another_process_updates_the_fixture(client: Client, workspace: Path) -> None:
    recording = workspace / "recordings" / "legacy_search.flash.jsonl"
    content = recording.read_text(encoding="utf-8")
    recording.unlink()
    await start(client, workspace)
    fixture = (workspace / "replay" / "legacy_search.flash.json").as_uri()
    items = await client.diagnostics_for(fixture, lambda items: codes(items).count("unverifiable") == 2)
    script = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2], encoding='utf-8')"
    subprocess.run([sys.executable, "-c", script, str(recording), content], check=True)
    items = await client.diagnostics_for(
        fixture, lambda items: codes(items).count("unverifiable") == 1, "the recording to link turn 0"
    )
    assert [item.data and item.data["turn"] for item in items if item.code == "unverifiable"] == [1]
    assert not client.registrations  # no editor event was involved: the server's own watcher saw it


async def test_client_file_events_are_registered_and_applied(client: Client, workspace: Path) -> None:
    await start(client, workspace, watch=True, options={"watchFiles": False})
    await client.until(lambda: client.registrations, what="the file watcher registration")
    registration = client.registrations[0]
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    fixture = workspace / "replay" / "write_note.ultra.json"
    await client.diagnostics_for(fixture.as_uri(), bool)
    fixture.unlink()
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=fixture.as_uri(), type=types.FileChangeType.Deleted)]
        )
    )
    await client.diagnostics_for(fixture.as_uri(), lambda items: not items, "cleared diagnostics")
    # The recording's call that the deleted fixture held is no longer held by anything.
    recording = (workspace / "recordings" / "write_note.ultra.jsonl").as_uri()
    await client.diagnostics_for(recording, lambda items: "unlinked-recording" in codes(items))


async def test_outdated_versions_are_never_published(client: Client, tmp_path: Path) -> None:
    # A document slow to parse (an 8 MB prompt): every edit arrives while an older version is parsed.
    history = [message("human", "question " + "words " * 400)]
    calls = [Call("lead_agent", history + [message("ai", f"a{turn}")] * turn, ai(f"a{turn}")) for turn in range(30)]
    path, _ = write_session(tmp_path, "slow", calls)
    await start(client, tmp_path, options={"debounceMs": 0})
    document = json.loads(path.read_text(encoding="utf-8"))
    document["prompt"] = "请 lorem ipsum " * 600_000
    document["turns"][29]["input_hash"] = "f" * 64  # version 1 differs from the disk: its diagnostics are new
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    uri = open_document(client, path, text=text)
    await client.diagnostics_for(uri, lambda items: any(p.uri == uri and p.version == 1 for p in client.published))
    version = 1
    for turn in range(5):
        document["turns"][turn]["input_hash"] = "0" * 64
        new = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        version += 1
        replace_all(client, uri, text, new, version)
        text = new
    await client.until(
        lambda: any(p.uri == uri and p.version == version for p in client.published), what="the last version"
    )
    versions = [p.version or 0 for p in client.published if p.uri == uri]
    assert versions == sorted(versions)  # once a version is published, no older one ever follows it
    assert versions[-1] == version
    final = client.diagnostics[uri]
    assert codes(final).count("stale-key") == 6


async def test_pull_diagnostics(client: Client, workspace: Path) -> None:
    await start(client, workspace, pull=True)
    path = workspace / "replay" / "write_note.ultra.json"
    uri = open_document(client, path)
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    assert codes(report.items) == ["stale-key"] * 3
    again = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri), previous_result_id=report.result_id
        )
    )
    assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
    # Files that are not open are still pushed; the open one is left to pulls (no duplicates).
    closed = (workspace / "replay" / "translate_cn.flash.json").as_uri()
    await client.diagnostics_for(closed)
    assert not client.diagnostics.get(uri)
    # A recording rewritten on disk changes the open fixture's results: the client is asked to pull again.
    refreshes = client.diagnostic_refresh_count
    (workspace / "recordings" / "write_note.ultra.jsonl").unlink()
    await client.until(lambda: client.diagnostic_refresh_count > refreshes, what="a diagnostic refresh")
    fresh = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri), previous_result_id=report.result_id
        )
    )
    assert isinstance(fresh, types.RelatedFullDocumentDiagnosticReport)
    assert codes(fresh.items) == ["unverifiable"] * 4
    assert not client.diagnostics.get(uri)


async def test_clients_that_cannot_refresh_pulls_get_pushes(client: Client, workspace: Path) -> None:
    # Neovim 0.11's real capabilities: pull support without refresh, UTF-8 positions first.
    capabilities = client_capabilities("neovim@v0.11.0")
    uri = workspace.as_uri()
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=uri,
            workspace_folders=[types.WorkspaceFolder(uri=uri, name="workspace")],
            initialization_options={"debounceMs": 20},
        )
    )
    assert result.capabilities.diagnostic_provider is None
    assert result.capabilities.position_encoding == "utf-8"
    fixture = open_document(client, workspace / "replay" / "write_note.ultra.json")
    items = await client.diagnostics_for(fixture, lambda items: len(items) == 3)
    assert client.published[-1].version == 1
    assert codes(items) == ["stale-key"] * 3


async def test_huge_file_never_opened_gets_diagnostics(client: Client, tmp_path: Path) -> None:
    write_config(tmp_path)
    calls = [Call("lead_agent", [message("human", "hi 2026-01-02")], ai("hello"), recorded_with="none")]
    fixture, _ = write_session(tmp_path, "huge", calls, context={"blob": "x" * (51 * 1024 * 1024)})
    assert fixture.stat().st_size > 50 * 1024 * 1024
    await start(client, tmp_path)
    items = await client.diagnostics_for(fixture.as_uri(), what="diagnostics of the 51 MiB fixture")
    assert codes(items) == ["stale-key"]
    with fixture.open(encoding="utf-8") as handle:
        head = "".join(handle.readline() for _ in range(6))  # the blob is on line 5; skip reading it whole
    assert items[0].range.start.line > head.count("\n")
