"""Give fixture turns a verdict from a test run's captures (`pytest --replay-lens=capture`).

A capture is a recording, so `check` links it to the turns its keys hit (valid or stale,
like any recording). What only a capture can tell comes from replaying it, test by test,
against its fixture with the exact lookup of SPEC §4 (the replay engine):

- a call no turn holds is a `replay-miss` on the capture line and on the fixture's nearest
  turn, with the diff of the normalized inputs and, when the turn's own recorded input shows
  the rules it was keyed under, that a rehash is the fix;
- a missed call whose input reproduces an unverifiable turn's key under rules close to the
  current ones (`explain`) is that turn's recording: the turn is linked to it and reported
  stale, so `check --fix` rehashes it;
- turns of a replayed fixture that no capture consumed are `unused-turn`, unless a capture of
  it missed or failed (a replay that stopped early proves nothing about the turns after it).

The fixture a capture is compared against is the one holding most of its keys, else the one
its lines name (the test's `replay_lens` marker), else the fixture with the nearest turn, else
the fixture named in the test's id (`test_replay[write_read_file.ultra]`).
Summary recordings keep no inputs: the lines a diff needs are read back from their files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.capture_files import is_capture
from server.engine.checks import (
    CheckResult,
    FixtureReport,
    RecordingReport,
    TurnStatus,
    call_finding,
    recording_keys,
    turn_key,
    verify_turn,
)
from server.engine.config import Config
from server.engine.findings import Finding
from server.engine.fixture import Turn
from server.engine.normalize import InputShapeError, Keys, Normalizer
from server.engine.recording import Link, RecordedCall, Recording
from server.engine.replay.engine import Outcome, RecordedInput, ReplayReport, Status, replay
from server.engine.replay.explain import explain
from server.engine.replay.inputs import checked_inputs
from server.engine.sessions.model import Session, SessionInfo, SourceRef, Step, StepKind
from server.engine.source import Span

_NEAREST_FIXTURE = 0.5
"""How alike a missed call's input and a fixture's nearest turn must be for the capture to be compared with
that fixture when nothing else names one: a test that drives a model of its own (a unit test with a fake
model) is no replay of the fixture whose text happens to be closest."""


@dataclass
class _Target:
    """A fixture some captures replay against: what they consumed and whether any stopped early."""

    report: FixtureReport
    consumed: set[int] = field(default_factory=set)
    incomplete: bool = False


def check_captures(result: CheckResult, config: Config) -> None:
    """Add the captures' verdicts to `result` (see the module docstring)."""
    captures = [report for report in result.recordings if is_capture(report.recording.path, config.root)]
    if not captures:
        return
    for report in captures:  # a capture's calls get replay verdicts instead
        report.findings = [found for found in report.findings if found.code is not codes.UNLINKED_RECORDING]
    if not result.fixtures:
        return
    normalizer = Normalizer(config.rules)
    inputs = _TurnInputs()
    targets: dict[int, _Target] = {}
    for capture in captures:
        session = _session(capture.recording)
        if not session.steps:
            continue
        chosen = _target(capture.recording, session, result.fixtures, normalizer, inputs, config.root)
        if chosen is None:
            continue
        fixture_report, replayed = chosen
        target = targets.setdefault(id(fixture_report), _Target(fixture_report))
        if replayed is None:
            replayed = replay(session, fixture_report.fixture, config.rules, inputs.of(fixture_report))
        target.consumed.update(outcome.turn for outcome in replayed.outcomes if outcome.turn is not None)
        target.incomplete |= any(_failed(call) for call in capture.recording.calls)
        for outcome in replayed.outcomes:
            if outcome.status in (Status.MISS, Status.EXHAUSTED):
                turn, is_nearest = _missed_turn(outcome, target, normalizer)
                if not _link_by_explanation(outcome, turn, capture.recording, target, normalizer, inputs):
                    target.incomplete = True
                    _report_miss(outcome, turn, is_nearest, capture, target)
    for target in targets.values():
        if not target.incomplete:
            _report_unused(target)


def _failed(call: RecordedCall) -> bool:
    return call.record.get("error") is not None or call.output is None


def _session(recording: Recording) -> Session:
    """A capture's model calls as a session's steps (step index = call index)."""
    steps = []
    for call in recording.calls:
        span = call.span
        place = call.range or recording.source.range(span)
        model = call.record.get("model")
        steps.append(
            Step(
                call.index,
                StepKind.MODEL,
                caller=call.caller if isinstance(call.caller, str) else None,
                model=model if isinstance(model, str) else None,
                input=call.input,
                output=call.output,
                recorded_keys={
                    name: value
                    for name, value in (("input_hash", call.input_hash), ("conversation_hash", call.conversation_hash))
                    if value
                },
                source=SourceRef(recording.path, place, span, label=f"line {call.line + 1}"),
            )
        )
    return Session(SessionInfo("capture", recording.path, recording.path.name, title=recording.path.name), steps)


