"""Code lenses: a fixture's tally above it, each turn's status above the turn, and "Replay".

Stale lenses are clickable (they run `replayLens.rehash`); the others are
labels. "Replay" (running `replayLens.replaySession`) sits above a recording's
first call and above a fixture that a recording links to: a fixture with no
linked recording has no session to replay, and a lens that fails would be a lie.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from server.engine.checks import TurnStatus
from server.engine.fixture import Fixture
from server.engine.preview import safe
from server.engine.recording import Recording
from server.engine.source import Span
from server.lsp.command_ids import REHASH, REPLAY_SESSION, RUN_REPLAY_TESTS
from server.lsp.convert import TURN_LABELS, call_range, lsp_range
from server.lsp.session import Snapshot
from server.lsp.state import Analysis, Document


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _lens(where: types.Range, title: str, rehash: dict[str, object] | None = None) -> types.CodeLens:
    """A lens; with `rehash` arguments it runs `replayLens.rehash`, else it is a label."""
    command = types.Command(title=title, command=REHASH if rehash else "", arguments=[rehash] if rehash else None)
    return types.CodeLens(range=where, command=command)


def _replay_lens(document: Document, where: types.Range) -> types.CodeLens:
    command = types.Command(title="▶ Replay", command=REPLAY_SESSION, arguments=[{"uri": document.uri}])
    return types.CodeLens(range=where, command=command)


def fixture_lenses(snapshot: Snapshot, document: Document, analysis: Analysis) -> list[types.CodeLens]:
    report = analysis.fixtures.get(document.path)
    if report is None:
        return []
    stale = report.count(TurnStatus.STALE)
    unverifiable = report.count(TurnStatus.UNVERIFIABLE)
    fixture = report.fixture
    start = len(fixture.source.text) - len(fixture.source.text.lstrip())
    tally = f"{_plural(len(report.turns), 'turn')} · {stale} stale · {unverifiable} unverifiable"
    top = lsp_range(fixture.source, Span(start, start), snapshot.encoding)
    lenses = [_lens(top, tally, {"uri": document.uri} if stale else None)]
    for turn_report in report.turns:
        turn = turn_report.turn
        caller = turn.caller if isinstance(turn.caller, str) else "legacy" if turn.is_legacy else "?"
        caller = safe(caller, reveal=snapshot.settings.reveal_secrets)
        title = f"turn {turn.index} · {caller} · {TURN_LABELS[turn_report.status]}"
        stale_turn = turn_report.status is TurnStatus.STALE and fixture.parsed_cleanly
        lenses.append(
            _lens(
                lsp_range(fixture.source, turn.head, snapshot.encoding),
                title,
                {"uri": document.uri, "turn": turn.index} if stale_turn else None,
            )
        )
    if any(turn_report.link is not None for turn_report in report.turns):  # on the tally's line, after it
        lenses.append(_replay_lens(document, top))
    if snapshot.trusted:  # the one command that runs the project's code: trusted workspaces only
        title = "▶ Run Replay Tests (capture)" if unverifiable else "▶ Run Replay Tests"
        command = types.Command(title=title, command=RUN_REPLAY_TESTS, arguments=[{"uri": document.uri}])
        lenses.append(types.CodeLens(range=top, command=command))
    return lenses


def recording_lenses(snapshot: Snapshot, document: Document, analysis: Analysis) -> list[types.CodeLens]:
    report = analysis.recordings.get(document.path)
    if report is None or not report.recording.calls:
        return []
    held = sum(1 for call in report.recording.calls if call.index in report.linked)
    title = f"{_plural(len(report.recording.calls), 'recorded call')} · {held} held by fixture turns"
    first = call_range(report.recording, report.recording.calls[0], snapshot.encoding)
    return [_lens(first, title), _replay_lens(document, first)]


def code_lens(snapshot: Snapshot, params: Any) -> list[types.CodeLens] | None:
    if snapshot.analysis is None:
        return None
    if isinstance(snapshot.document.parsed, Fixture):
        return fixture_lenses(snapshot, snapshot.document, snapshot.analysis)
    if isinstance(snapshot.document.parsed, Recording):
        return recording_lenses(snapshot, snapshot.document, snapshot.analysis)
    return None
