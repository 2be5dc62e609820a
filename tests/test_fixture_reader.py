"""The fixture reader: exact LSP ranges (UTF-16 and UTF-8) and usefulness on broken JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.engine.fixture import Fixture, read_fixture
from server.engine.source import Position, SourceText

HASH_A = "a" * 64
HASH_B = "b" * 64
HASH_C = "c" * 64


def turn(caller: str, conversation: str, key: str, text: str = "done") -> dict[str, Any]:
    return {
        "caller": caller,
        "conversation_hash": conversation,
        "input_hash": key,
        "output": {"type": "ai", "data": {"content": text, "tool_calls": []}},
    }


def document(*turns: dict[str, Any], **top: Any) -> str:
    return (
        json.dumps({"scenario": "s", "mode": "flash", **top, "turns": list(turns)}, indent=2, ensure_ascii=False) + "\n"
    )


def read(text: str) -> Fixture:
    return read_fixture(Path("f.json"), SourceText.from_bytes(text.encode("utf-8")))


def locate(text: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """(line, UTF-16 character) of the n-th `needle`, computed independently of the reader."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index)
    line_start = text.rfind("\n", 0, index) + 1
    return line, len(text[line_start:index].encode("utf-16-le")) // 2


def test_every_turn_and_field_is_located() -> None:
    text = document(turn("lead_agent", HASH_A, HASH_B), turn("middleware:title", HASH_B, HASH_C))
    fixture = read(text)
    assert fixture.problems == []
    assert [t.index for t in fixture.turns] == [0, 1]
    second = fixture.turns[1]
    member = second.members["input_hash"]
    assert member.value == HASH_C
    assert text[member.span.start : member.span.end] == json.dumps(HASH_C)
    assert text[second.span.start : second.span.end].startswith("{") and text[second.span.end - 1] == "}"
    assert json.loads(text[second.span.start : second.span.end]) == json.loads(text)["turns"][1]


def test_utf16_and_utf8_positions_after_cjk_and_emoji() -> None:
    prompt = "请翻译 ☀️🌈 then 😀"
    text = json.dumps({"prompt": prompt, "turns": [turn("lead_agent", HASH_A, HASH_B)]}, ensure_ascii=False)
    fixture = read(text)  # one line: characters before the hash include CJK and astral emoji
    member = fixture.turns[0].members["input_hash"]
    line, utf16 = locate(text, json.dumps(HASH_B))
    assert fixture.source.position(member.span.start) == Position(line, utf16)
    prefix = text[: member.span.start]
    assert fixture.source.position(member.span.start, "utf-8") == Position(0, len(prefix.encode("utf-8")))
    assert fixture.source.position(member.span.start, "utf-32") == Position(0, len(prefix))
    # 🌈 and 😀 are outside the BMP and count twice in UTF-16 (☀️ is two BMP code points).
    assert utf16 == len(prefix) + 2
    for encoding in ("utf-16", "utf-8", "utf-32"):
        position = fixture.source.position(member.span.start, encoding)  # type: ignore[arg-type]
        assert fixture.source.offset(position, encoding) == member.span.start  # type: ignore[arg-type]


def test_ranges_on_multiline_non_ascii_fixture() -> None:
    text = document(
        turn("lead_agent", HASH_A, HASH_B, text="今天天气很好 ☀️🌈"), turn("x", HASH_B, HASH_C), prompt="😀 emoji"
    )
    fixture = read(text)
    member = fixture.turns[1].members["conversation_hash"]
    assert fixture.source.range(member.span).start == Position(*locate(text, json.dumps(HASH_B), 1))


def test_invalid_json_mid_edit_keeps_the_other_turns() -> None:
    text = document(turn("lead_agent", HASH_A, HASH_B), turn("x", HASH_B, HASH_C), turn("y", HASH_C, HASH_A))
    broken = text.replace(f'"input_hash": "{HASH_C}"', f'"input_hash" "{HASH_C}', 1)  # missing colon + quote
    fixture = read(broken)
    syntax = [p for p in fixture.problems if p.code.name == "invalid-json"]
    assert len(syntax) == 1
    assert syntax[0].range.start.line == locate(broken, f'"input_hash" "{HASH_C}')[0]
    good = [t for t in fixture.turns if not t.broken]
    assert [t.index for t in good] == [0, 2]
    assert fixture.turns[1].broken
    assert good[1].members["caller"].value == "y"
    assert not fixture.parsed_cleanly


def test_truncated_file_mid_edit_keeps_earlier_turns() -> None:
    text = document(turn("lead_agent", HASH_A, HASH_B), turn("x", HASH_B, HASH_C))
    fixture = read(text[: text.index('"x"') + 5])
    assert [t.index for t in fixture.turns if not t.broken] == [0]
    assert [p.code.name for p in fixture.problems] == ["invalid-json"]


def test_broken_top_level_before_turns_still_finds_them() -> None:
    text = document(turn("lead_agent", HASH_A, HASH_B), prompt="hello")
    fixture = read(text.replace('"prompt": "hello",', '"prompt": "hello"', 1))
    assert [p.code.name for p in fixture.problems] == ["invalid-json"]
    assert [t.members["caller"].value for t in fixture.turns] == ["lead_agent"]


def test_unknown_extra_keys_are_kept_and_not_reported() -> None:
    extra = dict(turn("lead_agent", HASH_A, HASH_B), recorded_at="2026-01-01", tags=["a"])
    fixture = read(document(extra, requires_real_subagent=True, stream_mode=["values"]))
    assert fixture.problems == []
    assert fixture.turns[0].members["tags"].value == ["a"]
    assert fixture.top["requires_real_subagent"].value is True


def test_crlf_and_bom_positions() -> None:
    text = document(turn("lead_agent", HASH_A, HASH_B)).replace("\n", "\r\n")
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    source = SourceText.from_bytes(data)
    fixture = read_fixture(Path("f.json"), source)
    assert fixture.problems == []
    member = fixture.turns[0].members["input_hash"]
    line, character = locate(text, json.dumps(HASH_B))
    assert source.position(member.span.start) == Position(line, character)
    assert source.encode() == data


def test_legacy_turns_are_recognized() -> None:
    fixture = read(json.dumps({"turns": [{"input_hash": HASH_A, "output": {"type": "ai", "data": {"content": ""}}}]}))
    assert fixture.turns[0].is_legacy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("[1, 2]", "top level is an array"),
        ('{"scenario": "x"}', "no 'turns' array"),
        ('{"turns": {}}', "'turns' is an object"),
        ('"just a string"', "top level is a string"),
    ],
)
def test_wrong_shapes_are_findings(text: str, message: str) -> None:
    fixture = read(text)
    assert any(message in p.message for p in fixture.problems), fixture.problems
