"""The server survives bad clients, bad files and load (issue 7, item 2): each case runs the real server process.

Bad input from the client is answered with a JSON-RPC error or ignored, and the
server keeps answering real requests with the right results; faults in the
workspace become findings or are skipped; a storm of file events is coalesced
and ends in exactly the state `python -m server check` reports.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.lsp.helpers import copy_samples
from tests.lsp.rpc import RawServer, frame

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
REQUEST_CANCELLED, REQUEST_FAILED = -32800, -32803


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_samples(tmp_path / "workspace")


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    """A server process that must still exit cleanly (status 0) after the test."""
    process = await RawServer.start()
    yield process
    assert await process.close() == 0, process.stderr[-3000:].decode("utf-8", "replace")


def symbols_request(path: Path) -> dict[str, Any]:
    return {"textDocument": {"uri": path.as_uri()}}


async def outline(server: RawServer, path: Path, timeout: float = 20) -> Any:
    """The outline of `path`: a real request whose answer depends on the server's parse of the file."""
    reply = await server.request("textDocument/documentSymbol", symbols_request(path), timeout)
    assert "result" in reply, reply
    return reply["result"]


def errors_since(server: RawServer, start: int) -> list[dict[str, Any]]:
    return [message for message in server.received[start:] if "error" in message]


def popups(server: RawServer) -> list[Any]:
    return server.notifications("window/showMessage")


