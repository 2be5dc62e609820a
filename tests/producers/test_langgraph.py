"""LangGraph 1.2 sessions, SQLite and PostgreSQL, against the ground truth logged while the real graphs ran.

Each generated thread (and each subgraph namespace) is read through the real
CLI: `steps` must show every model call with the node that ran it, its output,
tokens and the messages new since the previous call; `record-fixture
--recording` must hold each call's whole input as the model received it; the
tool steps must carry each tool's arguments, result and status; and replaying
the session against the fixture recorded from it must hit every call.
Exceptions, each listed in docs/traces.md: the system prompt of
`create_react_agent` is not in the checkpoints, and `durability="exit"` keeps no
writes, so its calls have no caller.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.producers.conftest import Truth
from tests.producers.langgraph.graphs import SYSTEM_PROMPT

THREADS = [
    "react-1",
    "team|alpha",
    "research-1",
    "review-1",
    "review-2",
    "edit-1",
    "notes-1",
    "exit-1",
    "delta-1",
    "fanout-1",
    "mapreduce-1",
    "long-1",
]
NO_WRITES = {"exit-1"}
PARALLEL = {"fanout-1", "mapreduce-1"}
"""Threads with model calls in one superstep: they run in threads, in no fixed order."""


@pytest.fixture(params=["sqlite", "postgres"])
def run(request: pytest.FixtureRequest) -> tuple[str, Truth]:
    value: tuple[str, Truth] = request.getfixturevalue(f"{request.param}_run")
    return value


def sessions_of(source: str, truth: Truth, thread: str) -> dict[str, list[dict[str, Any]]]:
    """`{session id: truth calls}` for a thread: one session per namespace the calls ran in."""
    listed = run_cli("sessions", source, "--format", "json")
    assert listed.code == 0, listed.stderr
    ids = [entry["id"] for entry in listed.json()["sessions"]]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for call in truth[thread]:
        namespace = call["namespace"]
        grouped.setdefault(thread if not namespace else f"{thread}|{namespace}", []).append(call)
    assert {i for i in ids if i == thread or i.startswith(f"{thread}|")} == set(grouped)  # no session more or less
    return grouped


def test_every_scenario_is_compared(run: tuple[str, Truth]) -> None:
    assert sorted(run[1]) == sorted(THREADS)


def without_system_prompt(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The input minus the system prompt `create_react_agent` adds (it is never checkpointed)."""
    if messages and messages[0]["type"] == "system":
        assert messages[0]["data"]["content"] == SYSTEM_PROMPT
        return messages[1:]
    return messages


def same_message(read: dict[str, Any], real: dict[str, Any]) -> None:
    assert read["type"] == real["type"]
    for key in ("content", "id", "tool_calls", "tool_call_id", "usage_metadata", "response_metadata", "name"):
        assert read["data"].get(key) == real["data"].get(key), key


@pytest.mark.parametrize("thread", THREADS)
def test_every_call_matches_the_ground_truth_and_replays(run: tuple[str, Truth], thread: str, tmp_path: Path) -> None:
    source, truth = run
    for session, calls in sessions_of(source, truth, thread).items():
        page = run_cli(
            "steps", source, "--session-id", session, "--page-size", "1000", "--format", "json", "--reveal-secrets"
        )
        assert page.code == 0, page.stderr
        steps = page.json()["steps"]
        models = [step for step in steps if step["kind"] == "model"]
        real_models = [call for call in calls if call["kind"] == "model"]
        assert len(models) == len(real_models)
        fixture, recording = tmp_path / f"{len(session)}.json", tmp_path / f"{len(session)}.jsonl"
        recorded = run_cli("record-fixture", source, "--session-id", session, "-o", fixture, "--recording", recording)
        assert recorded.code == 0, recorded.stderr
        lines = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines()]
        assert len(lines) == len(real_models)
        by_id = {real["output"]["data"]["id"]: real for real in real_models}
        order = [step["output"]["data"]["id"] for step in models]
        if thread in PARALLEL:  # only the call after the parallel ones has its place
            assert sorted(order) == sorted(by_id) and order[-1] == real_models[-1]["output"]["data"]["id"]
        else:
            assert order == list(by_id)
        for step, line in zip(models, lines, strict=True):
            real = by_id[step["output"]["data"]["id"]]
            assert step.get("caller") == (None if thread in NO_WRITES else real["node"])
            same_message(step["output"], real["output"])
            usage = real["output"]["data"]["usage_metadata"]
            assert step["tokens"] == {
                "input": usage["input_tokens"],
                "output": usage["output_tokens"],
                "total": usage["total_tokens"],
            }
            assert step["model"] == real["output"]["data"]["response_metadata"]["model_name"]
            expected = without_system_prompt(real["input"])
            assert len(line["input"]) == len(expected)
            for read, message in zip(line["input"], expected, strict=True):
                same_message(read, message)
            shown = step.get("input", [])
            assert [m["data"]["content"] for m in shown] == [
                m["data"]["content"] for m in expected[step.get("inputOmitted", 0) :]
            ]
            assert step.get("startedAt") or thread in NO_WRITES
        tools = {step["callId"]: step for step in steps if step["kind"] == "tool"}
        real_tools = [call for call in calls if call["kind"] == "tool"]
        assert len(tools) == len(real_tools)
        for real in real_tools:
            step = tools[real["call_id"]]
            assert (step["name"], step["arguments"], step["status"]) == (real["name"], real["args"], real["status"])
            if real["status"] == "error":  # ToolNode turns the exception into the message the model reads
                assert real["error"] in step["result"]
            else:
                assert step["result"] == real["result"]
        replayed = run_cli("replay", source, "--session-id", session, "--against", fixture, "--format", "json")
        assert replayed.code == 0, replayed.stdout + replayed.stderr
        summary = replayed.json()["summary"]
        assert (summary["hits"], summary["misses"], summary["toolMismatches"]) == (len(real_models), 0, 0)


def test_edits_interrupts_and_subgraphs_are_shown_as_what_they_are(run: tuple[str, Truth]) -> None:
    source, _ = run

    def steps(session: str) -> list[dict[str, Any]]:
        page = run_cli(
            "steps", source, "--session-id", session, "--page-size", "1000", "--format", "json", "--reveal-secrets"
        )
        assert page.code == 0, page.stderr
        return list(page.json()["steps"])

    edits = [(step["kind"], step.get("status")) for step in steps("edit-1")]
    assert edits == [("model", None), ("opaque", "edited"), ("opaque", "edited"), ("model", None)]
    waiting = steps("review-2")[-1]
    assert (waiting["kind"], waiting["status"], waiting["data"]["node"]) == ("opaque", "waiting", "review")
    assert waiting["data"]["interrupt"]["question"] == "Publish this draft?"
    assert [step.get("status") for step in steps("review-1")] == [None, "resumed", None]
    assert [step["caller"] for step in steps("research-1")] == ["plan", "write"]
