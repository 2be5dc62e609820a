"""The session commands as a user runs them: output, exit codes, and no traceback on any bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run_cli
from tests.sessions.conftest import BROKEN_BUNDLE, CATO_DB, ROLLOUTS


def test_replay_text_report(samples: Path) -> None:
    result = run_cli("replay", samples / "recordings" / "write_note.ultra.jsonl", cwd=samples)
    assert result.code == 1
    out = result.stdout
    assert "against replay/write_note.ultra.json (4 turns) under rules deerflow" in out
    assert "First divergence: step 0, write_note.ultra.jsonl:1: miss" in out
    assert "Step 0 (lead_agent) miss: nearest recorded input is turn 0 (66% alike" in out
    assert "  -  --- BEGIN USER INPUT ---" in out
    assert "Unused turns: 0, 2, 3" in out
    assert out.rstrip().endswith("3 misses, 0 exhausted; 2 tool calls (0 differ); 3 unused turns.")


def test_replay_json_and_clean_exit() -> None:
    result = run_cli("replay", SAMPLES / "recordings" / "legacy_search.flash.jsonl", "--format", "json")
    assert result.code == 0
    report = result.json()
    assert [step["status"] for step in report["steps"]] == ["legacy-hit"]
    assert report["unused"] == [1] and report["first_divergence"] is None
    assert report["summary"]["legacyHits"] == 1


def test_sessions_and_steps_pages() -> None:
    listed = run_cli("sessions", SAMPLES / "traces", "--format", "json")
    kinds = [session["kind"] for session in listed.json()["sessions"]]
    assert listed.code == 0 and len(kinds) - kinds.count("langgraph-checkpoints") == 8
    # 11 threads (tests/producers/langgraph/sample.py) and the 2 namespaces of a nested subgraph
    assert kinds.count("langgraph-checkpoints") == 13
    page = run_cli("steps", CATO_DB, "--session-id", "sess-beta", "--page", "2", "--page-size", "2", "--format", "json")
    assert page.code == 0
    document = page.json()
    assert (document["page"], document["pageSize"], document["total"]) == (2, 2, 5)
    assert [step["name"] for step in document["steps"]] == ["send_email", "schedule.daily_digest"]
    assert document["facts"]["chain"]["verified"] is True
    text = run_cli("steps", BROKEN_BUNDLE)
    assert "payload payloads/6.json is missing" in text.stdout and "fork_snapshot_saved" in text.stdout


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: tmp / "missing.jsonl",
        lambda tmp: (tmp / "corrupt.db").write_bytes(b"garbage, not sqlite") and tmp / "corrupt.db",
        lambda tmp: (tmp / "empty.jsonl").write_bytes(b"") and tmp / "empty.jsonl",
        lambda tmp: tmp,
    ],
    ids=["missing", "corrupt-db", "empty", "folder"],
)
def test_bad_session_paths_are_usage_errors_or_marked_steps(tmp_path: Path, make: object) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    for command in (["replay", path], ["steps", path], ["record-fixture", path, "-o", tmp_path / "out.json"]):
        result = run_cli(*command)
        assert result.code in (1, 2), (command, result.stdout, result.stderr)


def test_bad_trace_content_never_crashes(tmp_path: Path) -> None:
    rollout = tmp_path / "rollout-2026-01-01T00-00-00-0199e2a4-6b5c-7d3e-9f10-1a2b3c4d5e6f.jsonl"
    source = next(path for path in ROLLOUTS.glob("*.jsonl") if "truncated" not in path.name)
    rollout.write_bytes(source.read_bytes() + b'{"type": "surprise", "payload": {}}\n\xff\xfe[1,\n')
    result = run_cli("steps", rollout, "--format", "json")
    assert result.code == 1
    problems = [step.get("problem", "") for step in result.json()["steps"]]
    assert any("unknown line type 'surprise'" in problem for problem in problems)
    assert any("invalid JSON" in problem for problem in problems)
    replayed = run_cli("replay", rollout, "--against", SAMPLES / "replay" / "write_note.ultra.json")
    assert replayed.code == 1 and "Reading the session:" in replayed.stdout