async def test_malformed_json_rpc_is_answered_or_ignored(server: RawServer, workspace: Path) -> None:
    await server.initialize(workspace)
    fixture = workspace / "replay" / "write_note.ultra.json"
    expected = await outline(server, fixture)
    assert [symbol["name"] for symbol in expected][:2] == ["turn 0 · lead_agent", "turn 1 · middleware:title"]

    async def answered(data: bytes) -> list[dict[str, Any]]:
        """Send `data`, check the server still serves, and return the errors it answered with."""
        start = len(server.received)
        await server.send_bytes(data)
        assert await outline(server, fixture) == expected
        return [{"id": error.get("id"), "code": error["error"]["code"]} for error in errors_since(server, start)]

    # Broken framing: skipped, and the next frame is read again.
    assert await answered(b'Content-Length: abc\r\n\r\n{"jsonrpc": "2.0"}') == []
    assert await answered(b"this is not a header\r\n\r\n") == []
    cut_shutdown = json.dumps({"jsonrpc": "2.0", "id": 99, "method": "shutdown"}).encode()
    assert await answered(b"Content-Length: 10\r\n\r\n" + cut_shutdown) == [{"id": None, "code": PARSE_ERROR}]
    # A length beyond the body swallows the start of the next frame: that one is lost, the one after is answered.
    start = len(server.received)
    await server.send_bytes(b'Content-Length: 60\r\n\r\n{"jsonrpc": "2.0"}')
    lost = await server.send_request("textDocument/documentSymbol", symbols_request(fixture))
    assert await outline(server, fixture) == expected
    assert not any(message.get("id") == lost for message in server.received[start:])
    assert [error["id"] for error in errors_since(server, start)] == [None]
    # Bodies that are not JSON, or not a JSON-RPC message.
    assert await answered(frame(b'{"jsonrpc": "2.0", "id": 7, "method": ')) == [{"id": None, "code": PARSE_ERROR}]
    assert await answered(frame(b"\xff\xfe{}")) == [{"id": None, "code": PARSE_ERROR}]
    for body in (b"[1, 2]", b'"text"', b"{}"):
        assert await answered(frame(body)) == [{"id": None, "code": INVALID_REQUEST}]
    # Unknown methods.
    unknown = frame({"jsonrpc": "2.0", "id": 1001, "method": "foo/bar", "params": {}})
    assert await answered(unknown) == [{"id": 1001, "code": METHOD_NOT_FOUND}]
    assert await answered(frame({"jsonrpc": "2.0", "method": "foo/baz", "params": {}})) == []
    # Wrong params: a request gets InvalidParams with its id, a notification is ignored.
    bad_hover = frame({"jsonrpc": "2.0", "id": 1002, "method": "textDocument/hover", "params": {"textDocument": 5}})
    assert await answered(bad_hover) == [{"id": 1002, "code": INVALID_PARAMS}]
    no_params = frame({"jsonrpc": "2.0", "id": 1003, "method": "textDocument/hover"})
    assert await answered(no_params) == [{"id": 1003, "code": INVALID_PARAMS}]
    assert await answered(frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {}})) == []
    never_opened = {"uri": (workspace / "nope.json").as_uri(), "version": 2}
    change = {"textDocument": never_opened, "contentChanges": [{"text": "{}"}]}
    assert await answered(frame({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": change})) == []
    assert await answered(frame({"jsonrpc": "2.0", "id": 123456, "result": None})) == []  # answers nothing we asked
    command = {"command": "replayLens.rehash", "arguments": [{"uri": 5}]}
    bad_command = frame({"jsonrpc": "2.0", "id": 1004, "method": "workspace/executeCommand", "params": command})
    assert await answered(bad_command) == [{"id": 1004, "code": INVALID_PARAMS}]
    assert popups(server) == []  # no "Error in server" in the user's face


@pytest.mark.parametrize("folder", ["with space", "東京 fixtures"])
async def test_open_documents_in_folders_whose_uri_is_escaped(server: RawServer, tmp_path: Path, folder: str) -> None:
    """pygls keys open documents by unescaped URI: the editor's buffer must still win over the disk."""
    workspace = copy_samples(tmp_path / folder)
    await server.initialize(workspace)
    uri = (workspace / "replay" / "write_note.ultra.json").as_uri()
    assert "%" in uri
    opened = {"uri": uri, "languageId": "json", "version": 1, "text": '{"turns": [{"input_hash": '}
    await server.notify("textDocument/didOpen", {"textDocument": opened})
    await server.until(
        lambda: [item["code"] for item in server.diagnostics().get(uri, [])] == ["invalid-json"],
        what="the buffer's own diagnostics",
    )


def command(name: str, argument: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "workspace/executeCommand", {"command": name, "arguments": [argument]}


def document_requests(uri: str) -> list[tuple[str, dict[str, Any]]]:
    """Every request a client makes about one document."""
    document = {"uri": uri}
    position = {"line": 0, "character": 1}
    whole = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}
    return [
        ("textDocument/hover", {"textDocument": document, "position": position}),
        ("textDocument/codeLens", {"textDocument": document}),
        ("textDocument/documentSymbol", {"textDocument": document}),
        ("textDocument/definition", {"textDocument": document, "position": position}),
        (
            "textDocument/references",
            {"textDocument": document, "position": position, "context": {"includeDeclaration": True}},
        ),
        ("textDocument/codeAction", {"textDocument": document, "range": whole, "context": {"diagnostics": []}}),
        ("workspace/executeCommand", {"command": "replayLens.rehash", "arguments": [{"uri": uri}]}),
        (
            "workspace/executeCommand",
            {"command": "replayLens.showNormalizedInput", "arguments": [{"uri": uri, "turn": 0}]},
        ),
        ("workspace/executeCommand", {"command": "replayLens.replaySession", "arguments": [{"uri": uri}]}),
        ("replayLens/steps", {"uri": uri}),
    ]


async def test_requests_for_unknown_documents(server: RawServer, workspace: Path, tmp_path: Path) -> None:
    elsewhere = copy_samples(tmp_path / "elsewhere")  # a project with a config, outside the workspace
    await server.initialize(workspace)
    unknown = [
        (workspace / "replay" / "missing.json").as_uri(),  # never opened, not on disk
        (elsewhere / "replay" / "missing.json").as_uri(),
        "untitled:Untitled-1",
        workspace.as_uri(),  # a folder
        (workspace / "replay-lens.toml").as_uri(),  # a file, but neither a fixture nor a session
        "file:///dev/null",
    ]
    for uri in unknown:
        for method, params in document_requests(uri):
            reply = await server.request(method, params, timeout=10)
            if "error" in reply:
                assert reply["error"]["code"] in (INVALID_PARAMS, REQUEST_FAILED), (uri, method, reply)
            else:
                assert reply["result"] in (None, []), (uri, method, reply)
    fixture = workspace / "replay" / "write_note.ultra.json"
    assert len(await outline(server, fixture)) == 4
    assert not any(uri.startswith(elsewhere.as_uri()) for uri in server.diagnostics())  # nothing indexed there
    assert popups(server) == []


async def test_a_client_that_cancels_every_request(server: RawServer, workspace: Path) -> None:
    fixture = workspace / "replay" / "write_note.ultra.json"
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    requests = [
        *document_requests(fixture.as_uri())[:6],
        *document_requests(recording.as_uri())[:6],
        command("replayLens.showNormalizedInput", {"uri": fixture.as_uri(), "turn": 0}),
        command("replayLens.replaySession", {"uri": recording.as_uri()}),
        ("replayLens/sessions", {}),
        ("replayLens/steps", {"uri": recording.as_uri()}),  # reads the file itself: may finish before its cancel
    ]
    # Indexing waits for the client to accept its progress token: held, every request below waits for it.
    server.hold = True
    await server.initialize(workspace, wait=False, window={"workDoneProgress": True})
    await server.until(lambda: server.held, what="the progress request")
    sent = []
    for _ in range(10):  # each round: every request in one write, then a cancel for each in the next
        batch = [server.request_frame(method, params) for method, params in requests]
        await server.send_bytes(b"".join(data for _, data in batch))
        cancels = [{"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": i}} for i, _ in batch]
        await server.send_bytes(b"".join(map(frame, cancels)))
        sent += [identifier for identifier, _ in batch]
    patient = await server.send_request(
        *command("replayLens.showNormalizedInput", {"uri": fixture.as_uri(), "turn": 1})
    )
    await server.release()
    answer = await server.response(patient)  # a command sent while indexing is answered once the file is known
    assert answer.get("result", {}).get("text", "").startswith("[\n  {"), answer
    replies = [await server.response(identifier) for identifier in sent]
    for reply in replies:  # a cancelled request is still answered, once
        assert "result" in reply or reply["error"]["code"] == REQUEST_CANCELLED, reply
        assert sum(message.get("id") == reply["id"] and "method" not in message for message in server.received) == 1
    cancelled = [reply["id"] for reply in replies if "error" in reply]
    print(f"cancel storm: {len(replies)} requests, {len(cancelled)} cancelled in flight")
    waiting = [i for k, i in enumerate(sent) if requests[k % len(requests)][0] != "replayLens/steps"]
    assert set(waiting) <= set(cancelled)  # everything that waited for the indexing was cancelled in flight

    await server.until(server.indexed, what="indexing")
    after = [await server.request(method, params) for method, params in requests]
    fresh = await RawServer.start()  # a server that never saw a cancellation answers the same
    try:
        await fresh.initialize(workspace)
        expected = [await fresh.request(method, params) for method, params in requests]
    finally:
        assert await fresh.close() == 0
    assert all("result" in reply for reply in expected), expected
    assert [reply["result"] for reply in after] == [reply["result"] for reply in expected]
    assert popups(server) == []
