"""The Codex readers against what the real Codex CLI 0.171.0 wrote, field by field.

`data/0.171.0/` was produced by `generate.py` (`make producers`): the real CLI
ran `codex exec` then `codex exec resume --last` against our fake Responses
API, and the server logged every request body and every event it sent
(`ground_truth.json`). Each model call's input, output, reasoning, ids and
tokens, and each tool call's arguments, result and status, as the readers
show them through the real CLI (`steps`, `record-fixture`, `replay`), must
equal what went over the wire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.conftest import run_cli

DATA = Path(__file__).resolve().parent / "data" / "0.171.0"
TRUTH = json.loads((DATA / "ground_truth.json").read_text(encoding="utf-8"))
ROLLOUT = next((DATA / "sessions").rglob("rollout-*.jsonl"))
BUNDLES = sorted(
    (DATA / "traces").iterdir(),
    key=lambda path: json.loads((path / "manifest.json").read_text(encoding="utf-8"))["started_at_unix_ms"],
)
"""The first run's bundle, then the resumed run's (a new bundle with the same rollout id)."""


# -- the ground truth, read straight from the server's log -------------------------------------------


def _calls() -> list[dict[str, Any]]:
    """Each model call as the server saw it: request input, response id, output items, usage."""
    calls = []
    for entry in TRUTH["exchange"]:
        if entry["path"] != "/v1/responses":
            continue
        completed = next(event for event in entry["sent"] if event["type"] == "response.completed")
        calls.append(
            {
                "input": entry["body"]["input"],
                "response_id": completed["response"]["id"],
                "output": completed["response"]["output"],
                "usage": completed["response"]["usage"],
            }
        )
    return calls


CALLS = _calls()


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content or [])


def _wire_input(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What the model was sent, item by item (reasoning items carry no text the model reads back)."""
    roles = {"developer": "system", "system": "system", "user": "human", "assistant": "ai"}
    shown: list[tuple[Any, ...]] = []
    for item in items:
        if item["type"] == "message":
            shown.append((roles[item["role"]], _text(item["content"])))
        elif item["type"] == "function_call":
            call = (item["name"], json.loads(item["arguments"]), item["call_id"])
            if shown and shown[-1][0] == "ai-calls":
                shown[-1] = ("ai-calls", (*shown[-1][1], call))
            else:
                shown.append(("ai-calls", (call,)))
        elif item["type"] == "function_call_output":
            shown.append(("tool", item["output"], item["call_id"]))
    return shown


