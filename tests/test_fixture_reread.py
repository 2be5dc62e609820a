"""Re-reading only the edited turn of a fixture gives exactly what reading it whole gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.fixture import Fixture, read_fixture, reread_fixture
from server.engine.source import SourceText

PATH = Path("f.json")
TEXTS = st.text(alphabet=st.sampled_from('ab 中😀"\\{}[],:\n0123456789-\r'), max_size=12)


def fixture_text(contents: list[str]) -> str:
    turns = [
        {
            "caller": "lead_agent",
            "conversation_hash": f"{index:064x}",
            "input_hash": f"{index + 100:064x}",
            "output": {"type": "ai", "data": {"content": content, "tool_calls": []}},
            "extra": [index, {"k": content}],
        }
        for index, content in enumerate(contents)
    ]
    document = {"scenario": "s", "mode": "flash", "turns": turns, "after": {"note": "kept"}}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def read(text: str) -> Fixture:
    return read_fixture(PATH, SourceText(text))


def shape(fixture: Fixture) -> Any:
    """Everything a check or an adapter reads from a parsed fixture."""
    return (
        [
            (
                turn.index,
                turn.span,
                turn.broken,
                [(k, m.key_span, m.value, m.span) for k, m in turn.members.items()],
                turn.output_problem,
                fixture.output(turn),
            )
            for turn in fixture.turns
        ],
        [(k, m.key_span, m.value, m.span) for k, m in fixture.top.items()],
        [(p.code.name, p.span, p.message) for p in fixture.problems],
    )


def edit(text: str, start: int, end: int, new: str) -> tuple[str, int, int]:
    """The edited text, and how many leading and trailing characters the edit left alone."""
    edited = text[:start] + new + text[end:]
    return edited, start, len(text) - end


@settings(max_examples=300, deadline=None)
@given(
    contents=st.lists(TEXTS, min_size=1, max_size=5),
    where=st.floats(min_value=0, max_value=1),
    length=st.integers(min_value=0, max_value=6),
    new=TEXTS,
    indexed=st.booleans(),
)
def test_an_edit_anywhere_reads_as_a_whole_read(
    contents: list[str], where: float, length: int, new: str, indexed: bool
) -> None:
    text = fixture_text(contents)
    old = read(text)
    if indexed:
        assert old.source.line_starts  # built now, so the re-read shifts it
    start = int(where * len(text))
    end = min(start + length, len(text))
    edited, prefix, suffix = edit(text, start, end, new)
    again = reread_fixture(old, edited, prefix, suffix)
    if again is not None:  # None means: read it whole, which is always right
        assert shape(again) == shape(read(edited))
        assert again.source.line_starts == read(edited).source.line_starts


def test_a_keystroke_in_a_turn_rereads_that_turn_only() -> None:
    text = fixture_text(["first", "second", "third"])
    old = read(text)
    start = text.index("second")
    edited, prefix, suffix = edit(text, start, start + len("second"), "2nd 中文😀")
    again = reread_fixture(old, edited, prefix, suffix)
    assert again is not None
    assert again.turns[0] is old.turns[0]
    assert again.output(again.turns[1])["data"]["content"] == "2nd 中文😀"
    assert (
        again.turns[2].members["output"].span.start == old.turns[2].members["output"].span.start + len("2nd 中文😀") - 6
    )
    assert again.output(again.turns[2]) == old.output(old.turns[2])
    assert shape(again) == shape(read(edited))


def test_edits_it_leaves_to_the_whole_read() -> None:
    text = fixture_text(["first", "second"])
    old = read(text)
    second = old.turns[1].span.start
    between = text.index("},", old.turns[0].span.start) + 1
    cases = {
        "a turn's opening brace": (second, second + 1, "["),
        "two turns at once": (text.index("first"), text.index("second"), "x"),
        "outside the turns": (text.index('"flash"'), text.index('"flash"') + 1, "'"),
        "between turns": (between, between + 1, ""),
        "a turn broken by the edit": (text.index("first"), text.index("first"), '"'),
    }
    for name, (start, end, new) in cases.items():
        edited, prefix, suffix = edit(text, start, end, new)
        assert reread_fixture(old, edited, prefix, suffix) is None, name
    broken = read(text.replace('"first"', '"first'))
    assert broken.problems
    assert reread_fixture(broken, text, 0, 0) is None
