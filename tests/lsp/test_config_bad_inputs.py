"""A config file the "add a normalization rule" action cannot use, end to end: a clear answer, never a traceback.

The action appends a `[[rules]]` table to the config's text (the editor's
unsaved buffer when it is open, else the file on disk) and parses the result
back. Hostile text (an array nested 1,000 deep overflows Python's TOML parser;
an integer of 5,000 digits passes Python's limit on conversions) means no such
action: nothing when the editor asks by itself, a disabled action giving the
reason when the user asks and the client shows reasons. A config on disk replaced
since indexing by a FIFO, a device or a huge file is refused by the engine's
bounded, regular-file-only reader, at once: the server's one request worker is
free for the hover that follows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from server.engine.files import MAX_DOCUMENT_BYTES
from server.lsp.routes import WORKERS_VARIABLE
from tests.conftest import run_cli
from tests.lsp.helpers import SERVER_ENV, copy_samples, position_of
from tests.lsp.rpc import RawServer

ADD_RULE = "Add a normalization rule for this text"
INVOKED, AUTOMATIC = 1, 2
SHOWS_REASONS = {"textDocument": {"codeAction": {"disabledSupport": True}}}
NOT_REGULAR = "cannot be read: not a regular file (a pipe, socket or device is never read)"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_samples(tmp_path / "workspace")


@pytest.fixture
async def server(workspace: Path) -> AsyncIterator[RawServer]:
    """A server with one request worker (a worker held by a read would hold every request after it); it must
    exit cleanly after the test, a reader a failing test left in a FIFO's `open()` let through first."""
    process = await RawServer.start(env={**SERVER_ENV, WORKERS_VARIABLE: "1"})
    yield process
    with contextlib.suppress(OSError):  # ENXIO: the config is no FIFO, or nobody waits on it
        os.close(os.open(workspace / "replay-lens.toml", os.O_WRONLY | os.O_NONBLOCK))
    assert await process.close() == 0, process.stderr[-3000:].decode("utf-8", "replace")


def logged(server: RawServer, text: str, since: int = 0) -> list[str]:
    return [
        params["message"] for params in server.notifications("window/logMessage", since) if text in params["message"]
    ]


async def volatile_text(server: RawServer, recording: Path) -> dict[str, Any]:
    """The recording's volatile-text diagnostic (the "add a rule" action's finding), once it is published."""
    uri = recording.as_uri()
    found: dict[str, Any] = await server.until(
        lambda: next((d for d in server.diagnostics().get(uri, []) if d.get("code") == "volatile-text"), None),
        what="the volatile-text finding",
    )
    return found


async def add_rule_actions(server: RawServer, recording: Path, trigger: int) -> list[dict[str, Any]]:
    """The quick fixes at the recording's volatile text, asked by the user (`INVOKED`) or the editor itself."""
    volatile = await volatile_text(server, recording)
    context = {"diagnostics": [volatile], "only": ["quickfix"], "triggerKind": trigger}
    params = {"textDocument": {"uri": recording.as_uri()}, "range": volatile["range"], "context": context}
    reply = await server.request("textDocument/codeAction", params)
    assert "error" not in reply, reply
    actions: list[dict[str, Any]] = reply["result"] or []
    return actions


def hover_request(fixture: Path) -> dict[str, Any]:
    where = position_of(fixture.read_text(encoding="utf-8"), '"caller"')
    return {"textDocument": {"uri": fixture.as_uri()}, "position": {"line": where.line, "character": where.character}}


HOSTILE_TEXTS = {
    "nested-1000-deep": (f"nested = {'[' * 1000}{']' * 1000}\n", "arrays or tables nested too deeply, line 1)"),
    "integer-of-5000-digits": (f"big = {'7' * 5000}\n", "exceeds the limit (4300 digits) for integer string"),
    "invalid-toml": ("broken = [\n", "invalid TOML: "),
}


