"""Dry-run replay of a session against a fixture, with the exact lookup of SPEC §4.

Each model call is keyed under the current rules and looked up the way the
fake model does: the caller-aware key first, then (legacy fallback) the bare
conversation hash; each key holds a FIFO queue of turns and a hit consumes the
oldest. A call whose key is known but whose queue is empty is `exhausted`, one
whose key is unknown a `miss`; a miss gets the nearest recorded input and a
line diff of the two normalized inputs. Tool calls are checked against the
tool calls of the outputs the replay handed out. Nothing is executed, and the
report depends only on its inputs (same session, fixture and rules: same report).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.checks import turn_key
from server.engine.findings import Finding
from server.engine.fixture import Fixture, Turn
from server.engine.normalize import InputShapeError, KeyChain, Keys, Normalizer
from server.engine.replay.explain import Explanation, explain
from server.engine.replay.places import REPORT_VERSION, Places
from server.engine.replay.render import Renderer, line_diff, percent, render, similarity
from server.engine.replay.similar import Ratios, shortlist
from server.engine.replay.values import Difference, compare
from server.engine.rules import Rules
from server.engine.sessions.model import Session, SourceRef, Step, StepKind, message_parts
from server.engine.source import Span

_SHORTLIST = 5


class Status(StrEnum):
    HIT = "hit"
    LEGACY_HIT = "legacy-hit"
    MISS = "miss"
    EXHAUSTED = "exhausted"
    TOOL = "tool"


class ToolVerdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    UNEXPECTED = "unexpected"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class RecordedInput:
    """A fixture turn's raw input and where it was recorded (None: embedded in the turn)."""

    messages: list[Any]
    source: SourceRef | None = None


@dataclass(frozen=True, slots=True)
class Nearest:
    """The recorded input closest to a missed call's, and how they differ.

    `similarity` compares the two inputs the diff shows (1.0 only when the diff is empty); `ranked`, both
    under the current rules, is what made this turn the nearest.
    """

    turn: int
    similarity: float
    ranked: float
    caller: str | None
    diff: str
    note: str
    explanation: str | None
    turn_source: SourceRef
    recorded_at: SourceRef | None

    def to_json(self, places: Places) -> dict[str, Any]:
        recorded = self.recorded_at
        return {
            "turn": self.turn,
            "similarity": _four_places(self.similarity),
            "similarityText": percent(self.similarity),
            "caller": self.caller,
            "diff": self.diff,
            "note": self.note,
            "explanation": self.explanation,
            **places.place(self.turn_source.path),
            "range": self.turn_source.range.to_json() if self.turn_source.range else None,
            "recorded": {**recorded.to_json(), **places.place(recorded.path)} if recorded else None,
        }


@dataclass(frozen=True, slots=True)
class ToolCheck:
    verdict: ToolVerdict
    expected: dict[str, Any] | None
    turn: int | None
    differences: tuple[Difference, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "turn": self.turn,
            "expected": self.expected,
            "differences": [difference.to_json() for difference in self.differences],
        }


@dataclass(slots=True)
class Outcome:
    """What the replay did with one step."""

    step: Step
    status: Status
    reason: str
    keys: Keys | None = None
    turn: int | None = None
    nearest: Nearest | None = None
    tool: ToolCheck | None = None

    @property
    def diverges(self) -> bool:
        if self.status in (Status.MISS, Status.EXHAUSTED):
            return True
        return self.tool is not None and self.tool.verdict in (ToolVerdict.MISMATCH, ToolVerdict.UNEXPECTED)

    def to_json(self, places: Places) -> dict[str, Any]:
        step = self.step
        document: dict[str, Any] = {
            "index": step.index,
            "kind": step.kind.value,
            "status": self.status.value,
            "caller": self.keys.caller if self.keys else step.caller,
            "name": step.name or None,
            "turn": self.turn,
            "reason": self.reason,
            "keys": {"input_hash": self.keys.input_hash, "conversation_hash": self.keys.conversation_hash}
            if self.keys
            else None,
            "recorded_keys": step.recorded_keys or None,
            "durationMs": step.duration_ms,
            "tokens": step.tokens.to_json() if step.tokens else None,
            **(places.place(step.source.path) if step.source else {}),
            "range": step.source.range.to_json() if step.source and step.source.range else None,
            "nearest": self.nearest.to_json(places) if self.nearest else None,
            "tool": self.tool.to_json() if self.tool else None,
        }
        return {key: value for key, value in document.items() if value is not None or key in ("caller", "turn")}


