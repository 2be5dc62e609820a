"""The Codex readers against what the real Codex CLI wrote (0.171.0 and 0.58.0), field by field.

`data/<version>/` was produced by `generate.py` (`make producers`): the real
CLI ran `codex exec`, then resumed the session, against our fake Responses
API, and the server logged every request body and every event it sent
(`ground_truth.json`). Each model call's input, output, reasoning, ids and
tokens, and each tool call's arguments, result and status, as the readers
show them through the real CLI (`steps`, `record-fixture`, `replay`), must
equal what went over the wire, except where docs/traces.md says what a
format cannot show (and these tests pin each exception).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zstandard

from server.engine.sessions import StepKind, read_session, resolve
from tests.conftest import run_cli

HERE = Path(__file__).resolve().parent


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content or [])


@dataclass
class Producer:
    """What one CLI release wrote, and the server's log of the same run."""

    version: str
    data: Path = field(init=False)
    truth: dict[str, Any] = field(init=False)
    rollout: Path = field(init=False)
    bundles: list[Path] = field(init=False)
    calls: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.data = HERE / "data" / self.version
        self.truth = json.loads((self.data / "ground_truth.json").read_text(encoding="utf-8"))
        self.rollout = next((self.data / "sessions").rglob("rollout-*.jsonl"))
        traces = self.data / "traces"
        self.bundles = sorted(
            traces.iterdir() if traces.is_dir() else [],
            key=lambda path: json.loads((path / "manifest.json").read_text(encoding="utf-8"))["started_at_unix_ms"],
        )
        self.calls = []
        for entry in self.truth["exchange"]:
            if entry["path"] != "/v1/responses":
                continue
            completed = next(event for event in entry["sent"] if event["type"] == "response.completed")
            self.calls.append(
                {
                    "input": entry["body"]["input"],
                    "instructions": entry["body"].get("instructions"),
                    "response_id": completed["response"]["id"],
                    "output": completed["response"]["output"],
                    "usage": completed["response"]["usage"],
                }
            )

    @property
    def modern(self) -> bool:
        """0.171.0 keeps ids and commands' texts as sent; 0.58.0 keeps neither (docs/traces.md)."""
        return self.version != "0.58.0"

    def tool_results(self) -> dict[str, str]:
        """Each tool's result as the CLI sent it back to the model (in the next request)."""
        return {
            item["call_id"]: item["output"]
            for call in self.calls
            for item in call["input"]
            if item["type"] == "function_call_output"
        }


PRODUCERS = {version: Producer(version) for version in ("0.171.0", "0.58.0")}
LATEST = PRODUCERS["0.171.0"]
ROLLOUT, BUNDLES, CALLS = LATEST.rollout, LATEST.bundles, LATEST.calls
"""0.171.0's rollout, its bundles (the first run's, then the resumed run's: same rollout id), its calls."""


# -- views of the ground truth and of the readers' messages that can be compared ---------------------

_EXIT = re.compile(r"^(?:Process exited with code|Exit code:) (-?\d+)$", re.MULTILINE)
_TOTAL_LINES = re.compile(r"^Total output lines: \d+\n\n")


def _exit_code(output: str) -> int:
    match = _EXIT.search(output)
    assert match is not None, output[:200]
    return int(match.group(1))


def _command_output(text: str) -> str:
    """The command's own output in a text the model got: 0.58.0 sends it after a header ending in `Output:`."""
    return text.split("Output:\n", 1)[1] if text.startswith("Exit code: ") else text


def _stored_output(content: str) -> str:
    """A 0.58.0 rollout's stored output `{"output": ...}` (its line count moved into the model's header)."""
    try:
        stored = json.loads(content)
    except ValueError:
        return content
    return _TOTAL_LINES.sub("", stored["output"]) if isinstance(stored, dict) and "output" in stored else content


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
            shown.append(("tool", _command_output(item["output"]), item["call_id"]))
    return shown


