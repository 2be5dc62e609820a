"""Navigation: an outline of turns (or recorded calls), and jumps between a turn and its recording line.

Definition on a fixture turn goes to the recording line it was recorded from;
on a recording line it goes to the fixture turns holding it. References on a
recording line list those turns; on a turn, the recording line (and the turn).
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from server.engine.fixture import Fixture, Turn
from server.engine.preview import safe
from server.engine.recording import RecordedCall, Recording
from server.engine.source import PositionEncoding
from server.lsp.convert import TURN_LABELS, call_range, lsp_range, path_to_uri
from server.lsp.locate import call_at, turn_at, turn_report
from server.lsp.session import Snapshot


def _turn_location(fixture: Fixture, turn: Turn, encoding: PositionEncoding) -> types.Location:
    return types.Location(uri=path_to_uri(fixture.path), range=lsp_range(fixture.source, turn.span, encoding))


def _call_location(recording: Recording, call: RecordedCall, encoding: PositionEncoding) -> types.Location:
    return types.Location(uri=path_to_uri(recording.path), range=call_range(recording, call, encoding))


def symbols(snapshot: Snapshot) -> list[types.DocumentSymbol] | list[types.SymbolInformation]:
    """Turns by index and caller (with their status once checked), or recorded calls by line."""
    encoding = snapshot.encoding
    document = snapshot.document
    entries: list[tuple[str, str, types.SymbolKind, types.Range, types.Range]] = []
    parsed = document.parsed
    if isinstance(parsed, Fixture):
        for turn in parsed.turns:
            if turn.broken:
                continue
            caller = turn.caller if isinstance(turn.caller, str) else "legacy" if turn.is_legacy else "?"
            caller = safe(caller, reveal=snapshot.settings.reveal_secrets)
            report = turn_report(snapshot.analysis, document, turn)
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
            caller = safe(call.caller if isinstance(call.caller, str) else "?", reveal=snapshot.settings.reveal_secrets)
            entries.append(
                (f"call {call.index} · {caller}", f"line {call.line + 1}", types.SymbolKind.Event, where, where)
            )
    text_document = snapshot.capabilities.text_document
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


def targets(snapshot: Snapshot, position: types.Position) -> tuple[list[types.Location], types.Location | None]:
    """(the other end of the link at `position`, the place at `position` itself)."""
    encoding = snapshot.encoding
    document, analysis = snapshot.document, snapshot.analysis
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


def document_symbol(
    snapshot: Snapshot, params: types.DocumentSymbolParams
) -> list[types.DocumentSymbol] | list[types.SymbolInformation] | None:
    return symbols(snapshot)


def definition(snapshot: Snapshot, params: types.DefinitionParams) -> list[types.Location] | None:
    found, _here = targets(snapshot, params.position)
    return found or None


def references(snapshot: Snapshot, params: types.ReferenceParams) -> list[types.Location] | None:
    found, here = targets(snapshot, params.position)
    if params.context.include_declaration and here is not None:
        found = [here, *found]
    return found or None
