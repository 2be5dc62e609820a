"""Recordings re-send their history: the reader shares it, the key chain reuses it, keys stay exact."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bench import reference
from bench.generate import Shape, session_calls
from server.engine.normalize import KeyChain, Normalizer
from server.engine.presets import DEERFLOW
from server.engine.recording import LineParser, read_recording
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


def most_shared(parser: Any, text: str) -> int:
    """The most leading messages any recent array shares with the input array at the start of `text`: every
    recent array tried (what `LineParser._shared` finds while skipping arrays too short to share more)."""
    return max((array.shared_with(text, 0) for array in parser.recent), default=0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.booleans()), min_size=1, max_size=25))
def test_the_history_shared_is_the_longest_any_recent_line_holds(steps: list[tuple[int, int, bool]]) -> None:
    """Lines whose inputs grow, branch off, shrink and come back (several sessions interleaved): each is read as
    `json` reads it, and shares as many leading messages as the best of the recent lines, no fewer."""
    parser = LineParser()
    histories: list[list[dict[str, Any]]] = [[] for _ in range(4)]
    for number, (session, keep, grow) in enumerate(steps):
        history = histories[session][:keep]
        if grow or not history:
            history.append({"type": "human", "data": {"content": f"message {number} of {session}"}})
        histories[session] = history
        array = json.dumps(history)
        best = most_shared(parser, array)
        before = list(parser.recent)  # reading the line may push the oldest out
        line = json.dumps({"input": history, "output": number})
        parsed = parser.parse(line)
        assert parsed == json.loads(line)
        shared = 0
        for recent in before:
            for index, message in enumerate(parsed["input"]):
                if index < len(recent.messages) and message is recent.messages[index]:
                    shared = max(shared, index + 1)
        assert shared == best
