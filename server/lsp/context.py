"""What a workspace-level request is given: the session, and the owners it may ask for more.

A document request (hover, a code action) is a function of (snapshot, params):
the route wrapper takes the snapshot. A workspace-level request (a command, the
sessions listing, a replay) names its files in its arguments, so it gets a
`Context`: the session, the document owner (a snapshot of a named file, waiting
at most the route's timeout; files read again after a write) and the
diagnostics store (a replay's findings). Features never import one another, nor
`server.lsp.server`.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.lsp.diagnostics import Diagnostics
from server.lsp.documents import Documents
from server.lsp.session import Session, Snapshot


@dataclass(frozen=True, slots=True)
class Context:
    session: Session
    documents: Documents
    diagnostics: Diagnostics
    timeout: float
    """Seconds the request waits for the check of a document it names (the route's)."""

    async def snapshot(self, uri: str) -> Snapshot | None:
        """The document at `uri` once its project is indexed and checked, or None (not one of the workspace's)."""
        return await self.documents.current(uri, self.timeout, wait_ready=True)