@dataclass(slots=True)
class ReplayReport:
    session: Session
    fixture: Fixture
    rules: Rules
    root: Path | None = None  # the project root the report names its files under
    outcomes: list[Outcome] = field(default_factory=list)
    unused: list[int] = field(default_factory=list)
    diagnostics: list[Finding] = field(default_factory=list)

    @property
    def first_divergence(self) -> Outcome | None:
        return next((outcome for outcome in self.outcomes if outcome.diverges), None)

    @property
    def failed(self) -> bool:
        """True when replay would fail: a miss, an exhausted key or a tool call that differs."""
        return self.first_divergence is not None

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status is status)

    def tool_count(self, verdict: ToolVerdict) -> int:
        return sum(1 for outcome in self.outcomes if outcome.tool is not None and outcome.tool.verdict is verdict)

    def summary(self) -> dict[str, int]:
        return {
            "calls": sum(1 for outcome in self.outcomes if outcome.status is not Status.TOOL),
            "hits": self.count(Status.HIT),
            "legacyHits": self.count(Status.LEGACY_HIT),
            "misses": self.count(Status.MISS),
            "exhausted": self.count(Status.EXHAUSTED),
            "tools": self.count(Status.TOOL),
            "toolMismatches": self.tool_count(ToolVerdict.MISMATCH) + self.tool_count(ToolVerdict.UNEXPECTED),
            "unused": len(self.unused),
        }

    def to_json(self, *, portable: bool = False) -> dict[str, Any]:
        """The report of docs/protocol.md; `portable` (the CLI's) names files only relative to the root."""
        places = Places(self.root, portable)
        info = self.session.info
        divergence = self.first_divergence
        return {
            "version": REPORT_VERSION,
            "session": {"id": info.id, "kind": info.kind, **places.place(info.path), "title": info.title},
            "fixture": places.place(self.fixture.path),
            "rules": {"preset": self.rules.preset, "fingerprint": self.rules.fingerprint()},
            "summary": self.summary(),
            "steps": [outcome.to_json(places) for outcome in self.outcomes],
            "unused": self.unused,
            "first_divergence": divergence.step.index if divergence else None,
            "divergence": {
                "step": divergence.step.index,
                "status": divergence.status.value,
                "reason": divergence.reason,
            }
            if divergence
            else None,
            "findings": [
                places.finding(finding.to_json()) for finding in sorted(self.session.findings, key=codes.sort_key)
            ],
            "diagnostics": [places.finding(finding.to_json()) for finding in self.diagnostics],
        }


