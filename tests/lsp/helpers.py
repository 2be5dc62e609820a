"""A pytest-lsp client that records what the server pushes, and helpers to drive the real server process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from tests.lsp import zygote

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "fixtures"
SERVER_COMMAND = [sys.executable, "-S", str(zygote.LAUNCHER), "--stdio", "--log-level", "debug"]
"""`python -m server --stdio --log-level debug`, forked from this worker's zygote (tests/lsp/zygote.py)."""
SERVER_ENV = {**os.environ, "PYTHONPATH": str(REPO), zygote.ENV_SOCKET: str(zygote.SOCKET)}
TIMEOUT = 20.0


class Client(LanguageClient):
    """Keeps every `publishDiagnostics` (with its version) and wakes waiters on each message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published: list[types.PublishDiagnosticsParams] = []
        self.statuses: list[dict[str, Any]] = []
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.registrations: list[types.Registration] = []
        self.apply_to_disk = False
        self.changed = asyncio.Event()

    def notice(self) -> None:
        self.changed.set()

    async def until(self, condition: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition") -> Any:
        """Wait for `condition()` to be truthy, re-checking on every message from the server."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out waiting for {what}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))

    async def diagnostics_for(
        self, uri: str, condition: Callable[[Sequence[types.Diagnostic]], Any] = lambda _: True, what: str = ""
    ) -> Sequence[types.Diagnostic]:
        def ready() -> Sequence[types.Diagnostic] | None:
            items = self.diagnostics.get(uri)
            return items if items is not None and condition(items) else None

        found: Sequence[types.Diagnostic] | None = await self.until(
            lambda: ready() is not None, what=what or f"diagnostics of {uri}"
        )
        assert found
        return self.diagnostics[uri]


def _publish(client: Client, params: types.PublishDiagnosticsParams) -> None:
    client.diagnostics[params.uri] = params.diagnostics
    client.published.append(params)
    client.notice()


def _status(client: Client, params: Any) -> None:
    client.statuses.append(params if isinstance(params, dict) else params._asdict())
    client.notice()


def _apply_edit(client: Client, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
    client.edits.append(params)
    if client.apply_to_disk:
        for uri, edits in edit_changes(params.edit).items():
            path = Path(uri.removeprefix("file://"))
            path.write_text(apply_text_edits(path.read_text(encoding="utf-8"), edits, "utf-16"), encoding="utf-8")
    client.notice()
    return types.ApplyWorkspaceEditResult(applied=True)


def _register(client: Client, params: types.RegistrationParams) -> None:
    client.registrations.extend(params.registrations)
    client.notice()


def make_client() -> Client:
    client = Client(converter_factory=default_converter)
    features = {
        **DEFAULT_CLIENT_FEATURES,
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _publish,
        types.WORKSPACE_APPLY_EDIT: _apply_edit,
        types.CLIENT_REGISTER_CAPABILITY: _register,
        "replayLens/status": _status,
    }
    register_lsp_features(client, features)
    return client


def copy_samples(target: Path) -> Path:
    """The sample workspace's fixtures, recordings and config, in a private folder."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES / "replay-lens.toml", target)
    shutil.copytree(SAMPLES / "replay", target / "replay")
    shutil.copytree(SAMPLES / "recordings", target / "recordings")
    return target


def capabilities(
    *,
    encodings: Sequence[str] | None = None,
    pull: bool = False,
    progress: bool = False,
    apply_edit: bool = True,
    watch: bool = False,
) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind(e) for e in encodings] if encodings else None
        ),
        window=types.WindowClientCapabilities(work_done_progress=progress),
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=apply_edit,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True, resource_operations=[types.ResourceOperationKind.Create]
            ),
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=watch),
            diagnostics=types.DiagnosticWorkspaceClientCapabilities(refresh_support=pull),
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
            diagnostic=types.DiagnosticClientCapabilities() if pull else None,
            document_symbol=types.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=[types.CodeActionKind.QuickFix, types.CodeActionKind.Source]
                    )
                ),
                is_preferred_support=True,
            ),
        ),
    )


async def start(
    client: Client,
    root: Path,
    *,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> types.InitializeResult:
    """Initialize the server on the folder `root` (a 20 ms debounce keeps the tests quick)."""
    uri = root.as_uri()
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(**kwargs),
            root_uri=uri,
            workspace_folders=[types.WorkspaceFolder(uri=uri, name=root.name)],
            initialization_options={"debounceMs": 20, **(options or {})},
        )
    )


def open_document(client: Client, path: Path, version: int = 1, text: str | None = None) -> str:
    uri = path.as_uri()
    language = "jsonl" if path.suffix == ".jsonl" else "json"
    content = text if text is not None else path.read_text(encoding="utf-8")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id=language, version=version, text=content)
        )
    )
    return uri


def replace_all(client: Client, uri: str, old: str, new: str, version: int) -> None:
    """Send an incremental change replacing the whole of `old` (a full-range edit)."""
    lines = old.split("\n")
    end = types.Position(line=len(lines) - 1, character=len(lines[-1].encode("utf-16-le")) // 2)
    change = types.TextDocumentContentChangePartial(range=types.Range(types.Position(0, 0), end), text=new)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]
        )
    )


def edit_changes(edit: types.WorkspaceEdit) -> dict[str, list[types.TextEdit]]:
    """The text edits of a workspace edit by URI, whichever form the server used."""
    changes: dict[str, list[types.TextEdit]] = {uri: list(edits) for uri, edits in (edit.changes or {}).items()}
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit):
            changes.setdefault(change.text_document.uri, []).extend(
                e for e in change.edits if isinstance(e, types.TextEdit)
            )
    return changes


def offset(text: str, position: types.Position, encoding: str) -> int:
    lines = text.split("\n")
    prefix = sum(len(line) + 1 for line in lines[: position.line])
    line = lines[position.line] if position.line < len(lines) else ""
    units = 0
    for index, char in enumerate(line):
        if units >= position.character:
            return prefix + index
        units += len(char.encode("utf-8")) if encoding == "utf-8" else len(char.encode("utf-16-le")) // 2
    return prefix + len(line)


def apply_text_edits(text: str, edits: Sequence[types.TextEdit], encoding: str) -> str:
    """What an editor does with the edits (applied from the end so earlier offsets stay valid)."""
    spans = sorted(
        ((offset(text, e.range.start, encoding), offset(text, e.range.end, encoding), e.new_text) for e in edits),
        reverse=True,
    )
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def position_of(text: str, needle: str, encoding: str = "utf-16", after: int = 0) -> types.Position:
    """The LSP position of the first `needle` at or after string offset `after`."""
    index = text.index(needle, after)
    line = text.count("\n", 0, index)
    start = text.rfind("\n", 0, index) + 1
    prefix = text[start:index]
    units = {"utf-8": len(prefix.encode("utf-8")), "utf-32": len(prefix)}.get(
        encoding, len(prefix.encode("utf-16-le")) // 2
    )
    return types.Position(line=line, character=units)


def codes(items: Sequence[types.Diagnostic]) -> list[str]:
    return sorted(str(item.code) for item in items)
