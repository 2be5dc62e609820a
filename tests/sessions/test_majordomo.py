"""majordomo audit runs (SPEC §6.4), read from the store `tests/producers/majordomo` writes.

The real Writer (Go) is not available here; the generator writes exactly the
layout and payloads of SPEC §6.4 and logs what it was given, uncut, as ground
truth. Every run, event and field is compared with it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from server.engine.sessions import StepKind, read_session, resolve
from server.engine.sessions.majordomo import REDACTED
from server.engine.sessions.model import message_parts
from tests.conftest import run_cli
from tests.producers.majordomo.generate import generate


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path / "audit" / "executus.db"
    path.parent.mkdir()
    return path, generate(path)


def test_runs_are_sessions_with_their_facts(store: tuple[Path, list[dict[str, Any]]]) -> None:
    path, truth = store
    listed = run_cli("sessions", path.parent, "--format", "json").json()["sessions"]
    assert [(entry["kind"], entry["id"]) for entry in listed] == [("majordomo-run", run["id"]) for run in truth]
    for run in truth:
        facts = read_session(resolve(path, run["id"])[0]).facts["run"]
        for name in ("skill", "caller", "channel", "parent_run_id", "inputs", "status"):
            assert facts[name] == run[name], (run["id"], name)
        if run["status"] != "running":  # totals are written when a run finishes
            assert facts["tool_calls_count"] == run["tool_calls_count"]
            assert facts["output"] == run["output"] and facts["error"] == (run["error"] or None)
            assert facts["tokens"] == run["tokens"] and facts["runtime_seconds"] == run["runtime_seconds"]
    parent = read_session(resolve(path, "run-7c1e")[0]).facts["run"]
    assert parent["children"] == ["run-9d2f"] and parent["resolved_model"] == "anthropic/claude-sonnet-4-5"
    text = run_cli("steps", path, "--session-id", "run-9d2f")
    assert text.code == 0 and "child of run run-7c1e" in text.stdout and "status error" in text.stdout


def expected_steps(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps a run's events should become: a tool call and its result (by id) are one step, in call order."""
    steps: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for event in run["events"]:
        if event["type"] == "tool_result":
            calls[event["id"]]["result"] = event
            continue
        steps.append(dict(event))
        if event["type"] == "tool_call":
            calls[event["id"]] = steps[-1]
    return steps


def test_every_event_matches_the_ground_truth(store: tuple[Path, list[dict[str, Any]]]) -> None:
    path, truth = store
    for run in truth:
        session = read_session(resolve(path, run["id"])[0])
        expected = expected_steps(run)
        assert len(session.steps) == len(expected), run["id"]
        for step, event in zip(session.steps, expected, strict=True):
            where = (run["id"], event["sequence"])
            assert step.source is not None and step.source.label.endswith(f"#{event['sequence']}"), where
            if event["type"] == "step":
                check_model(step, event)
            elif event["type"] == "tool_call":
                check_tool(step, event)
            elif event["type"] == "error":
                assert (step.kind, step.status) == (StepKind.OPAQUE, "error") and event["message"] in str(step.problem)
            else:  # resolved_model and custom events: kept whole, never "unknown"
                assert (step.kind, step.name, step.problem) == (StepKind.OPAQUE, event["type"], None), where
                assert step.data == {k: v for k, v in event.items() if k not in ("sequence", "type")}
        assert [f.code.name for f in session.findings] == [], run["id"]
        assert session.facts["not_replayable"]


def check_model(step: Any, event: dict[str, Any]) -> None:
    assert (step.kind, step.model) == (StepKind.MODEL, event["model"])
    assert (step.tokens.input, step.tokens.output) == (event["in_tokens"], event["out_tokens"])
    for name in ("iter", "step_ms", "finish_reason", "thinking_tokens", "cache_read_tokens", "text_len"):
        assert step.data[name] == event[name], name
    assert step.duration_ms == event["step_ms"] and step.input is None
    content = message_parts(step.output)[1]["content"]
    full = event["text"].encode("utf-8")
    if event["redacted"]:
        assert content == REDACTED and "redacted by the writer" in step.data["text"]
    elif len(full) > 2000:
        kept, suffix = content.rsplit("…", 1)
        assert suffix == f"[+{len(full) - 2000} bytes]"
        assert kept.rstrip("\ufffd") and event["text"].startswith(kept.rstrip("\ufffd"))
        assert step.problem == f"narration cut by the writer at 2000 bytes ({len(full) - 2000} more bytes)"
    else:
        assert content == event["text"] and step.problem is None


