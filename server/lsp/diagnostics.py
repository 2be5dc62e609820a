"""Diagnostics: one store of findings keyed by (source, uri), pushed or pulled from one place.

Each source puts a file's findings in the store and the store delivers the
file's problems (esbonio's model): `check` (a project's check of the file, the
verdicts of captured test runs included: the check reads the captures), `config`
(a config file that cannot be read), `read` (a file or folder that cannot be
read) and `replay` (the last replay's findings on a fixture). A file's findings
of all sources are grouped by the engine (`engine.problems.group`): a turn shows
one problem per cause, the other facts of the turn in its `relatedInformation`.

Every checked file gets a `publishDiagnostics`, an empty list for a clean file
so the client knows it was checked. A result is published for a document only
while it is still the document the project holds (and, when open, still the
editor's version): results computed from outdated text are dropped. Files
outside the client's workspace folders never get problems (a file opened from
elsewhere is still checked: hover and lenses work on it).

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
A `read` error and a `check` of the same file replace each other (the latest
read wins); a folder's `config` errors are replaced at each indexing of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pygls.workspace import Workspace

from server.engine import findings as codes
from server.engine.findings import Finding
from server.engine.fixture import Fixture
from server.engine.problems import group
from server.engine.recording import Recording
from server.engine.source import PositionEncoding
from server.lsp.convert import diagnostic, path_to_uri, uri_to_path
from server.lsp.pygls_private import send_data, withdraw_feature
from server.lsp.session import Session, Snapshot
from server.lsp.state import Analysis, Document, Project, Unreadable

log = logging.getLogger(__name__)

_SERVER_CANCELLED = -32802
_CONVERTER = get_converter()


class Source(Enum):
    CHECK = "check"
    CONFIG = "config"
    READ = "read"
    REPLAY = "replay"


@dataclass(frozen=True, slots=True)
class Entry:
    """What one source found in one file.

    `parsed` is the text positions and masking are computed from (None for a
    file the engine holds no text of); `shown_while` is the (text, rules
    fingerprint) a replay's findings hold for; `folder` is the workspace folder
    whose indexing found a config error.
    """

    findings: tuple[Finding, ...]
    parsed: Fixture | Recording | None = None
    shown_while: tuple[str, str] | None = None
    folder: Path | None = None


@dataclass(slots=True)
class _Delivered:
    """What the client has of a file: the list last pushed, the result id last pulled."""

    pushed: list[types.Diagnostic] | None = None
    pulled: str | None = None


_Identity = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class _Converted:
    """A finding's diagnostic and its JSON form (`wire`), converted once while equal findings come back."""

    finding: Finding
    identity: _Identity | None
    item: types.Diagnostic
    wire: dict[str, Any]


@dataclass(slots=True)
class _Kept:
    """A file's last diagnostics: by their finding (the very object, which a check keeps for a turn it did
    not judge again, or an equal one), and by the diagnostic (for its JSON form). Each entry holds its
    objects, so an `id` here names them."""

    settings: tuple[PositionEncoding, bool]
    """The position encoding and `revealSecrets` they were converted under."""
    by_finding: dict[int, _Converted] = field(default_factory=dict)
    by_identity: dict[_Identity, _Converted] = field(default_factory=dict)
    by_item: dict[int, _Converted] = field(default_factory=dict)


def _identity(finding: Finding, parsed: Fixture | Recording | None, encoding: str, reveal: bool) -> _Identity | None:
    """What a finding's diagnostic is a function of, or None when that includes its file's text.

    An edit re-checks the whole file and makes new findings, nearly all equal to
    the last check's: a 5,000-turn fixture's diagnostics cost ~100 ms to build and
    ~100 ms more to serialize through cattrs, each keystroke. The diagnostic reads
    the text only to mask a quoted `data.text` and, in UTF-8/32, for its range:
    those are never reused. `repr` tells JSON values apart (True from 1, 1 from 1.0).
    """
    if isinstance(finding.data.get("text"), str):
        return None
    if parsed is not None and finding.code is not codes.CONFIG_ERROR and encoding != "utf-16":
        return None
    start, end = finding.range.start, finding.range.end
    return (
        finding.code.name,
        start.line,
        start.character,
        end.line,
        end.character,
        finding.message,
        finding.severity,
        repr(finding.data),
        reveal,
        parsed is None,
    )


