"""The recording reader: every complete line is read, a broken one is reported."""

from __future__ import annotations

import json
from pathlib import Path

from server.engine.recording import read_recording
from server.engine.source import SourceText

LINE = {"caller": "lead_agent", "input": [], "output": {}, "conversation_hash": "a" * 64, "input_hash": "b" * 64}


def read(text: str):  # type: ignore[no-untyped-def]
    return read_recording(Path("r.jsonl"), SourceText.from_bytes(text.encode("utf-8")))


def test_truncated_last_line_is_reported_and_the_rest_read() -> None:
    full = json.dumps(LINE)
    recording = read("\n".join([full, full, full[:40]]))
    assert len(recording.calls) == 2
    (problem,) = recording.problems
    assert problem.code.name == "invalid-json" and "truncated last line" in problem.message
    assert problem.range.start.line == 2


def test_broken_line_in_the_middle_is_located() -> None:
    full = json.dumps(LINE)
    recording = read(f'{full}\n{{"caller": oops}}\n\n{full}\n')
    assert [call.line for call in recording.calls] == [0, 3]
    (problem,) = recording.problems
    assert problem.range.start.line == 1 and problem.range.start.character == 11
    assert "truncated" not in problem.message


def test_lines_of_the_wrong_shape() -> None:
    recording = read('[1]\n{"input": "x", "output": {}}\n{"caller": "a"}\n')
    messages = [p.message for p in recording.problems]
    assert len(messages) == 3
    assert all(p.code.name == "malformed-recording" for p in recording.problems)


def test_line_cut_right_before_its_input() -> None:
    recording = read('{"caller": "a", "input": ')
    assert recording.calls == []
    assert "truncated last line" in recording.problems[0].message
