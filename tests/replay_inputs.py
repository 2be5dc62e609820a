"""The straightforward recorded inputs of a fixture's turns, as the tests' reference.

The engine works them out lazily (`replay.locate`, only for a miss) or from a check
it holds (`replay.inputs.checked_inputs`); this is the plain computation both must
equal: check the fixture against the recordings, take each turn's embedded input
or its linked call's.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.engine.config import Config
from server.engine.fixture import Fixture
from server.engine.recording import Recording
from server.engine.replay import RecordedInput
from server.engine.sessions.fixtures import linked_calls, turn_input


def recorded_inputs(fixture: Fixture, recordings: Sequence[Recording], config: Config) -> dict[int, RecordedInput]:
    """`{turn index: recorded input}` for every turn with an embedded or linked input."""
    links = linked_calls(fixture, recordings, config)
    inputs: dict[int, RecordedInput] = {}
    for turn in fixture.turns:
        if turn.broken or not turn.members:
            continue
        messages, source = turn_input(turn, links)
        if messages is not None:
            inputs[turn.index] = RecordedInput(messages, source)
    return inputs
