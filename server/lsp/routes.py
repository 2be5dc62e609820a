"""One table of every request the server answers: method → feature, with its scope and its timeout.

A `document` route's feature is a function of (snapshot, params): the wrapper
takes the snapshot of the request's document (its newest text, parsed, and the
check that covers it, waiting up to the route's timeout) and answers None when
there is none (a file outside the workspace, an edit newer than the request).
A `workspace` route's feature is a function of (context, params) and a
`command` route's of (context, arguments): it names its files itself
(`server.lsp.context`). Every handler runs as its own task on the event loop;
reading and checking run in worker threads inside the features.

Errors and cancellation take one path, `_answer`: a `JsonRpcException` is the
request's error as raised, any other exception is logged with its method and
becomes pygls's internal error, and a `$/cancelRequest` cancels the task.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from server.lsp import code_actions, code_lens, commands, hover, navigation, replay, run_tests, sessions
from server.lsp.command_ids import REHASH, REPLAY_SESSION, RUN_REPLAY_TESTS, SHOW_NORMALIZED_INPUT
from server.lsp.context import Context
from server.lsp.diagnostics import Diagnostics
from server.lsp.documents import Documents
from server.lsp.session import Session

log = logging.getLogger(__name__)

Scope = Literal["document", "workspace", "command"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    handler: Callable[[Any, Any], Awaitable[Any]]
    """(snapshot, params) for a document route, (context, params) for a workspace route, (context, arguments) for a
    command."""
    timeout: float
    """Seconds the request waits for the check of its document (or of the documents it names)."""
    scope: Scope = "document"
    options: Any = None


async def _pull_diagnostics(context: Context, params: types.DocumentDiagnosticParams) -> Any:
    return await context.diagnostics.pull(params, context.snapshot)


ROUTES = (
    Route(types.TEXT_DOCUMENT_HOVER, hover.hover, 2.0),
    Route(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, navigation.document_symbol, 1.0),
    Route(types.TEXT_DOCUMENT_DEFINITION, navigation.definition, 2.0),
    Route(types.TEXT_DOCUMENT_REFERENCES, navigation.references, 2.0),
    Route(
        types.TEXT_DOCUMENT_CODE_LENS, code_lens.code_lens, 2.0, options=types.CodeLensOptions(resolve_provider=False)
    ),
    Route(types.TEXT_DOCUMENT_CODE_ACTION, code_actions.code_action, 2.0, options=code_actions.OPTIONS),
    Route(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        _pull_diagnostics,
        30.0,
        "workspace",
        types.DiagnosticOptions(identifier="replay-lens", inter_file_dependencies=True, workspace_diagnostics=False),
    ),
    Route(sessions.SESSIONS, sessions.list_sessions, 30.0, "workspace"),
    Route(sessions.STEPS, sessions.step_page, 30.0, "workspace"),
    Route(REHASH, commands.rehash, 30.0, "command"),
    Route(SHOW_NORMALIZED_INPUT, commands.show_normalized_input, 30.0, "command"),
    Route(REPLAY_SESSION, replay.replay_session, 30.0, "command"),
    Route(RUN_REPLAY_TESTS, run_tests.run_replay_tests, 30.0, "command"),
)


def register(server: LanguageServer, session: Session, documents: Documents, diagnostics: Diagnostics) -> None:
    """Register every route with pygls, through `_answer`."""
    for route in ROUTES:
        answer = _answer(route, session, documents, diagnostics)
        if route.scope == "command":
            server.command(route.method)(answer)
        else:
            server.feature(route.method, route.options)(answer)


def _answer(
    route: Route, session: Session, documents: Documents, diagnostics: Diagnostics
) -> Callable[..., Awaitable[Any]]:
    """The one wrapper of a routed request: its snapshot or context, its errors."""
    context = Context(session, documents, diagnostics, route.timeout)

    async def call(*args: Any) -> Any:
        if route.scope == "document":
            snapshot = await documents.current(args[0].text_document.uri, route.timeout)
            return None if snapshot is None else await route.handler(snapshot, args[0])
        return await route.handler(context, args if route.scope == "command" else args[0])

    async def answer(*args: Any) -> Any:
        try:
            return await call(*args)
        except JsonRpcException:
            raise
        except Exception:
            log.exception("%s failed", route.method)
            raise

    return answer