@pytest.mark.parametrize("hostile", HOSTILE_TEXTS, ids=list(HOSTILE_TEXTS))
async def test_an_unsaved_config_that_cannot_be_parsed_offers_no_rule_and_says_why(
    server: RawServer, workspace: Path, hostile: str
) -> None:
    added, reason = HOSTILE_TEXTS[hostile]
    await server.initialize(workspace, **SHOWS_REASONS)
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    config = workspace / "replay-lens.toml"
    text = config.read_text(encoding="utf-8")
    document = {"uri": config.as_uri(), "languageId": "toml", "version": 1, "text": f"{text}\n{added}"}
    await server.notify("textDocument/didOpen", {"textDocument": document})
    since = len(server.received)

    assert await add_rule_actions(server, recording, AUTOMATIC) == []  # the editor asked by itself: nothing
    (asked,) = await add_rule_actions(server, recording, INVOKED)
    assert asked["title"] == ADD_RULE and "edit" not in asked
    assert asked["disabled"]["reason"].startswith("the config cannot be read (")
    assert reason in asked["disabled"]["reason"], asked
    assert logged(server, f"{ADD_RULE}: not offered, the config cannot be read", since)
    assert logged(server, "Traceback", since) == [] and b"Traceback" not in server.stderr
    assert server.notifications("window/showMessage") == []

    # With the buffer fixed, the same request gets its action.
    change = {"textDocument": {"uri": config.as_uri(), "version": 2}, "contentChanges": [{"text": text}]}
    await server.notify("textDocument/didChange", change)
    (fixed,) = await add_rule_actions(server, recording, INVOKED)
    assert fixed["title"] == ADD_RULE and "disabled" not in fixed and fixed["edit"], fixed


def fifo(config: Path) -> None:
    config.unlink()
    os.mkfifo(config)


def device(config: Path) -> None:
    config.unlink()
    config.symlink_to("/dev/zero")


def huge(config: Path) -> None:
    """The config's text, then a hole up to past the largest file read whole (sparse: no disk, no time)."""
    text = config.read_bytes()
    with config.open("wb") as handle:
        handle.write(text)
        handle.truncate(MAX_DOCUMENT_BYTES + (44 << 20))


REPLACED: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (fifo, NOT_REGULAR),
    "dev-zero": (device, NOT_REGULAR),
    "huge": (huge, "cannot be read: too large (300.0 MiB): files over 256.0 MiB are not read whole"),
}


@pytest.mark.parametrize("replaced", REPLACED, ids=list(REPLACED))
async def test_a_config_replaced_by_a_fifo_device_or_huge_file_is_refused_at_once(
    server: RawServer, workspace: Path, replaced: str
) -> None:
    """Replaced after indexing, with the file watcher off: only the action reads it again. With the old
    `read_text`, the FIFO held the one worker forever (the code action never answered, nor the hover after it)."""
    replace, reason = REPLACED[replaced]
    await server.initialize(workspace, {"watchFiles": False}, **SHOWS_REASONS)
    recording = workspace / "recordings" / "write_note.ultra.jsonl"
    await volatile_text(server, recording)
    replace(workspace / "replay-lens.toml")

    assert await add_rule_actions(server, recording, AUTOMATIC) == []
    (asked,) = await add_rule_actions(server, recording, INVOKED)
    assert asked["disabled"] == {"reason": f"replay-lens.toml {reason}"}, asked
    assert "edit" not in asked
    fixture = workspace / "replay" / "write_note.ultra.json"
    hover = await server.request("textDocument/hover", hover_request(fixture))  # the worker is free
    assert hover["result"]["contents"]["value"].startswith("**Turn 0**"), hover
    assert b"Traceback" not in server.stderr


def test_a_config_with_an_integer_past_pythons_limit_is_a_config_error(tmp_path: Path) -> None:
    """tomllib raises a plain ValueError (not its TOMLDecodeError) on an integer of more than 4,300 digits: it
    was a traceback of `check`. `run_cli` fails on any traceback."""
    config = tmp_path / "replay-lens.toml"
    config.write_text(f'preset = "deerflow"\nbig = {"7" * 5000}\n', encoding="utf-8")
    result = run_cli("check", tmp_path)
    assert result.code == 2, (result.stdout, result.stderr)
    assert f"config: {config}:1:1: invalid TOML: exceeds the limit (4300 digits)" in result.stderr, result.stderr


def test_a_huge_pyproject_is_not_read_for_its_section(tmp_path: Path) -> None:
    """A `pyproject.toml` past the largest file read whole is not read to look for `[tool.replay-lens]` (it was
    read whole, then refused by the config's reader): the folder is checked as if it were not there."""
    workspace = copy_samples(tmp_path / "workspace")
    (workspace / "replay-lens.toml").unlink()
    alone = run_cli("check", "--format", "json", workspace)
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text('[tool.replay-lens]\npreset = "no-such-preset"\n', encoding="utf-8")
    with pyproject.open("r+b") as handle:
        handle.truncate(MAX_DOCUMENT_BYTES + 1)
    beside = run_cli("check", "--format", "json", workspace)
    assert (beside.code, beside.stdout, beside.stderr) == (alone.code, alone.stdout, alone.stderr)
    assert alone.code in (0, 1) and alone.json(), alone.stderr
