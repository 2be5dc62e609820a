"""The server survives bad clients, bad files and load (issue 7, item 2): each case runs the real server process.

Bad input from the client is answered with a JSON-RPC error or ignored, and the
server keeps answering real requests with the right results; faults in the
workspace become findings or are skipped; a storm of file events is coalesced
and ends in exactly the state `python -m server check` reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from server.engine.workspace import load_project_config
from server.lsp.indexing import discover_scopes, list_files
from server.lsp.state import Document, Project, read_disk
from tests.conftest import SAMPLES, run_cli
from tests.lsp.helpers import SERVER_COMMAND, copy_samples
from tests.lsp.rpc import RawServer, frame
from tests.lsp.workspaces import Call, ai, message, write_config, write_session

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
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


async def test_framing_limits_and_bodies_nested_too_deeply(server: RawServer, workspace: Path) -> None:
    """Issue 18: `Content-Length: 99999999999` and a 5,000-digit length killed the server; a body nested 1e5
    deep gave an "Error in server" popup and no answer; a 100 KB URI and a lone surrogate in a URI gave
    internal errors with tracebacks."""
    await server.initialize(workspace)
    fixture = workspace / "replay" / "write_note.ultra.json"
    expected = await outline(server, fixture)

    async def answered(data: bytes) -> list[dict[str, Any]]:
        start = len(server.received)
        await server.send_bytes(data)
        assert await outline(server, fixture) == expected
        return [{"id": error.get("id"), "code": error["error"]["code"]} for error in errors_since(server, start)]

    body = json.dumps({"jsonrpc": "2.0", "id": 77, "method": "shutdown"}).encode()
    assert await answered(b"Content-Length: 99999999999\r\n\r\n" + body) == []
    assert await answered(b"Content-Length: " + b"7" * 5000 + b"\r\n\r\n" + body) == []
    assert not any(message.get("id") == 77 for message in server.received)  # the skipped bodies never ran
    assert b"over the limit of" in server.stderr
    deep = b"[" * 100_000 + b"]" * 100_000
    assert await answered(frame(deep)) == [{"id": None, "code": PARSE_ERROR}]
    deep_object = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    assert await answered(frame(deep_object)) == [{"id": None, "code": PARSE_ERROR}]
    for uri in ("file:///" + "a" * 100_000 + ".json", "file:///tmp/\udfff.json", workspace.as_uri() + "/\udfff.json"):
        for method, params in [
            ("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
            ("textDocument/documentSymbol", {"textDocument": {"uri": uri}}),
            ("replayLens/steps", {"uri": uri}),
            ("workspace/executeCommand", {"command": "replayLens.rehash", "arguments": [{"uri": uri}]}),
        ]:
            identifier, _ = server.request_frame(method)
            message = {"jsonrpc": "2.0", "id": identifier, "method": method, "params": params}
            await server.send_bytes(frame(json.dumps(message).encode("ascii")))  # a surrogate goes escaped
            reply = await server.response(identifier)
            assert reply.get("error", {}).get("code") != -32603, (method, uri[:40], reply)  # no internal error
            assert "Traceback" not in json.dumps(reply)
    assert popups(server) == []


async def test_requests_before_initialize_and_after_shutdown_are_answered(workspace: Path) -> None:
    server = await RawServer.start()
    try:
        early = await server.request("textDocument/documentSymbol", symbols_request(workspace / "replay" / "x.json"))
        assert early["error"]["code"] == -32002  # ServerNotInitialized
        await server.notify("textDocument/didOpen", {})  # a notification before initialize: ignored
        await server.initialize(workspace)
        assert len(await outline(server, workspace / "replay" / "write_note.ultra.json")) == 4
        assert "result" in await server.request("shutdown")
        late = await server.request("textDocument/documentSymbol", symbols_request(workspace / "replay" / "x.json"))
        assert late["error"]["code"] == INVALID_REQUEST
        await server.notify("exit")
        assert await asyncio.wait_for(server.process.wait(), 20) == 0
    finally:
        await server.close()


async def test_the_server_acts_only_inside_its_workspace_folders(
    server: RawServer, workspace: Path, tmp_path: Path
) -> None:
    """Issue 18, item 7: a request naming another project's fixture indexed that project, and `rehash` from a
    client without `applyEdit` rewrote its file on disk. Every such request is now answered "outside the
    workspace"; nothing there is indexed or written, and the same requests inside the workspace still work."""
    elsewhere = copy_samples(tmp_path / "elsewhere")
    fixture = elsewhere / "replay" / "write_note.ultra.json"
    before = fixture.read_bytes()
    await server.initialize(workspace)  # no `workspace.applyEdit`: a rehash would write the file itself
    sneaky = (workspace / ".." / "elsewhere" / "replay" / "write_note.ultra.json").as_uri().replace("%2E", ".")
    for uri in (fixture.as_uri(), sneaky):
        for method, params in document_requests(uri):
            reply = await server.request(method, params, timeout=20)
            if "error" in reply:
                assert reply["error"]["code"] in (INVALID_PARAMS, REQUEST_FAILED), (method, reply)
                assert "outside the workspace" in reply["error"]["message"] or method.startswith("textDocument/")
            else:
                assert reply["result"] in (None, []), (method, reply)
        for name in ("replayLens.rehash", "replayLens.replaySession"):
            reply = await server.request("workspace/executeCommand", {"command": name, "arguments": [{"uri": uri}]})
            assert "outside the workspace" in reply["error"]["message"], reply
        reply = await server.request("replayLens/steps", {"uri": (elsewhere / "recordings").as_uri()})
        assert "outside the workspace" in reply["error"]["message"]
    assert fixture.read_bytes() == before
    assert not any(uri.startswith(elsewhere.as_uri()) for uri in server.diagnostics())  # nothing indexed there
    inside = workspace / "replay" / "write_note.ultra.json"
    rehash = {"command": "replayLens.rehash", "arguments": [inside.as_uri()]}
    reply = await server.request("workspace/executeCommand", rehash)
    assert reply["result"]["applied"] and len(reply["result"]["turns"]) == 3  # inside, it is written
    assert inside.read_bytes() != before


