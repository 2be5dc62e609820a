"""The located JSON walker against `json` itself: the same members, each span holding exactly its key and value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.engine.jsonscan import JsonError, Member, read_members

SPACE = st.text(alphabet=" \t\n\r", max_size=4)
KEYS = st.text(max_size=8) | st.sampled_from(["input_hash", 'a"b', "a\\b", "tab\there", "中文", "\U0001f600", ""])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def objects(draw: st.DrawFn) -> tuple[str, list[tuple[str, Any]]]:
    """An object's text with random space around every token, and its members in order."""
    members = draw(st.lists(st.tuples(KEYS, VALUES), max_size=5))
    parts = [
        draw(SPACE)
        + json.dumps(key, ensure_ascii=draw(st.booleans()))
        + draw(SPACE)
        + ":"
        + draw(SPACE)
        + json.dumps(value)
        + draw(SPACE)
        for key, value in members
    ]
    return "{" + draw(SPACE) + ",".join(parts) + "}", members


@given(objects(), SPACE, SPACE)
def test_members_are_those_json_reads_and_located_exactly(
    obj: tuple[str, list[tuple[str, Any]]], before: str, after: str
) -> None:
    body, members = obj
    text = before + body + after
    found: list[Member] = []
    end = read_members(text, len(before), found)
    assert end == len(before) + len(body)
    assert [(member.key, member.value) for member in found] == members
    for member in found:
        assert json.loads(text[member.key_span.start : member.key_span.end]) == member.key
        assert json.loads(text[member.span.start : member.span.end]) == member.value


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ('{"a": 1,}', 8, "Expecting property name enclosed in double quotes"),
        ('{"a" 1}', 5, "Expecting ':' delimiter"),
        ('{"a": 1 "b": 2}', 8, "Expecting ',' delimiter or '}'"),
        ('{"a\x01": 1}', 3, "Invalid control character at"),
        ('{"a": 1', 7, "Expecting ',' delimiter or '}'"),
        ('{"a": }', 6, "Expecting value"),
    ],
)
def test_a_syntax_error_is_reported_where_it_is_and_keeps_what_came_before(
    text: str, offset: int, message: str
) -> None:
    found: list[Member] = []
    with pytest.raises(JsonError) as raised:
        read_members(text, 0, found)
    assert (raised.value.offset, raised.value.message[: len(message)]) == (offset, message)
    assert [member.key for member in found] == (["a"] if text.startswith('{"a": 1') else [])
