"""The private pygls names the server relies on, checked against the installed pygls (issue 15).

pygls is pinned to a range in pyproject.toml; inside it, these names are not
promised. `server/lsp/pygls_private.py` is the only module that uses them (the
last test keeps it so); the others check each name it uses: when a pygls release
renames or removes one, this fails first, with the name, instead of a server
test failing far from the cause. In-process: no server is started.
"""

from __future__ import annotations

import ast
import inspect
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument, Workspace

from server.lsp import pygls_private

URI = "file:///probe.json"


def test_a_document_applies_changes_through_the_methods_buffers_overrides() -> None:
    """`HookedDocument` (for `buffers.Buffer`) overrides `_apply_full_change` and `_apply_incremental_change` and
    reads and writes the text in `_source`."""
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
    """`HookedWorkspace` (for `buffers.BufferWorkspace`) overrides `_create_text_document` so open documents are
    `Buffer`s, and `replace_workspace` replaces the protocol's `_workspace`."""
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
    """`shut_workers_down` shuts `_thread_pool` down; `set_stop_event` and `stop_event` set and read `_stop_event`
    (through the protocol's `_server`); `send_response` and `send_data` answer with `_send_response` and
    `_send_data`."""
    server = LanguageServer("probe", "0")
    assert {"_thread_pool", "_stop_event"} <= vars(server).keys()
    assert server.protocol._server is server
    assert list(inspect.signature(server.protocol._send_response).parameters)[:3] == ["msg_id", "result", "error"]
    assert list(inspect.signature(server.protocol._send_data).parameters) == ["data"]


def test_features_and_their_options_can_be_withdrawn_before_initialize_answers() -> None:
    """`withdraw_feature` (for `diagnostics.py`) withdraws pull diagnostics from a client that cannot refresh them."""
    server = LanguageServer("probe", "0")

    @server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, types.DiagnosticOptions(False, False))
    def pull(params: Any) -> None:
        return None

    assert types.TEXT_DOCUMENT_DIAGNOSTIC in server.protocol.fm.features
    assert types.TEXT_DOCUMENT_DIAGNOSTIC in server.protocol.fm.feature_options


class _Recorder(pygls_private.HookedDocument):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    def full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        self.calls.append("full")
        super().full_change(change)

    def incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        self.calls.append("incremental")
        super().incremental_change(change)


def test_a_hooked_document_hands_every_change_to_its_public_hooks() -> None:
    document = _Recorder(URI, "abc", sync_kind=types.TextDocumentSyncKind.Incremental)
    assert document.incremental and document.stored_text == "abc"
    document.apply_change(
        types.TextDocumentContentChangePartial(range=types.Range(types.Position(0, 1), types.Position(0, 2)), text="X")
    )
    document.apply_change(types.TextDocumentContentChangeWholeDocument(text="whole"))
    assert document.calls == ["incremental", "full"] and document.source == "whole"
    document.stored_text = "set"
    assert document.source == "set"


def test_a_hooked_workspace_makes_its_documents_and_replaces_the_protocols() -> None:
    class Workspace(pygls_private.HookedWorkspace):
        def make_document(
            self, uri: str, source: str | None, version: int | None, language_id: str | None
        ) -> TextDocument:
            return _Recorder(uri, source, version, language_id, sync_kind=types.TextDocumentSyncKind.Incremental)

    workspace = Workspace(None, types.TextDocumentSyncKind.Incremental)
    workspace.put_text_document(types.TextDocumentItem(uri=URI, language_id="json", version=3, text="{}"))
    made = workspace.get_text_document(URI)
    assert isinstance(made, _Recorder) and (made.version, made.source) == (3, "{}")
    server = LanguageServer("probe", "0")
    pygls_private.replace_workspace(server.protocol, workspace)
    assert server.protocol.workspace is workspace


def test_a_withdrawn_feature_is_no_longer_offered() -> None:
    server = LanguageServer("probe", "0")

    @server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, types.DiagnosticOptions(False, False))
    def pull(params: Any) -> None:
        return None

    pygls_private.withdraw_feature(server.protocol, types.TEXT_DOCUMENT_DIAGNOSTIC)
    assert types.TEXT_DOCUMENT_DIAGNOSTIC not in server.protocol.fm.features
    assert types.TEXT_DOCUMENT_DIAGNOSTIC not in server.protocol.fm.feature_options


def test_the_stop_event_set_on_the_server_is_the_one_its_protocol_reads() -> None:
    server = LanguageServer("probe", "0")
    stop = threading.Event()
    pygls_private.set_stop_event(server, stop)
    assert pygls_private.stop_event(server.protocol) is stop
    assert pygls_private.shutting_down(server.protocol) is False
    assert pygls_private.pending_request(server.protocol, 1) is None
    pygls_private.shut_workers_down(server)


PRIVATE_NAMES = frozenset(
    {
        "_apply_full_change",
        "_apply_incremental_change",
        "_create_text_document",
        "_is_sync_kind_incremental",
        "_request_futures",
        "_send_data",
        "_send_response",
        "_server",
        "_shutdown",
        "_source",
        "_stop_event",
        "_thread_pool",
        "_workspace",
        "fm",
    }
)


def test_only_pygls_private_uses_private_pygls_names() -> None:
    """No other module of `server/lsp` reads, sets or overrides a private pygls name."""
    lsp = Path(__file__).resolve().parents[2] / "server" / "lsp"
    used = []
    for path in sorted(lsp.glob("*.py")):
        if path.name == "pygls_private.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "name", None)
            if isinstance(node, ast.Attribute | ast.FunctionDef | ast.AsyncFunctionDef) and name in PRIVATE_NAMES:
                used.append(f"{path.name}:{node.lineno} {name}")
    assert used == []
