"""Diagnostics: pushed for every fixture and recording of the workspace, pulled for open ones when possible.

Every checked file gets a `publishDiagnostics`, an empty list for a clean file
so the client knows it was checked. A result is published for a document only
while it is still the document the project holds (and, when open, still the
editor's version): results computed from outdated text are dropped.

When the client supports pull diagnostics and can be told to pull again
(`workspace/diagnostic/refresh`), open documents are served by pulls only
(clients keep pulled and pushed diagnostics apart and would show them twice)
and a refresh is sent when their results change, a recording edited on disk
included; files that are not open are still pushed. A client that pulls but
cannot be refreshed (Neovim) is not offered pulls: its open documents would go
stale when another file changes.

The findings of the last replay of a fixture (`replayLens.replaySession`) are
shown with its check findings while the fixture keeps the text and the rules
the replay saw; an edit or a rule change drops them, the next replay replaces them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException

from server.engine.findings import Finding
from server.engine.source import PositionEncoding
from server.lsp.convert import diagnostic, path_to_uri, uri_to_path
from server.lsp.pygls_private import withdraw_feature
from server.lsp.session import Session, Snapshot
from server.lsp.state import Analysis, Document, Project, Unreadable

log = logging.getLogger(__name__)

_SERVER_CANCELLED = -32802
_CONVERTER = get_converter()


def diagnostics_of(
    analysis: Analysis, document: Document, encoding: PositionEncoding, *, reveal: bool = False
) -> list[types.Diagnostic]:
    return [
        diagnostic(finding, document.parsed, encoding, reveal=reveal)
        for finding in analysis.findings.get(document.path, [])
    ]


def result_id(items: list[types.Diagnostic]) -> str:
    payload = json.dumps(_CONVERTER.unstructure(items), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


class Diagnostics:
    def __init__(self, server: Session) -> None:
        self.server = server
        self._sent: dict[str, list[types.Diagnostic]] = {}
        self._pulled: dict[str, str] = {}
        self._config_uris: dict[Path, set[str]] = {}
        self._replayed: dict[Path, tuple[str, str, list[Finding]]] = {}

    def items(self, analysis: Analysis, document: Document) -> list[types.Diagnostic]:
        """The check's diagnostics of `document`, plus the last replay's while they still apply to it."""
        reveal = self.server.settings.reveal_secrets
        items = diagnostics_of(analysis, document, self.server.encoding, reveal=reveal)
        replayed = self._replayed.get(document.path)
        if replayed is None:
            return items
        text, fingerprint, findings = replayed
        if document.source.text != text or analysis.config.rules.fingerprint() != fingerprint:
            del self._replayed[document.path]
            return items
        return items + [
            diagnostic(finding, document.parsed, self.server.encoding, reveal=reveal) for finding in findings
        ]

    def show_replay(self, project: Project, document: Document, fingerprint: str, findings: list[Finding]) -> None:
        """Show a replay's findings on the fixture it ran against (`document`, with the same text)."""
        self._replayed[document.path] = (document.source.text, fingerprint, findings)
        if project.analysis is not None and project.analysis.covers(document):
            self.on_analysis(project, project.analysis, only=document.path)

    @property
    def pull_mode(self) -> bool:
        text_document = self.server.capabilities.text_document
        workspace = self.server.capabilities.workspace
        refresh = workspace is not None and workspace.diagnostics is not None and workspace.diagnostics.refresh_support
        return bool(text_document is not None and text_document.diagnostic is not None and refresh)

    def negotiate(self) -> None:
        """Offer pull diagnostics only in pull mode (capabilities are computed after `initialize`)."""
        if not self.pull_mode:
            withdraw_feature(self.server.client.protocol, types.TEXT_DOCUMENT_DIAGNOSTIC)

    def publish(self, uri: str, items: list[types.Diagnostic], version: int | None = None) -> None:
        if self._sent.get(uri) == items:
            return
        self._sent[uri] = items
        self.server.client.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=items, version=version)
        )

    def clear(self, uri: str) -> None:
        if self._sent.get(uri):
            self.publish(uri, [])
        self._sent.pop(uri, None)

    def opened(self, uri: str) -> None:
        """In pull mode an open document is pulled: clear what was pushed while it was closed."""
        if self.pull_mode:
            self.clear(uri)

    def on_analysis(self, project: Project, analysis: Analysis, only: Path | None = None) -> None:
        """Publish (or have pulled again) the diagnostics of the documents `analysis` covers, or `only` one."""
        if project.stopped:
            return
        changed_open = False
        covered = analysis.documents.items() if only is None else [(only, analysis.documents[only])]
        for path, document in covered:
            if project.documents.get(path) is not document:
                log.debug("dropped diagnostics of %s: a newer version is being checked", document.uri)
                continue
            is_open = self.server.is_open(document.uri)
            if is_open and document.version != self.server.editor_version(document.uri):
                log.debug("dropped diagnostics of %s version %s: outdated", document.uri, document.version)
                continue
            if not is_open and document.version is not None:
                continue  # closed since: its disk version is on the way
            items = self.items(analysis, document)
            if is_open and self.pull_mode:
                changed_open |= self._pulled.get(document.uri) != result_id(items)
            else:
                self.publish(document.uri, items, document.version)
        if changed_open:
            self.server.client.workspace_diagnostic_refresh(None)

    def show_config_errors(self, folder: Path, projects: list[Project]) -> None:
        """A `config-error` on each broken config file of a folder; clear the ones fixed since."""
        errors = {
            path_to_uri(project.config_error.path): project.config_error.to_finding()
            for project in projects
            if project.config_error is not None
        }
        for uri in self._config_uris.get(folder, set()) - errors.keys():
            self.clear(uri)
        for uri, finding in errors.items():
            log.warning("config error: %s", finding.message)
            self.publish(
                uri, [diagnostic(finding, None, self.server.encoding, reveal=self.server.settings.reveal_secrets)]
            )
        self._config_uris[folder] = set(errors)

    def show_read_error(self, unreadable: Unreadable) -> None:
        """A `read-error` on a file that cannot be read or a folder that cannot be listed (cleared like any file's)."""
        self.publish(unreadable.uri, [diagnostic(unreadable.finding(), None, self.server.encoding)])

    def prune(self, folder: Path) -> None:
        """After indexing: clear files of the folder that no project holds any more."""
        held = {document.uri for project in self.server.state.projects() for document in project.documents.values()}
        held |= self._config_uris.get(folder, set())
        for uri in list(self._sent):
            path = uri_to_path(uri)
            if path is not None and path.is_relative_to(folder) and uri not in held:
                self.clear(uri)

    async def pull(
        self, params: types.DocumentDiagnosticParams, current: Callable[[str], Awaitable[Snapshot | None]]
    ) -> types.DocumentDiagnosticReport:
        uri = params.text_document.uri
        if any(uri in uris for uris in self._config_uris.values()):
            return types.RelatedFullDocumentDiagnosticReport(items=self._sent.get(uri, []))
        snapshot = await current(uri)
        if snapshot is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        if snapshot.analysis is None:
            raise JsonRpcException("still checking", code=_SERVER_CANCELLED, data={"retriggerRequest": True})
        items = self.items(snapshot.analysis, snapshot.document)
        identity = result_id(items)
        self._pulled[uri] = identity
        if params.previous_result_id == identity:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=identity)
        return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=identity)
