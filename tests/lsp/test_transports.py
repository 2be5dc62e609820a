"""`--ws` and `--tcp` against a web page, a second client and a client that leaves (issue 18, item 2).

A real server process, real sockets, a real WebSocket client (`websockets`): a
page's origin is refused and a local tool's accepted; with a token, only a
handshake that carries it is; one client is served at a time, each by a server
of its own, so answers never reach another client, and a client that leaves
(politely or not) ends only its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from tests.lsp.helpers import SERVER_ENV, copy_samples
from tests.lsp.test_main import frame

TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def listening(transport: str, env: dict[str, str] | None = None) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", f"--{transport}", "--port", str(port)],
        env={**SERVER_ENV, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert process.poll() is None and time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.05)
        yield port, process
    finally:
        process.kill()
        process.wait(timeout=10)


def stderr_of(process: subprocess.Popen[bytes]) -> str:
    assert process.stderr is not None
    return process.stderr.read().decode(errors="replace")


def initialize(identifier: int, root: Path) -> dict[str, Any]:
    params = {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}
    return {"jsonrpc": "2.0", "id": identifier, "method": "initialize", "params": params}


def opening(root: Path) -> bytes:
    """`initialize` (id 1) and `initialized` on `root`, framed."""
    return frame(initialize(1, root)) + frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})


def sessions_request(identifier: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": identifier, "method": "replayLens/sessions", "params": {}}


async def ws_answer(connection: ClientConnection, identifier: int) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
        if message.get("id") == identifier and "method" not in message:
            return dict(message)


async def ws_session(connection: ClientConnection, root: Path) -> dict[str, Any]:
    """initialize + initialized on `root`, then the sessions the server lists (once indexed)."""
    await connection.send(json.dumps(initialize(1, root)))
    assert (await ws_answer(connection, 1))["result"]["serverInfo"]["name"] == "replay-lens"
    await connection.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    await connection.send(json.dumps(sessions_request(2)))
    return await ws_answer(connection, 2)


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),
        ("vscode-webview://1b2c3d4e", True),
        ("vscode-file://vscode-app", True),
        ("http://127.0.0.1:5173", True),
        ("http://localhost:3000", True),
        ("https://attacker.example", False),
        ("http://127.0.0.1.attacker.example", False),
        ("null", False),
        ("http://localhost:3000.attacker.example", False),
    ],
)
def test_ws_accepts_no_origin_or_a_local_tools_and_refuses_a_web_page(
    tmp_path: Path, origin: str | None, accepted: bool
) -> None:
    workspace = copy_samples(tmp_path / "workspace")

    async def attempt(port: int) -> dict[str, Any] | int:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}", origin=origin) as connection:  # type: ignore[arg-type]
                return await ws_session(connection, workspace)
        except InvalidStatus as refused:
            return refused.response.status_code

    with listening("ws") as (port, process):
        outcome = asyncio.run(attempt(port))
        if accepted:
            assert isinstance(outcome, dict) and "result" in outcome
        else:
            assert outcome == 403
            process.kill()
            assert "not a local tool's" in stderr_of(process)


def test_ws_with_a_token_requires_it_in_the_url_or_a_header(tmp_path: Path) -> None:
    workspace = copy_samples(tmp_path / "workspace")

    async def attempt(port: int, path: str = "", headers: dict[str, str] | None = None) -> int:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/{path}", additional_headers=headers) as connection:
                await ws_session(connection, workspace)
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    with listening("ws", {"REPLAY_LENS_TOKEN": "s3cret-token"}) as (port, _):
        assert asyncio.run(attempt(port)) == 401
        assert asyncio.run(attempt(port, "?token=wrong")) == 401
        assert asyncio.run(attempt(port, headers={"Authorization": "Bearer wrong"})) == 401
        assert asyncio.run(attempt(port, "?token=s3cret-token")) == 101
        assert asyncio.run(attempt(port, headers={"Authorization": "Bearer s3cret-token"})) == 101


def test_ws_serves_one_client_at_a_time_and_survives_its_leaving(tmp_path: Path) -> None:
    first, second = copy_samples(tmp_path / "first"), copy_samples(tmp_path / "second")

    async def scenario(port: int) -> None:
        connection = await websockets.connect(f"ws://127.0.0.1:{port}")
        listed = await ws_session(connection, first)
        assert str(first) in json.dumps(listed) and str(second) not in json.dumps(listed)
        with pytest.raises(InvalidStatus) as refused:  # a second client, while the first is served
            async with websockets.connect(f"ws://127.0.0.1:{port}") as intruder:
                await ws_session(intruder, second)
        assert refused.value.response.status_code == 503
        await connection.send(json.dumps(sessions_request(3)))  # the first client is still served, and only it
        assert str(first) in json.dumps(await ws_answer(connection, 3))
        await connection.close()  # leaves without shutdown
        for _ in range(2):  # the next clients get a server of their own: nothing of the first one's workspace
            async with websockets.connect(f"ws://127.0.0.1:{port}") as connection:
                listed = await ws_session(connection, second)
                assert str(second) in json.dumps(listed) and str(first) not in json.dumps(listed)
                await connection.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "shutdown"}))
                assert (await ws_answer(connection, 9))["result"] is None
                await connection.send(json.dumps({"jsonrpc": "2.0", "method": "exit"}))
                await asyncio.wait_for(connection.wait_closed(), TIMEOUT)  # exit ends the connection only

    with listening("ws") as (port, process):
        asyncio.run(scenario(port))
        assert process.poll() is None


def tcp_answers(connection: socket.socket, identifiers: set[int]) -> dict[int, dict[str, Any]]:
    """Read framed messages until every id in `identifiers` is answered."""
    found: dict[int, dict[str, Any]] = {}
    data = b""
    connection.settimeout(TIMEOUT)
    while not identifiers <= set(found):
        chunk = connection.recv(1 << 16)
        assert chunk, f"connection closed before answers {identifiers - set(found)}"
        data += chunk
        while b"\r\n\r\n" in data:
            header, _, rest = data.partition(b"\r\n\r\n")
            length = int(header.split(b"\r\n")[0].split(b":")[1])
            if len(rest) < length:
                break
            message = json.loads(rest[:length])
            data = rest[length:]
            if "id" in message and "method" not in message:
                found[message["id"]] = message
    return found


def closed_unanswered(connection: socket.socket) -> bool:
    """Whether the server closed `connection` without sending anything (a reset when our bytes were unread)."""
    connection.settimeout(TIMEOUT)
    try:
        return connection.recv(1 << 16) == b""
    except ConnectionResetError:
        return True


def tcp_client(port: int, first: bytes) -> socket.socket:
    """A connection that sent `first` and was accepted: while the server has not yet seen the previous client
    leave, it refuses (closes) a new one, and a client connects again, as an editor does."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(first)
        connection.settimeout(TIMEOUT)
        with contextlib.suppress(ConnectionError):
            head = connection.recv(1 << 16, socket.MSG_PEEK)
            if head:
                return connection
        connection.close()
        assert time.monotonic() < deadline, "never accepted"


