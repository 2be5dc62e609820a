"""Dry-run replay: SPEC §4 lookup, nearest recorded input and diff, tools, determinism, fixtures from sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.engine.config import default_config
from server.engine.presets import DEERFLOW
from server.engine.replay import Status, ToolVerdict, build_fixture, replay_path
from server.engine.sessions import read_session, resolve
from tests.conftest import SAMPLES, run_cli
from tests.sessions.conftest import CATO_DB, CLEAN_BUNDLE

WRITE_NOTE = SAMPLES / "recordings" / "write_note.ultra.jsonl"


def statuses(report: Any) -> list[str]:
    return [outcome.tool.verdict.value if outcome.tool else outcome.status.value for outcome in report.outcomes]


def test_changed_rules_name_the_miss_its_nearest_input_and_the_changed_text() -> None:
    report = replay_path(WRITE_NOTE, against=SAMPLES / "replay" / "write_note.ultra.json")
    assert statuses(report) == ["miss", "hit", "unchecked", "miss", "unchecked", "miss"]
    assert report.unused == [0, 2, 3]
    miss = report.outcomes[0]
    assert report.first_divergence is miss
    assert (
        miss.nearest is not None and miss.nearest.turn == 0 and 0 < miss.nearest.similarity < 1.0
    )  # the diff shows two lines
    assert miss.nearest.explanation == "under the current rules without rules user-input-begin, user-input-end"
    removed = [line for line in miss.nearest.diff.splitlines() if line.startswith("-  ")]
    assert removed == ["-  --- BEGIN USER INPUT ---", "-  --- END USER INPUT ---"]
    assert miss.nearest.recorded_at is not None and miss.nearest.recorded_at.describe() == "write_note.ultra.jsonl:1"
    document = report.to_json()
    assert document["first_divergence"] == 0
    assert (
        document["steps"][0]["nearest"]["turn"] == 0 and "BEGIN USER INPUT" in document["steps"][0]["nearest"]["diff"]
    )
    assert document["unused"] == [0, 2, 3]
    assert [d["code"] for d in document["diagnostics"]].count("replay-miss") == 3


def test_a_miss_on_changed_input_diffs_the_text_that_changed(tmp_path: Path) -> None:
    lines = WRITE_NOTE.read_text(encoding="utf-8").splitlines(keepends=True)
    edited = tmp_path / "write_note.ultra.jsonl"
    edited.write_text(lines[0].replace("hi from replay.", "hello from replay."), encoding="utf-8")
    report = replay_path(edited, against=SAMPLES / "replay" / "write_note.ultra.json")
    nearest = report.outcomes[0].nearest
    assert nearest is not None and nearest.turn == 0
    assert "-  Create /mnt/user-data/outputs/note.txt containing exactly: hi from replay. Then read it back." in (
        nearest.diff.splitlines()
    )
    assert "+  Create /mnt/user-data/outputs/note.txt containing exactly: hello from replay. Then read it back." in (
        nearest.diff.splitlines()
    )


def test_replay_is_deterministic() -> None:
    first = replay_path(WRITE_NOTE).to_json()
    second = replay_path(WRITE_NOTE).to_json()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_repeated_identical_calls_consume_fifo_then_exhaust(tmp_path: Path) -> None:
    recording = SAMPLES / "recordings" / "translate_cn.flash.jsonl"
    lines = recording.read_text(encoding="utf-8").splitlines(keepends=True)
    repeated = tmp_path / "translate_cn.flash.jsonl"
    repeated.write_text(lines[0] + lines[1] + lines[0], encoding="utf-8")
    report = replay_path(repeated, against=SAMPLES / "replay" / "translate_cn.flash.json")
    assert statuses(report) == ["hit", "hit", "exhausted"]
    assert [outcome.turn for outcome in report.outcomes] == [0, 1, None]
    assert "turn 0 (step 0), turn 1 (step 1)" in report.outcomes[2].reason
    assert report.unused == [2, 3]


def test_legacy_turns_hit_through_the_fallback() -> None:
    report = replay_path(SAMPLES / "recordings" / "legacy_search.flash.jsonl")
    assert report.fixture.path.name == "legacy_search.flash.json"
    assert statuses(report) == ["legacy-hit"] and report.unused == [1] and not report.failed


def test_tool_calls_are_compared_value_by_value(tmp_path: Path) -> None:
    def turn(name: str, args: dict[str, Any]) -> dict[str, Any]:
        call = {"name": name, "args": args, "id": f"call_{name}", "type": "tool_call"}
        output = {"type": "ai", "data": {"content": "", "type": "ai", "tool_calls": [call]}}
        return {"caller": "lead_agent", "conversation_hash": "0" * 64, "input_hash": "1" * 64, "output": output}

    fixture = tmp_path / "notes.json"
    document = {
        "scenario": "notes",
        "mode": "flash",
        "model": "m",
        "turns": [
            turn("session_checkpoint", {"threshold": 0.8, "context_limit": 200000}),
            turn("shell", {"command": "ls /tmp"}),
        ],
    }
    fixture.write_text(json.dumps(document, indent=2), encoding="utf-8")
    report = replay_path(CATO_DB, against=fixture, session_id="sess-gamma", config=default_config(tmp_path))
    assert statuses(report) == ["match", "mismatch"]
    mismatch = report.outcomes[1].tool
    assert mismatch is not None and mismatch.verdict is ToolVerdict.MISMATCH
    assert [(d.path, d.expected, d.actual) for d in mismatch.differences] == [("args.command", "ls /tmp", "ls /nope")]
    assert report.failed and report.unused == []
    assert [d.code.name for d in report.diagnostics] == ["tool-mismatch"]


def test_record_fixture_round_trip(tmp_path: Path) -> None:
    fixture = tmp_path / "count_lines.flash.json"
    recording = tmp_path / "count_lines.flash.jsonl"
    made = run_cli("record-fixture", CLEAN_BUNDLE, "-o", fixture, "--recording", recording)
    assert made.code == 0, made.stderr
    text = fixture.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert (document["scenario"], document["mode"], len(document["turns"])) == ("count_lines", "flash", 2)
    checked = run_cli("check", tmp_path, "--format", "json")
    assert checked.code == 0, checked.stdout
    assert not [f for f in checked.json()["findings"] if f["severity"] in ("error", "warning")]
    report = replay_path(CLEAN_BUNDLE, against=fixture, config=default_config(tmp_path))
    assert statuses(report) == ["hit", "match", "hit"] and not report.failed
    again = run_cli("record-fixture", CLEAN_BUNDLE, "-o", fixture)
    assert again.code == 2 and "already exists" in again.stderr


def test_fixture_keeps_non_ascii_as_is(tmp_path: Path) -> None:
    session = read_session(resolve(SAMPLES / "recordings" / "translate_cn.flash.jsonl")[0])
    draft = build_fixture(session, DEERFLOW, tmp_path / "translate_cn.flash.json")
    assert "今天天气很好 ☀️🌈" in draft.text and draft.text.endswith("}\n")
    assert [turn["caller"] for turn in draft.document["turns"]] == ["lead_agent", "lead_agent", "suggest_agent"]
    assert Status.HIT.value == "hit"


@pytest.mark.parametrize(
    ("marker", "where"),
    [("pyproject.toml", "."), ("pyproject.toml", "tests"), (".git", "."), (".git", "tests"), (None, ".")],
)
def test_the_project_root_without_a_config_is_the_nearest_project_folder(
    tmp_path: Path, marker: str | None, where: str
) -> None:
    """A deer-flow-like checkout: fixtures in tests/fixtures/replay/, recordings in recordings/, no config.

    Without a pyproject.toml or .git anywhere above, the root is the current directory.
    """
    checkout = tmp_path / "deer-flow"
    (checkout / "tests" / "fixtures" / "replay").mkdir(parents=True)
    (checkout / "recordings").mkdir()
    (checkout / "runs").mkdir()
    if marker == ".git":
        (checkout / ".git").mkdir()
    elif marker == "pyproject.toml":
        (checkout / "pyproject.toml").write_text('[project]\nname = "deer-flow"\n', encoding="utf-8")
    fixture = checkout / "tests" / "fixtures" / "replay" / "x.json"
    fixture.write_bytes((SAMPLES / "replay" / "write_note.ultra.json").read_bytes())
    (checkout / "recordings" / "x.jsonl").write_bytes(WRITE_NOTE.read_bytes())
    lines = WRITE_NOTE.read_text(encoding="utf-8").splitlines(keepends=True)
    (checkout / "runs" / "new.jsonl").write_text(lines[0].replace("hi from replay.", "hello from replay."), "utf-8")
    cwd = checkout / where
    result = run_cli("replay", checkout / "runs" / "new.jsonl", "--against", fixture, cwd=cwd)
    assert "No recorded input to compare with" not in result.stdout
    assert "nearest recorded input is turn 0" in result.stdout
    assert "+  Create /mnt/user-data/outputs/note.txt containing exactly: hello from replay." in result.stdout
    recorded = run_cli("record-fixture", checkout / "runs" / "new.jsonl", "-o", checkout / "runs" / "new.json", cwd=cwd)
    assert recorded.code == 0 and "keyed under rules deerflow" in recorded.stdout