async def test_a_malformed_answer_from_the_client_fails_the_request_that_waited_for_it(
    server: RawServer, workspace: Path
) -> None:
    await server.initialize(workspace, workspace={"applyEdit": True})
    fixture = workspace / "replay" / "write_note.ultra.json"
    server.hold = True  # the rehash command waits for the client to apply its edit
    rehash = await server.send_request(
        "workspace/executeCommand", command("replayLens.rehash", {"uri": fixture.as_uri()})[1]
    )
    (edit,) = await server.until(lambda: server.held, what="the applyEdit request")
    assert edit["method"] == "workspace/applyEdit"
    await server.send_bytes(frame({"jsonrpc": "2.0", "id": edit["id"], "result": "not an object"}))
    reply = await server.response(rehash)
    assert reply["error"]["code"] == INVALID_PARAMS, reply  # not a request waiting forever
    server.hold = False
    assert len(await outline(server, fixture)) == 4


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


async def test_indexing_does_not_wait_for_the_client_to_accept_its_progress(server: RawServer, workspace: Path) -> None:
    server.hold = True  # the client leaves the progress token unanswered (it is busy sending a big didOpen)
    await server.initialize(workspace, wait=False, window={"workDoneProgress": True})
    await server.until(server.indexed, what="indexing, while the progress request is held")
    (create,) = [message for message in server.held if message["method"] == "window/workDoneProgress/create"]
    fixture = workspace / "replay" / "write_note.ultra.json"
    assert str(fixture) in published(server)
    assert server.notifications("$/progress") == []  # nothing is reported on a token not yet accepted
    await server.release()
    await server.until(lambda: len(server.notifications("$/progress")) == 2, what="progress begin and end")
    begin, end = server.notifications("$/progress")
    assert begin["token"] == end["token"] == create["params"]["token"]
    assert begin["value"]["kind"] == "begin" and begin["value"]["percentage"] == 90
    assert end["value"] == {"kind": "end", "message": "3 fixtures, 3 recordings"}