class _Replayer:
    def __init__(self, session: Session, fixture: Fixture, rules: Rules, inputs: Mapping[int, RecordedInput]) -> None:
        self.session = session
        self.fixture = fixture
        self.rules = rules
        self.inputs = inputs
        self.normalizer = Normalizer(rules)
        self.chain = KeyChain(self.normalizer)  # the history calls re-send is normalized and hashed once
        self.recorded_chain = KeyChain(self.normalizer)  # and the history recorded inputs re-send, for misses
        self.renderer = Renderer(self.normalizer)  # and rendered once for the nearest input of a miss
        self.turns = {turn.index: turn for turn in fixture.turns if not turn.broken and turn.members}
        self.queues: dict[str, deque[int]] = defaultdict(deque)
        for turn in self.turns.values():
            key = turn_key(turn)
            if key is not None:
                self.queues[key].append(turn.index)
        self.consumed: dict[int, int] = {}
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.missed = False
        self.line_counts: dict[int, int] = {}
        self.explained: dict[int, Explanation | None] = {}
        self.tool_only = not any(step.kind is StepKind.MODEL for step in session.steps)
        if self.tool_only:
            for turn in self.turns.values():
                self.pending.extend((turn.index, call) for call in _tool_calls(fixture.output(turn)))

    def run(self) -> ReplayReport:
        report = ReplayReport(self.session, self.fixture, self.rules)
        for step in self.session.steps:
            if step.kind is StepKind.MODEL:
                report.outcomes.append(self.model_call(step))
            elif step.kind is StepKind.TOOL:
                report.outcomes.append(self.tool_call(step))
        report.unused = [index for index in sorted(self.turns) if index not in self.consumed]
        report.diagnostics = self.diagnostics(report)
        return report

    # -- model calls ---------------------------------------------------------
    def model_call(self, step: Step) -> Outcome:
        if step.input is None:
            self.missed = True
            return Outcome(step, Status.MISS, f"no input recorded for this call: {step.problem or 'nothing to key'}")
        try:
            keys = self.chain.keys(step.caller, step.input)
        except InputShapeError as exc:
            self.missed = True
            return Outcome(step, Status.MISS, f"input cannot be keyed: {exc}")
        status, turn = self.lookup(keys)
        if turn is not None:
            self.consumed[turn] = step.index
            self.pending.extend((turn, call) for call in _tool_calls(self.fixture.output(self.turns[turn])))
            how = "caller-aware key" if status is Status.HIT else "legacy key (bare conversation hash)"
            return Outcome(step, status, f"turn {turn} by its {how}", keys, turn)
        self.missed = True
        outcome = Outcome(step, status, self.miss_reason(status, keys), keys)
        outcome.nearest = self.nearest(step, keys)
        return outcome

    def lookup(self, keys: Keys) -> tuple[Status, int | None]:
        queue = self.queues.get(keys.input_hash)
        if queue:
            return Status.HIT, queue.popleft()
        if self.rules.key.legacy_fallback:
            queue = self.queues.get(keys.conversation_hash)
            if queue:
                return Status.LEGACY_HIT, queue.popleft()
        known = keys.input_hash in self.queues or (
            self.rules.key.legacy_fallback and keys.conversation_hash in self.queues
        )
        return (Status.EXHAUSTED if known else Status.MISS), None

    def miss_reason(self, status: Status, keys: Keys) -> str:
        if status is Status.EXHAUSTED:
            used = [
                f"turn {turn} (step {self.consumed[turn]})"
                for turn in sorted(self.consumed)
                if turn_key(self.turns[turn]) in (keys.input_hash, keys.conversation_hash)
            ]
            return f"key {keys.input_hash[:12]}… is known but its turns are all consumed: {', '.join(used)}"
        return f"no turn has key {keys.input_hash[:12]}… (caller {keys.caller!r}) under rules {self.rules.preset}"

    # -- nearest recorded input ------------------------------------------------
    def render_turn(self, turn: int) -> list[str]:
        return self.renderer(self.inputs[turn].messages)

    def turn_lines(self, turn: int) -> int:
        """How many lines the turn's input renders to (each turn sized once per replay)."""
        if turn not in self.line_counts:
            self.line_counts[turn] = self.renderer.size(self.inputs[turn].messages)
        return self.line_counts[turn]

    def nearest(self, step: Step, keys: Keys) -> Nearest | None:
        """The recorded input most like the call's: the best `similarity` among the `_SHORTLIST` turns of the
        best `quick_ratio` (ties: same caller, not consumed, earlier turn), found without scoring every turn
        of a deep history (`similar.shortlist`)."""
        candidates = [turn for turn in sorted(self.inputs) if turn in self.turns]
        if not candidates or step.input is None:
            return None
        lines = self.renderer(step.input)

        def rank(turn: int, score: float) -> tuple[float, bool, bool, int]:
            caller = self.turns[turn].caller
            same_caller = caller is None or _normalized_caller(self.normalizer, caller) == keys.caller
            return score, same_caller, turn not in self.consumed, -turn

        rendered: dict[int, list[str]] = {}  # the turns this miss renders, each once

        def lines_of(turn: int) -> list[str]:
            if turn not in rendered:
                rendered[turn] = self.render_turn(turn)
            return rendered[turn]

        quick = shortlist(lines, candidates, _SHORTLIST, self.turn_lines, lines_of, rank)
        ratios = Ratios(lines)
        scored = {turn: ratios.ratio(lines_of(turn)) for turn in quick}
        best = max(scored, key=lambda turn: rank(turn, scored[turn]))
        return self.describe_nearest(step, keys, best, scored[best], lines, lines_of(best))

    def describe_nearest(
        self, step: Step, keys: Keys, turn: int, score: float, lines: list[str], turn_lines: list[str]
    ) -> Nearest:
        fixture_turn = self.turns[turn]
        recorded = self.inputs[turn]
        explanation = self.explain_turn(fixture_turn, recorded)
        before = render(explanation.normalizer, recorded.messages) if explanation else turn_lines
        label = f"turn {turn} as keyed {explanation.description}" if explanation else f"turn {turn} (current rules)"
        diff = line_diff(before, lines, label, f"step {step.index} (current rules)")
        shown = similarity(before, lines) if explanation else score  # of the two inputs the diff shows
        turn_caller = _normalized_caller(self.normalizer, fixture_turn.caller) if not fixture_turn.is_legacy else None
        if explanation:
            note = f"turn {turn} is stale: keyed {explanation.description}; rehash it from its recorded input"
        elif not diff and turn_caller is not None and turn_caller != keys.caller:
            note = f"same normalized input, other caller: the turn is {turn_caller!r}, the call {keys.caller!r}"
        elif not diff:
            note = f"same normalized input, yet turn {turn}'s key differs: it was keyed under rules not found"
        else:
            note = f"the normalized inputs differ ({percent(shown)} alike): see the diff"
        span = fixture_turn.span
        turn_source = SourceRef(self.fixture.path, self.fixture.source.range(span), span, label=f"turn {turn}")
        return Nearest(
            turn=turn,
            similarity=shown,
            ranked=score,
            caller=turn_caller,
            diff=diff,
            note=note,
            explanation=explanation.description if explanation else None,
            turn_source=turn_source,
            recorded_at=recorded.source,
        )

    def explain_turn(self, turn: Turn, recorded: RecordedInput) -> Explanation | None:
        """Why a turn's key is not its recorded input's key under the current rules, if it is not."""
        if turn.index in self.explained:
            return self.explained[turn.index]
        target = turn.input_hash if turn.is_legacy else turn.conversation_hash
        explanation = None
        try:
            current = self.recorded_chain.keys(turn.caller, recorded.messages).conversation_hash
        except InputShapeError:
            current = None
        if isinstance(target, str) and current is not None and current != target:
            explanation = explain(self.rules, recorded.messages, target)
        self.explained[turn.index] = explanation
        return explanation

    # -- tool calls ------------------------------------------------------------
    def tool_call(self, step: Step) -> Outcome:
        if not self.pending:
            verdict = ToolVerdict.UNCHECKED if self.missed else ToolVerdict.UNEXPECTED
            why = (
                "not checked: the model call that asked for it missed"
                if self.missed
                else "no output handed out by the replay asked for this tool call"
            )
            return Outcome(step, Status.TOOL, why, tool=ToolCheck(verdict, None, None))
        position = next(
            (i for i, (_, call) in enumerate(self.pending) if step.call_id and call.get("id") == step.call_id),
            next((i for i, (_, call) in enumerate(self.pending) if call.get("name") == step.name), 0),
        )
        turn, expected = self.pending.pop(position)
        if self.tool_only:
            self.consumed.setdefault(turn, step.index)
        differences = compare(self.normalizer, expected.get("name"), step.name, "name")
        differences += compare(self.normalizer, expected.get("args"), step.arguments)
        verdict = ToolVerdict.MISMATCH if differences else ToolVerdict.MATCH
        why = (
            f"as asked by turn {turn}"
            if not differences
            else f"differs from turn {turn}'s call: " + "; ".join(d.describe() for d in differences[:3])
        )
        return Outcome(step, Status.TOOL, why, turn=turn, tool=ToolCheck(verdict, expected, turn, tuple(differences)))

    # -- diagnostics on the fixture ----------------------------------------------
    def diagnostics(self, report: ReplayReport) -> list[Finding]:
        """Replay findings placed on the fixture, for editors to show where the replay went wrong."""
        fixture = self.fixture
        name = report.session.info.path.name
        found: list[Finding] = []

        def add(code: codes.Code, span: Span, message: str, data: dict[str, Any]) -> None:
            found.append(Finding.at(code, fixture.path, fixture.source, span, message, data))

        for outcome in report.outcomes:
            where = f"{name} step {outcome.step.index}"
            data = {"step": outcome.step.index}
            if outcome.status in (Status.MISS, Status.EXHAUSTED):
                code = codes.REPLAY_MISS if outcome.status is Status.MISS else codes.REPLAY_EXHAUSTED
                if outcome.nearest is None:
                    add(code, _head(fixture), f"replay of {where}: {outcome.reason}", data)
                    continue
                turn = self.turns[outcome.nearest.turn]
                message = f"replay of {where} misses; nearest recorded input is this turn's: {outcome.nearest.note}"
                explained = {"explanation": outcome.nearest.explanation} if outcome.nearest.explanation else {}
                add(code, turn.span_of("input_hash"), message, {**data, "turn": turn.index, **explained})
            elif outcome.tool is not None and outcome.tool.verdict is ToolVerdict.MISMATCH and outcome.turn is not None:
                turn = self.turns[outcome.turn]
                add(
                    codes.TOOL_MISMATCH,
                    turn.span_of("output"),
                    f"{where}: {outcome.reason}",
                    {**data, "turn": turn.index},
                )
        for index in report.unused:
            message = f"turn {index} was never consumed by the replay of {name}"
            add(codes.UNUSED_TURN, self.turns[index].span_of("input_hash"), message, {"turn": index})
        return sorted(found, key=codes.sort_key)


