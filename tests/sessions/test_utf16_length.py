"""`utf16_length` is the exact count of UTF-16 code units LSP clients use, for any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.engine.sessions.lines import utf16_length


def _counted(text: str) -> int:
    """The definition, one character at a time: two code units past the Basic Multilingual Plane."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


# Every code point, lone surrogates included (a line decoded with surrogateescape, a JSON "\ud800" escape).
_ANY_CHARACTER = st.characters(exclude_categories=[])


@given(st.text(alphabet=_ANY_CHARACTER, max_size=200))
def test_utf16_length_is_the_exact_count(text: str) -> None:
    assert utf16_length(text) == _counted(text)


def test_utf16_length_of_emoji_cjk_and_lone_surrogates() -> None:
    assert utf16_length("") == 0
    assert utf16_length("plain ascii") == 11
    assert utf16_length("今天") == 2
    assert utf16_length("👍") == 2
    assert utf16_length("a👍b👨‍👩‍👧") == 1 + 2 + 1 + 8
    assert utf16_length("\ud800") == 1
    assert utf16_length("x\udfff\ud83d") == 3
    assert utf16_length("\U0010ffff") == 2
