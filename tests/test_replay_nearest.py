"""Issue 17 item 4: a miss deep in a long session finds its nearest recorded input in bounded time, with the very
turn, similarity and diff of the exhaustive ranking (kept here as the reference), and the key chain finds the
shared history the way its old loop did."""

from __future__ import annotations

import json
import random
import tempfile
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.generate import Shape, generate
from server.engine.normalize import KeyChain, Normalizer, _Chain
from server.engine.presets import DEERFLOW
from server.engine.replay import Outcome, ReplayReport, Status, replay_path
from server.engine.replay.render import Renderer, line_diff, render
from server.engine.replay.similar import quick_ratio, ratio, real_quick_ratio, shortlist
from server.engine.workspace import load_project_config, load_workspace
from tests.replay_inputs import recorded_inputs

# -- the ratio ------------------------------------------------------------------------------------------------------

_lines = st.lists(st.sampled_from(["[ai]", "  a", "  b", "[tool] name=x", "  -> f({})"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(first=_lines, second=_lines)
def test_ratio_is_difflibs_on_repetitive_lines(first: list[str], second: list[str]) -> None:
    """Few distinct lines: repeated runs, ties between equally long blocks, periodic inputs."""
    matcher = SequenceMatcher(None, first, second, autojunk=False)
    assert ratio(first, second) == matcher.ratio()
    assert quick_ratio(Counter(first), len(first), second) == matcher.quick_ratio()
    assert real_quick_ratio(first, second) == matcher.real_quick_ratio()


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.lists(st.integers(0, 6), max_size=60),
    middle_a=st.lists(st.integers(0, 9), max_size=8),
    middle_b=st.lists(st.integers(0, 9), max_size=8),
    suffix=st.lists(st.integers(0, 6), max_size=60),
    period=st.integers(1, 5),
)
def test_ratio_is_difflibs_on_near_identical_histories(
    prefix: list[int], middle_a: list[int], middle_b: list[int], suffix: list[int], period: int
) -> None:
    """A deep miss's shape: a long shared prefix and suffix around a small differing window, made periodic so that
    a block off the diagonal can be as long as the aligned ones."""
    prefix = [value % period for value in prefix] if period < 3 else prefix
    first, second = prefix + middle_a + suffix, prefix + middle_b + suffix
    assert ratio(first, second) == SequenceMatcher(None, first, second, autojunk=False).ratio()
    assert ratio(second, first + prefix) == SequenceMatcher(None, second, first + prefix, autojunk=False).ratio()


@settings(max_examples=400, deadline=None)
@given(
    lines=_lines,
    candidates=st.lists(st.tuples(_lines, st.booleans()), max_size=12),
    size=st.integers(1, 6),
)
def test_shortlist_is_the_exhaustive_ranking(
    lines: list[str], candidates: list[tuple[list[str], bool]], size: int
) -> None:
    """The best `size` by difflib's quick ratio of every candidate, ties broken by a flag, then the earliest."""

    def rank(candidate: int, score: float) -> tuple[float, bool, int]:
        return score, candidates[candidate][1], -candidate

    def quick(candidate: int) -> float:
        return SequenceMatcher(None, lines, candidates[candidate][0], autojunk=False).quick_ratio() if lines else 0.0

    expected = sorted(range(len(candidates)), key=lambda each: rank(each, quick(each)), reverse=True)[:size]
    found = shortlist(
        lines,
        range(len(candidates)),
        size,
        lambda each: len(candidates[each][0]),
        lambda each: candidates[each][0],
        rank,
    )
    assert found == expected


@settings(max_examples=400, deadline=None)
@given(
    prefix=st.integers(0, 40),
    suffix=st.integers(0, 40),
    middle_a=st.lists(st.integers(0, 90), max_size=6),
    middle_b=st.lists(st.integers(0, 90), max_size=6),
    swap=st.booleans(),
)
def test_ratio_is_difflibs_around_a_window_of_unique_lines(
    prefix: int, suffix: int, middle_a: list[int], middle_b: list[int], swap: bool
) -> None:
    """Lines that occur once (a history of distinct prose) around a window whose lines may repeat the prefix's or
    the suffix's: the shortcut around the window, where it is proved, gives difflib's number."""
    head, tail = list(range(prefix)), list(range(50, 50 + suffix))
    first, second = head + middle_a + tail, head + middle_b + tail
    if swap:
        first, second = second, first
    assert ratio(first, second) == SequenceMatcher(None, first, second, autojunk=False).ratio()


@settings(max_examples=400, deadline=None)
@example(unit=[1, 2, 2], units=9, tail=[1], tails=16, middle_a=[0, 0, 1, 2, 1], middle_b=[2, 1, 1, 5, 5])
@given(
    unit=st.lists(st.integers(0, 3), min_size=1, max_size=3),
    units=st.integers(0, 12),
    tail=st.lists(st.integers(0, 3), min_size=1, max_size=3),
    tails=st.integers(0, 8),
    middle_a=st.lists(st.integers(0, 5), max_size=5),
    middle_b=st.lists(st.integers(0, 5), max_size=5),
)
def test_ratio_is_difflibs_around_a_window_of_repeated_lines(
    unit: list[int], units: int, tail: list[int], tails: int, middle_a: list[int], middle_b: list[int]
) -> None:
    """A prefix and a suffix that repeat themselves: a block off the diagonal can outgrow them (the example), so the
    shortcut around the window must not be taken."""
    first, second = unit * units + middle_a + tail * tails, unit * units + middle_b + tail * tails
    assert ratio(first, second) == SequenceMatcher(None, first, second, autojunk=False).ratio()


# -- the key chain's shared history ---------------------------------------------------------------------------------


def _old_longest_shared(chains: list[_Chain], messages: list[Any]) -> tuple[_Chain | None, int]:
    """The loop `KeyChain._longest_shared` was (the reference)."""
    best: _Chain | None = None
    best_length = 0
    for chain in chains:
        limit = min(len(chain.messages), len(messages))
        length = 0
        while length < limit and chain.messages[length] is messages[length]:
            length += 1
        if length > best_length:
            best, best_length = chain, length
    return best, best_length


@settings(max_examples=300, deadline=None)
@given(
    histories=st.lists(st.lists(st.integers(0, 4), max_size=12), min_size=0, max_size=5),
    query=st.lists(st.integers(0, 4), max_size=14),
    equal_copies=st.booleans(),
)
def test_longest_shared_history_is_the_old_loops(
    histories: list[list[int]], query: list[int], equal_copies: bool
) -> None:
    """Messages are compared by identity: an equal copy shares nothing (a pool of five objects, or fresh copies)."""
    pool = [{"type": "human", "data": {"content": str(value)}} for value in range(5)]

    def messages(values: list[int]) -> list[Any]:
        return [dict(pool[value]) if equal_copies and value == 0 else pool[value] for value in values]

    chain = KeyChain(Normalizer(DEERFLOW), width=len(histories) or 1)
    chain.chains = [_Chain(messages(values), [], [], []) for values in histories]
    asked = messages(query)
    found, length = chain._longest_shared(asked)
    expected, expected_length = _old_longest_shared(chain.chains, asked)
    assert length == expected_length and found is expected


# -- the nearest recorded input of a miss ----------------------------------------------------------------------------


def _reference_nearest(
    report: ReplayReport, outcome: Outcome, inputs: dict[int, Any], consumed: set[int]
) -> tuple[int, float] | None:
    """The exhaustive ranking the engine had: difflib's quick ratio against every turn, its ratio on the best five."""
    normalizer = Normalizer(report.rules)
    turns = {turn.index: turn for turn in report.fixture.turns if not turn.broken and turn.members}
    candidates = [turn for turn in sorted(inputs) if turn in turns]
    if not candidates or outcome.step.input is None or outcome.keys is None:
        return None
    lines = render(normalizer, outcome.step.input)
    caller = outcome.keys.caller

    def rank(turn: int, score: float) -> tuple[float, bool, bool, int]:
        turn_caller = turns[turn].caller
        same = turn_caller is None or normalizer.caller(turn_caller) == caller
        return score, same, turn not in consumed, -turn

    def quick(turn: int) -> float:
        return SequenceMatcher(None, lines, render(normalizer, inputs[turn].messages), autojunk=False).quick_ratio()

    shortlist = sorted(candidates, key=lambda turn: rank(turn, quick(turn) if lines else 0.0), reverse=True)[:5]
    scored = {
        turn: SequenceMatcher(None, lines, render(normalizer, inputs[turn].messages), autojunk=False).ratio()
        for turn in shortlist
    }
    best = max(scored, key=lambda turn: rank(turn, scored[turn]))
    return best, scored[best]


def _changed_session(root: Path, how: str, rng: random.Random) -> Path:
    """The session's recording with one early message changed (in the last call, from a call on, or in one call)."""
    lines = (root / "recordings" / "session-0000.jsonl").read_text(encoding="utf-8").splitlines()
    start = {"last": len(lines) - 1, "from": rng.randrange(len(lines)), "one": rng.randrange(len(lines))}[how]
    for number in range(start, len(lines) if how != "one" else start + 1):
        record = json.loads(lines[number])
        position = rng.randrange(1, len(record["input"])) if how == "one" else 1
        record["input"][position]["data"]["content"] += " (edited)"
        lines[number] = json.dumps(record, ensure_ascii=False)
    session = root / "sessions" / "changed.jsonl"
    session.parent.mkdir(exist_ok=True)
    session.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return session


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    calls=st.integers(6, 16),
    growth=st.integers(2, 3),
    how=st.sampled_from(["last", "from", "one"]),
)
def test_a_miss_names_the_turn_similarity_and_diff_of_the_exhaustive_ranking(
    seed: int, calls: int, growth: int, how: str
) -> None:
    shape = Shape(sessions=1, calls=calls, growth=growth, system_size=200, tool_output_size=60, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        root = generate(shape, Path(folder))
        session = _changed_session(root, how, random.Random(seed))
        fixture = root / "fixtures" / "session-0000.json"
        report = replay_path(session, against=fixture)
        config = load_project_config(fixture)
        inputs = recorded_inputs(report.fixture, load_workspace([config.root], config).recordings, config)
        normalizer = Normalizer(report.rules)
        consumed: set[int] = set()
        misses = 0
        for outcome in report.outcomes:
            if outcome.status is Status.MISS:
                misses += 1
                expected = _reference_nearest(report, outcome, inputs, consumed)
                assert expected is not None and outcome.nearest is not None and outcome.step.input is not None
                turn, score = expected
                assert (outcome.nearest.turn, outcome.nearest.ranked, outcome.nearest.similarity) == (
                    turn,
                    score,
                    score,
                )
                lines = render(normalizer, outcome.step.input)
                before = render(normalizer, inputs[turn].messages)
                label = f"turn {turn} (current rules)"
                assert outcome.nearest.diff == line_diff(
                    before, lines, label, f"step {outcome.step.index} (current rules)"
                )
            elif outcome.turn is not None:
                consumed.add(outcome.turn)
        assert misses >= 1


@settings(max_examples=200, deadline=None)
@given(inputs=st.lists(st.lists(st.integers(0, 5), max_size=10), max_size=6))
def test_sizes_are_the_rendered_lengths_whatever_history_the_inputs_share(inputs: list[list[int]]) -> None:
    """Sized one after another (sharing prefixes or not), with a message that cannot be projected (5)."""
    pool: list[Any] = [
        {"type": "human", "data": {"content": "a\nb"}},
        {"type": "ai", "data": {"content": "", "tool_calls": [{"name": "f", "args": {"x": 1}}]}},
        {"type": "tool", "data": {"content": "ok", "name": "f"}},
        {"type": "system", "data": {"content": "rules"}},
        {"type": "ai", "data": {"content": "c\n\nd"}},
        {"data": {"content": "no type"}},
    ]
    renderer = Renderer(Normalizer(DEERFLOW))
    for values in inputs:
        messages = [pool[value] for value in values]
        assert renderer.size(messages) == len(renderer(messages)) == len(render(renderer.normalizer, messages))
