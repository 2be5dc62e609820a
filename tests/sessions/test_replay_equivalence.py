"""`replay` on generated deep sessions: the report is the one the straightforward computation gives.

The sessions are `bench.generate`'s (every call re-sends the whole history, fixtures
keyed by `bench.reference`), perturbed the ways real sessions go wrong. The oracle
reads the session the straightforward way (each line parsed on its own, so no message
is shared and every key is computed from scratch, every tool result found by scanning
the whole input) and the workspace's recordings whole, then runs the same lookup: the
shared history, the streamed recordings and the lazily read inputs must change nothing.
"""

from __future__ import annotations

import json
import random
import tempfile
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import Shape, generate, session_calls
from server.engine import findings as codes
from server.engine.normalize import Normalizer
from server.engine.presets import DEERFLOW
from server.engine.recording import shape_problem
from server.engine.replay import FixtureNotFoundError, find_fixture, locate, replay, replay_path
from server.engine.replay.engine import ReplayReport
from server.engine.replay.render import Renderer, render
from server.engine.sessions import resolve
from server.engine.sessions.fixtures import read
from server.engine.sessions.lines import iter_lines
from server.engine.sessions.messages import output_facts, tool_call_index, tool_results, tool_step
from server.engine.sessions.model import Session, SessionInfo, Step, StepKind, finding, iso_time, tokens_from_usage
from server.engine.summary import summary_of
from server.engine.workspace import load_project_config, load_workspace
from tests.conftest import run_cli
from tests.replay_inputs import recorded_inputs

PERTURBATIONS = ("clean", "edit", "broken", "truncated", "dropped-turn", "repeat", "bad-message", "discover")


def _straightforward_session(info: SessionInfo) -> Session:
    """The recording read line by line with `json.loads`, each tool result found by scanning the whole input."""
    session = Session(info)
    index = count()
    seen: set[str] = set()
    for line in iter_lines(info.path, session.findings):
        record, error = line.parse()
        if error is not None:
            session.findings.append(finding(codes.INVALID_JSON, info.path, line.ref, error))
            session.steps.append(Step(next(index), StepKind.OPAQUE, name="broken line", source=line.ref, problem=error))
            continue
        shape = shape_problem(record, needs_key=False)
        if shape is not None:
            session.findings.append(finding(codes.MALFORMED_RECORDING, info.path, line.ref, shape))
            step = Step(
                next(index), StepKind.OPAQUE, name="malformed call", source=line.ref, problem=shape, data=record
            )
            session.steps.append(step)
            continue
        inputs = record["input"]
        for call_id, data in tool_results(inputs, seen):
            session.steps.append(tool_step(next(index), call_id, data, tool_call_index(inputs), line.ref))
        model, tokens = output_facts(record["output"])
        session.steps.append(
            Step(
                next(index),
                StepKind.MODEL,
                caller=record.get("caller") if isinstance(record.get("caller"), str) else None,
                model=record["model"] if isinstance(record.get("model"), str) else model,
                input=inputs,
                output=record["output"],
                tokens=tokens_from_usage(record.get("usage")) or tokens,
                started_at=iso_time(record.get("ts")),
                recorded_keys={
                    name: record[name]
                    for name in ("input_hash", "conversation_hash")
                    if isinstance(record.get(name), str)
                },
                source=line.ref,
            )
        )
    return session


def _straightforward_report(path: Path, against: Path | None) -> ReplayReport:
    info, problems = resolve(path)
    session = _straightforward_session(info)
    session.findings[:0] = problems
    config = load_project_config(against or path)
    workspace = load_workspace([config.root], config)
    normalizer = Normalizer(config.rules)
    if against is not None:
        fixture = read(against, session)
        assert fixture is not None
    else:
        found = find_fixture(session, workspace.fixtures, normalizer)
        assert found is not None
        fixture = found
        session.findings.extend(fixture.problems)
    return replay(session, fixture, config.rules, recorded_inputs(fixture, workspace.recordings, config), config.root)


