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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol, lsp_method

log = logging.getLogger(__name__)

_HEADER = b"Content-Length:"


class ResyncingInput:
    """stdin for pygls's frame reader: a header line glued to the rest of a bad frame is cut back to the header."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw

    def readline(self) -> bytes:
        line = self.raw.readline()
        start = line.rfind(_HEADER)
        if start > 0:
            log.warning("skipped %d bytes that were not a well-framed message", start)
            return line[start:]
        return line

    def read(self, size: int) -> bytes | str:
        """A message body, decoded here when it is UTF-8: `json.loads` of bytes would hold the bytes and a decoded
        copy at once while it parses (a 20 MB `didOpen` peaked 20 MB higher)."""
        body = self.raw.read(size)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body  # as pygls reads it: `json.loads` decides (and a body that is not UTF-8 gets a parse error)


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
                self._send_response(identifier, None, problem.to_response_error())
        elif "id" in data:
            log.warning("a response of the client's to request %r does not fit the request", identifier)
            future = self._request_futures.pop(identifier, None) if identifier is not None else None
            if future is not None and not future.done():
                future.set_exception(error)
        else:
            log.warning("ignored notification %r: invalid params", method)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Rejected):
            return
        if getattr(message, "jsonrpc", None) is None:  # JSON, but not a JSON-RPC message (a list, a bare object)
            log.warning("ignored a body that is not a JSON-RPC message: answered with an error")
            self.answer_without_id(JsonRpcInvalidRequest("not a JSON-RPC message"))
            return
        super().handle_message(message)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Iterator[Any]:
        if unquote(params.text_document.uri) not in self.workspace.text_documents:
            log.warning("ignored a change to %s: the document is not open", params.text_document.uri)
            return
        yield from super().lsp_text_document__did_change(params)

    def answer_without_id(self, error: JsonRpcException) -> None:
        """An error response to a message whose id cannot be known (`"id": null`)."""
        response = error.to_response_error()
        self._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": response.code, "message": response.message}})


def answer_unreadable_body(protocol: LanguageServerProtocol, error: Exception) -> bool:
    """Answer a frame whose body is not JSON (or not UTF-8) with ParseError; False for any other error."""
    if not isinstance(error, json.JSONDecodeError | UnicodeDecodeError) or not isinstance(protocol, Protocol):
        return False
    log.warning("a message body is not JSON (%s): answered with a parse error", error)
    protocol.answer_without_id(JsonRpcParseError(f"the body is not JSON: {error}"))
    return True
