"""Diagnostics pushed for every fixture and recording, kept current through edits and disk changes."""

from __future__ import annotations

from pathlib import Path

from tests.lsp.helpers import Client, codes, start


async def test_every_file_of_the_workspace_gets_diagnostics(client: Client, workspace: Path) -> None:
    await start(client, workspace)
    stale_fixture = (workspace / "replay" / "write_note.ultra.json").as_uri()
    items = await client.diagnostics_for(stale_fixture)
    assert codes(items) == ["stale-key", "stale-key", "stale-key"]
    first = items[0]
    assert first.source == "replay-lens"
    assert first.code_description is not None
    assert first.code_description.href.endswith("#stale-key")
    assert first.data["turn"] == 0
