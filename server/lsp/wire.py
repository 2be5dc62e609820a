"""The wire: framing and decoding that keep the server serving after a malformed message.

pygls reads `Content-Length` frames and decodes each body into a typed message.
Three kinds of bad input cost more than the message itself without this module:

- A frame with a broken header or a wrong length put the reader out of step for
  good: every later body was read as a header line, glued to the next real
  header, and no request was ever answered again. `ResyncingInput` cuts such a
  line back to the header it ends with, so the next frame is read again.
- A request whose params do not fit its method failed while it was decoded,
  before pygls knew its id: the client waited for an answer forever.
  `Protocol` answers it with InvalidParams; a notification with bad params is
  ignored with a warning (JSON-RPC forbids answering notifications).
- A body that is not JSON, or JSON that is not a message, is answered with
  ParseError / InvalidRequest and `"id": null`, as JSON-RPC 2.0 specifies,
  instead of an "Error in server" popup in the user's editor.

A change to a document that was never opened is ignored with a warning, where
pygls raised (another popup): there is no text to apply it to.

Framing limits: a `Content-Length` over `MAX_BODY_BYTES` (or with more digits
than any real length) is skipped with an error on stderr, where pygls tried to
read 100 GB or failed on a 5,000-digit number and the server died; the reader
finds the next header again. A body nested too deeply for the JSON parser gets
a ParseError answer. Requests before `initialize` get ServerNotInitialized, and
requests after `shutdown` get InvalidRequest: the client is never left waiting.
"""

from __future__ import annotations

import asyncio
import codecs
import inspect
import json
import logging
import os
import select
import stat
from collections.abc import Callable, Generator, Iterator
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol, lsp_method

from server.lsp.pygls_private import pending_request, send_data, send_response, shutting_down, stop_event

log = logging.getLogger(__name__)

_HEADER = b"Content-Length:"
MAX_BODY_BYTES = 256 << 20
"""The largest message body read (a `didOpen` of a 200 MB recording fits; editors sync less)."""
_PIECE = 1 << 16
"""Bodies larger than this are read and decoded this many bytes at a time (see `ResyncingInput.read`)."""
_SKIPPED = b"X-Replay-Lens-Skipped: frame over the size limit\r\n"
"""What an oversized frame's header line is read as: a header pygls ignores, so its length is never used."""


def guard_header(line: bytes) -> bytes:
    """`line`, or a harmless header in place of a `Content-Length` over the limit (logged as an error)."""
    if line.startswith(_HEADER):
        digits = line[len(_HEADER) :].strip()
        if digits.isdigit() and (len(digits) > 12 or int(digits) > MAX_BODY_BYTES):
            shown = digits[:20].decode() + ("..." if len(digits) > 20 else "")
            log.error(
                "a frame announces a body of %s bytes (%d digits), over the limit of %d: skipped",
                shown,
                len(digits),
                MAX_BODY_BYTES,
            )
            return _SKIPPED
    return line


def resynced(line: bytes) -> bytes:
    """A header line cut back to its header when the rest of a bad frame is glued before it, then guarded."""
    start = line.rfind(_HEADER)
    if start > 0:
        log.warning("skipped %d bytes that were not a well-framed message", start)
        line = line[start:]
    return guard_header(line)


class ResyncingInput:
    """stdin for pygls's frame reader: a header line glued to the rest of a bad frame is cut back to the header.

    With `on_drained`, it is called (in the reader's thread) whenever the next frame is to be read and no byte
    of it has arrived: every message sent so far is handled. It returns False when it need not be called again.
    """

    def __init__(self, raw: BinaryIO, on_drained: Callable[[], bool] | None = None) -> None:
        self.raw = raw
        self.on_drained = on_drained
        self._between_frames = True

    def readline(self) -> bytes:
        watch = self.on_drained
        if self._between_frames and watch is not None and not pending(self.raw) and not watch():
            self.on_drained = None
        self._between_frames = False
        return resynced(self.raw.readline())

    def read(self, size: int) -> bytes | str:
        """A message body, decoded here when it is UTF-8: `json.loads` of bytes would hold the bytes and a decoded
        copy at once while it parses (a 20 MB `didOpen` peaked 20 MB higher).

        A big body is read and decoded in pieces, never whole as bytes: glibc serves a block of 16 MB from
        pages of its own, and freeing it raises its threshold for that to 16 MB, so every later block under
        it came from the heap, where freed memory stays resident (`bench.lsp_memory --untraced`, the 20 MB
        `didOpen` of `make lsp-bench`: 167 MB at rest after the open, 133 MB read in pieces).
        """
        self._between_frames = True
        if size <= _PIECE:
            body = self.raw.read(size)
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError:
                return body  # as pygls reads it: `json.loads` decides (a body that is not UTF-8 gets a parse error)
        decoder = codecs.getincrementaldecoder("utf-8")()
        pieces: list[str] = []
        left = size
        while left > 0 and (chunk := self.raw.read(min(left, _PIECE))):
            left -= len(chunk)
            try:
                pieces.append(decoder.decode(chunk, final=left <= 0 or len(chunk) < _PIECE))
            except UnicodeDecodeError:
                rest = self.raw.read(left) if left > 0 else b""
                return "".join(pieces).encode("utf-8") + decoder.getstate()[0] + chunk + rest
        return "".join(pieces)


