"""Every bad input gives a finding or a clear error: never a traceback, never a lost file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import findings_by_code, run_cli

GOOD_OUTPUT = {"type": "ai", "data": {"content": "ok", "tool_calls": []}}
HASH = "a" * 64


def check_file(path: Path) -> dict:  # type: ignore[type-arg]
    result = run_cli("check", "--format", "json", path)
    assert result.code in (0, 1), result.stderr
    report: dict = result.json()  # type: ignore[type-arg]
    return report


def codes_of(report: dict) -> set[str]:  # type: ignore[type-arg]
    return {finding["code"] for finding in report["findings"]}


@pytest.mark.parametrize(
    ("name", "content", "code", "message"),
    [
        ("empty.json", b"", "malformed-fixture", "empty file"),
        ("garbage.json", bytes(range(256)) * 4, "invalid-json", "invalid UTF-8"),
        ("array.json", b"[1, 2, 3]\n", "malformed-fixture", "top level is an array"),
        ("nested.json", b"[" * 100_000 + b"]" * 100_000, "invalid-json", "nested too deeply"),
        (
            "nested-turn.json",
            b'{"turns": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
            "invalid-json",
            "nested too deeply",
        ),
        ("latin1.json", '{"turns": [], "prompt": "caf\xe9"}'.encode("latin-1"), "invalid-json", "invalid UTF-8"),
        ("huge-int.json", b'{"turns": [{"input_hash": ' + b"9" * 5000 + b"}]}", "invalid-json", "digits"),
    ],
)
def test_bad_fixture_files(tmp_path: Path, name: str, content: bytes, code: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    report = check_file(path)
    matching = findings_by_code(report, code)
    assert matching and any(message in f["message"] for f in matching), report["findings"]


def test_turn_without_output(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"turns": [{"caller": "a", "conversation_hash": HASH, "input_hash": HASH}]}))
    (finding,) = findings_by_code(check_file(path), "malformed-output")
    assert "has no 'output'" in finding["message"]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("text", "not a message dict"),
        ({"type": "human", "data": {"content": "x"}}, "needs an AI message"),
        ({"type": "ai"}, "no 'data'"),
        ({"type": "ai", "data": {"content": 3}}, "no 'content'"),
        ({"type": "ai", "data": {"content": "", "tool_calls": [{"name": "x", "args": "y"}]}}, "tool call 0"),
    ],
)
def test_malformed_outputs(tmp_path: Path, output: object, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"turns": [{"input_hash": HASH, "output": output}]}))
    (finding,) = findings_by_code(check_file(path), "malformed-output")
    assert message in finding["message"]


@pytest.mark.parametrize(
    ("turn", "message"),
    [
        ({"output": GOOD_OUTPUT}, "has no 'input_hash'"),
        ({"input_hash": "XYZ", "output": GOOD_OUTPUT}, "not 64 lowercase hex"),
        ({"caller": "a", "input_hash": HASH, "output": GOOD_OUTPUT}, "has no 'conversation_hash'"),
        ({"caller": 5, "conversation_hash": HASH, "input_hash": HASH, "output": GOOD_OUTPUT}, "not a string"),
        ("just text", "turn 0 is a string"),
    ],
)
def test_malformed_turns(tmp_path: Path, turn: object, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"turns": [turn]}))
    report = check_file(path)
    assert any(message in f["message"] for f in findings_by_code(report, "malformed-fixture")), report


def test_ten_megabyte_single_line_prompt(tmp_path: Path) -> None:
    prompt = "lorem ipsum 請 " * 800_000
    document = {"prompt": prompt, "turns": [{"input_hash": HASH, "output": GOOD_OUTPUT}]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert path.stat().st_size > 10_000_000
    report = check_file(path)
    assert codes_of(report) == {"legacy-key", "unverifiable"}
    legacy = findings_by_code(report, "legacy-key")[0]
    assert legacy["range"]["start"]["line"] == 0
    expected = len(json.dumps({"prompt": prompt}, ensure_ascii=False)[:-1]) + len(', "turns": [{"input_hash": ')
    assert legacy["range"]["start"]["character"] == expected


def test_truncated_recording_is_reported_and_the_rest_used(samples: Path) -> None:
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    lines = recording.read_text(encoding="utf-8").splitlines()
    recording.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2], encoding="utf-8")
    report = run_cli("check", "--format", "json", cwd=samples).json()
    (truncated,) = [f for f in findings_by_code(report, "invalid-json") if "truncated" in f["message"]]
    assert truncated["range"]["start"]["line"] == 3
    stale = sorted(f["data"]["turn"] for f in findings_by_code(report, "stale-key"))
    assert stale == [0, 2]  # turn 3's recording line is the one that was cut


def test_recording_with_garbage_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'\x00\xff\xfe garbage\n{"input": [1], "output": {}, "input_hash": "' + HASH.encode() + b'"}\n')
    report = check_file(path)
    assert {"invalid-json", "malformed-recording"} <= codes_of(report)


def test_fix_never_rewrites_a_broken_fixture(samples: Path) -> None:
    fixture = samples / "replay" / "write_note.ultra.json"
    broken = fixture.read_text(encoding="utf-8").replace('"scenario": "write_note",', '"scenario": "write_note"', 1)
    fixture.write_text(broken, encoding="utf-8")
    result = run_cli("check", "--fix", "--format", "json", cwd=samples)
    assert fixture.read_text(encoding="utf-8") == broken
    assert findings_by_code(result.json(), "stale-key")  # still reported, just not rewritten


@pytest.mark.parametrize(
    ("config", "line", "key", "message"),
    [
        (
            'preset = "deerflow"\n[[rules]]\nname = "x"\npattern = "([a-z"\n',
            4,
            "rules[0].pattern",
            "invalid regular expression",
        ),
        ('preset = "deerflow"\ncolour = "blue"\n', 2, "colour", "unknown key"),
        ('preset = "nope"\n', 1, "preset", "unknown preset"),
        ('fixtures = "replay/*.json"\n', 1, "fixtures", "tuple"),
        ('preset = "deerflow"\n\n[projection]\nsecond-pass = "maybe"\n', 4, "projection.second-pass", "boolean"),
        (
            'preset = "deerflow"\n[[rules]]\nname = "a"\npattern = "a"\n[[rules]]\npattern = 5\n',
            6,
            "rules[1].pattern",
            "string",
        ),
        ("preset = \n", 1, "", "invalid TOML"),
        ("fixtures = " + "[" * 5000 + "]" * 5000 + "\n", 1, "", "nested too deeply"),
        ('[[rules]]\npattern = "a"\nbogus = 1\n', 3, "rules[0].bogus", "unknown key"),
        ("[projection]\nbogus = 1\n", 2, "projection.bogus", "unknown key"),
        ('[[rules]]\npattern = "(?u)x"\nflags = ["ascii"]\n', 2, "rules[0].pattern", "flags are incompatible"),
        ('[[rules]]\npattern = "a{99999999999}"\n', 2, "rules[0].pattern", "repetition number is too large"),
        ('allow-volatile = ["' + "(" * 2000 + ")" * 2000 + '"]\n', 1, "allow-volatile[0]", "invalid regular"),
    ],
)
def test_config_errors_name_file_line_and_key(tmp_path: Path, config: str, line: int, key: str, message: str) -> None:
    (tmp_path / "replay-lens.toml").write_text(config, encoding="utf-8")
    text = run_cli("check", cwd=tmp_path)
    assert text.code == 2
    assert f"replay-lens.toml:{line}:" in text.stderr and message in text.stderr, text.stderr
    as_json = run_cli("check", "--format", "json", cwd=tmp_path)
    assert as_json.code == 2
    (finding,) = as_json.json()["findings"]
    assert finding["code"] == "config-error"
    assert finding["range"]["start"]["line"] == line - 1
    assert finding["data"]["key"] == key


def test_config_in_pyproject_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.replay-lens]\npreset = "deerflow"\n\n[[tool.replay-lens.rules]]\n'
        'name = "bad"\npattern = "(?P<"\n',
        encoding="utf-8",
    )
    result = run_cli("check", cwd=tmp_path)
    assert result.code == 2
    assert "pyproject.toml:9:1: tool.replay-lens.rules[0].pattern: invalid regular expression" in result.stderr


def test_unreadable_config_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "replay-lens.toml").write_bytes(b"preset = '\xff'\n")
    result = run_cli("check", cwd=tmp_path)
    assert result.code == 2 and "not UTF-8" in result.stderr


@pytest.mark.parametrize("pattern", ["(a|aa)+$", "^(a|a)*$", "(\\\\d|\\\\d\\\\d)+$"])
def test_catastrophic_pattern_is_a_config_error(tmp_path: Path, pattern: str) -> None:
    (tmp_path / "replay-lens.toml").write_text(f'[[rules]]\nname = "slow"\npattern = "{pattern}"\n', encoding="utf-8")
    result = run_cli("check", cwd=tmp_path, timeout=30)
    assert result.code == 2
    assert "replay-lens.toml:3:1: rules[0].pattern: pattern takes over" in result.stderr, result.stderr


def test_reasonable_user_patterns_pass_the_probe(tmp_path: Path) -> None:
    rules = ["\\\\breq_[A-Za-z0-9]{8,}\\\\b", "[0-9a-f]{32}", "(?s)<x>.*?</x>", "\\\\s+"]
    text = "".join(f'[[rules]]\nname = "r{i}"\npattern = "{p}"\n' for i, p in enumerate(rules))
    (tmp_path / "replay-lens.toml").write_text(text, encoding="utf-8")
    assert run_cli("check", cwd=tmp_path).code == 0
