"""What a position points at: a fixture turn or a recorded call, and the engine's report about it."""

from __future__ import annotations

from lsprotocol import types

from server.engine.checks import TurnReport
from server.engine.config import Config
from server.engine.findings import Finding
from server.engine.fixture import Fixture, Turn
from server.engine.normalize import InputShapeError, Keys, Normalizer
from server.engine.recording import RecordedCall, Recording
from server.engine.source import PositionEncoding, Span
from server.engine.summary import read_back
from server.lsp.convert import offset_at
from server.lsp.state import Analysis, Document


def turn_at(fixture: Fixture, position: types.Position, encoding: PositionEncoding) -> Turn | None:
    turn = fixture.turn_at(offset_at(fixture.source, position, encoding))
    return turn if turn is not None and not turn.broken else None


def call_at(recording: Recording, line: int) -> RecordedCall | None:
    return next((call for call in recording.calls if call.line == line), None)


def call_by_index(recording: Recording, index: int) -> RecordedCall | None:
    return recording.calls[index] if 0 <= index < len(recording.calls) else None


def turn_report(analysis: Analysis | None, document: Document, turn: Turn) -> TurnReport | None:
    report = analysis.fixtures.get(document.path) if analysis is not None else None
    return next((item for item in report.turns if item.turn is turn), None) if report is not None else None


def findings_in(analysis: Analysis | None, document: Document, span: Span) -> list[Finding]:
    if analysis is None:
        return []
    return [f for f in analysis.findings.get(document.path, []) if span.start <= f.span.start <= span.end]


def call_keys(config: Config, recording: Recording, call: RecordedCall) -> Keys | None:
    """The keys of a recorded call under `config`'s rules (run it in a worker thread: it may read and normalizes).

    A call of a summary recording is read back from the file first.
    """
    if call.stored is not None:
        found = read_back(recording.path, call)
        if found is None:
            return None
        call = found
    try:
        return Normalizer(config.rules).keys(call.caller, call.input)
    except InputShapeError:
        return None


def input_keys(config: Config, report: TurnReport) -> Keys | None:
    """A turn's keys with the text they were hashed from (run it in a worker thread: it may read and normalize).

    A summary recording keeps its calls' keys, not their inputs: the linked
    call's line is read back from the file and normalized again, and used only
    if it still gives the same keys (else the file changed since the check).
    """
    keys, link = report.keys, report.link
    if keys is None or link is None or link.call.stored is None:
        return keys
    again = call_keys(config, link.recording, link.call)
    if again is None or (again.input_hash, again.conversation_hash) != (keys.input_hash, keys.conversation_hash):
        return None
    return again