class _TurnInputs:
    """Each fixture's recorded turn inputs (`checked_inputs`), built once, again after a link is added."""

    def __init__(self) -> None:
        self.built: dict[int, dict[int, RecordedInput]] = {}

    def of(self, report: FixtureReport) -> dict[int, RecordedInput]:
        found = self.built.get(id(report))
        if found is None:
            found = self.built[id(report)] = checked_inputs(report)
        return found


def _target(
    capture: Recording,
    session: Session,
    fixtures: Sequence[FixtureReport],
    normalizer: Normalizer,
    inputs: _TurnInputs,
    root: Path,
) -> tuple[FixtureReport, ReplayReport | None] | None:
    """The fixture the capture replays: most keys held, else the one its lines name, else the nearest turn,
    else the one the test id names; with the capture's replay against it when choosing it took one."""
    keys = _capture_keys(capture, normalizer)
    wanted = {key for computed in keys for key in (computed.input_hash, computed.conversation_hash)}

    def held(report: FixtureReport) -> int:
        return sum(1 for turn in report.fixture.turns if turn_key(turn) in wanted)

    best = max(fixtures, key=lambda report: (held(report), str(report.fixture.path)))
    if held(best) > 0:
        return best, None
    named = {call.record.get("fixture") for call in capture.calls if isinstance(call.record.get("fixture"), str)}
    for report in fixtures:
        if any(_same_file(report.fixture.path, root / str(name)) for name in named):
            return report, None
    replays = [
        (report, replay(session, report.fixture, normalizer.rules, inputs.of(report)))
        for report in fixtures
        if inputs.of(report)
    ]
    scored = [
        (_nearest_score(replayed), str(report.fixture.path), position)
        for position, (report, replayed) in enumerate(replays)
    ]
    if scored and max(scored)[0] >= _NEAREST_FIXTURE:
        return replays[max(scored)[2]]
    tests = " ".join(str(call.record.get("test")) for call in capture.calls)
    named_like = [report for report in fixtures if report.fixture.path.name.removesuffix(".json") in tests]
    chosen = max(named_like, key=lambda report: len(report.fixture.path.name), default=None)
    return None if chosen is None else (chosen, None)


def _capture_keys(capture: Recording, normalizer: Normalizer) -> list[Keys]:
    return [computed for computed in recording_keys(capture, normalizer) if isinstance(computed, Keys)]


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False


def _nearest_score(report: ReplayReport) -> float:
    scores = [outcome.nearest.ranked for outcome in report.outcomes if outcome.nearest is not None]
    return max(scores, default=0.0)


def _fallback_turn(outcome: Outcome, target: _Target, normalizer: Normalizer) -> Turn | None:
    """For a miss with no recorded input to compare: the first turn of the same caller no capture consumed."""
    if outcome.keys is None:
        return None
    for report in target.report.turns:
        turn = report.turn
        if turn.index in target.consumed or report.status is TurnStatus.MALFORMED:
            continue
        if turn.is_legacy or normalizer.caller(turn.caller) == outcome.keys.caller:
            return turn
    return None


def _missed_turn(outcome: Outcome, target: _Target, normalizer: Normalizer) -> tuple[Turn | None, bool]:
    """The turn a miss is reported on, and whether it is the replay's nearest (with a diff).

    The nearest recorded input wins when it is a turn of the call's caller that no capture
    consumed; else an unconsumed turn of that caller without a recorded input is the better
    guess (deer-flow's title turn, when only the lead agent's inputs are known)."""
    turns = {report.turn.index: report.turn for report in target.report.turns}
    fallback = _fallback_turn(outcome, target, normalizer)
    if outcome.nearest is not None:
        nearest = turns.get(outcome.nearest.turn)
        fits = (
            nearest is not None
            and nearest.index not in target.consumed
            and (nearest.is_legacy or outcome.keys is None or normalizer.caller(nearest.caller) == outcome.keys.caller)
        )
        if fits or (fallback is None and nearest is not None and nearest.index not in target.consumed):
            return nearest, True
    return fallback, False  # None: no turn of that caller is left (reported on the fixture's "turns")


