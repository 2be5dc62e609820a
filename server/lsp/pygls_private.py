"""Every private pygls name the server uses, in one place (issue 15).

pygls is pinned to a range (pyproject.toml); inside it, underscore names are not
promised. The rest of `server/lsp` reaches them only through this module, and
`tests/lsp/test_pygls_private.py` checks each one against the installed pygls, so
a release that renames one fails there, naming it, instead of far from the cause.

- `HookedDocument`: a text document whose change methods (`_apply_full_change`,
  `_apply_incremental_change`) and text (`_source`) a subclass overrides and
  reads through public names (`server.lsp.buffers.Buffer`).
- `HookedWorkspace`: a workspace that makes its documents through
  `make_document` (pygls: `_create_text_document`); `replace_workspace` puts
  one in place of the protocol's (`_workspace`).
- `withdraw_feature`: a registered feature and its options removed before
  `initialize` answers (`fm.features`, `fm.feature_options`).
- the server's worker pool (`_thread_pool`) and stop event (`_stop_event`); the
  protocol's way to answer (`_send_response`, `_send_data`), its pending requests
  (`_request_futures`), its shutdown flag (`_shutdown`) and its server (`_server`).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace


class HookedDocument(TextDocument):
    """A pygls text document whose changes and text a subclass handles through public names."""

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        self.full_change(change)

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        self.incremental_change(change)

    def full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        """Replace the whole text (pygls's way)."""
        TextDocument._apply_full_change(self, change)

    def incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        """Apply one range change (pygls's way)."""
        TextDocument._apply_incremental_change(self, change)

    @property
    def stored_text(self) -> str:
        """The text as stored, without changes a subclass holds back."""
        return self._source or ""

    @stored_text.setter
    def stored_text(self, text: str) -> None:
        self._source = text

    @property
    def incremental(self) -> bool:
        return bool(self._is_sync_kind_incremental)


class HookedWorkspace(Workspace):
    """A pygls workspace that makes its open documents with `make_document`."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return self.make_document(doc_uri, source, version, language_id)

    def make_document(self, uri: str, source: str | None, version: int | None, language_id: str | None) -> TextDocument:
        document: TextDocument = super()._create_text_document(uri, source, version, language_id)
        return document


def replace_workspace(protocol: LanguageServerProtocol, workspace: Workspace) -> None:
    """Use `workspace` as the protocol's (pygls builds its own at `initialize`)."""
    protocol._workspace = workspace


def withdraw_feature(protocol: LanguageServerProtocol, method: str) -> None:
    """Stop offering `method`: capabilities are computed from the registered features after `initialize`."""
    protocol.fm.features.pop(method, None)
    protocol.fm.feature_options.pop(method, None)


def shut_workers_down(server: LanguageServer) -> None:
    """Cancel the work queued in the server's thread pool (the process goes on serving other clients)."""
    if server._thread_pool is not None:
        server._thread_pool.shutdown(wait=False, cancel_futures=True)


def set_stop_event(server: LanguageServer, stop: threading.Event) -> None:
    """The event that ends the server's read loop (a transport of our own starts the loop)."""
    server._stop_event = stop


def stop_event(protocol: LanguageServerProtocol) -> threading.Event | None:
    stop: threading.Event | None = protocol._server._stop_event
    return stop


def send_response(protocol: LanguageServerProtocol, identifier: int | str, error: Any) -> None:
    """Answer request `identifier` with `error` (a JSON-RPC response error)."""
    protocol._send_response(identifier, None, error)


def send_data(protocol: LanguageServerProtocol, data: Any) -> None:
    protocol._send_data(data)


def pending_request(protocol: LanguageServerProtocol, identifier: int | str) -> Future[Any] | None:
    """The future of our request `identifier` still waiting for the client's answer, removed from the waiting."""
    future: Future[Any] | None = protocol._request_futures.pop(identifier, None)
    return future


def shutting_down(protocol: LanguageServerProtocol) -> bool:
    return bool(protocol._shutdown)