def _perturb(root: Path, how: str, rng: random.Random) -> tuple[Path, Path | None]:
    recording = root / "recordings" / "session-0000.jsonl"
    fixture = root / "fixtures" / "session-0000.json"
    lines = recording.read_text(encoding="utf-8").splitlines(keepends=True)
    at = rng.randrange(len(lines))
    if how == "edit":
        record = json.loads(lines[at])
        record["input"][-1]["data"]["content"] += " (edited after recording)"
        lines[at] = json.dumps(record, ensure_ascii=False) + "\n"
    elif how == "broken":  # not the first line: that one tells a recording from other JSONL
        at = rng.randrange(1, len(lines))
        lines[at] = lines[at][: len(lines[at]) // 2] + "\n"
    elif how == "truncated":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    elif how == "repeat":
        lines.insert(at, lines[at])
    elif how == "bad-message":
        record = json.loads(lines[at])
        record["input"].append(42)
        lines[at] = json.dumps(record, ensure_ascii=False) + "\n"
    elif how == "dropped-turn":
        document = json.loads(fixture.read_text(encoding="utf-8"))
        del document["turns"][at]
        fixture.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    recording.write_text("".join(lines), encoding="utf-8")
    return recording, None if how == "discover" else fixture


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    calls=st.integers(2, 9),
    growth=st.integers(2, 3),
    how=st.sampled_from(PERTURBATIONS),
)
def test_replay_report_is_the_straightforward_one(seed: int, calls: int, growth: int, how: str) -> None:
    shape = Shape(sessions=2, calls=calls, growth=growth, system_size=300, tool_output_size=120, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        root = generate(shape, Path(folder))
        recording, against = _perturb(root, how, random.Random(seed))
        expected = _straightforward_report(recording, against).to_json()
        report = replay_path(recording, against=against)
        assert report.to_json() == expected
        if how == "edit":  # the miss was explained from the recorded input, read back from the recording
            assert any(o.nearest is not None and o.nearest.recorded_at is not None for o in report.outcomes)
        normalizer = Normalizer(report.rules)
        for outcome in report.outcomes:  # and every key is the one computed from scratch
            if outcome.keys is not None and outcome.step.input is not None:
                assert outcome.keys == normalizer.keys(outcome.step.caller, outcome.step.input)


def _deep_workspace(folder: str) -> tuple[Path, Path]:
    root = generate(Shape(sessions=2, calls=6, system_size=300, tool_output_size=120), Path(folder))
    return root / "recordings" / "session-0000.jsonl", root / "fixtures" / "session-0000.json"


def test_a_clean_replay_reads_no_recording_and_a_miss_summarizes_them(monkeypatch: Any) -> None:
    summarized: list[Path] = []

    def counted(path: Path, config: Any, *args: Any, **kwargs: Any) -> Any:
        summarized.append(path)
        return summary_of(path, config, *args, **kwargs)

    monkeypatch.setattr(locate, "summary_of", counted)
    with tempfile.TemporaryDirectory() as folder:
        recording, fixture = _deep_workspace(folder)
        report = replay_path(recording, against=fixture)
        assert not report.failed and summarized == []
        found = replay_path(recording)
        assert found.fixture.path == fixture and not found.failed and summarized == []
        record = json.loads(recording.read_text(encoding="utf-8").splitlines()[2])
        record["input"][-1]["data"]["content"] += " (edited)"
        edited = recording.with_name("edited.jsonl")
        edited.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
        missed = replay_path(edited, against=fixture)
        assert missed.failed and any(outcome.nearest is not None for outcome in missed.outcomes)
        assert sorted(path.name for path in summarized) == ["edited.jsonl", "session-0000.jsonl", "session-0001.jsonl"]


def test_no_fixture_is_said_without_reading_the_recordings(monkeypatch: Any) -> None:
    monkeypatch.setattr(locate, "summary_of", None)  # called: a TypeError, not the error below
    with tempfile.TemporaryDirectory() as folder:
        recording, _ = _deep_workspace(folder)
        for path in (recording.parent.parent / "fixtures").iterdir():
            path.unlink()
        with pytest.raises(FixtureNotFoundError, match=r"no fixture under .* holds this session's keys"):
            replay_path(recording)
        done = run_cli("replay", recording)
        assert done.code == 2 and "holds this session's keys or is named like it: pass --against FIXTURE" in done.stderr


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), bad=st.sampled_from([None, 42, {"data": {}}, {"type": "ai", "data": []}]))
def test_rendering_each_message_once_renders_every_input_alike(seed: int, bad: Any) -> None:
    calls = session_calls(Shape(calls=6, system_size=200, tool_output_size=80, seed=seed), 0)
    inputs = [messages for _, messages, _ in calls]  # the history objects are shared from call to call
    if bad is not None:
        inputs.insert(3, [*inputs[2], bad])
    normalizer = Normalizer(DEERFLOW)
    renderer = Renderer(normalizer)
    for messages in inputs:
        assert renderer(messages) == render(normalizer, messages)
