"""`code_units` in UTF-16 (as trace line ranges use it) is the exact count LSP clients use, for any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.engine.source import code_units


def _counted(text: str) -> int:
    """The definition, one character at a time: two code units past the Basic Multilingual Plane."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


# Every code point, lone surrogates included (a line decoded with surrogateescape, a JSON "\ud800" escape).
_ANY_CHARACTER = st.characters(exclude_categories=[])


@given(st.text(alphabet=_ANY_CHARACTER, max_size=200))
def test_utf16_length_is_the_exact_count(text: str) -> None:
    assert code_units(text) == _counted(text)


def test_utf16_length_of_emoji_cjk_and_lone_surrogates() -> None:
    assert code_units("") == 0
    assert code_units("plain ascii") == 11
    assert code_units("今天") == 2
    assert code_units("👍") == 2
    assert code_units("a👍b👨‍👩‍👧") == 1 + 2 + 1 + 8
    assert code_units("\ud800") == 1
    assert code_units("x\udfff\ud83d") == 3
    assert code_units("\U0010ffff") == 2
