"""Every surface of the language server masks secrets by default, and `revealSecrets` shows them (issue 7, item 5).

Surfaces: hovers (previews and the findings they list), `replayLens.showNormalizedInput`,
code lens titles, the outline, diagnostics (messages and data), the replay report,
the sessions listing and step pages. The session is the one the CLI tests use.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.engine.secrets import MASK
from tests.lsp.helpers import position_of
from tests.lsp.rpc import RawServer
from tests.secret_workspace import HEX_KEY, SECRETS, leaked, rotated_session, secret_session


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    process = await RawServer.start()
    yield process
    assert await process.close() == 0


async def result(server: RawServer, method: str, params: Any) -> Any:
    reply = await server.request(method, params)
    assert "result" in reply, reply
    return reply["result"]


def command(name: str, argument: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "workspace/executeCommand", {"command": name, "arguments": [argument]}


async def surfaces(server: RawServer, fixture: Path, recording: Path, rotated: Path) -> dict[str, str]:
    """What each surface shows, as text (`rotated` is the recording whose replay finds a tool-mismatch)."""
    turn = position_of(fixture.read_text(encoding="utf-8"), '"caller"')
    requests: dict[str, tuple[str, Any]] = {
        "hover on a turn": (
            "textDocument/hover",
            {"textDocument": {"uri": fixture.as_uri()}, "position": {"line": turn.line, "character": turn.character}},
        ),
        "hover on a recorded call": (
            "textDocument/hover",
            {"textDocument": {"uri": recording.as_uri()}, "position": {"line": 0, "character": 3}},
        ),
        "normalized input of a turn": command("replayLens.showNormalizedInput", {"uri": fixture.as_uri(), "turn": 0}),
        "normalized input of a call": command("replayLens.showNormalizedInput", {"uri": recording.as_uri(), "turn": 1}),
        "code lenses": ("textDocument/codeLens", {"textDocument": {"uri": fixture.as_uri()}}),
        "outline": ("textDocument/documentSymbol", {"textDocument": {"uri": recording.as_uri()}}),
        "replay report": command("replayLens.replaySession", {"uri": recording.as_uri()}),
        "replay report of a rotated password": command("replayLens.replaySession", {"uri": rotated.as_uri()}),
        "step page": ("replayLens/steps", {"uri": recording.as_uri()}),
    }
    shown = {name: json.dumps(await result(server, *request), ensure_ascii=False) for name, request in requests.items()}
    rotated_fixture = rotated.parent.parent / "replay" / "rotated.json"
    for path in (fixture, recording, rotated_fixture):
        shown[f"diagnostics of {path.name}"] = json.dumps(server.diagnostics().get(path.as_uri()), ensure_ascii=False)
    return shown


async def test_every_surface_masks_secrets_until_they_are_revealed(server: RawServer, tmp_path: Path) -> None:
    fixture, recording = secret_session(tmp_path)
    rotated_fixture, rotated = rotated_session(tmp_path)
    await server.initialize(tmp_path)
    await surfaces(server, fixture, recording, rotated)  # the replays put their findings on the fixtures
    await server.until(
        lambda: any(item["code"] == "tool-mismatch" for item in server.diagnostics().get(rotated_fixture.as_uri(), [])),
        what="the replay's tool-mismatch",
    )
    masked = await surfaces(server, fixture, recording, rotated)
    for name, text in masked.items():
        assert leaked(text) == [], name
        assert MASK in text, name
    volatile = next(item for item in server.diagnostics()[recording.as_uri()] if item["code"] == "volatile-text")
    assert volatile["message"].startswith(f"a UUID without dashes '{MASK}' survived normalization")
    assert volatile["data"]["text"] == MASK  # the quick fix does not need it, a protocol log would keep it
    stale = [item["message"] for item in server.diagnostics()[fixture.as_uri()] if item["code"] == "stale-key"]
    assert stale and all(message.endswith("(from secrets.jsonl:1)") for message in stale[:1])  # no over-masking

    start = len(server.received)
    await server.notify("workspace/didChangeConfiguration", {"settings": {"replayLens": {"revealSecrets": True}}})
    await server.until(
        lambda: any(
            HEX_KEY in json.dumps(params) for params in server.notifications("textDocument/publishDiagnostics", start)
        ),
        what="diagnostics published again, revealed",
    )
    revealed = await surfaces(server, fixture, recording, rotated)
    for name, text in revealed.items():
        assert leaked(text), name
    assert {secret for text in revealed.values() for secret in leaked(text)} == set(SECRETS)
