"""The private pygls names the server relies on, checked against the installed pygls (issue 15, item 4).

pygls is pinned to a range in pyproject.toml; inside it, these names are not
promised. Each test names the module that uses one: when a pygls release renames
or removes it, this fails first, with the name, instead of a server test
failing far from the cause. In-process: no server is started.
"""

from __future__ import annotations

import inspect
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace

URI = "file:///probe.json"


def test_a_document_applies_changes_through_the_methods_buffers_overrides() -> None:
    """`server/lsp/buffers.py`: `Buffer` overrides `_apply_full_change` and `_apply_incremental_change` and keeps
    its text in `_source`."""
    calls: list[str] = []

    class Probe(TextDocument):
        def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
            calls.append("full")
            super()._apply_full_change(change)

        def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
            calls.append("incremental")
            super()._apply_incremental_change(change)

    document = Probe(URI, "abc", sync_kind=types.TextDocumentSyncKind.Incremental)
    assert document._source == "abc"
    where = types.Range(types.Position(0, 1), types.Position(0, 2))
    document.apply_change(types.TextDocumentContentChangePartial(range=where, text="X"))
    assert calls == ["incremental"] and document._source == "aXc"
    document.apply_change(types.TextDocumentContentChangeWholeDocument(text="whole"))
    assert calls == ["incremental", "full"] and document._source == "whole"


def test_a_workspace_makes_its_documents_through_create_text_document() -> None:
    """`server/lsp/buffers.py`: `BufferWorkspace` overrides `_create_text_document` so open documents are
    `Buffer`s, and `install` replaces the protocol's `_workspace`."""
    made: list[str] = []

    class Probe(Workspace):
        def _create_text_document(self, doc_uri: str, *args: Any, **kwargs: Any) -> TextDocument:
            made.append(doc_uri)
            document: TextDocument = super()._create_text_document(doc_uri, *args, **kwargs)
            return document

    workspace = Probe(None, types.TextDocumentSyncKind.Incremental)
    workspace.put_text_document(types.TextDocumentItem(uri=URI, language_id="json", version=1, text="{}"))
    assert made == [URI]
    protocol = LanguageServerProtocol(LanguageServer("probe", "0"), lambda: None)  # type: ignore[arg-type]
    assert "_workspace" in vars(protocol)
    protocol._workspace = workspace
    assert protocol.workspace is workspace


def test_the_server_and_its_protocol_keep_the_names_wire_and_transports_use() -> None:
    """`server/lsp/server.py` shuts `_thread_pool` down; `transports.py` and `wire.py` set and read `_stop_event`
    (through the protocol's `_server`); `wire.py` answers with `_send_response` and `_send_data`."""
    server = LanguageServer("probe", "0")
    assert {"_thread_pool", "_stop_event"} <= vars(server).keys()
    assert server.protocol._server is server
    assert list(inspect.signature(server.protocol._send_response).parameters)[:3] == ["msg_id", "result", "error"]
    assert list(inspect.signature(server.protocol._send_data).parameters) == ["data"]


def test_features_and_their_options_can_be_withdrawn_before_initialize_answers() -> None:
    """`server/lsp/diagnostics.py` withdraws pull diagnostics from a client that cannot refresh them."""
    server = LanguageServer("probe", "0")

    @server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, types.DiagnosticOptions(False, False))
    def pull(params: Any) -> None:
        return None

    assert types.TEXT_DOCUMENT_DIAGNOSTIC in server.protocol.fm.features
    assert types.TEXT_DOCUMENT_DIAGNOSTIC in server.protocol.fm.feature_options
