"""What a request handler sees: an immutable snapshot of one document and what it was checked under.

The server (`server.lsp.server`) changes its state only on the event loop and
takes a `Snapshot` for each request; a feature is a function of (snapshot,
params) that never reaches back into that state, so it can be read, and tested,
alone. A snapshot keeps what it was taken with: a later edit, a new check or a
settings change makes a new snapshot, never a changed one.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

from server.engine.source import PositionEncoding
from server.lsp.settings import Settings
from server.lsp.state import Analysis, Document, Project


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document at the editor's current version, and the check that covers it (None while indexing)."""

    project: Project
    document: Document
    analysis: Analysis | None
    settings: Settings
    encoding: PositionEncoding
    capabilities: types.ClientCapabilities
    trusted: bool
    """What the client said in `initializationOptions.workspaceTrusted`: only then may it run the tests."""