def check_tool(step: Any, event: dict[str, Any]) -> None:
    assert (step.kind, step.name, step.arguments, step.call_id) == (
        StepKind.TOOL,
        event["name"],
        event["args"],
        event["id"],
    )
    result = event.get("result")
    if result is None:
        assert step.result is None and "no tool_result was logged" in step.problem
        return
    full = result["result"].encode("utf-8")
    if len(full) > 4000:
        assert step.result.endswith(f"…[+{len(full) - 4000} bytes]") and result["truncated"] is True
        assert step.problem == f"result cut by the writer at 4000 bytes ({len(full) - 4000} more bytes)"
    else:
        assert step.result == result["result"] and step.problem is None
    assert step.status == "completed"


@pytest.mark.parametrize("command", ["replay", "record-fixture"])
def test_no_replay_is_said_plainly(store: tuple[Path, list[dict[str, Any]]], command: str) -> None:
    path, _ = store
    extra = ["-o", path.parent / "fixture.json"] if command == "record-fixture" else []
    result = run_cli(command, path, "--session-id", "run-7c1e", *extra)
    assert result.code == 2
    assert "majordomo's audit Writer logs no model input" in result.stderr
    assert not (path.parent / "fixture.json").exists()


@pytest.mark.parametrize(
    "payload", ["{not json", "", "[1, 2]", "null", "[" * 100_000], ids=["broken", "empty", "array", "null", "deep"]
)
def test_a_payload_that_is_not_a_json_object_is_a_finding(
    store: tuple[Path, list[dict[str, Any]]], payload: str
) -> None:
    path, _ = store
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE skill_run_logs SET payload = ? WHERE run_id = 'run-7c1e' AND sequence = 2", (payload,)
        )
    connection.close()
    session = read_session(resolve(path, "run-7c1e")[0])
    marked = [step for step in session.steps if step.problem and "payload" in step.problem]
    assert [(step.kind, step.name) for step in marked] == [(StepKind.OPAQUE, "step")]
    assert [f.code.name for f in session.findings] == ["trace-error"]
    assert "event 2 (step)" in session.findings[0].message
    assert len(session.steps) == 10  # the rest is read
    assert run_cli("steps", path, "--session-id", "run-7c1e").code == 1


def test_tool_args_that_are_not_json_are_kept_as_text(store: tuple[Path, list[dict[str, Any]]]) -> None:
    path, _ = store
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE skill_run_logs SET payload = json_set(payload, '$.args', '{cut') "
            "WHERE run_id = 'run-7c1e' AND sequence = 3"
        )
    connection.close()
    step = read_session(resolve(path, "run-7c1e")[0]).steps[2]
    assert (step.name, step.arguments) == ("read_file", "{cut") and "args not JSON" in (step.problem or "")


def test_reading_leaves_no_file_and_works_in_a_read_only_folder(store: tuple[Path, list[dict[str, Any]]]) -> None:
    path, _ = store
    folder = path.parent
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    connection.close()
    assert [p.name for p in folder.iterdir()] == [path.name]
    assert run_cli("steps", path, "--session-id", "run-7c1e").code == 0
    assert [p.name for p in folder.iterdir()] == [path.name]
    folder.chmod(0o555)
    try:
        listed = run_cli("sessions", path, "--format", "json")
        result = run_cli("steps", path, "--session-id", "run-9d2f", "--format", "json")
    finally:
        folder.chmod(0o755)
    assert listed.code == 0 and len(listed.json()["sessions"]) == 3
    assert result.code == 0 and result.json()["total"] == 4
    assert [p.name for p in folder.iterdir()] == [path.name]
