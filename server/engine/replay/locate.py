"""Load what a replay needs from disk: the session, its fixture, and the fixture's recorded inputs.

Without an explicit fixture, the one to replay against is the workspace
fixture holding the most of the session's keys: the keys recorded with its
calls (what links a recording to a fixture), else the keys under the current
rules, else a fixture named like the session file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from server.engine.checks import turn_key
from server.engine.config import Config
from server.engine.fixture import Fixture
from server.engine.normalize import InputShapeError, KeyChain, Normalizer
from server.engine.recording import Recording
from server.engine.replay.engine import RecordedInput, ReplayReport, replay
from server.engine.sessions import read_session, resolve
from server.engine.sessions.fixtures import linked_calls, read, turn_input
from server.engine.sessions.model import Session, StepKind
from server.engine.workspace import load_project_config, load_workspace


class FixtureNotFoundError(LookupError):
    """No fixture to replay against: none given and none in the workspace matches the session."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl.zst", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def find_fixture(session: Session, fixtures: Sequence[Fixture], normalizer: Normalizer) -> Fixture | None:
    """The fixture holding most of the session's keys (recorded or current), else the one named like it."""
    recorded: set[str] = set()
    current: set[str] = set()
    chain = KeyChain(normalizer)
    for step in session.steps:
        if step.kind is not StepKind.MODEL:
            continue
        recorded.update(step.recorded_keys.values())
        if step.input is not None:
            try:
                keys = chain.keys(step.caller, step.input)
            except InputShapeError:
                continue
            current.update((keys.input_hash, keys.conversation_hash))

    def score(fixture: Fixture) -> tuple[int, int, bool]:
        keys = {key for turn in fixture.turns if (key := turn_key(turn)) is not None}
        return len(keys & recorded), len(keys & current), _stem(fixture.path) == _stem(session.info.path)

    ranked = sorted(fixtures, key=lambda fixture: (score(fixture), str(fixture.path)), reverse=True)
    if ranked and any(score(ranked[0])):
        return ranked[0]
    return None


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


def replay_path(
    path: Path, *, against: Path | None = None, session_id: str | None = None, config: Config | None = None
) -> ReplayReport:
    """Replay the session at `path` (raises `SessionNotFoundError`, `FixtureNotFoundError`, `ConfigError`).

    The rules and the recordings that give the fixture's turns their inputs come
    from the project config nearest to the fixture (or to the session).
    """
    info, problems = resolve(path, session_id)
    session = read_session(info)
    session.findings[:0] = problems
    if isinstance(session.facts.get("not_replayable"), str):
        raise FixtureNotFoundError(f"{info.kind} {info.id} cannot be replayed: {session.facts['not_replayable']}")
    config = config or load_project_config(against or path)
    workspace = load_workspace([config.root], config)
    normalizer = Normalizer(config.rules)
    if against is not None:
        fixture = read(against, session)
        if fixture is None:
            raise FixtureNotFoundError(f"{against}: cannot read the fixture")
    else:
        fixture = find_fixture(session, workspace.fixtures, normalizer)
        if fixture is None:
            raise FixtureNotFoundError(
                f"no fixture under {config.root} holds this session's keys or is named like it: pass --against FIXTURE"
            )
        session.findings.extend(fixture.problems)
    return replay(session, fixture, config.rules, recorded_inputs(fixture, workspace.recordings, config))