def slow_fixture(path: Path) -> None:
    """A fixture beside the samples that takes about half a second to parse (20,000 copies of a sample turn)."""
    sample = path.parent / "write_note.ultra.json"
    turns = json.loads(sample.read_text(encoding="utf-8"))["turns"][1:2] * 20_000
    path.write_text(json.dumps({"turns": turns}, indent=2, ensure_ascii=False), encoding="utf-8")


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
    slow_fixture(workspace / "replay" / "b_big.json")  # indexing takes a while: the requests below wait for it
    await server.initialize(workspace, wait=False, window={"workDoneProgress": True})
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
    answer = await server.response(patient)  # a command sent while indexing is answered once the file is known
    assert answer.get("result", {}).get("text", "").startswith("[\n  {"), answer
    replies = [await server.response(identifier) for identifier in sent]
    for reply in replies:  # a cancelled request is still answered, once
        assert "result" in reply or reply["error"]["code"] == REQUEST_CANCELLED, reply
        assert sum(message.get("id") == reply["id"] and "method" not in message for message in server.received) == 1
    cancelled = [reply["id"] for reply in replies if "error" in reply]
    print(f"cancel storm: {len(replies)} requests, {len(cancelled)} cancelled in flight")
    assert cancelled, "no request was cancelled in flight: the storm tested nothing"

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


def unlistable_folder(parent: Path) -> Path:
    """A folder nobody can list, root included: its path is longer than PATH_MAX (built through dir fds)."""
    parent.mkdir()
    descriptor = os.open(parent, os.O_RDONLY)
    try:
        for _ in range(18):
            os.mkdir("d" * 250, dir_fd=descriptor)
            inner = os.open("d" * 250, os.O_RDONLY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        created = os.open("deep.json", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(created, b'{"turns": [{"input_hash": "not a hash"}]}')
        os.close(created)
    finally:
        os.close(descriptor)
    return parent


async def test_faults_in_the_workspace(server: RawServer, workspace: Path) -> None:
    replay = workspace / "replay"
    (replay / "dangling.json").symlink_to(replay / "nowhere.json")
    (replay / "again").symlink_to(workspace)  # a folder symlink loop
    unlistable_folder(workspace / "deep")
    os.mkfifo(replay / "pipe.json")  # would block its reader until a writer comes
    (replay / "zero.json").symlink_to("/dev/zero")  # would never end
    expected = findings_by_path(run_cli("check", "--format", "json", workspace, cwd=workspace).json())
    errors = {Path(path).name: items for path, items in expected.items() if items[0][0] == "read-error"}
    assert sorted(errors) == sorted(["d" * 250, "dangling.json", "pipe.json", "zero.json"])
    assert errors["pipe.json"][0][2] == "cannot read: not a regular file (a pipe, socket or device is never read)"
    await server.initialize(workspace)
    await server.until(lambda: published(server) == expected, what="the faults as read errors")
    fixture = replay / "write_note.ultra.json"
    assert len(await outline(server, fixture)) == 4
    assert server.rss_kib() < 512 * 1024
    fixture.write_bytes(fixture.read_bytes()[:100])  # the server's own watcher still sees the workspace
    await server.until(lambda: "invalid-json" in {code for code, _, _ in published(server).get(str(fixture), [])})
    assert popups(server) == []


async def test_fixtures_truncated_and_deleted_while_they_are_read(tmp_path: Path) -> None:
    """A file deleted and one truncated while indexing parses them: each read is older than the event that
    comes while it runs, and is dropped (the server's log says so); the files are shown as they are now.

    Each big fixture is read in a batch of its own, in walk order; the test changes each once the server
    process has read its bytes (its read counter, /proc/PID/io, has grown by them) and reports the change
    while the parse (half a second) still runs. Should the read end before the event all the same, the race
    did not happen: the attempt is made again (the end state is checked every time)."""
    for attempt in range(3):
        if await _race_indexing(copy_samples(tmp_path / f"attempt-{attempt}")):
            return
    pytest.fail("in 3 attempts the events never came while the files were read")


async def _race_indexing(workspace: Path) -> bool:
    """Whether both reads were dropped as older than their events; asserts the end state."""
    deleted, big = workspace / "replay" / "a_deleted.json", workspace / "replay" / "b_big.json"  # read in order
    slow_fixture(deleted)
    slow_fixture(big)
    sizes = deleted.stat().st_size, big.stat().st_size
    server = await RawServer.start()
    try:
        uri = workspace.as_uri()
        await server.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": workspace.name}],
                "capabilities": {"window": {"workDoneProgress": True}},
                "initializationOptions": {"debounceMs": 20, "watchFiles": False},
            },
        )
        before = bytes_read(server.pid)  # started: what it reads from now on is mostly the two big files
        await server.notify("initialized", {})
        await until_read(server, before + sizes[0])
        deleted.unlink()
        await server.notify(
            "workspace/didChangeWatchedFiles", {"changes": [{"uri": deleted.as_uri(), "type": DELETED}]}
        )
        await until_read(server, before + sizes[0] + sizes[1])
        with big.open("r+b") as cut:
            cut.truncate(2000)
        await server.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": big.as_uri(), "type": CHANGED}]})
        expected = findings_by_path(run_cli("check", "--format", "json", workspace, cwd=workspace).json())
        assert "invalid-json" in {code for code, _, _ in expected[str(big)]} and str(deleted) not in expected
        await server.until(lambda: published(server) == expected and server.indexed(), what="the files as they are")
        await server.until(lambda: logged(server, f"indexed {workspace}: "), what="the log of the whole indexing")
        dropped = logged(server, "dropped the read of ")
    finally:
        assert await server.close() == 0, server.stderr[-3000:].decode("utf-8", "replace")
    return all(f"dropped the read of {path}: it changed during the read" in dropped for path in (deleted, big))


