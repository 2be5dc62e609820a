"""The recorded inputs of a checked fixture's turns: embedded in the turn, else read from the line it links to.

Both replays that start from a check use it: the editor's (`replay.checked`,
the check it holds) and the captures' (`replay.captures`, inside `check`).
"""

from __future__ import annotations

from server.engine.checks import FixtureReport
from server.engine.replay.engine import RecordedInput
from server.engine.sessions.fixtures import embedded_input
from server.engine.sessions.model import SourceRef
from server.engine.summary import read_back


def checked_inputs(report: FixtureReport) -> dict[int, RecordedInput]:
    """`{turn index: recorded input}` from a check's links; a summary's call has its one line read back."""
    inputs: dict[int, RecordedInput] = {}
    for item in report.turns:
        turn = item.turn
        if turn.broken or not turn.members:
            continue
        embedded = embedded_input(turn)
        if embedded is not None:
            inputs[turn.index] = RecordedInput(embedded, None)
            continue
        if item.link is None:
            continue
        recording, call = item.link.recording, item.link.call
        where = call.range if call.range is not None else recording.source.range(call.span)
        if call.stored is not None:  # a summary keeps the call's keys, not its input
            found = read_back(recording.path, call)
            if found is None:  # the file changed since the check: its next check drops the link
                continue
            call = found
        if not call.input:  # nothing recorded to compare a miss with
            continue
        inputs[turn.index] = RecordedInput(call.input, SourceRef(recording.path, where, call.span))
    return inputs