def pending(raw: BinaryIO) -> bool:
    """Whether a pipe or socket has input to read, in its reader's buffer or in the kernel, without blocking.

    True whenever it cannot tell (a terminal, a file): nothing is then taken for drained.
    """
    try:
        descriptor = raw.fileno()
        if not stat.S_ISFIFO(mode := os.fstat(descriptor).st_mode) and not stat.S_ISSOCK(mode):
            return True
        if select.select([descriptor], [], [], 0)[0]:
            return True
        peek = getattr(raw, "peek", None)
        if peek is None:
            return False
        blocking = os.get_blocking(descriptor)
        os.set_blocking(descriptor, False)  # the buffer is peeked at: a read of the empty pipe must not block
        try:
            return bool(peek(1))
        finally:
            os.set_blocking(descriptor, blocking)
    except (OSError, ValueError):
        return True


class FramedStream:
    """A TCP connection's reader for pygls's frame loop, with the framing limits of stdio.

    `first` is the line already read (to tell an LSP client from an HTTP request). A header line longer
    than the stream's limit is skipped, where asyncio raised and ended the connection."""

    def __init__(self, reader: asyncio.StreamReader, first: bytes) -> None:
        self.reader = reader
        self.first: bytes | None = first

    async def readline(self) -> bytes:
        if self.first is not None:
            line, self.first = self.first, None
        else:
            try:
                line = await self.reader.readline()
            except ValueError:  # over the limit: asyncio dropped the line's bytes read so far
                log.warning("skipped a line too long to be a header")
                return b"X-Replay-Lens-Skipped: a line over the limit\r\n"
        return resynced(line)

    async def readexactly(self, size: int) -> bytes:
        return await self.reader.readexactly(size)


class _Rejected:
    """A message that was already answered (or ignored) while it was decoded."""


class Protocol(LanguageServerProtocol):
    """pygls's protocol, answering the requests it cannot decode instead of dropping them."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            self._reject(data, error)
            return _Rejected()

    def _reject(self, data: dict[str, Any], error: JsonRpcException) -> None:
        method, identifier = data.get("method"), data.get("id")
        if not isinstance(identifier, int | str) or isinstance(identifier, bool):
            identifier = None
        if "id" in data and method is not None:
            log.warning("request %r has invalid params: answered with an error", method)
            problem = JsonRpcInvalidParams(f"invalid params for {method}")
            if identifier is None:
                self.answer_without_id(problem)
            else:
                send_response(self, identifier, problem.to_response_error())
        elif "id" in data:
            log.warning("a response of the client's to request %r does not fit the request", identifier)
            future = pending_request(self, identifier) if identifier is not None else None
            if future is not None and not future.done():
                future.set_exception(error)
        else:
            log.warning("ignored notification %r: invalid params", method)

    exit_ends_process = True
    """`exit` ends the process (stdio); over TCP and WebSocket it ends only the client's connection."""
    _initialize_seen = False
    _closing: asyncio.Future[Any] | None = None

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Rejected):
            return
        if getattr(message, "jsonrpc", None) is None:  # JSON, but not a JSON-RPC message (a list, a bare object)
            log.warning("ignored a body that is not a JSON-RPC message: answered with an error")
            self.answer_without_id(JsonRpcInvalidRequest("not a JSON-RPC message"))
            return
        method, identifier = getattr(message, "method", None), getattr(message, "id", None)
        if method == types.INITIALIZE:
            self._initialize_seen = True
        elif method is not None and method != types.EXIT and not self._initialize_seen:
            log.warning("%r before initialize: %s", method, "answered with an error" if identifier else "ignored")
            if identifier is not None:
                send_response(self, identifier, JsonRpcServerNotInitialized().to_response_error())
            return
        if shutting_down(self) and method not in (None, types.EXIT):
            log.warning("%r after shutdown: %s", method, "answered with an error" if identifier else "ignored")
            if identifier is not None:
                error = JsonRpcInvalidRequest("the server is shutting down: only exit is accepted")
                send_response(self, identifier, error.to_response_error())
            return
        super().handle_message(message)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        if self.exit_ends_process:
            yield from super().lsp_exit(*args)
            return
        stop = stop_event(self)
        if stop is not None:
            stop.set()
        closed = self.writer.close() if self.writer is not None else None
        if inspect.isawaitable(closed):
            self._closing = asyncio.ensure_future(closed)  # kept: a task only weakly referenced may be collected

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Iterator[Any]:
        if unquote(params.text_document.uri) not in self.workspace.text_documents:
            log.warning("ignored a change to %s: the document is not open", params.text_document.uri)
            return
        yield from super().lsp_text_document__did_change(params)

    def answer_without_id(self, error: JsonRpcException) -> None:
        """An error response to a message whose id cannot be known (`"id": null`)."""
        response = error.to_response_error()
        send_data(self, {"jsonrpc": "2.0", "id": None, "error": {"code": response.code, "message": response.message}})


def answer_unreadable_body(protocol: LanguageServerProtocol, error: Exception) -> bool:
    """Answer a frame whose body is not JSON (not UTF-8, or nested too deeply) with ParseError; False for any
    other error."""
    if not isinstance(protocol, Protocol):
        return False
    if isinstance(error, RecursionError):
        log.warning("a message body is nested too deeply to parse: answered with a parse error")
        protocol.answer_without_id(JsonRpcParseError("the body is nested too deeply to parse"))
        return True
    if not isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return False
    log.warning("a message body is not JSON (%s): answered with a parse error", error)
    protocol.answer_without_id(JsonRpcParseError(f"the body is not JSON: {error}"))
    return True
