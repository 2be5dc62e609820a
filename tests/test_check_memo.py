"""A fixture re-read after an edit and checked with the findings its turns kept (`TurnCheck`) gives exactly
the report of a fresh read checked from scratch: every finding (place, range, message, data) and verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.checks import CheckResult, TurnCheck, check
from server.engine.config import Config, default_config, load_config
from server.engine.fixture import Fixture, read_fixture, reread_fixture
from server.engine.recording import Recording, read_recording
from server.engine.source import SourceText

PATH = Path("f.json")
CONFIG = default_config(Path())
TEXTS = st.text(alphabet=st.sampled_from('ab 中😀"\\{}[],:\n0123456789abcdef-\r'), max_size=12)


def fixture_text(contents: list[str], *, compact: bool) -> str:
    """Turns whose keys are wrong for their caller (a finding each), some duplicated, some legacy, some
    malformed: every kind of per-turn finding, and the fixture-wide ones."""
    turns: list[dict[str, Any]] = []
    for index, content in enumerate(contents):
        turn: dict[str, Any] = {
            "caller": "lead_agent",
            "conversation_hash": f"{index:064x}",
            "input_hash": f"{index % 3 + 100:064x}",
            "output": {"type": "ai", "data": {"content": content, "tool_calls": []}},
        }
        if index % 4 == 3:
            del turn["caller"], turn["conversation_hash"]  # legacy
        if index % 5 == 4:
            turn["input_hash"] = "not hex " + content
        turns.append(turn)
    document = {"scenario": "s", "mode": "flash", "turns": turns}
    return json.dumps(document, indent=None if compact else 2, ensure_ascii=False) + "\n"


def report(result: CheckResult) -> Any:
    """Everything an adapter reads from a check of one fixture."""
    (fixture_report,) = result.fixtures
    return (
        [(f.code.name, f.path, f.range, f.span, f.message, f.severity, f.data) for f in fixture_report.findings],
        [(t.turn.index, t.turn.span, t.status, t.link, t.keys) for t in fixture_report.turns],
    )


def checked(fixture: Fixture) -> CheckResult:
    return check([fixture], [], CONFIG)


EDIT = st.tuples(st.floats(min_value=0, max_value=1), st.integers(min_value=0, max_value=6), TEXTS)


@settings(max_examples=300, deadline=None)
@given(
    contents=st.lists(TEXTS, min_size=1, max_size=7),
    edits=st.lists(EDIT, min_size=1, max_size=4),
    compact=st.booleans(),
)
def test_edits_checked_with_kept_findings_report_as_a_fresh_check(
    contents: list[str], edits: list[tuple[float, int, str]], compact: bool
) -> None:
    text = fixture_text(contents, compact=compact)
    fixture = read_fixture(PATH, SourceText(text))
    checked(fixture)
    for where, length, new in edits:
        start = int(where * len(text))
        end = min(start + length, len(text))
        edited = text[:start] + new + text[end:]
        again = reread_fixture(fixture, edited, start, len(text) - end)
        fixture = again if again is not None else read_fixture(PATH, SourceText(edited))
        text = edited
        assert report(checked(fixture)) == report(checked(read_fixture(PATH, SourceText(text))))


def test_a_keystroke_judges_the_edited_turn_only() -> None:
    """The turns around the edit keep their findings (moved by the edit when it added a line)."""
    text = fixture_text(["first", "second", "third"], compact=False)
    fixture = read_fixture(PATH, SourceText(text))
    checked(fixture)
    kept = [turn.checked for turn in fixture.turns]
    start = text.index("second")
    edited = text[:start] + "2nd\\n" + text[start + len("second") :]
    again = reread_fixture(fixture, edited, start, len(text) - start - len("second"))
    assert again is not None
    assert again.turns[0].checked is kept[0]
    assert again.turns[1].checked is None
    moved = again.turns[2].checked
    assert isinstance(moved, TurnCheck) and moved is not kept[2]
    assert report(checked(again)) == report(checked(read_fixture(PATH, SourceText(edited))))


SAMPLES = Path(__file__).resolve().parents[1] / "fixtures"


def sample_project() -> tuple[Config, list[Recording], dict[Path, str]]:
    """The sample workspace (producers' real output): its config, recordings and fixture texts."""
    config = load_config(SAMPLES / "replay-lens.toml")
    recordings = [
        read_recording(path, SourceText(path.read_text("utf-8"))) for path in sorted(SAMPLES.glob("recordings/*.jsonl"))
    ]
    fixtures = {path: path.read_text("utf-8") for path in sorted(SAMPLES.glob("replay/*.json"))}
    return config, recordings, fixtures


PROJECT = sample_project()
COPY = "<the key of another turn>"
KEY_EDITS = st.tuples(
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=3),
    st.sampled_from(["", "0", "f", "\n", " ", "中", "😀", '"', "}", COPY, COPY]),
)


@settings(max_examples=200, deadline=None)
@given(
    which=st.integers(min_value=0, max_value=2), edits=st.lists(KEY_EDITS, min_size=1, max_size=4), keys=st.booleans()
)
def test_linked_turns_checked_with_kept_verdicts_report_as_a_fresh_check(
    which: int, edits: list[tuple[float, int, str]], keys: bool
) -> None:
    """Against the sample recordings (valid, stale and legacy turns linked to real calls): edits anywhere,
    or in the keys' hex digits (a turn goes stale, links elsewhere or to nothing, and back)."""
    config, recordings, fixtures = PROJECT
    path, text = list(fixtures.items())[which % len(fixtures)]
    places = [match.end() for match in re.finditer(r'"(input_hash|conversation_hash)": "', text)]

    def checked_here(fixture: Fixture) -> Any:
        return report_of(check([fixture], recordings, config), path)

    fixture = read_fixture(path, SourceText(text))
    checked_here(fixture)
    for where, length, typed in edits:
        start = places[int(where * (len(places) - 1))] + length if keys else int(where * len(text))
        end = min(start + (1 if keys else length), len(text))
        new = typed
        if typed == COPY:  # another turn's key: FIFO linking hands the calls out again, past the edited turn
            start = places[int(where * (len(places) - 1))]
            source = places[length % len(places)]
            new, end = text[source : source + 64], min(start + 64, len(text))
        edited = text[:start] + new + text[end:]
        again = reread_fixture(fixture, edited, start, len(text) - end)
        fixture = again if again is not None else read_fixture(path, SourceText(edited))
        text = edited
        places = [match.end() for match in re.finditer(r'"(input_hash|conversation_hash)": "', text)] or [0]
        assert checked_here(fixture) == checked_here(read_fixture(path, SourceText(text)))


def report_of(result: CheckResult, path: Path) -> Any:
    (fixture_report,) = [r for r in result.fixtures if r.fixture.path == path]
    recording_findings = [(f.code.name, f.path, f.span, f.message) for r in result.recordings for f in r.findings]
    return (
        [(f.code.name, f.path, f.range, f.span, f.message, f.severity, f.data) for f in fixture_report.findings],
        [(t.turn.index, t.turn.span, t.status, t.link, t.keys) for t in fixture_report.turns],
        recording_findings,
    )
