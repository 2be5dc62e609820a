"""`replayLens/sessions` and `replayLens/steps` through the real server, on the sample workspace and traces."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

from tests.conftest import SAMPLES, run_cli
from tests.lsp.helpers import Client, start


def plain(value: Any) -> Any:
    """A result as JSON values (pygls hands custom results over as named tuples)."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


async def request(client: Client, method: str, params: dict[str, Any]) -> Any:
    return plain(await client.protocol.send_request_async(method, params))  # type: ignore[no-untyped-call]


def at(listing: dict[str, Any], path: Path) -> dict[str, Any]:
    """The listed session of a file that holds one."""
    found: dict[str, Any] = next(s for s in listing["sessions"] if s["path"] == str(path))
    return found


@pytest.fixture
def traced(workspace: Path) -> Path:
    shutil.copytree(SAMPLES / "traces", workspace / "traces")
    return workspace


async def test_sessions_of_the_workspace(client: Client, traced: Path) -> None:
    await start(client, traced)
    await client.until(lambda: any(not status["indexing"] for status in client.statuses), what="indexed")
    listing = await request(client, "replayLens/sessions", {})
    sessions = {(Path(s["path"]).name, s["id"]): s for s in listing["sessions"]}
    cli = run_cli("sessions", traced, "--format", "json").json()
    assert [(s["kind"], s["uri"], s["id"]) for s in listing["sessions"]] == [
        (s["kind"], s["uri"], s["id"]) for s in cli["sessions"]
    ]
    assert listing["findings"] == cli["findings"]

    def seen(name: str, session_id: str) -> tuple[str, int | None]:
        entry = sessions[(name, session_id)]
        return entry["status"], entry.get("steps")

    assert seen("write_note.ultra.json", "write_note.ultra") == ("stale", 4)
    assert seen("write_note.ultra.jsonl", "write_note.ultra") == ("stale", 6)
    assert seen("translate_cn.flash.json", "translate_cn.flash") == ("error", 4)  # a caller-key mismatch
    assert seen("legacy_search.flash.json", "legacy_search.flash") == ("ok", 2)
    assert seen("audit.db", "sess-alpha") == ("ok", 5)
    bundles = [s for s in listing["sessions"] if s["kind"] == "codex-bundle"]
    assert sorted((Path(s["path"]).name.endswith("-broken"), s["status"]) for s in bundles) == [
        (False, "ok"),
        (True, "error"),  # a missing payload
    ]
    truncated = next(traced.glob("traces/codex-sessions/*-truncated.jsonl"))
    assert at(listing, truncated)["status"] == "error"

    # Counts are kept until a session's file changes.
    clean = next(p for p in traced.glob("traces/codex-sessions/*.jsonl") if p != truncated)
    lines = clean.read_text(encoding="utf-8").splitlines(keepends=True)
    clean.write_text("".join(lines[:3]), encoding="utf-8")
    again = await request(client, "replayLens/sessions", {})
    assert at(again, clean)["steps"] < at(listing, clean)["steps"]


async def test_steps_page_by_page(client: Client, traced: Path) -> None:
    await start(client, traced)
    recording = traced / "recordings" / "write_note.ultra.jsonl"
    page = await request(client, "replayLens/steps", {"uri": recording.as_uri(), "page": 2, "pageSize": 4})
    assert page == run_cli("steps", recording, "--page", "2", "--page-size", "4", "--format", "json").json()
    assert (page["page"], page["pageSize"], page["total"]) == (2, 4, 6)
    assert [(step["index"], step["kind"]) for step in page["steps"]] == [(4, "tool"), (5, "model")]
    assert page["steps"][1]["uri"] == recording.as_uri() and page["steps"][1]["range"]["start"]["line"] == 3

    audit = traced / "traces" / "cato" / "audit.db"
    chosen = await request(
        client, "replayLens/steps", {"uri": audit.as_uri(), "sessionId": "sess-alpha", "pageSize": 2}
    )
    assert (chosen["session"]["id"], chosen["total"], len(chosen["steps"])) == ("sess-alpha", 5, 2)
    assert chosen["facts"]["chain"]["verified"] is True
    with pytest.raises(JsonRpcException, match="holds 3 sessions"):
        await request(client, "replayLens/steps", {"uri": audit.as_uri(), "page": 1, "pageSize": 10})
    with pytest.raises(JsonRpcException, match="'page' must be an integer from 1"):
        await request(client, "replayLens/steps", {"uri": recording.as_uri(), "page": 0, "pageSize": 10})
