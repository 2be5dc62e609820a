"""Recordings re-send their history: the reader shares it, the key chain reuses it, keys stay exact."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from bench import reference
from bench.generate import Shape, session_calls
from server.engine.normalize import KeyChain, Normalizer
from server.engine.presets import DEERFLOW
from server.engine.recording import read_recording
from server.engine.source import SourceText


def recording_text(calls: list[tuple[str, list[dict[str, Any]], dict[str, Any]]], **dumps: Any) -> str:
    lines = []
    for caller, inputs, output in calls:
        conversation, key = reference.keys(caller, inputs)
        record = {
            "caller": caller,
            "conversation_hash": conversation,
            "input_hash": key,
            "input": inputs,
            "output": output,
        }
        lines.append(json.dumps(record, ensure_ascii=dumps.get("ensure_ascii", False)))
    return "\n".join(lines) + "\n"


def read(text: str):  # type: ignore[no-untyped-def]
    return read_recording(Path("r.jsonl"), SourceText.from_bytes(text.encode("utf-8")))


def interleaved_session() -> list[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
    """A lead agent's growing history, with title calls, a summarised restart and a subagent in between."""
    calls = session_calls(Shape(calls=12, system_size=300, tool_output_size=200, volatile=0.5), 3)
    title = ("title_agent", [{"type": "human", "data": {"content": "Title this: 2026-01-01 plan"}}], calls[0][2])
    summary = [
        {"type": "human", "data": {"content": "Summary of the work so far <system-reminder>x</system-reminder>"}}
    ]
    restarted = [("lead_agent", summary + inputs[-2:], output) for _, inputs, output in calls[8:10]]
    subagent = [("subagent:general-purpose", inputs[:3], output) for _, inputs, output in calls[2:4]]
    return [*calls[:3], title, *calls[3:6], *subagent, *calls[6:9], *restarted, *calls[9:]]


def test_history_is_shared_between_calls() -> None:
    calls = session_calls(Shape(calls=6, system_size=200, tool_output_size=100), 1)
    recording = read(recording_text(calls))
    first, last = recording.calls[0].input, recording.calls[-1].input
    assert len(last) > len(first)
    assert all(a is b for a, b in zip(first, last, strict=False))  # one object per message, not per call


def test_chain_keys_equal_the_reference_on_interleaved_calls() -> None:
    calls = interleaved_session()
    recording = read(recording_text(calls))
    assert len(recording.calls) == len(calls) and not recording.problems
    chain = KeyChain(Normalizer(DEERFLOW))
    for call, (caller, inputs, _) in zip(recording.calls, calls, strict=True):
        keys = chain.keys(call.caller, call.input)
        assert (keys.conversation_hash, keys.input_hash) == reference.keys(caller, inputs)
        assert keys.canonical == reference.canonical(inputs)


def test_lines_that_do_not_share_bytes_are_still_exact() -> None:
    calls = interleaved_session()
    text = recording_text(calls, ensure_ascii=True)
    lines = text.splitlines()
    random.Random(5).shuffle(lines)
    recording = read("\n".join(lines) + "\n")
    chain = KeyChain(Normalizer(DEERFLOW))
    for call in recording.calls:
        keys = chain.keys(call.caller, call.input)
        assert (keys.conversation_hash, keys.input_hash) == (call.conversation_hash, call.input_hash)


def test_a_changed_message_in_the_history_is_not_shared() -> None:
    calls = session_calls(Shape(calls=4, system_size=100, tool_output_size=50), 2)
    edited_input = json.loads(json.dumps(calls[3][1]))
    edited_input[1]["data"]["content"] += " (edited)"
    calls[3] = (calls[3][0], edited_input, calls[3][2])
    recording = read(recording_text(calls))
    assert recording.calls[3].input[1] is not recording.calls[2].input[1]
    assert recording.calls[3].input[0] is recording.calls[2].input[0]
    chain = KeyChain(Normalizer(DEERFLOW))
    for call, (caller, inputs, _) in zip(recording.calls, calls, strict=True):
        assert chain.keys(call.caller, call.input).conversation_hash == reference.keys(caller, inputs)[0]