def _link_by_explanation(
    outcome: Outcome,
    turn: Turn | None,
    capture: Recording,
    target: _Target,
    normalizer: Normalizer,
    inputs: _TurnInputs,
) -> bool:
    """Link a missed call to `turn` (its `_missed_turn`) when that turn is unverifiable and the call's input hashes
    to its key under rules close to the current ones."""
    if turn is None or outcome.step.input is None:
        return False
    reports = {report.turn.index: position for position, report in enumerate(target.report.turns)}
    position = reports.get(turn.index)
    if position is None or target.report.turns[position].status is not TurnStatus.UNVERIFIABLE:
        return False
    wanted = turn.input_hash if turn.is_legacy else turn.conversation_hash
    if not isinstance(wanted, str) or explain(normalizer.rules, outcome.step.input, wanted) is None:
        return False
    call = capture.calls[outcome.step.index]
    key = turn_key(turn)
    if key is None:
        return False
    fixture_report = target.report
    _drop_unverifiable(fixture_report, turn.index)

    def keys_of(linked: RecordedCall) -> Keys | InputShapeError:
        return normalizer.keys(linked.caller, linked.input)

    fixture_report.turns[position] = verify_turn(
        turn, key, Link(capture, call), normalizer, keys_of, _adder(fixture_report)
    )
    target.consumed.add(turn.index)
    inputs.built.pop(id(fixture_report), None)
    return True


def _adder(report: FixtureReport) -> Callable[..., None]:
    def add(code: codes.Code, span: Any, message: str, data: dict[str, Any] | None = None) -> None:
        report.findings.append(Finding.at(code, report.fixture.path, report.fixture.source, span, message, data))

    return add


def _report_miss(
    outcome: Outcome, turn: Turn | None, is_nearest: bool, capture: RecordingReport, target: _Target
) -> None:
    """The miss on the capture line and on `turn`, its `_missed_turn` (which is no longer merely unverifiable)."""
    recording = capture.recording
    call = recording.calls[outcome.step.index]
    fixture = target.report.fixture
    test = call.record.get("test")
    who = f"call {call.index} ({outcome.keys.caller if outcome.keys else call.caller})"
    if isinstance(test, str):
        who += f" of {test}"
    code = codes.REPLAY_MISS if outcome.status is Status.MISS else codes.REPLAY_EXHAUSTED
    nearest = outcome.nearest if is_nearest else None
    caller = outcome.keys.caller if outcome.keys else call.caller
    if nearest is not None:
        why = nearest.note
    elif turn is not None:
        why = f"turn {turn.index} ({turn.caller or 'legacy'}) has no recorded input to compare with: re-record it"
    else:
        why = f"the fixture has no turn of caller {caller!r} left: the call is new, or its turn was never recorded"
    data: dict[str, Any] = {
        "call": call.index,
        "fixture": str(fixture.path),
        "turn": turn.index if turn is not None else None,
        "note": why,
        "diff": nearest.diff if nearest is not None else "",
        "rehash": bool(nearest is not None and nearest.explanation),
    }
    where = f"turn {turn.index} of {fixture.path.name}" if turn is not None else fixture.path.name
    capture.findings.append(
        call_finding(recording, call, code, f"{who}: {outcome.reason}; nearest is {where}: {why}", data)
    )
    report = target.report
    if turn is None:
        message = f"{who} in {recording.path.name}:{call.line + 1} misses: {why}"
        head = fixture.top.get("turns")
        span = head.key_span if head is not None else Span(0, 0)
        report.findings.append(Finding.at(code, fixture.path, fixture.source, span, message, data))
        return
    _drop_unverifiable(report, turn.index)
    message = f"{who} in {recording.path.name}:{call.line + 1} misses; its nearest turn is this one: {why}"
    report.findings.append(
        Finding.at(
            code,
            fixture.path,
            fixture.source,
            turn.span_of("input_hash"),
            message,
            {**data, "capture": str(recording.path), "line": call.line},
        )
    )
    for turn_report in report.turns:
        if turn_report.turn.index == turn.index and turn_report.status is TurnStatus.UNVERIFIABLE:
            turn_report.status = TurnStatus.MISSED


def _drop_unverifiable(report: FixtureReport, index: int) -> None:
    """Turn `index` has a verdict now: its `unverifiable` finding goes."""
    report.findings = [
        found for found in report.findings if not (found.code is codes.UNVERIFIABLE and found.data.get("turn") == index)
    ]


def _report_unused(target: _Target) -> None:
    report = target.report
    for turn_report in report.turns:
        index = turn_report.turn.index
        if index in target.consumed or turn_report.status is TurnStatus.MALFORMED:
            continue
        _drop_unverifiable(report, index)
        message = f"turn {index} was consumed by no call of the captured test run: a dead turn"
        report.findings.append(
            Finding.at(
                codes.UNUSED_TURN,
                report.fixture.path,
                report.fixture.source,
                turn_report.turn.span_of("input_hash"),
                message,
                {"turn": index},
            )
        )
        if turn_report.status is TurnStatus.UNVERIFIABLE:
            turn_report.status = TurnStatus.UNUSED
