"""The route wrapper, end to end (issue 15): background requests, their cancellation and their errors.

Each test runs the real server process. A background feature runs in a request
worker; to hold the one worker of a server started with
`REPLAY_LENS_REQUEST_WORKERS=1` at a known point, the project's config is
replaced by a FIFO after indexing (the file watcher is off, so nothing else reads
it): the "add a rule" code action reads the config to append to it, and waits
in its worker until the test opens the FIFO's other end, then reads until the
test closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.lsp.routes import WORKERS_VARIABLE
from tests.lsp.helpers import SERVER_ENV, copy_samples, position_of
from tests.lsp.rpc import RawServer

INTERNAL_ERROR, REQUEST_CANCELLED = -32603, -32800
ADD_RULE = "Add a normalization rule for this text"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_samples(tmp_path / "workspace")


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    """A server process with one request worker, which must still exit cleanly (status 0) after the test."""
    process = await RawServer.start(env={**SERVER_ENV, WORKERS_VARIABLE: "1"})
    yield process
    assert await process.close() == 0, process.stderr[-3000:].decode("utf-8", "replace")


def logged(server: RawServer, text: str, since: int = 0) -> list[str]:
    """The server's log lines (`window/logMessage`, debug included) that contain `text`."""
    return [
        params["message"] for params in server.notifications("window/logMessage", since) if text in params["message"]
    ]


def answers(server: RawServer, identifier: int) -> int:
    return sum(message.get("id") == identifier and "method" not in message for message in server.received)


async def volatile_text(server: RawServer, recording: Path) -> dict[str, Any]:
    """The recording's volatile-text diagnostic (the "add a rule" action's finding), once it is published."""
    uri = recording.as_uri()
    found: dict[str, Any] = await server.until(
        lambda: next((d for d in server.diagnostics().get(uri, []) if d.get("code") == "volatile-text"), None),
        what="the volatile-text finding",
    )
    return found


def add_rule_request(recording: Path, volatile: dict[str, Any]) -> dict[str, Any]:
    return {
        "textDocument": {"uri": recording.as_uri()},
        "range": volatile["range"],
        "context": {"diagnostics": [volatile], "only": ["quickfix"]},
    }


def hover_request(fixture: Path) -> dict[str, Any]:
    where = position_of(fixture.read_text(encoding="utf-8"), '"caller"')
    return {"textDocument": {"uri": fixture.as_uri()}, "position": {"line": where.line, "character": where.character}}


@contextlib.contextmanager
def unblocking(fifo: Path) -> Iterator[None]:
    """On the way out, release whoever still waits on `fifo` (a reader or a writer), so no thread hangs a failing
    test."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))


async def test_a_cancel_skips_a_queued_background_request_and_drops_a_running_ones_answer(
    server: RawServer, workspace: Path
) -> None:
    await server.initialize(workspace, {"watchFiles": False})
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    fixture = workspace / "replay" / "write_note.ultra.json"
    volatile = await volatile_text(server, recording)
    config = workspace / "replay-lens.toml"
    config.unlink()
    os.mkfifo(config)
    with unblocking(config):
        action = await server.send_request("textDocument/codeAction", add_rule_request(recording, volatile))
        # Opening the FIFO to write returns once the worker opened it to read: the code action is running.
        writer = await asyncio.wait_for(asyncio.to_thread(os.open, config, os.O_WRONLY), 30)
        try:
            hover = await server.send_request("textDocument/hover", hover_request(fixture))
            await server.until(lambda: logged(server, "textDocument/hover waits for a worker: all 1 are busy"))
            await server.notify("$/cancelRequest", {"id": hover})
            assert (await server.response(hover))["error"]["code"] == REQUEST_CANCELLED
            assert logged(server, "textDocument/hover cancelled before it started: skipped")

            await server.notify("$/cancelRequest", {"id": action})
            # Answered at once, while its worker still waits for the config's text.
            assert (await server.response(action))["error"]["code"] == REQUEST_CANCELLED
            assert logged(server, "textDocument/codeAction cancelled while running: its answer is dropped")
        finally:
            os.close(writer)  # the worker reads an empty config, finishes, and its answer goes nowhere
    again = await server.request("textDocument/hover", hover_request(fixture))
    assert again["result"]["contents"]["value"].startswith("**Turn 0**"), again
    assert answers(server, action) == answers(server, hover) == 1
    assert len(logged(server, " cancelled ")) == 2  # the skip and the drop, nothing else
    assert server.notifications("window/showMessage") == []


async def test_a_features_unexpected_exception_is_one_error_answer_and_the_server_goes_on(
    server: RawServer, workspace: Path
) -> None:
    """The config open in the editor, unsaved, holds an array nested 1,000 deep: appending a rule to that text and
    parsing it back (`rules_edit.addition`) overflows Python's TOML parser, a RecursionError no feature expects."""
    await server.initialize(workspace)
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    volatile = await volatile_text(server, recording)
    config = workspace / "replay-lens.toml"
    text = config.read_text(encoding="utf-8")
    deep = f"{text}\nnested = {'[' * 1000}{']' * 1000}\n"
    document = {"uri": config.as_uri(), "languageId": "toml", "version": 1, "text": deep}
    await server.notify("textDocument/didOpen", {"textDocument": document})
    since, stderr = len(server.received), len(server.stderr)

    reply = await server.request("textDocument/codeAction", add_rule_request(recording, volatile))
    assert reply["error"] == {
        "code": INTERNAL_ERROR,
        "message": "textDocument/codeAction failed (RecursionError): see the server's log",
    }
    assert answers(server, reply["id"]) == 1
    (line,) = logged(server, "textDocument/codeAction failed", since)  # logged once, with its method and traceback
    assert (
        line.startswith("ERROR server.lsp.routes: textDocument/codeAction failed\nTraceback")
        and "RecursionError" in line
    )
    await server.until(lambda: b"textDocument/codeAction failed" in server.stderr[stderr:], what="the log on stderr")
    # Logged once on stderr too: pygls does not log it a second time (a traceback's first line starts a line, where
    # the JSON of the message forwarding it to the client escapes its newline).
    assert server.stderr[stderr:].count(b"\nTraceback (most recent call last)") == 1
    assert server.notifications("window/showMessage") == []  # an answer, not a popup

    # The server goes on: with the config's text fixed in the editor, the same request gets its action.
    change = {"textDocument": {"uri": config.as_uri(), "version": 2}, "contentChanges": [{"text": text}]}
    await server.notify("textDocument/didChange", change)
    fixed = await server.request("textDocument/codeAction", add_rule_request(recording, volatile))
    assert [action["title"] for action in fixed["result"]] == [ADD_RULE], fixed