def _head(fixture: Fixture) -> Span:
    """The fixture's `"turns"` key: where a finding about no turn in particular goes."""
    member = fixture.top.get("turns")
    return member.key_span if member is not None else Span(0, 0)


def _four_places(ratio: float) -> float:
    """`ratio` to four decimals, never 1.0 for inputs that differ (0.99996 is 0.9999, not 1.0)."""
    return round(ratio, 4) if ratio >= 1.0 or round(ratio, 4) < 1.0 else 0.9999


def _tool_calls(output: Any) -> list[dict[str, Any]]:
    _, data = message_parts(output)
    calls = data.get("tool_calls")
    return [call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []


def replay(
    session: Session, fixture: Fixture, rules: Rules, inputs: Mapping[int, RecordedInput], root: Path | None = None
) -> ReplayReport:
    """Replay `session` against `fixture` under `rules`; `inputs` are the turns' recorded inputs, `root` the
    project root the report names files under."""
    report = _Replayer(session, fixture, rules, inputs).run()
    report.root = root
    return report


def _normalized_caller(normalizer: Normalizer, caller: Any) -> str | None:
    """The turn's normalized caller, or None when a rule cannot normalize it (the report still ranks and notes)."""
    try:
        return normalizer.caller(caller)
    except InputShapeError:
        return None
