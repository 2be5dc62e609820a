"""`python -m server`: transports, loopback binding, a protocol-only stdout, and the CLI left as it was."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import websockets

from tests.lsp.helpers import SERVER_ENV

SERVER = [sys.executable, "-m", "server"]


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body


def unframe(data: bytes) -> list[dict[str, Any]]:
    """Every message of an LSP byte stream; fails on anything that is not a framed message."""
    messages = []
    while data:
        header, separator, rest = data.partition(b"\r\n\r\n")
        assert separator and header.startswith(b"Content-Length: "), f"not LSP framing: {data[:80]!r}"
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        assert set(fields) <= {b"Content-Length", b"Content-Type"}, f"not LSP headers: {header!r}"
        length = int(fields[b"Content-Length"])
        messages.append(json.loads(rest[:length]))
        data = rest[length:]
    return messages


def response(messages: list[dict[str, Any]], identifier: int) -> dict[str, Any]:
    return next(message for message in messages if message.get("id") == identifier)


def session(root: Path) -> bytes:
    return b"".join(
        [
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {"capabilities": {}, "rootUri": root.as_uri()},
                }
            ),
            frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
            frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None}),
            frame({"jsonrpc": "2.0", "method": "exit", "params": None}),
        ]
    )


def test_no_arguments_prints_help() -> None:
    completed = subprocess.run(SERVER, env=SERVER_ENV, capture_output=True, text=True, timeout=30, check=False)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "--stdio" in completed.stderr and "check" in completed.stderr


def test_stdio_writes_nothing_but_protocol_to_stdout(tmp_path: Path) -> None:
    completed = subprocess.run(
        [*SERVER, "--stdio", "--log-level", "debug"],
        input=session(tmp_path),
        env=SERVER_ENV,
        capture_output=True,
        timeout=30,
        check=False,
    )
    messages = unframe(completed.stdout)
    assert response(messages, 1)["result"]["serverInfo"]["name"] == "replay-lens"
    assert response(messages, 2) == {"jsonrpc": "2.0", "id": 2, "result": None}
    assert any(message.get("method") == "window/logMessage" for message in messages)
    assert b"DEBUG" in completed.stderr  # logs go to stderr too


def test_tcp_listens_on_loopback(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [*SERVER, "--tcp", "--port", str(port)], env=SERVER_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not listen"
                time.sleep(0.05)
        with connection:
            connection.sendall(session(tmp_path))
            connection.settimeout(20)
            received = b""
            while b'"id": 2' not in received and b'"id":2' not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        assert response(unframe(received), 1)["result"]["serverInfo"]["name"] == "replay-lens"
        assert process.stdout is not None
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    assert f"listening on 127.0.0.1:{port} (TCP, loopback only)".encode() in stderr


def test_ws_listens_on_loopback(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*SERVER, "--ws", "--port", str(port)], env=SERVER_ENV, stderr=subprocess.PIPE)
    try:
        reply = asyncio.run(_ws_initialize(port, tmp_path))
        assert reply["result"]["serverInfo"]["name"] == "replay-lens"
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    assert f"listening on 127.0.0.1:{port} (WebSocket, loopback only)".encode() in stderr


async def _ws_initialize(port: int, root: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        try:
            connection = await websockets.connect(f"ws://127.0.0.1:{port}")
            break
        except OSError:
            assert time.monotonic() < deadline, "the server did not listen"
            await asyncio.sleep(0.05)
    async with connection:
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}},
        }
        await connection.send(json.dumps(request))
        while True:
            message = json.loads(await asyncio.wait_for(connection.recv(), timeout=20))
            if message.get("id") == 1:
                return dict(message)


def test_check_still_works(tmp_path: Path) -> None:
    from tests.lsp.helpers import copy_samples  # noqa: PLC0415

    root = copy_samples(tmp_path / "samples")
    completed = subprocess.run(
        [*SERVER, "check", "--format", "json"],
        cwd=root,
        env=SERVER_ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert json.loads(completed.stdout)["summary"]["stale"] == 3
