"""Issue 16, item 4, through the real server: "Replay again" of a report made in a sibling checkout.

The extension maps a report's files into the workspace before it asks for a replay; a client that sends the
sibling's own path anyway (a report of version 1 names it absolutely) is refused, and nothing of the sibling
is indexed or gets Problems. The workspace's copy of the session replays to the report the sibling's CLI made.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import run_cli
from tests.lsp.helpers import Client, copy_samples, start
from tests.lsp.test_replay import portable, replay
from tests.lsp.test_sessions import request


async def test_a_sibling_checkouts_report_replays_here_and_never_there(
    client: Client, workspace: Path, tmp_path: Path
) -> None:
    sibling = copy_samples(tmp_path / "sibling")
    made = run_cli("replay", "recordings/write_note.ultra.jsonl", "--format", "json", cwd=sibling)
    report = made.json()
    await start(client, workspace)
    await client.diagnostics_for((workspace / "replay" / "write_note.ultra.json").as_uri(), bool)
    with pytest.raises(JsonRpcException, match="outside the workspace"):
        await replay(client, {"uri": (sibling / report["session"]["file"]).as_uri()})
    here = await replay(client, {"uri": (workspace / report["session"]["file"]).as_uri()})
    assert portable(here) == report  # the same files, named the same way, from the other checkout
    assert here["session"]["uri"] == (workspace / report["session"]["file"]).as_uri()
    sessions = await request(client, "replayLens/sessions", {})
    listed = [session["uri"] for session in sessions["sessions"]]
    assert listed and not any(uri.startswith(sibling.as_uri()) for uri in listed)
    assert not any(uri.startswith(sibling.as_uri()) for uri in client.diagnostics)
    assert all(
        isinstance(item, types.PublishDiagnosticsParams) and item.uri.startswith(workspace.as_uri())
        for item in client.published
    )