def _read_input(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The same view of a step's input messages as the readers give them."""
    shown: list[tuple[Any, ...]] = []
    for entry in messages:
        kind, data = entry["type"], entry["data"]
        if kind == "ai" and data["tool_calls"]:
            shown.append(("ai-calls", tuple((c["name"], c["args"], c["id"]) for c in data["tool_calls"])))
        elif kind == "tool":
            shown.append(("tool", _stored_output(data["content"]), data["tool_call_id"]))
        else:
            shown.append((kind, data["content"]))
    return shown


def _call_key(text: str, call_ids: list[str]) -> tuple[str, ...]:
    """A model call told apart by what it answered: its text and the ids of the tools it called."""
    return (text, *call_ids)


def _expected_steps(calls: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """Step order: each model call, then the tool calls it made, in the order it made them."""
    order: list[tuple[str, tuple[str, ...]]] = []
    for call in calls:
        ids = [item["call_id"] for item in call["output"] if item["type"] == "function_call"]
        text = "".join(_text(item["content"]) for item in call["output"] if item["type"] == "message")
        order.append(("model", _call_key(text, ids)))
        order += [("tool", (call_id,)) for call_id in ids]
    return order


def _order(steps: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    order: list[tuple[str, tuple[str, ...]]] = []
    for step in steps:
        if step["kind"] == "model":
            output = step["output"]["data"]
            order.append(("model", _call_key(output["content"], [c["id"] for c in output["tool_calls"]])))
        else:
            order.append((step["kind"], (step.get("callId") or step.get("name", ""),)))
    return order


# -- the readers, through the real CLI ---------------------------------------------------------------


def _steps(session: Path) -> dict[str, Any]:
    result = run_cli("steps", session, "--format", "json", "--page-size", "1000")
    assert result.code == 0, result.stderr
    document: dict[str, Any] = result.json()
    return document


def _full_inputs(session: Path, steps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each model call's whole input (as `record-fixture` reads it), after checking that the page `steps`
    printed holds exactly the messages new since the previous call, and counts the others."""
    full = [step.input or [] for step in read_session(resolve(session)[0]).steps if step.kind is StepKind.MODEL]
    models = [step for step in steps if step["kind"] == "model"]
    for shown, whole in zip(models, full, strict=True):
        omitted = shown.get("inputOmitted", 0)
        assert omitted + len(shown["input"]) == len(whole) and shown["input"] == whole[omitted:]
    return full


def _check_model_step(
    producer: Producer, step: dict[str, Any], whole_input: list[dict[str, Any]], call: dict[str, Any], *, rollout: bool
) -> None:
    output, usage = step["output"]["data"], call["usage"]
    messages = [item for item in call["output"] if item["type"] == "message"]
    calls = [item for item in call["output"] if item["type"] == "function_call"]
    reasoning = [item for item in call["output"] if item["type"] == "reasoning"]
    assert output["content"] == "".join(_text(item["content"]) for item in messages)
    assert [(c["name"], c["args"], c["id"]) for c in output["tool_calls"]] == [
        (item["name"], json.loads(item["arguments"]), item["call_id"]) for item in calls
    ]
    if producer.modern:
        assert output["id"] == (messages[0]["id"] if messages else call["response_id"])
        assert output["response_metadata"]["id"] == call["response_id"]
    else:  # 0.58.0 rollouts keep no message, reasoning or response id
        assert output["id"] is None and "id" not in output["response_metadata"]
    if reasoning:
        kept = output["additional_kwargs"]["reasoning"]
        assert kept["id"] == (reasoning[0]["id"] if producer.modern else None)
        assert [part["text"] for part in kept["summary"]] == [part["text"] for part in reasoning[0]["summary"]]
    else:
        assert "reasoning" not in output["additional_kwargs"]
    expected_tokens = {"input": usage["input_tokens"], "output": usage["output_tokens"], "total": usage["total_tokens"]}
    assert step["tokens"] == expected_tokens
    assert output["usage_metadata"]["input_tokens"] == usage["input_tokens"]
    read, sent = _read_input(whole_input), _wire_input(call["input"])
    if not rollout and call["instructions"]:
        sent = [("system", call["instructions"]), *sent]
    if rollout and producer.modern:
        # The first message is session_meta.base_instructions, not the developer message sent (docs/traces.md).
        read, sent = read[1:], sent[1:]
    assert read == sent


def _check_tool_step(step: dict[str, Any], call: dict[str, Any], results: dict[str, str]) -> None:
    item = next(item for item in call["output"] if item.get("call_id") == step["callId"])
    assert (step["name"], step["arguments"]) == (item["name"], json.loads(item["arguments"]))
    assert _TOTAL_LINES.sub("", step["result"]) == _command_output(results[item["call_id"]])
    code = _exit_code(results[item["call_id"]])
    assert step["status"] == ("completed" if code == 0 else "failed")
    assert step["data"]["exitCode"] == code


@pytest.mark.parametrize("producer", PRODUCERS.values(), ids=PRODUCERS.keys())
def test_the_scenario_covers_what_it_claims(producer: Producer) -> None:
    """The ground truth holds a tool call, parallel calls with a failure and a long output, reasoning,
    non-ASCII text and a resumed turn (the second run sees the first run's history)."""
    calls, results = producer.calls, producer.tool_results()
    assert len(calls) == 4
    assert [len([i for i in call["output"] if i["type"] == "function_call"]) for call in calls] == [1, 2, 0, 0]
    assert sorted(_exit_code(output) for output in results.values()) == [0, 0, 2]
    assert max(len(output) for output in results.values()) > 1000
    assert all(any(item["type"] == "reasoning" for item in calls[n]["output"]) for n in (0, 1, 3))
    assert not _text(calls[3]["output"][-1]["content"]).isascii()
    assert calls[3]["input"][: len(calls[2]["input"])] == calls[2]["input"]
    assert producer.truth["cli_version"] == producer.version and producer.truth["network_checked_with_strace"]
    assert len(producer.bundles) == (2 if producer.modern else 0)  # 0.58.0 writes no trace bundles


@pytest.mark.parametrize("producer", PRODUCERS.values(), ids=PRODUCERS.keys())
def test_rollout_steps_match_the_wire(producer: Producer) -> None:
    document = _steps(producer.rollout)
    steps = document["steps"]
    assert _order(steps) == _expected_steps(producer.calls)
    assert document["findings"] == []
    assert not any(step["kind"] == "opaque" or "problem" in step for step in steps)
    models = [step for step in steps if step["kind"] == "model"]
    inputs = _full_inputs(producer.rollout, steps)
    for step, whole, call in zip(models, inputs, producer.calls, strict=True):
        _check_model_step(producer, step, whole, call, rollout=True)
        assert step["model"] == producer.truth["model"]
    results = producer.tool_results()
    tools = {step["callId"]: step for step in steps if step["kind"] == "tool"}
    for call in producer.calls:
        for item in call["output"]:
            if item["type"] == "function_call":
                _check_tool_step(tools[item["call_id"]], call, results)


def test_rollout_first_message_is_the_recorded_base_instructions_not_the_message_sent() -> None:
    """The limit docs/traces.md states: a 0.171.0 rollout cannot give the first developer message exactly."""
    first = _steps(ROLLOUT)["steps"][0]["input"][0]
    assert first["type"] == "system"
    assert first["data"]["content"] != _text(CALLS[0]["input"][0]["content"])


def test_old_rollout_keeps_neither_instructions_nor_the_commands_text_as_sent() -> None:
    """The limits docs/traces.md states for 0.58.0: `session_meta.instructions` is null while the requests
    carry instructions, and a command's output is stored as JSON, not as the text the model got."""
    old = PRODUCERS["0.58.0"]
    meta = json.loads(old.rollout.read_text(encoding="utf-8").splitlines()[0])["payload"]
    assert meta["instructions"] is None and old.calls[0]["instructions"]
    steps = _steps(old.rollout)["steps"]
    stored = next(step for step in steps if step["kind"] == "model" and step["input"][-1]["type"] == "tool")
    content = stored["input"][-1]["data"]["content"]
    assert json.loads(content)["metadata"]["exit_code"] == 0
    assert content not in old.tool_results().values()


def test_bundles_match_the_wire_first_run_then_resumed_run() -> None:
    manifests = [json.loads((bundle / "manifest.json").read_text(encoding="utf-8")) for bundle in BUNDLES]
    assert [manifest["schema_version"] for manifest in manifests] == [3, 3]
    assert manifests[0]["rollout_id"] == manifests[1]["rollout_id"]
    first, resumed = (_steps(bundle) for bundle in BUNDLES)
    assert first["session"]["id"] == resumed["session"]["id"] == manifests[0]["rollout_id"]
    results = LATEST.tool_results()
    for bundle, document, calls in ((BUNDLES[0], first, CALLS[:3]), (BUNDLES[1], resumed, CALLS[3:])):
        steps = document["steps"]
        assert _order(steps) == _expected_steps(calls)
        assert document["findings"] == []
        models = [step for step in steps if step["kind"] == "model"]
        inputs = _full_inputs(bundle, steps)
        for step, whole, call in zip(models, inputs, calls, strict=True):
            _check_model_step(LATEST, step, whole, call, rollout=False)
            assert step["status"] == "completed" and step["caller"] == "/root"
        for step in steps:
            if step["kind"] == "tool":
                call = next(c for c in calls if any(i.get("call_id") == step["callId"] for i in c["output"]))
                _check_tool_step(step, call, results)


@pytest.mark.parametrize("bundle", BUNDLES, ids=["bundle", "resumed-bundle"])
def test_bundles_read_as_codex_own_reducer_reads_them(bundle: Path) -> None:
    """`codex debug trace-reduce` (logged by the generator) finds the same calls, ids, tokens and outcomes."""
    reduced = LATEST.truth["codex_trace_reduce"][bundle.name]
    steps = _steps(bundle)["steps"]
    models = [step for step in steps if step["kind"] == "model"]
    tools = [step for step in steps if step["kind"] == "tool"]
    assert [
        (step["output"]["data"]["response_metadata"]["id"], step["status"], step["tokens"]["input"]) for step in models
    ] == [(call["response_id"], call["status"], call["usage"]["input_tokens"]) for call in reduced["inference_calls"]]
    assert [(step["callId"], step["status"], step["data"]["exitCode"]) for step in tools] == [
        (call["call_id"], call["terminal_status"], call["exit_code"]) for call in reduced["tool_calls"]
    ]


_SESSIONS = [
    pytest.param(producer.rollout, producer.calls, id=f"{version}-rollout") for version, producer in PRODUCERS.items()
] + [
    pytest.param(BUNDLES[0], CALLS[:3], id="0.171.0-bundle"),
    pytest.param(BUNDLES[1], CALLS[3:], id="0.171.0-resumed-bundle"),
]


@pytest.mark.parametrize(("session", "calls"), _SESSIONS)
def test_record_fixture_then_replay_hits_every_call(session: Path, calls: list[dict[str, Any]], tmp_path: Path) -> None:
    fixture = tmp_path / "codex.json"
    recorded = run_cli("record-fixture", session, "-o", fixture)
    assert recorded.code == 0, recorded.stderr
    turns = json.loads(fixture.read_text(encoding="utf-8"))["turns"]
    assert [
        _call_key(turn["output"]["data"]["content"], [c["id"] for c in turn["output"]["data"]["tool_calls"]])
        for turn in turns
    ] == [key for kind, key in _expected_steps(calls) if kind == "model"]
    replayed = run_cli("replay", session, "--against", fixture, "--format", "json")
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    report = replayed.json()
    statuses = [step["status"] for step in report["steps"] if step["kind"] == "model"]
    assert statuses == ["hit"] * len(calls)
    assert report["unused"] == []


@pytest.mark.parametrize("producer", PRODUCERS.values(), ids=PRODUCERS.keys())
def test_archived_rollout_reads_as_the_plain_one(producer: Producer, tmp_path: Path) -> None:
    """Codex compresses rollouts older than a week (`.jsonl.zst`): the same steps, places included."""
    archived = tmp_path / f"{producer.rollout.name}.zst"
    archived.write_bytes(zstandard.ZstdCompressor().compress(producer.rollout.read_bytes()))
    plain, compressed = _steps(producer.rollout), _steps(archived)
    for document in (plain, compressed):
        for step in document["steps"]:
            del step["uri"]
    assert compressed["steps"] == plain["steps"] and compressed["findings"] == []
