"""Navigation: an outline of turns (or recorded calls), and jumps between a turn and its recording line.

Definition on a fixture turn goes to the recording line it was recorded from;
on a recording line it goes to the fixture turns holding it. References on a
recording line list those turns; on a turn, the recording line (and the turn).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from server.engine.fixture import Fixture, Turn
from server.engine.preview import safe
from server.engine.recording import RecordedCall, Recording
from server.engine.source import PositionEncoding
from server.lsp.code_lens import TURN_LABELS
from server.lsp.convert import call_range, lsp_range, path_to_uri
from server.lsp.locate import call_at, turn_at, turn_report

if TYPE_CHECKING:
    from server.lsp.server import Current, ReplayLensServer


def _turn_location(fixture: Fixture, turn: Turn, encoding: PositionEncoding) -> types.Location:
    return types.Location(uri=path_to_uri(fixture.path), range=lsp_range(fixture.source, turn.span, encoding))


def _call_location(recording: Recording, call: RecordedCall, encoding: PositionEncoding) -> types.Location:
    return types.Location(uri=path_to_uri(recording.path), range=call_range(recording, call, encoding))


def symbols(server: ReplayLensServer, current: Current) -> list[types.DocumentSymbol] | list[types.SymbolInformation]:
    """Turns by index and caller (with their status once checked), or recorded calls by line."""
    encoding = server.encoding
    document = current.document
    entries: list[tuple[str, str, types.SymbolKind, types.Range, types.Range]] = []
    parsed = document.parsed
    if isinstance(parsed, Fixture):
        for turn in parsed.turns:
            if turn.broken:
                continue
            caller = turn.caller if isinstance(turn.caller, str) else "legacy" if turn.is_legacy else "?"
            caller = safe(caller, reveal=server.settings.reveal_secrets)
            report = turn_report(current.analysis, document, turn)
            detail = TURN_LABELS[report.status] if report is not None else ""
            entries.append(
                (
                    f"turn {turn.index} · {caller}",
                    detail,
                    types.SymbolKind.Object,
                    lsp_range(parsed.source, turn.span, encoding),
                    lsp_range(parsed.source, turn.head, encoding),
                )
            )
    else:
        for call in parsed.calls:
            where = call_range(parsed, call, encoding)
            caller = safe(call.caller if isinstance(call.caller, str) else "?", reveal=server.settings.reveal_secrets)
            entries.append(
                (f"call {call.index} · {caller}", f"line {call.line + 1}", types.SymbolKind.Event, where, where)
            )
    text_document = server.client_capabilities.text_document
    symbol_capability = text_document.document_symbol if text_document is not None else None
    if symbol_capability is not None and symbol_capability.hierarchical_document_symbol_support:
        return [
            types.DocumentSymbol(name=name, detail=detail, kind=kind, range=whole, selection_range=head)
            for name, detail, kind, whole, head in entries
        ]
    container = Path(document.path).name
    return [
        types.SymbolInformation(
            name=name, kind=kind, location=types.Location(uri=document.uri, range=whole), container_name=container
        )
        for name, _detail, kind, whole, _head in entries
    ]


def targets(
    server: ReplayLensServer, current: Current, position: types.Position
) -> tuple[list[types.Location], types.Location | None]:
    """(the other end of the link at `position`, the place at `position` itself)."""
    encoding = server.encoding
    document, analysis = current.document, current.analysis
    parsed = document.parsed
    if analysis is None:
        return [], None
    if isinstance(parsed, Fixture):
        turn = turn_at(parsed, position, encoding)
        report = turn_report(analysis, document, turn) if turn is not None else None
        if turn is None or report is None:
            return [], None
        here = _turn_location(parsed, turn, encoding)
        if report.link is None:
            return [], here
        return [_call_location(report.link.recording, report.link.call, encoding)], here
    call = call_at(parsed, position.line)
    recording_report = analysis.recordings.get(document.path)
    if call is None or recording_report is None:
        return [], None
    holders = recording_report.linked.get(call.index, [])
    return [_turn_location(fixture, turn, encoding) for fixture, turn in holders], _call_location(
        parsed, call, encoding
    )


def register(server: ReplayLensServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(
        params: types.DocumentSymbolParams,
    ) -> list[types.DocumentSymbol] | list[types.SymbolInformation] | None:
        current = await server.current(params.text_document.uri, timeout=1.0)
        return symbols(server, current) if current is not None else None

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    async def definition(params: types.DefinitionParams) -> list[types.Location] | None:
        current = await server.current(params.text_document.uri, timeout=2.0)
        if current is None:
            return None
        found, _here = targets(server, current, params.position)
        return found or None

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    async def references(params: types.ReferenceParams) -> list[types.Location] | None:
        current = await server.current(params.text_document.uri, timeout=2.0)
        if current is None:
            return None
        found, here = targets(server, current, params.position)
        if params.context.include_declaration and here is not None:
            found = [here, *found]
        return found or None
