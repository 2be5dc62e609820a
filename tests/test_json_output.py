"""`check --format json` is built without the pure-Python encoder, yet byte for byte what `json_text` (two-space
indent) writes: for any JSON-safe data, any message or path, lone surrogates and names that are not UTF-8."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.cli.output import indented_json, json_text
from server.cli.report import Summary, render_json
from server.engine.findings import CODES, Finding, Severity
from server.engine.jsontext import dumps
from server.engine.source import Position, Range, Span

# Every code point: lone surrogates, controls and U+2028 too.
TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
KEYS = TEXT | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20
)


def old_render(findings: list[Finding], summary: Summary) -> str:
    """The report as it was written before: the whole document through `json.dumps` with an indent."""
    document = {
        "version": 1,
        "rules": {
            "preset": summary.preset,
            "fingerprint": summary.fingerprint,
            "config": str(summary.config) if summary.config else None,
        },
        "findings": [finding.to_json() for finding in findings],
        "summary": summary.to_json(findings),
    }
    return dumps(document, indent=2)


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    code = draw(st.sampled_from(sorted(CODES)))
    numbers = draw(st.lists(st.integers(min_value=0, max_value=10**6), min_size=4, max_size=4))
    return Finding(
        CODES[code],
        Path(draw(st.sampled_from(["a.json", "bad\udcffname.json", "dir/é 1.json", "/abs/x.jsonl"]))),
        Range(Position(numbers[0], numbers[1]), Position(numbers[2], numbers[3])),
        Span(0, 0),
        draw(TEXT),
        draw(st.sampled_from(list(Severity))),
        draw(st.dictionaries(TEXT, VALUES, max_size=4)),
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(findings(), max_size=5),
    st.sampled_from([None, Path("replay-lens.toml"), Path("x/\udcff.toml")]),
    TEXT,
)
def test_the_report_is_the_indented_json_byte_for_byte(listed: list[Finding], config: Path | None, preset: str) -> None:
    summary = Summary(1, 2, 3, 4, 5, 6, preset, "0123abcd", config)
    text = render_json(listed, summary)
    assert text == old_render(listed, summary)
    text.encode("utf-8")  # valid UTF-8 whatever the strings held


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_indented_json_is_json_dumps_with_an_indent(value: Any) -> None:
    assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert indented_json([value], "    ") == json.dumps([value], indent=2, ensure_ascii=False).replace("\n", "\n    ")


def test_subclasses_and_tuples_are_written_as_json_writes_them() -> None:
    value = {"severity": Severity.ERROR, "pair": (1, "a"), "nested": {"t": ()}}
    assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_json_text_is_the_indented_dump_with_surrogates_escaped(value: Any) -> None:
    """Every indented document the CLI prints (replay and sessions reports too) is `json.dumps(..., indent=2)`
    with its surrogates escaped, built by `indented_json`."""
    text = json_text(value)
    assert text == dumps(value, indent=2)
    text.encode("utf-8")
