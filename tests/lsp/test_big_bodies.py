"""A message body over 64 KiB is read and decoded piece by piece (issue 17, the server's RSS): a character cut
between two pieces is read whole, a body that is not UTF-8 is answered with a parse error, and one that only
`json.loads` of bytes accepts (an encoded lone surrogate) is still read as it was. Each case runs the real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.lsp import wire
from tests.lsp.helpers import copy_samples
from tests.lsp.rpc import RawServer, frame

PARSE_ERROR = -32700
CJK, EMOJI = "中", "😀"  # 3 and 4 bytes in UTF-8: runs of them cross every piece boundary of 65,536 bytes


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    process = await RawServer.start()
    yield process
    assert await process.close() == 0, process.stderr[-3000:].decode("utf-8", "replace")


@pytest.fixture
def fixture(tmp_path: Path) -> Path:
    return copy_samples(tmp_path / "workspace") / "replay" / "write_note.ultra.json"


def did_open(path: Path, text: str) -> dict[str, Any]:
    document = {"uri": path.as_uri(), "languageId": "json", "version": 1, "text": text}
    return {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}}


async def outline(server: RawServer, path: Path) -> list[str]:
    """The names of the turns in the server's parse of `path` (they show each turn's caller)."""
    reply = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": path.as_uri()}})
    return [symbol["name"] for symbol in reply["result"]]


def with_callers(fixture: Path, callers: list[str], prompt_end: str = "") -> str:
    """The fixture's text, its turns' callers replaced, after a prompt of a few pieces' worth of wide characters."""
    data = json.loads(fixture.read_text(encoding="utf-8"))
    data["prompt"] = (CJK * 30_000 + EMOJI * 20_000) * 2 + prompt_end
    for turn, caller in zip(data["turns"], callers, strict=True):
        turn["caller"] = caller
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


async def test_a_big_body_is_decoded_whole_across_its_pieces(server: RawServer, fixture: Path) -> None:
    await server.initialize(fixture.parents[1])
    callers = [f"agent {EMOJI}{CJK * n}" for n in range(4)]
    body = frame(did_open(fixture, with_callers(fixture, callers)))
    assert len(body) > 5 * wire._PIECE
    await server.send_bytes(body)
    assert await outline(server, fixture) == [f"turn {n} · {caller}" for n, caller in enumerate(callers)]


async def test_a_big_body_that_is_not_utf8_is_answered_with_a_parse_error(server: RawServer, fixture: Path) -> None:
    await server.initialize(fixture.parents[1])
    expected = await outline(server, fixture)
    start = len(server.received)
    message = json.dumps(did_open(fixture, "x" * 3 * wire._PIECE)).encode()
    cut = 2 * wire._PIECE + 5  # in the third piece
    await server.send_bytes(frame(message[:cut] + b"\xff" + message[cut + 1 :]))
    assert await outline(server, fixture) == expected  # still in step with the frames, and serving
    errors = [m for m in server.received[start:] if "error" in m]
    assert [(m["id"], m["error"]["code"]) for m in errors] == [(None, PARSE_ERROR)]


async def test_a_big_body_read_by_json_alone_is_read_as_before(server: RawServer, fixture: Path) -> None:
    """An encoded lone surrogate is not UTF-8, but `json.loads` of the body's bytes reads it: the bytes are
    handed on exactly as they came, wherever the piece that stopped the decoder was."""
    await server.initialize(fixture.parents[1])
    callers = [f"caller {n}" for n in range(4)]  # not the file's on disk: the outline is of the buffer
    text = with_callers(fixture, callers, prompt_end="\ud800")
    body = frame(json.dumps(did_open(fixture, text), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    assert body.index(b"\xed\xa0\x80") > wire._PIECE
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    await server.send_bytes(body)
    assert await outline(server, fixture) == [f"turn {n} · {caller}" for n, caller in enumerate(callers)]