def test_tcp_serves_one_client_at_a_time_and_a_client_leaving_ends_only_its_connection(tmp_path: Path) -> None:
    first, second = copy_samples(tmp_path / "first"), copy_samples(tmp_path / "second")
    with listening("tcp") as (port, process):
        socket.create_connection(("127.0.0.1", port)).close()  # a connect-and-close ended the server
        with tcp_client(port, opening(first) + frame(sessions_request(2))) as connection:
            answers = tcp_answers(connection, {1, 2})
            assert str(first) in json.dumps(answers[2])
            with socket.create_connection(("127.0.0.1", port)) as intruder:  # refused while the first is served
                intruder.sendall(frame(initialize(1, second)))
                assert closed_unanswered(intruder)
            connection.sendall(frame(sessions_request(3)))
            assert str(first) in json.dumps(tcp_answers(connection, {3})[3])
        with tcp_client(port, opening(second) + frame(sessions_request(2))) as connection:  # the next
            listed = json.dumps(tcp_answers(connection, {1, 2})[2])
            assert str(second) in listed and str(first) not in listed
            exit_frames = frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}) + frame(
                {"jsonrpc": "2.0", "method": "exit"}
            )
            connection.sendall(exit_frames)
            tcp_answers(connection, {3})
            assert closed_unanswered(connection)  # exit closed this connection
        with tcp_client(port, frame(initialize(1, second))) as connection:
            assert tcp_answers(connection, {1})[1]["result"]["serverInfo"]["name"] == "replay-lens"
        assert process.poll() is None


def test_tcp_refuses_an_http_request_from_a_browser(tmp_path: Path) -> None:
    """A page's `fetch('http://127.0.0.1:PORT', {method: 'POST', body})` carries a Content-Length header of its
    own: its body would be read as a message. The connection is closed before any of it is."""
    workspace = copy_samples(tmp_path / "workspace")
    body = json.dumps(initialize(1, workspace)).encode()
    request = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://attacker.example\r\n"
        b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with listening("tcp") as (port, process):
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(request)
            assert closed_unanswered(connection)
        with tcp_client(port, frame(initialize(1, workspace))) as connection:  # and the server serves the next
            assert "result" in tcp_answers(connection, {1})[1]
        process.kill()
        assert "its first line is not an LSP header" in stderr_of(process)


def test_the_token_option_reads_its_environment_variable() -> None:
    from server.__main__ import build_parser  # noqa: PLC0415

    os.environ["REPLAY_LENS_TOKEN"] = "from-the-environment"
    try:
        assert build_parser().parse_args(["--ws"]).token == "from-the-environment"
        assert build_parser().parse_args(["--ws", "--token", "given"]).token == "given"
    finally:
        del os.environ["REPLAY_LENS_TOKEN"]