def _read_input(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The same view of a step's input messages as the readers give them."""
    shown: list[tuple[Any, ...]] = []
    for entry in messages:
        kind, data = entry["type"], entry["data"]
        if kind == "ai" and data["tool_calls"]:
            shown.append(("ai-calls", tuple((c["name"], c["args"], c["id"]) for c in data["tool_calls"])))
        elif kind == "tool":
            shown.append(("tool", data["content"], data["tool_call_id"]))
        else:
            shown.append((kind, data["content"]))
    return shown


def _tool_results() -> dict[str, str]:
    """Each tool's result as the CLI sent it back to the model (in the next request)."""
    return {
        item["call_id"]: item["output"]
        for call in CALLS
        for item in call["input"]
        if item["type"] == "function_call_output"
    }


def _exit_code(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("Process exited with code "))
    return int(line.removeprefix("Process exited with code "))


def _expected_steps(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Step order: each model call, then the tool calls it made, in the order it made them."""
    order: list[tuple[str, str]] = []
    for call in calls:
        order.append(("model", call["response_id"]))
        order += [("tool", item["call_id"]) for item in call["output"] if item["type"] == "function_call"]
    return order


# -- the readers, through the real CLI ---------------------------------------------------------------


def _steps(session: Path) -> dict[str, Any]:
    result = run_cli("steps", session, "--format", "json", "--page-size", "1000")
    assert result.code == 0, result.stderr
    document: dict[str, Any] = result.json()
    return document


def _full_inputs(steps: list[dict[str, Any]], *, outputs_omitted: bool) -> list[list[dict[str, Any]]]:
    """Each model call's whole input: a page gives only the messages new since the previous call.

    A rollout counts the previous call's output among the omitted messages; a
    bundle repeats it in the next request, so it comes back as a new message.
    """
    inputs: list[list[dict[str, Any]]] = []
    before: list[dict[str, Any]] = []
    for step in steps:
        if step["kind"] != "model":
            continue
        assert step.get("inputOmitted", 0) == (len(before) if inputs or step.get("inputOmitted") else 0)
        whole = before + step["input"]
        inputs.append(whole)
        before = [*whole, step["output"]] if outputs_omitted else whole
    return inputs


def _order(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (step["kind"], step["output"]["data"]["response_metadata"]["id"] if step["kind"] == "model" else step["callId"])
        for step in steps
    ]


def _check_model_step(
    step: dict[str, Any], whole_input: list[dict[str, Any]], call: dict[str, Any], *, skip_first_input: bool = False
) -> None:
    output, usage = step["output"]["data"], call["usage"]
    messages = [item for item in call["output"] if item["type"] == "message"]
    calls = [item for item in call["output"] if item["type"] == "function_call"]
    reasoning = [item for item in call["output"] if item["type"] == "reasoning"]
    assert output["content"] == "".join(_text(item["content"]) for item in messages)
    assert [(c["name"], c["args"], c["id"]) for c in output["tool_calls"]] == [
        (item["name"], json.loads(item["arguments"]), item["call_id"]) for item in calls
    ]
    assert output["id"] == (messages[0]["id"] if messages else call["response_id"])
    assert output["response_metadata"]["id"] == call["response_id"]
    if reasoning:
        kept = output["additional_kwargs"]["reasoning"]
        assert kept["id"] == reasoning[0]["id"]
        assert [part["text"] for part in kept["summary"]] == [part["text"] for part in reasoning[0]["summary"]]
    else:
        assert "reasoning" not in output["additional_kwargs"]
    expected_tokens = {"input": usage["input_tokens"], "output": usage["output_tokens"], "total": usage["total_tokens"]}
    assert step["tokens"] == expected_tokens
    assert output["usage_metadata"]["input_tokens"] == usage["input_tokens"]
    start = 1 if skip_first_input else 0
    assert _read_input(whole_input)[start:] == _wire_input(call["input"])[start:]


def _check_tool_step(step: dict[str, Any], call: dict[str, Any], results: dict[str, str]) -> None:
    item = next(item for item in call["output"] if item.get("call_id") == step["callId"])
    assert (step["name"], step["arguments"]) == (item["name"], json.loads(item["arguments"]))
    assert step["result"] == results[item["call_id"]]
    code = _exit_code(results[item["call_id"]])
    assert step["status"] == ("completed" if code == 0 else "failed")
    assert step["data"]["exitCode"] == code


def test_the_scenario_covers_what_it_claims() -> None:
    """The ground truth holds a tool call, parallel calls with a failure and a long output, reasoning,
    non-ASCII text and a resumed turn (the second run sees the first run's history)."""
    results = _tool_results()
    assert len(CALLS) == 4
    assert [len([i for i in call["output"] if i["type"] == "function_call"]) for call in CALLS] == [1, 2, 0, 0]
    assert sorted(_exit_code(output) for output in results.values()) == [0, 0, 2]
    assert max(len(output) for output in results.values()) > 5000
    assert all(any(item["type"] == "reasoning" for item in CALLS[n]["output"]) for n in (0, 1, 3))
    assert not _text(CALLS[3]["output"][-1]["content"]).isascii()
    assert CALLS[3]["input"][: len(CALLS[2]["input"])] == CALLS[2]["input"]
    assert TRUTH["cli_version"] == "0.171.0" and TRUTH["network_checked_with_strace"] is True


def test_rollout_steps_match_the_wire() -> None:
    document = _steps(ROLLOUT)
    steps = document["steps"]
    assert _order(steps) == _expected_steps(CALLS)
    assert document["findings"] == []
    assert not any(step["kind"] == "opaque" or "problem" in step for step in steps)
    models = [step for step in steps if step["kind"] == "model"]
    inputs = _full_inputs(steps, outputs_omitted=True)
    for step, whole, call in zip(models, inputs, CALLS, strict=True):
        # The first message is session_meta.base_instructions, not the developer message sent (docs/traces.md).
        _check_model_step(step, whole, call, skip_first_input=True)
        assert step["model"] == TRUTH["model"]
    results = _tool_results()
    tools = {step["callId"]: step for step in steps if step["kind"] == "tool"}
    for call in CALLS:
        for item in call["output"]:
            if item["type"] == "function_call":
                _check_tool_step(tools[item["call_id"]], call, results)


def test_rollout_first_message_is_the_recorded_base_instructions_not_the_message_sent() -> None:
    """The limit docs/traces.md states: a rollout cannot give the first developer message exactly."""
    first = _steps(ROLLOUT)["steps"][0]["input"][0]
    assert first["type"] == "system"
    sent = _text(CALLS[0]["input"][0]["content"])
    assert first["data"]["content"] != sent


def test_bundles_match_the_wire_first_run_then_resumed_run() -> None:
    manifests = [json.loads((bundle / "manifest.json").read_text(encoding="utf-8")) for bundle in BUNDLES]
    assert [manifest["schema_version"] for manifest in manifests] == [3, 3]
    assert manifests[0]["rollout_id"] == manifests[1]["rollout_id"]
    first, resumed = (_steps(bundle) for bundle in BUNDLES)
    assert first["session"]["id"] == resumed["session"]["id"] == manifests[0]["rollout_id"]
    results = _tool_results()
    for document, calls in ((first, CALLS[:3]), (resumed, CALLS[3:])):
        steps = document["steps"]
        assert _order(steps) == _expected_steps(calls)
        assert document["findings"] == []
        models = [step for step in steps if step["kind"] == "model"]
        inputs = _full_inputs(steps, outputs_omitted=False)
        for step, whole, call in zip(models, inputs, calls, strict=True):
            _check_model_step(step, whole, call)
            assert step["status"] == "completed" and step["caller"] == "/root"
        for step in steps:
            if step["kind"] == "tool":
                call = next(c for c in calls if any(i.get("call_id") == step["callId"] for i in c["output"]))
                _check_tool_step(step, call, results)


@pytest.mark.parametrize("session", [ROLLOUT, *BUNDLES], ids=["rollout", "bundle", "resumed-bundle"])
def test_record_fixture_then_replay_hits_every_call(session: Path, tmp_path: Path) -> None:
    fixture = tmp_path / "codex.json"
    recorded = run_cli("record-fixture", session, "-o", fixture)
    assert recorded.code == 0, recorded.stderr
    turns = json.loads(fixture.read_text(encoding="utf-8"))["turns"]
    calls = CALLS[3:] if session == BUNDLES[1] else CALLS if session == ROLLOUT else CALLS[:3]
    assert [turn["output"]["data"]["response_metadata"]["id"] for turn in turns] == [c["response_id"] for c in calls]
    replayed = run_cli("replay", session, "--against", fixture, "--format", "json")
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    report = replayed.json()
    statuses = [step["status"] for step in report["steps"] if step["kind"] == "model"]
    assert statuses == ["hit"] * len(calls)
    assert report["unused"] == []


@pytest.mark.parametrize("bundle", BUNDLES, ids=["bundle", "resumed-bundle"])
def test_bundles_read_as_codex_own_reducer_reads_them(bundle: Path) -> None:
    """`codex debug trace-reduce` (logged by the generator) finds the same calls, ids, tokens and outcomes."""
    reduced = TRUTH["codex_trace_reduce"][bundle.name]
    steps = _steps(bundle)["steps"]
    models = [step for step in steps if step["kind"] == "model"]
    tools = [step for step in steps if step["kind"] == "tool"]
    assert [
        (step["output"]["data"]["response_metadata"]["id"], step["status"], step["tokens"]["input"]) for step in models
    ] == [(call["response_id"], call["status"], call["usage"]["input_tokens"]) for call in reduced["inference_calls"]]
    assert [(step["callId"], step["status"], step["data"]["exitCode"]) for step in tools] == [
        (call["call_id"], call["terminal_status"], call["exit_code"]) for call in reduced["tool_calls"]
    ]


def test_archived_rollout_reads_as_the_plain_one(tmp_path: Path) -> None:
    """Codex compresses rollouts older than a week (`.jsonl.zst`): the same steps, places included."""
    archived = tmp_path / f"{ROLLOUT.name}.zst"
    archived.write_bytes(zstandard.ZstdCompressor().compress(ROLLOUT.read_bytes()))
    plain, compressed = _steps(ROLLOUT), _steps(archived)
    for document in (plain, compressed):
        for step in document["steps"]:
            del step["uri"]
    assert compressed["steps"] == plain["steps"] and compressed["findings"] == []
