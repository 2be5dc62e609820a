"""A project without recordings is checked without linking (issue 17, item 3): same keys and findings.

Without a recording no turn can link, so `check` skips digesting every turn's
output for the output table. The reference is the same check with one empty
recording beside the fixtures, which takes the whole linking path (every table
built, every unlinked turn's output digested) and links nothing either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.checks import CheckResult, check
from server.engine.fixture import Fixture
from server.engine.recording import Recording
from server.engine.source import SourceText
from server.engine.workspace import load_project_config, read_source

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture(path: Path) -> Fixture:
    parsed = read_source(path, SourceText(path.read_text(encoding="utf-8")), "fixture")
    assert isinstance(parsed, Fixture)
    return parsed


def _empty_recording(folder: Path) -> Recording:
    parsed = read_source(folder / "empty.jsonl", SourceText(""), "recording")
    assert isinstance(parsed, Recording) and not parsed.calls
    return parsed


def _outcome(result: CheckResult) -> list[Any]:
    """Every turn's status, keys and link, and every finding of the fixtures, in order."""
    turns = [
        (report.fixture.path, turn.turn.index, turn.status, turn.keys, turn.link)
        for report in result.fixtures
        for turn in report.turns
    ]
    findings = [
        (f.code, f.path, f.span, f.range, f.message, f.severity, f.data)
        for report in result.fixtures
        for f in report.findings
    ]
    return [turns, findings, result.problems]


def test_the_sample_fixtures_alone_check_as_beside_an_empty_recording(tmp_path: Path) -> None:
    config = load_project_config(SAMPLES)
    fixtures = [_fixture(path) for path in sorted((SAMPLES / "replay").glob("*.json"))]
    alone = check(fixtures, [], config)
    assert alone.fixtures and all(report.turns for report in alone.fixtures)
    assert _outcome(alone) == _outcome(check(fixtures, [_empty_recording(tmp_path)], config))


_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
_KEY = st.one_of(_HEX, _HEX.map(str.upper), st.just("not a key"), st.integers())
_OUTPUT = st.one_of(
    st.fixed_dictionaries({"type": st.just("ai"), "data": st.fixed_dictionaries({"content": st.text(max_size=20)})}),
    st.just({"type": "human", "data": {"content": "x"}}),
    st.text(max_size=10),
)
_TURN = st.fixed_dictionaries(
    {},
    optional={
        "caller": st.one_of(st.sampled_from(["lead_agent", "middleware:title"]), st.integers()),
        "conversation_hash": _KEY,
        "input_hash": st.one_of(_KEY, st.sampled_from(["0" * 64, "1" * 64])),  # repeated: duplicate keys
        "output": _OUTPUT,
    },
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_TURN, max_size=12))
def test_generated_fixtures_alone_check_as_beside_an_empty_recording(turns: list[dict[str, Any]]) -> None:
    folder = Path("/nonexistent/generated")  # read from text: nothing touches the disk
    text = json.dumps({"scenario": "generated", "turns": turns}, indent=2)
    parsed = read_source(folder / "generated.json", SourceText(text), "fixture")
    assert isinstance(parsed, Fixture)
    config = load_project_config(SAMPLES)
    assert _outcome(check([parsed], [], config)) == _outcome(check([parsed], [_empty_recording(folder)], config))