def bytes_read(pid: int) -> int:
    """The bytes process `pid` has read so far (`rchar` of /proc/PID/io)."""
    for line in Path(f"/proc/{pid}/io").read_text(encoding="ascii").splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc")


async def until_read(server: RawServer, total: int, timeout: float = 60) -> None:
    """Poll (with a deadline) until the server process has read `total` bytes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while bytes_read(server.pid) < total:
        assert loop.time() < deadline, f"the server read {bytes_read(server.pid)} of {total} bytes"
        await asyncio.sleep(0.002)


def logged(server: RawServer, start: str) -> list[str]:
    """The messages of the server's log (its stderr, written as they happen) that start with `start`."""
    messages = [line.split(": ", 1)[-1] for line in server.stderr.decode("utf-8", "replace").splitlines()]
    return [message for message in messages if message.startswith(start)]


@pytest.mark.parametrize("fault", ["truncated", "deleted"])
def test_a_fixture_changed_between_two_reads_of_it(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """The server reads a file in chunks: a truncation between two of them leaves a prefix, which parses to findings."""
    fixture = workspace / "replay" / "write_note.ultra.json"
    fixture.write_bytes(fixture.read_bytes() * 300)  # several chunks (and not JSON: the findings say so)
    whole = fixture.read_bytes()
    first_read = os.read

    def read(descriptor: int, size: int) -> bytes:
        chunk = first_read(descriptor, size)
        monkeypatch.setattr(os, "read", first_read)
        if fault == "truncated":
            os.truncate(fixture, len(chunk) + 10)
        else:
            fixture.unlink()
        return chunk

    config = load_project_config(workspace)  # read before the fault: only the fixture's reads are disturbed
    monkeypatch.setattr(os, "read", read)
    document = read_disk(fixture, config, None)
    assert isinstance(document, Document)
    assert document.source.text.encode("utf-8") == (whole[: (1 << 20) + 10] if fault == "truncated" else whole)
    assert any(finding.code.name == "invalid-json" for finding in document.parsed.problems)


async def test_a_file_symlink_loop(server: RawServer, workspace: Path) -> None:
    replay = workspace / "replay"
    (replay / "loop_a.json").symlink_to(replay / "loop_b.json")
    (replay / "loop_b.json").symlink_to(replay / "loop_a.json")
    expected = findings_by_path(run_cli("check", "--format", "json", workspace, cwd=workspace).json())
    errors = sorted(Path(path).name for path, items in expected.items() if items[0][0] == "read-error")
    assert errors == ["loop_a.json", "loop_b.json"]  # what the server must show too
    await server.initialize(workspace)
    await server.until(lambda: published(server) == expected, what="the loop as read errors")


def test_a_folder_without_read_permission(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root reads every folder, so the refusal is injected into the listing the server's indexing uses."""
    locked = workspace / "replay" / "locked"
    locked.mkdir()
    shutil.copy(workspace / "replay" / "write_note.ultra.json", locked)
    listable = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return listable(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert [scope.root for scope in discover_scopes(workspace, {})] == [workspace]
    project = Project(workspace, load_project_config(workspace), lambda project, analysis: None)
    listing, unlistable = list_files([project])
    assert [(item.path, item.finding().message) for item in unlistable] == [(locked, "cannot read: Permission denied")]
    assert sorted(path.relative_to(workspace).as_posix() for path in listing[project]) == [
        "recordings/legacy_search.flash.jsonl",
        "recordings/translate_cn.flash.jsonl",
        "recordings/write_note.ultra.jsonl",
        "replay/legacy_search.flash.json",
        "replay/translate_cn.flash.json",
        "replay/write_note.ultra.json",
    ]


async def test_a_database_locked_by_a_writer_while_sessions_are_listed(server: RawServer, workspace: Path) -> None:
    shutil.copytree(SAMPLES / "traces", workspace / "traces")
    audit = workspace / "traces" / "cato" / "audit.db"
    await server.initialize(workspace)
    free = (await server.request("replayLens/sessions", {}))["result"]
    writer = sqlite3.connect(audit, timeout=0.1)
    writer.execute("BEGIN EXCLUSIVE")  # a producer in the middle of a write
    try:
        began = asyncio.get_running_loop().time()
        locked = (await server.request("replayLens/sessions", {}, timeout=10))["result"]
        assert asyncio.get_running_loop().time() - began < 5  # reported, not waited on
        page = (await server.request("replayLens/steps", {"uri": audit.as_uri(), "sessionId": "sess-alpha"}))["result"]
    finally:
        writer.rollback()
        writer.close()
    others = [entry for entry in free["sessions"] if entry["path"] != str(audit)]
    assert [entry for entry in locked["sessions"] if entry["path"] != str(audit)] == others
    assert any("locked" in finding["message"] for finding in locked["findings"])
    assert [step["kind"] for step in page["steps"]] == ["opaque"] and "locked" in page["steps"][0]["problem"]
    assert (await server.request("replayLens/sessions", {}))["result"] == free  # once the writer is done
    assert popups(server) == []


async def test_sessions_listed_beside_a_fifo(workspace: Path) -> None:
    pipe = workspace / "replay" / "pipe.json"
    os.mkfifo(pipe)
    server = await RawServer.start()
    try:
        await server.initialize(workspace)
        listing = await server.request("replayLens/sessions", {}, timeout=5)
        assert len(listing["result"]["sessions"]) == 6
    finally:
        with contextlib.suppress(OSError):  # a reader stuck in open() is let through, so the process can exit
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        await server.close()


async def test_a_catastrophic_rule_is_a_config_error_and_the_server_answers(server: RawServer, workspace: Path) -> None:
    config = workspace / "replay-lens.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[[rules]]\nname = "slow"\npattern = "(a|aa)+$"\n')
    began = asyncio.get_running_loop().time()
    await server.initialize(workspace)
    assert len(await outline(server, workspace / "replay" / "write_note.ultra.json")) == 4
    assert asyncio.get_running_loop().time() - began < 10  # the probe has a budget; the folder is checked anyway
    problems = server.diagnostics()[config.as_uri()]
    assert [item["code"] for item in problems] == ["config-error"]
    assert "rules[0].pattern: pattern takes over" in problems[0]["message"]


async def test_a_rule_that_backtracks_on_real_text_is_a_finding_and_the_server_answers(
    server: RawServer, workspace: Path
) -> None:
    """Issue 18: a rule that passed the load-time probe froze the whole server on real text (no request
    answered, indexing never ended). It is stopped at its budget: a `rule-timeout` on that call."""
    config = workspace / "replay-lens.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[[rules]]\nname = "slow"\npattern = "x(a|aa)+y"\n')
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    lines = recording.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    record["input"].append({"type": "human", "data": {"content": "x" + "a" * 64, "additional_kwargs": {}}})
    recording.write_text("\n".join([*lines, json.dumps(record)]) + "\n", encoding="utf-8")
    await server.initialize(workspace)
    assert len(await outline(server, workspace / "replay" / "write_note.ultra.json")) == 4
    problems = await server.until(
        lambda: [d for d in server.diagnostics().get(recording.as_uri(), []) if d["code"] == "rule-timeout"],
        what="the rule-timeout diagnostic",
    )
    assert "rule 'slow'" in problems[0]["message"] and problems[0]["range"]["start"]["line"] == len(lines)


async def test_a_replacement_naming_a_missing_group_is_a_config_error_in_the_server(
    server: RawServer, workspace: Path
) -> None:
    """Issue 18: a `\\1` with no group failed the folder's indexing silently; it is the config's diagnostic."""
    config = workspace / "replay-lens.toml"
    rule = '\n[[rules]]\nname = "ids"\npattern = "req_[a-z]+"\nreplacement = "\\\\1"\n'
    config.write_text(config.read_text(encoding="utf-8") + rule)
    await server.initialize(workspace)
    assert len(await outline(server, workspace / "replay" / "write_note.ultra.json")) == 4
    problems = server.diagnostics()[config.as_uri()]
    assert [item["code"] for item in problems] == ["config-error"]
    assert "rules[0].replacement: invalid replacement" in problems[0]["message"]


# -- a `git checkout` of a large branch -------------------------------------------------------------------------------
SESSIONS = 1000
STORM_EVENTS = 10_000
CREATED, CHANGED, DELETED = 1, 2, 3
RULE_ADDED = 'preset = "deerflow"\n\n[[rules]]\nname = "squares"\npattern = "squared"\nreplacement = "²"\n'


def squares(index: int, recorded_with: str = "deerflow") -> list[Call]:
    question = [message("human", f"question {index}: what is {index} squared?")]
    return [
        Call("lead_agent", question, ai(f"{index * index}", message_id=f"run-{index}-0"), recorded_with),
        Call(
            "middleware:title",
            [*question, ai(f"{index * index}")],
            ai(f"Squares {index}", message_id=f"run-{index}-1"),
            recorded_with,
        ),
    ]


def session_files(root: Path, name: str) -> tuple[Path, Path]:
    return root / "replay" / f"{name}.json", root / "recordings" / f"{name}.jsonl"


Change = tuple[Path, bytes | None]
"""A file of the checkout and its new bytes (None: deleted)."""


def branch(root: Path, scratch: Path) -> list[list[Change]]:
    """The changes that turn `root` into branch B, in ten parts (built in `scratch` ahead of time).

    A fifth of the sessions is deleted (and as many new ones created), a fifth
    re-recorded under other rules (stale keys), a fifth of the fixtures cut short
    (invalid JSON), a fifth rewritten with the same bytes, a fifth left alone.
    Halfway, the config gains a rule: every key changes, and the server indexes
    the folder again while the rest of the checkout arrives.
    """

    def written(paths: tuple[Path, Path]) -> list[Change]:
        return [(root / path.relative_to(scratch), path.read_bytes()) for path in paths]

    parts: list[list[Change]] = []
    for part in range(10):
        changes: list[Change] = []
        for index in range(part * SESSIONS // 10, (part + 1) * SESSIONS // 10):
            name = f"s{index:04d}"
            fixture, recording = session_files(root, name)
            kind = index % 5
            if kind == 0:
                changes += [(fixture, None), (recording, None)]
                changes += written(write_session(scratch, f"n{index:04d}", squares(index + SESSIONS)))
            elif kind == 1:
                changes += written(write_session(scratch, name, squares(index, recorded_with="none")))
            elif kind == 2:
                changes.append((fixture, fixture.read_bytes()[:-40]))
            elif kind == 3:
                changes += [(fixture, fixture.read_bytes()), (recording, recording.read_bytes())]
        if part == 4:
            changes.append((root / "replay-lens.toml", RULE_ADDED.encode()))
        parts.append(changes)
    return parts


def apply(changes: list[Change]) -> list[tuple[Path, int]]:
    """Write the changes to disk; the file events a client reports for them (twice each, as editors do)."""
    events: list[tuple[Path, int]] = []
    for path, data in changes:
        if data is None:
            path.unlink()
            events += [(path, DELETED)] * 2
        else:
            kind = CHANGED if path.exists() else CREATED
            path.write_bytes(data)
            events += [(path, kind), (path, CHANGED)]
    return events


def findings_by_path(report: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    found: dict[str, list[tuple[str, str, str]]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["path"], []).append(
            (finding["code"], json.dumps(finding["range"], sort_keys=True), finding["message"])
        )
    return {path: sorted(items) for path, items in found.items()}


def published(server: RawServer) -> dict[str, list[tuple[str, str, str]]]:
    """The server's last diagnostics of every file that has some, like `findings_by_path`."""
    return {
        unquote(urlparse(uri).path): sorted(
            (item["code"], json.dumps(item["range"], sort_keys=True), item["message"]) for item in items
        )
        for uri, items in server.diagnostics().items()
        if items
    }


async def test_a_storm_of_file_events_is_coalesced_and_ends_in_the_final_state(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    write_config(root)
    for index in range(SESSIONS):
        write_session(root, f"s{index:04d}", squares(index))
    server = await RawServer.start(command=[*SERVER_COMMAND[:-1], "info"])  # debug logs of 10,000 events: not needed
    try:
        await server.initialize(root)
        baseline = server.rss_kib()
        samples = [baseline]
        start = len(server.received)

        async def sample_memory() -> None:
            while True:
                samples.append(server.rss_kib())
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample_memory())
        # 10,000 events in one second: 100 notifications of 100 events, the checkout written to disk in 10 parts;
        # the client does not report the last part (only the server's own watcher sees it).
        noise = [(root / "src" / f"module_{n}.py", CREATED) for n in range(STORM_EVENTS)]
        noise += [(root / "node_modules" / f"lib{n}" / "package.json", CHANGED) for n in range(STORM_EVENTS)]
        parts = branch(root, tmp_path / "branch")
        loop = asyncio.get_running_loop()
        began = loop.time()
        sent = 0
        for number, changes in enumerate(parts):
            reported = apply(changes)
            events = reported if number < len(parts) - 1 else []
            events += noise[: STORM_EVENTS // 10 - len(events)]
            noise = noise[STORM_EVENTS // 10 :]
            assert len(events) == STORM_EVENTS // 10
            for chunk in range(0, len(events), 100):
                batch = [{"uri": path.as_uri(), "type": kind} for path, kind in events[chunk : chunk + 100]]
                await server.notify("workspace/didChangeWatchedFiles", {"changes": batch})
                sent += len(batch)
                await asyncio.sleep(max(0.0, began + sent / STORM_EVENTS - loop.time()))
        storm_seconds = loop.time() - began
        expected = findings_by_path(run_cli("check", "--format", "json", root, cwd=root).json())
        assert expected, "the checkout leaves findings to show"
        await server.until(lambda: published(server) == expected, timeout=60, what="the final state")
        settled = loop.time() - began
        await asyncio.sleep(1.0)  # nothing flips back afterwards
        assert published(server) == expected
        sampler.cancel()
    finally:
        assert await server.close() == 0
    checks = len(server.notifications("replayLens/status", start))
    publishes = len(server.notifications("textDocument/publishDiagnostics", start))
    peak = max(samples)
    print(
        f"event storm: {sent} events in {storm_seconds:.2f} s; final state after {settled:.1f} s; "
        f"{checks} checks, {publishes} publishes; RSS {baseline // 1024} MiB before, peak {peak // 1024} MiB"
    )
    assert sent == STORM_EVENTS  # the pace is printed, never asserted: a busy machine sends slower
    assert checks <= 30  # coalesced: a handful of checks for 10,000 events
    assert peak - baseline < 64 * 1024
