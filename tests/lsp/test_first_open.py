"""The first open (issue 17, item 3): the open grace ends when the files the editor restored are open.

An editor restoring its tabs sends their `didOpen`s right after `initialized`.
A big fixture is read from disk only after the open grace, so a restored one is
parsed once, from the editor's text; the grace ends as soon as the server has
handled every message the editor sent with `initialized` (its input drained),
not after a fixed wait. The server logs why it ended; these tests read that
event and the order of what the server publishes, never a duration.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.engine.summary_children import worth_children
from server.lsp.wire import pending
from tests.lsp.rpc import RawServer, frame

KEY = "0" * 64
TURNS = 12
DRAINED = "open grace over: the input is drained, 2 documents open"


def fixture_text(turns: int, content_chars: int, first_key: str = KEY) -> str:
    """A fixture of `turns` keyed turns whose outputs carry `content_chars` characters each."""
    items = [
        {
            "caller": "lead_agent",
            "conversation_hash": f"{index:064x}",
            "input_hash": first_key if index == 0 else f"{index + 1:064x}",
            "output": {"type": "ai", "data": {"content": f"answer {index} " + "x" * content_chars}},
        }
        for index in range(turns)
    ]
    return json.dumps({"scenario": "first-open", "turns": items}, indent=2) + "\n"


@pytest.fixture
def restored(tmp_path: Path) -> dict[str, Path]:
    """A workspace with two big fixtures (read by the open grace's rules) and a small one, without recordings."""
    root = tmp_path / "workspace"
    (root / "fixtures").mkdir(parents=True)
    (root / "replay-lens.toml").write_text('fixtures = ["fixtures/*.json"]\n', encoding="utf-8")
    big = 9 << 20
    paths = {
        "open-big": root / "fixtures" / "a_open_big.json",
        "open-small": root / "fixtures" / "b_open_small.json",
        "closed-big": root / "fixtures" / "c_closed_big.json",
    }
    paths["open-big"].write_text(fixture_text(TURNS, big // TURNS), encoding="utf-8")
    paths["open-small"].write_text(fixture_text(2, 10), encoding="utf-8")
    paths["closed-big"].write_text(fixture_text(TURNS, big // TURNS), encoding="utf-8")
    assert worth_children(paths["open-big"].stat().st_size) and worth_children(paths["closed-big"].stat().st_size)
    return paths


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    raw = await RawServer.start()
    yield raw
    await raw.close()


def did_open(path: Path, text: str) -> bytes:
    document = {"uri": path.as_uri(), "languageId": "json", "version": 1, "text": text}
    return frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}})


def logs(server: RawServer) -> list[str]:
    return [params["message"] for params in server.notifications("window/logMessage")]


def first_index(server: RawServer, found: Any) -> int:
    return next(index for index, message in enumerate(server.received) if found(message))


def published_for(path: Path) -> Any:
    def found(message: dict[str, Any]) -> bool:
        return message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == path.as_uri()

    return found


async def test_two_restored_files_end_the_grace_and_are_parsed_from_the_editor(
    server: RawServer, restored: dict[str, Path]
) -> None:
    root = restored["open-big"].parents[1]
    params = {
        "processId": os.getpid(),
        "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True}}},
    }
    await server.request("initialize", params)
    # The editor restores the big fixture with an unsaved edit (its first key broken) and the small one as
    # it is, their `didOpen`s written with `initialized`, as editors do.
    edited = fixture_text(TURNS, (9 << 20) // TURNS, first_key="not a key")
    await server.send_bytes(
        frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        + did_open(restored["open-big"], edited)
        + did_open(restored["open-small"], restored["open-small"].read_text(encoding="utf-8"))
    )
    for path in restored.values():
        await server.until(lambda path=path: path.as_uri() in server.diagnostics(), what=f"diagnostics of {path.name}")
    await server.until(server.indexed, what="indexing")

    # The grace ended because both restored files were in, not because its time passed...
    endings = [message for message in logs(server) if "open grace over" in message]
    assert len(endings) == 1 and endings[0].endswith(DRAINED), endings
    # ... and only then was the big fixture the editor did not open read from disk.
    grace_over = first_index(
        server, lambda m: m.get("method") == "window/logMessage" and "open grace over" in m["params"]["message"]
    )
    assert grace_over < first_index(server, published_for(restored["closed-big"]))
    first = server.received[first_index(server, published_for(restored["open-big"]))]["params"]
    assert first["version"] == 1  # the editor's text, with its unsaved edit
    assert "malformed-fixture" in [item["code"] for item in first["diagnostics"]]
    closed = server.diagnostics()[restored["closed-big"].as_uri()]
    assert closed and "malformed-fixture" not in [item["code"] for item in closed]


def test_pending_input_is_seen_in_the_pipe_and_in_the_readers_buffer() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "wb", buffering=0) as writer:
        assert not pending(reader)  # empty pipe: drained (and the check did not block)
        writer.write(b"Content-Length: 2\r\n\r\n{}Content-Length: 2\r\n")
        assert pending(reader)  # in the pipe
        assert reader.readline() == b"Content-Length: 2\r\n"
        assert pending(reader)  # the rest is in the reader's buffer, the pipe is empty
        assert reader.readline() == b"\r\n" and reader.read(2) == b"{}" and reader.readline()
        assert not pending(reader)
        assert os.get_blocking(reader.fileno())  # left as it was
        writer.close()
        assert pending(reader)  # the end of input is there to be read: not "drained"


def test_pending_cannot_tell_on_a_file(tmp_path: Path) -> None:
    (tmp_path / "input").write_bytes(b"")
    with (tmp_path / "input").open("rb") as reader:
        assert pending(reader)
    assert pending(io.BytesIO(b""))  # no descriptor at all
