"""One table of the document requests: method → feature, with the time a request may wait for its check.

Each feature here is a function of (snapshot, params); the server registers
them all through one wrapper (`server.lsp.server`), which takes the snapshot of
the request's document and answers None when there is none (a file outside the
workspace, an edit newer than the request). Errors and cancellation take
pygls's one path: an exception becomes the request's JSON-RPC error, a
`$/cancelRequest` cancels the task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from server.lsp import code_lens, hover, navigation
from server.lsp.session import Snapshot


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    handler: Callable[[Snapshot, Any], Awaitable[Any]]
    timeout: float
    """Seconds the request waits for its document's check before it answers without one."""
    options: Any = None


ROUTES = (
    Route(types.TEXT_DOCUMENT_HOVER, hover.hover, 2.0),
    Route(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, navigation.document_symbol, 1.0),
    Route(types.TEXT_DOCUMENT_DEFINITION, navigation.definition, 2.0),
    Route(types.TEXT_DOCUMENT_REFERENCES, navigation.references, 2.0),
    Route(types.TEXT_DOCUMENT_CODE_LENS, code_lens.code_lens, 2.0, types.CodeLensOptions(resolve_provider=False)),
)
