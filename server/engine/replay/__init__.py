"""Replay: dry-run a session against a fixture (SPEC §4 lookup) and build fixtures from sessions.

Engine API for adapters:

- `replay_path(path, against=None, session_id=None, config=None) -> ReplayReport`:
  everything loaded from disk; `ReplayReport.to_json()` is the report of
  docs/protocol.md, `ReplayReport.diagnostics` the findings to show on the fixture.
- `replay(session, fixture, rules, inputs) -> ReplayReport`: the pure core.
- `build_fixture(session, rules, target) -> FixtureDraft` and `write_new(path, text)`.
"""

from server.engine.replay.engine import (
    Nearest,
    Outcome,
    RecordedInput,
    ReplayReport,
    Status,
    ToolCheck,
    ToolVerdict,
    replay,
)
from server.engine.replay.locate import FixtureNotFoundError, find_fixture, replay_path
from server.engine.replay.record import FixtureDraft, build_fixture, write_new

__all__ = [
    "FixtureDraft",
    "FixtureNotFoundError",
    "Nearest",
    "Outcome",
    "RecordedInput",
    "ReplayReport",
    "Status",
    "ToolCheck",
    "ToolVerdict",
    "build_fixture",
    "find_fixture",
    "replay",
    "replay_path",
    "write_new",
]
