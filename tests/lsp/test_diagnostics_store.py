"""The diagnostics store through the real server: one problem per cause per turn after a replay, and no
problems outside the workspace folders, for clients that are pushed diagnostics and clients that pull them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp.helpers import Client, codes, open_document, start

REPLAY = "replayLens.replaySession"
CAUSE = "stale: keyed without rules user-input-begin, user-input-end; rehash — stale key in turn "


async def shown(client: Client, uri: str, pull: bool) -> Sequence[types.Diagnostic]:
    """The problems of `uri` as the editor shows them: pushed, or pulled (the first pull after a refresh)."""
    if not pull:
        return await client.diagnostics_for(uri, lambda items: any(item.related_information for item in items))
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    return report.items


@pytest.mark.parametrize("pull", [False, True], ids=["push", "pull"])
async def test_a_stale_turn_is_one_problem_led_by_its_cause_after_a_replay(
    client: Client, workspace: Path, pull: bool
) -> None:
    fixture = workspace / "replay" / "write_note.ultra.json"
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    await start(client, workspace, pull=pull)
    uri = open_document(client, fixture) if pull else fixture.as_uri()
    if pull:
        assert codes(await shown(client, uri, pull)) == ["stale-key"] * 3
        refreshes = client.diagnostic_refresh_count
    else:
        await client.diagnostics_for(uri, lambda items: codes(items) == ["stale-key"] * 3)
    report = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=REPLAY, arguments=[{"uri": recording.as_uri()}])
    )
    assert isinstance(report, dict)
    # What the replay found on the fixture: a miss and an unused turn on each of the three stale turns.
    facts = sorted((d["range"]["start"]["line"], d["code"], d["data"]["turn"]) for d in report["diagnostics"])
    lines = sorted({line for line, _, _ in facts})
    assert len(lines) == 3 and [code for _, code, _ in facts] == ["replay-miss", "unused-turn"] * 3
    if pull:
        await client.until(lambda: client.diagnostic_refresh_count > refreshes, what="a diagnostic refresh")
    items = await shown(client, uri, pull)

    assert codes(items) == ["stale-key"] * 3  # one problem per stale turn, not three on its line
    assert sorted(item.range.start.line for item in items) == lines
    for item in items:
        turn = next(turn for line, _, turn in facts if line == item.range.start.line)
        assert item.message.startswith(f"{CAUSE}{turn}:"), item.message
        assert item.severity == types.DiagnosticSeverity.Error
        related = item.related_information or []
        assert [info.location.uri for info in related] == [uri, uri]
        assert all(info.location.range == item.range for info in related)
        miss, unused = sorted(info.message for info in related)
        assert (
            miss.startswith("replay-miss: replay of write_note.ultra.jsonl step ") and f"turn {turn} is stale" in miss
        )
        assert unused == f"unused-turn: turn {turn} was never consumed by the replay of write_note.ultra.jsonl"
    if pull:
        assert not client.diagnostics.get(uri)  # pulled, never pushed as well


@pytest.mark.parametrize("pull", [False, True], ids=["push", "pull"])
async def test_a_file_outside_the_workspace_folders_gets_no_problems(
    client: Client, workspace: Path, pull: bool
) -> None:
    """The file is checked on its own (its lenses say what its turns are) but the Problems panel stays the
    workspace's: nothing is pushed for it, a pull of it is empty."""
    outside = workspace.parent / "elsewhere"
    outside.mkdir()
    path = outside / "write_note.ultra.json"
    path.write_bytes((workspace / "replay" / "write_note.ultra.json").read_bytes())
    await start(client, workspace / "recordings", pull=pull)
    uri = open_document(client, path)
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    # The check of the file was done (and delivered, had it been published) before its lenses were answered.
    titles = [lens.command.title for lens in lenses or [] if lens.command is not None]
    assert titles[0] == "4 turns · 0 stale · 4 unverifiable", titles
    if pull:
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert isinstance(report, types.RelatedFullDocumentDiagnosticReport) and not report.items
    inside = (workspace / "recordings" / "write_note.ultra.jsonl").as_uri()
    await client.diagnostics_for(inside, bool, "the workspace's own problems")
    assert uri not in client.diagnostics
    assert not any(params.uri.startswith(outside.as_uri()) for params in client.published)