def result_id(wire: list[dict[str, Any]]) -> str:
    """The identity of a list of diagnostics (in their JSON form) a client pulls."""
    payload = json.dumps(wire, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def client_folders(workspace: Workspace) -> list[Path]:
    """The workspace folders the client named, or its root URI when it sends no folders."""
    uris = [folder.uri for folder in workspace.folders.values()]
    if not uris and workspace.root_uri:
        uris = [workspace.root_uri]
    return [path for path in map(uri_to_path, uris) if path is not None]


class Diagnostics:
    def __init__(self, server: Session) -> None:
        self.server = server
        self._entries: dict[tuple[Source, str], Entry] = {}
        self._delivered: dict[str, _Delivered] = {}
        self._folders: tuple[tuple[object, ...], list[Path]] = ((), [])
        self._inside: dict[str, bool] = {}
        self._converted: dict[str, _Kept] = {}
        """Each file's last diagnostics, reused by the next check's equal findings."""

    # -- the store ---------------------------------------------------------------
    def _put(self, source: Source, uri: str, entry: Entry | None) -> None:
        if entry is None:
            self._entries.pop((source, uri), None)
        else:
            self._entries[(source, uri)] = entry

    def _put_check(self, analysis: Analysis, document: Document) -> None:
        """The check's findings of `document`; a replay's are dropped once the text or the rules changed."""
        uri = document.uri
        findings = tuple(analysis.findings.get(document.path, ()))
        self._put(Source.CHECK, uri, Entry(findings, document.parsed))
        self._put(Source.READ, uri, None)
        replayed = self._entries.get((Source.REPLAY, uri))
        if replayed is not None and replayed.shown_while != (document.source.text, analysis.config.rules.fingerprint()):
            self._put(Source.REPLAY, uri, None)

    def _visible(self, uri: str) -> bool:
        """Whether `uri` may get problems: inside a workspace folder of the client (any file when it named none)."""
        workspace = self.server.client.workspace
        named = (*workspace.folders, workspace.root_uri)
        if self._folders[0] != named:  # the client's folders change rarely; files are delivered by thousands
            self._folders = (named, client_folders(workspace))
            self._inside.clear()
        inside = self._inside.get(uri)
        if inside is None:
            folders, path = self._folders[1], uri_to_path(uri)
            inside = self._inside[uri] = not folders or (
                path is not None and any(path.is_relative_to(folder) for folder in folders)
            )
        return inside

    def items(self, uri: str) -> list[types.Diagnostic]:
        """The problems of `uri`: its findings of every source, grouped one problem per cause."""
        if not self._visible(uri):
            return []
        encoding, reveal = self.server.encoding, self.server.settings.reveal_secrets
        checked = self._entries.get((Source.CHECK, uri))
        replayed = self._entries.get((Source.REPLAY, uri))
        parsed = checked.parsed if checked is not None else replayed.parsed if replayed is not None else None
        findings = [f for entry in (checked, replayed) if entry is not None for f in entry.findings]
        items = []
        before, converted = self._converted.pop(uri, None), _Kept((encoding, reveal))
        if before is None or before.settings != converted.settings:
            before = _Kept(converted.settings)
        for problem in group(findings):
            if not problem.related:
                items.append(self._convert(problem.finding, parsed, before, converted).item)
                continue
            item = diagnostic(problem.finding, parsed, encoding, reveal=reveal)
            item.related_information = [
                types.DiagnosticRelatedInformation(
                    location=types.Location(uri=uri, range=related.range),
                    message=f"{related.code}: {related.message}",
                )
                for related in (diagnostic(found, parsed, encoding, reveal=reveal) for found in problem.related)
            ]
            items.append(item)
        for source in (Source.CONFIG, Source.READ):
            entry = self._entries.get((source, uri))
            if entry is not None:
                items += [self._convert(finding, None, before, converted).item for finding in entry.findings]
        if converted.by_item:
            self._converted[uri] = converted
        return items

    def _convert(
        self, finding: Finding, parsed: Fixture | Recording | None, before: _Kept, converted: _Kept
    ) -> _Converted:
        """The diagnostic of `finding`: the last delivery's of the same or an equal finding, or converted now."""
        done = before.by_finding.get(id(finding))
        if done is None or done.finding is not finding or done.identity is None:
            encoding, reveal = converted.settings
            identity = _identity(finding, parsed, encoding, reveal)
            done = None
            if identity is not None:
                done = converted.by_identity.get(identity) or before.by_identity.get(identity)
            if done is None:
                item = diagnostic(finding, parsed, encoding, reveal=reveal)
                done = _Converted(finding, identity, item, _CONVERTER.unstructure(item))
            elif done.finding is not finding:
                done = _Converted(finding, identity, done.item, done.wire)
        if done.identity is not None:
            converted.by_identity[done.identity] = done
        converted.by_finding[id(finding)] = done
        converted.by_item[id(done.item)] = done
        return done

    def _wire_form(self, uri: str, items: list[types.Diagnostic]) -> list[dict[str, Any]]:
        """The JSON form of `uri`'s diagnostics: kept for those converted by `items`, else converted now."""
        kept = self._converted.get(uri)
        wire = kept.by_item if kept is not None else {}
        return [
            done.wire
            if (done := wire.get(id(item))) is not None and done.item is item
            else _CONVERTER.unstructure(item)
            for item in items
        ]

    # -- delivery ----------------------------------------------------------------
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

    def _deliver(self, uri: str, version: int | None = None) -> bool:
        """Push the problems of `uri`, or, for a document the client pulls, say whether it must pull again."""
        if not self._visible(uri):
            shown = self._delivered.get(uri)
            if shown is not None and shown.pushed:
                self.publish(uri, [])
            return False
        delivered = self._delivered.setdefault(uri, _Delivered())
        items = self.items(uri)
        if self.pull_mode and self.server.is_open(uri):
            return delivered.pulled != result_id(self._wire_form(uri, items))
        self.publish(uri, items, version)
        return False

    def _refresh(self, needed: bool) -> None:
        if needed:
            self.server.client.workspace_diagnostic_refresh(None)

    def publish(self, uri: str, items: list[types.Diagnostic], version: int | None = None) -> None:
        delivered = self._delivered.setdefault(uri, _Delivered())
        if delivered.pushed == items:
            return
        delivered.pushed = items
        # Sent as plain JSON values: the diagnostics' JSON forms are kept, cattrs would convert them all again.
        params: dict[str, Any] = {"uri": uri, "diagnostics": self._wire_form(uri, items)}
        if version is not None:
            params["version"] = version
        message = {"jsonrpc": "2.0", "method": types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, "params": params}
        send_data(self.server.client.protocol, message)

    # -- what the sources say ----------------------------------------------------
    def clear(self, uri: str) -> None:
        """`uri` is no document any more (deleted, no longer a fixture or recording): its findings go."""
        for source in (Source.CHECK, Source.REPLAY, Source.READ):
            self._put(source, uri, None)
        if uri in self._delivered:  # a file the client never got problems of needs no empty list
            self._refresh(self._deliver(uri))
        if (Source.CONFIG, uri) not in self._entries:
            self._delivered.pop(uri, None)
            self._converted.pop(uri, None)

    def opened(self, uri: str) -> None:
        """In pull mode an open document is pulled: clear what was pushed while it was closed."""
        if self.pull_mode:
            delivered = self._delivered.get(uri)
            if delivered is not None and delivered.pushed:
                self.publish(uri, [])
                delivered.pushed = None

    def on_analysis(self, project: Project, analysis: Analysis, only: Path | None = None) -> None:
        """Deliver the problems of the documents `analysis` covers, or of `only` one."""
        if project.stopped:
            return
        refresh = False
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
            self._put_check(analysis, document)
            refresh |= self._deliver(document.uri, document.version)
        self._refresh(refresh)

    def show_replay(self, project: Project, document: Document, fingerprint: str, findings: list[Finding]) -> None:
        """Show a replay's findings on the fixture it ran against (`document`, with the same text)."""
        entry = Entry(tuple(findings), document.parsed, shown_while=(document.source.text, fingerprint))
        self._put(Source.REPLAY, document.uri, entry)
        if project.analysis is not None and project.analysis.covers(document):
            self.on_analysis(project, project.analysis, only=document.path)

    def show_config_errors(self, folder: Path, projects: list[Project]) -> None:
        """A `config-error` on each broken config file of a folder; clear the ones fixed since."""
        errors = {
            path_to_uri(project.config_error.path): project.config_error.to_finding()
            for project in projects
            if project.config_error is not None
        }
        before = {
            uri for (source, uri), entry in self._entries.items() if source is Source.CONFIG and entry.folder == folder
        }
        refresh = False
        for uri in before - errors.keys():
            self._put(Source.CONFIG, uri, None)
            refresh |= self._deliver(uri)
        for uri, finding in errors.items():
            log.warning("config error: %s", finding.message)
            self._put(Source.CONFIG, uri, Entry((finding,), folder=folder))
            refresh |= self._deliver(uri)
        self._refresh(refresh)

    def show_read_error(self, unreadable: Unreadable) -> None:
        """A `read-error` on a file that cannot be read or a folder that cannot be listed (it replaces the file's
        check, and a check of it, once it can be read again, replaces the error)."""
        uri = unreadable.uri
        self._put(Source.CHECK, uri, None)
        self._put(Source.REPLAY, uri, None)
        self._put(Source.READ, uri, Entry((unreadable.finding(),)))
        self._refresh(self._deliver(uri))

    def prune(self, folder: Path) -> None:
        """After indexing: clear files of the folder that no project holds any more (config errors stay)."""
        held = {document.uri for project in self.server.state.projects() for document in project.documents.values()}
        known = {uri for _, uri in self._entries} | self._delivered.keys()
        for uri in known - held:
            path = uri_to_path(uri)
            if path is not None and path.is_relative_to(folder):
                self.clear(uri)

    async def pull(
        self, params: types.DocumentDiagnosticParams, current: Callable[[str], Awaitable[Snapshot | None]]
    ) -> types.DocumentDiagnosticReport:
        uri = params.text_document.uri
        if self._visible(uri) and not any((source, uri) in self._entries for source in (Source.CONFIG, Source.READ)):
            snapshot = await current(uri)
            if snapshot is None:
                return types.RelatedFullDocumentDiagnosticReport(items=[])
            if snapshot.analysis is None:
                raise JsonRpcException("still checking", code=_SERVER_CANCELLED, data={"retriggerRequest": True})
            self._put_check(snapshot.analysis, snapshot.document)
        items = self.items(uri)
        identity = self._delivered.setdefault(uri, _Delivered()).pulled = result_id(self._wire_form(uri, items))
        if params.previous_result_id == identity:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=identity)
        return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=identity)
