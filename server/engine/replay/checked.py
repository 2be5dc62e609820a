"""Replay a session against a fixture whose check is already made: what the language server holds in memory.

`replay_path` loads the project from disk and checks the fixture again to link
its turns to recorded calls; an editor's server holds that check already (of
the text the editor shows). Its links are used as they are: only the session
is read, and a linked call of a summary recording has its one line read back
for its input.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from server.engine.checks import FixtureReport
from server.engine.replay.engine import ReplayReport, replay
from server.engine.replay.inputs import checked_inputs
from server.engine.replay.locate import FixtureNotFoundError
from server.engine.rules import Rules
from server.engine.sessions import read_session, resolve


def linked_recording(report: FixtureReport) -> Path | None:
    """The recording that links the most turns of the fixture (ties: the one named like it, then by path):
    the session a fixture is replayed against."""
    counts = Counter(item.link.recording.path for item in report.turns if item.link is not None)
    stem = report.fixture.path.name.removesuffix(".json")
    ranked = sorted(counts, key=lambda path: (-counts[path], path.name.removesuffix(".jsonl") != stem, str(path)))
    return ranked[0] if ranked else None


def replay_checked(session_path: Path, report: FixtureReport, rules: Rules, root: Path | None = None) -> ReplayReport:
    """Replay the session at `session_path` against the checked fixture of `report`, under `rules`; `root` is
    the project root the report names its files under.

    Raises `SessionNotFoundError` and `FixtureNotFoundError` as `replay_path` does.
    """
    info, problems = resolve(session_path, None)
    session = read_session(info)
    session.findings[:0] = problems
    if isinstance(session.facts.get("not_replayable"), str):
        raise FixtureNotFoundError(f"{info.kind} {info.id} cannot be replayed: {session.facts['not_replayable']}")
    session.findings.extend(report.fixture.problems)
    return replay(session, report.fixture, rules, checked_inputs(report), root)
