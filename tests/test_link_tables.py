"""Linking across many recordings: the merged key tables give the links the per-recording tables give, in
recording order (FIFO among equal keys across files)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.checks import Link, _Table


def naive(tables: list[dict[str, list[Link]]], key: str) -> list[Link]:
    return [link for table in tables for link in table.get(key, [])]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from("abcdef"), st.lists(st.integers(0, 5), min_size=1, max_size=3), max_size=4),
        max_size=30,
    ),
    st.lists(st.sampled_from("abcdefg"), max_size=10),
)
def test_merged_lookups_are_the_per_recording_lookups(shapes: list[dict[str, list[int]]], keys: list[str]) -> None:
    tables = [
        {key: [Link(recording, call) for call in calls] for key, calls in shape.items()}  # type: ignore[arg-type]
        for recording, shape in enumerate(shapes)
    ]
    before = [{key: list(links) for key, links in table.items()} for table in tables]
    table = _Table(tables)
    for key in keys:
        assert table.get(key) == naive(tables, key)
        assert table.get(key, []) == naive(tables, key)
    assert tables == before  # the recordings' own lists are left as they were
