"""LSP code units of a text, however the string was built: the O(1) answer for texts within the Basic
Multilingual Plane never differs from counting character by character (emoji, lone surrogates, CJK)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from server.engine.source import Position, SourceText, code_units

_ANY_CHARACTER = st.characters(exclude_categories=[])
_ASTRAL = st.characters(min_codepoint=0x10000)
_MIXED = st.one_of(st.characters(max_codepoint=0x7F), st.characters(max_codepoint=0xFFFF), _ASTRAL)


def _counted(text: str, encoding: str) -> int:
    """The definition, one character at a time."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return sum(1 if ord(c) < 0x80 else 2 if ord(c) < 0x800 else 3 if ord(c) < 0x10000 else 4 for c in text)
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _built(text: str) -> list[str]:
    """The same characters as strings made the ways a reader makes them: sliced out of a wider string,
    joined, decoded from bytes, parsed from JSON escapes (lone surrogates included)."""
    wider = "\U0001f600" + text + "\U0001f600"
    made = [text, wider[1:-1], "".join(list(text)), text[: len(text) // 2] + text[len(text) // 2 :]]
    made.append(json.loads(json.dumps(text)))
    made.append(text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass"))
    return made


@given(st.text(alphabet=_ANY_CHARACTER, max_size=300))
def test_code_units_are_the_exact_count_in_every_encoding(text: str) -> None:
    for made in _built(text):
        for encoding in ("utf-16", "utf-8", "utf-32"):
            assert code_units(made, encoding) == _counted(made, encoding)


@given(st.text(alphabet=_MIXED, max_size=50), st.integers(min_value=0, max_value=5000))
def test_long_lines_with_or_without_emoji(text: str, repeat: int) -> None:
    line = "今天" * repeat + text + "x" * repeat
    assert code_units(line) == _counted(line, "utf-16")


def test_one_astral_character_anywhere_counts_twice() -> None:
    base = "今天天气很好" * 10_000
    for where in (0, 1, len(base) // 2, len(base)):
        line = base[:where] + "👍" + base[where:]
        assert code_units(line) == len(base) + 2
        assert code_units(line[:where] + line[where + 1 :]) == len(base)  # the emoji sliced away: BMP again
    assert code_units("\ud83d\ude00") == 2  # two lone surrogates side by side stay two units
    assert code_units("é" * 3) == 3


def _units_before(text: str, offset: int, encoding: str) -> Position:
    """The definition of a position: the line's break count, then units counted character by character."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return Position(line, _counted(text[start:offset], encoding))


_LINE = st.text(alphabet=_MIXED | st.sampled_from(["\ud83d", "\ude00", "\ud800"]), max_size=20)
_LINES = st.lists(_LINE.map(lambda line: line.replace("\n", "").replace("\r", "")), max_size=5)


@given(_LINES, st.data())
def test_positions_and_offsets_are_the_exact_counts(lines: list[str], data: st.DataObject) -> None:
    text = "\n".join(lines)
    source = SourceText(text)
    for encoding in ("utf-16", "utf-8", "utf-32"):
        offset = data.draw(st.integers(0, len(text)))
        position = source.position(offset, encoding)
        assert position == _units_before(text, offset, encoding)
        assert source.offset(position, encoding) == offset
        line = data.draw(st.integers(0, len(lines) - 1)) if lines else 0
        character = data.draw(st.integers(0, 60))
        found = source.offset(Position(line, character), encoding)
        line_start = sum(len(part) + 1 for part in lines[:line])
        line_text = lines[line] if lines else ""
        expected = line_start + len(line_text)  # past the line's end: its end, like editors
        units = 0
        for index, char in enumerate(line_text):  # a position inside a character: the character after it
            if units >= character:
                expected = line_start + index
                break
            units += _counted(char, encoding)
        assert found == expected
