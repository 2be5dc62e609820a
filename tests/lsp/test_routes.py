"""The route wrapper, end to end (issue 15): background requests, their cancellation and their errors.

Each test runs the real server process, with one request worker
(`REPLAY_LENS_REQUEST_WORKERS=1`). No real feature blocks or fails on purpose,
so the server is started with its test pause point (`routes.PAUSE_VARIABLE`) on
one method: each request of it waits in its worker until the test opens a FIFO
it made to write (then the feature runs once the test closes it), and fails with
a `RuntimeError` if the test wrote anything. The test thus knows the worker is
taken, and lets it go, at points it chooses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.lsp.routes import PAUSE_VARIABLE, WORKERS_VARIABLE
from tests.lsp.helpers import SERVER_ENV, copy_samples, position_of
from tests.lsp.rpc import RawServer

INTERNAL_ERROR, REQUEST_CANCELLED = -32603, -32800


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_samples(tmp_path / "workspace")


@contextlib.asynccontextmanager
async def paused_server(method: str, fifo: Path) -> AsyncIterator[RawServer]:
    """A server with one request worker and its pause point on `method` at `fifo`; it must still exit cleanly
    (status 0) after the test, which first lets go of a worker a failing test left waiting."""
    os.mkfifo(fifo)
    server = await RawServer.start(env={**SERVER_ENV, WORKERS_VARIABLE: "1", PAUSE_VARIABLE: f"{method}={fifo}"})
    try:
        yield server
    finally:
        let_go(fifo)
        assert await server.close() == 0, server.stderr[-3000:].decode("utf-8", "replace")


def let_go(fifo: Path) -> None:
    """Release whoever still waits on `fifo`: the server's worker opening it to read (it reads nothing and goes
    on), the test's thread opening it to write."""
    for flags in (os.O_WRONLY | os.O_NONBLOCK, os.O_RDONLY | os.O_NONBLOCK):
        with contextlib.suppress(OSError):  # ENXIO: no reader waits
            os.close(os.open(fifo, flags))


async def held(fifo: Path) -> int:
    """Open `fifo` to write; that returns once the paused worker opened it to read: the request is running."""
    return await asyncio.wait_for(asyncio.to_thread(os.open, fifo, os.O_WRONLY), 30)


def logged(server: RawServer, text: str, since: int = 0) -> list[str]:
    """The server's log lines (`window/logMessage`, debug included) that contain `text`."""
    return [
        params["message"] for params in server.notifications("window/logMessage", since) if text in params["message"]
    ]


def answers(server: RawServer, identifier: int) -> int:
    return sum(message.get("id") == identifier and "method" not in message for message in server.received)


def hover_request(fixture: Path) -> dict[str, Any]:
    where = position_of(fixture.read_text(encoding="utf-8"), '"caller"')
    return {"textDocument": {"uri": fixture.as_uri()}, "position": {"line": where.line, "character": where.character}}


def symbols_request(fixture: Path) -> dict[str, Any]:
    return {"textDocument": {"uri": fixture.as_uri()}}


async def test_a_cancel_skips_a_queued_background_request_and_drops_a_running_ones_answer(
    workspace: Path, tmp_path: Path
) -> None:
    fixture = workspace / "replay" / "write_note.ultra.json"
    fifo = tmp_path / "pause"
    async with paused_server("textDocument/documentSymbol", fifo) as server:
        await server.initialize(workspace)
        outline = await server.send_request("textDocument/documentSymbol", symbols_request(fixture))
        writer = await held(fifo)  # the outline holds the one worker
        try:
            hover = await server.send_request("textDocument/hover", hover_request(fixture))
            await server.until(lambda: logged(server, "textDocument/hover waits for a worker: all 1 are busy"))
            await server.notify("$/cancelRequest", {"id": hover})
            assert (await server.response(hover))["error"]["code"] == REQUEST_CANCELLED
            assert logged(server, "textDocument/hover cancelled before it started: skipped")

            await server.notify("$/cancelRequest", {"id": outline})
            # Answered at once, while its worker still waits at the pause point.
            assert (await server.response(outline))["error"]["code"] == REQUEST_CANCELLED
            assert logged(server, "textDocument/documentSymbol cancelled while running: its answer is dropped")
        finally:
            os.close(writer)  # the worker reads nothing, makes the outline, and its answer goes nowhere
        again = await server.request("textDocument/hover", hover_request(fixture))
        assert again["result"]["contents"]["value"].startswith("**Turn 0**"), again
        assert answers(server, outline) == answers(server, hover) == 1
        assert len(logged(server, " cancelled ")) == 2  # the skip and the drop, nothing else
        assert server.notifications("window/showMessage") == []


async def test_a_features_unexpected_exception_is_one_error_answer_and_the_server_goes_on(
    workspace: Path, tmp_path: Path
) -> None:
    """The pause point, told to fail, raises a RuntimeError in the hover's worker: an exception no feature
    expects."""
    fixture = workspace / "replay" / "write_note.ultra.json"
    fifo = tmp_path / "pause"
    async with paused_server("textDocument/hover", fifo) as server:
        await server.initialize(workspace)
        since, stderr = len(server.received), len(server.stderr)
        identifier = await server.send_request("textDocument/hover", hover_request(fixture))
        writer = await held(fifo)
        try:
            os.write(writer, b"fail")
        finally:
            os.close(writer)
        reply = await server.response(identifier)
        assert reply["error"] == {
            "code": INTERNAL_ERROR,
            "message": "textDocument/hover failed (RuntimeError): see the server's log",
        }
        assert answers(server, identifier) == 1
        (line,) = logged(server, "textDocument/hover failed", since)  # logged once, with its method and traceback
        assert line.startswith("ERROR server.lsp.routes: textDocument/hover failed\nTraceback")
        assert "RuntimeError: the test pause point was told to fail (4 bytes)" in line
        await server.until(lambda: b"textDocument/hover failed" in server.stderr[stderr:], what="the log on stderr")
        # Logged once on stderr too: pygls does not log it a second time (a traceback's first line starts a line,
        # where the JSON of the message forwarding it to the client escapes its newline).
        assert server.stderr[stderr:].count(b"\nTraceback (most recent call last)") == 1
        assert server.notifications("window/showMessage") == []  # an answer, not a popup

        # The server goes on: the same request, let through this time, gets its hover from the same worker.
        identifier = await server.send_request("textDocument/hover", hover_request(fixture))
        os.close(await held(fifo))
        fine = await server.response(identifier)
        assert fine["result"]["contents"]["value"].startswith("**Turn 0**"), fine
