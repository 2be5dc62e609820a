"""Workspace edits as the client takes them: shared by the quick fixes and the `replayLens.rehash` command.

Rehash edits are the engine's `rehash_edits` spans turned into ranges, so an
applied quick fix gives exactly the bytes `check --fix` writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from server.engine.checks import FixtureReport
from server.engine.rehash import rehash_edits
from server.engine.source import PositionEncoding
from server.lsp.convert import lsp_range
from server.lsp.state import Document


def workspace_edit(
    capabilities: types.ClientCapabilities, uri: str, version: int | None, edits: list[types.TextEdit]
) -> types.WorkspaceEdit:
    """Versioned document changes when the client takes them (it then refuses edits to a changed file)."""
    workspace = capabilities.workspace
    capability = workspace.workspace_edit if workspace is not None else None
    if capability is not None and capability.document_changes:
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=identifier, edits=edits)])
    return types.WorkspaceEdit(changes={uri: edits})


def rehash_edit(
    capabilities: types.ClientCapabilities,
    encoding: PositionEncoding,
    document: Document,
    report: FixtureReport,
    turns: Sequence[int] | None = None,
) -> types.WorkspaceEdit | None:
    """The rehash of `turns` (every stale turn when None) as a workspace edit; None when nothing changes."""
    edits = rehash_edits(report, turns)
    if not edits:
        return None
    text_edits = [types.TextEdit(lsp_range(document.source, edit.span, encoding), edit.new_text) for edit in edits]
    return workspace_edit(capabilities, document.uri, document.version, text_edits)
