"""The typed summary records (issue 15): JSON and back loses nothing, and JSON of any other shape is a
`SummaryError`, never another exception (a cache or a child's answer is checked, not trusted)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench.generate import Shape, generate
from server.engine.normalize import Keys
from server.engine.summary import from_summary, summarize_file, summarize_part
from server.engine.summary_records import CallSummary, Part, RecordingSummary, SummaryError
from server.engine.workspace import load_project_config
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    generated = generate(Shape(sessions=2, calls=5, system_size=400, tool_output_size=60), tmp_path_factory.mktemp("g"))
    shaped = tmp_path_factory.mktemp("shape") / "bad-input.jsonl"
    line = json.loads((SAMPLES / "recordings" / "write_note.ultra.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line["input"] = [{"role": "user", "content": 7}, "not a message"]
    shaped.write_text(json.dumps(line) + "\n" + "{cut", encoding="utf-8")
    return [*sorted((SAMPLES / "recordings").glob("*.jsonl")), *sorted(generated.glob("recordings/*.jsonl")), shaped]


def test_a_summary_goes_to_json_and_back_unchanged(recordings: list[Path]) -> None:
    config = load_project_config(SAMPLES)
    kinds = set()
    for path in recordings:
        summary, _digest = summarize_file(path, config, cores=1)
        assert RecordingSummary.from_json(path, json.loads(json.dumps(summary.to_json()))) == summary
        kinds.update(type(call.keys) for call in summary.calls)
        part = summarize_part(path, config, 0, path.stat().st_size)
        assert Part.from_json(path, json.loads(json.dumps(part.to_json()))) == part
        recording = from_summary(path, summary, config)
        assert [call.index for call in recording.calls] == [call.index for call in summary.calls]
    assert kinds == {Keys, str}  # both kinds of keys went through: computed, and an input's shape error


def wrong_shapes(item: Any) -> list[Any]:
    """`item` with each value in it replaced, one at a time, by values of the wrong type or range."""
    found: list[Any] = []

    def walk(value: Any, replace: Any) -> None:
        for wrong in (None, -1, "x", [], {}, 1.5, True):
            if wrong != value or type(wrong) is not type(value):
                found.append(replace(wrong))
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in children:

            def inner(new: Any, key: Any = key) -> Any:
                changed = copy.deepcopy(value)
                changed[key] = new
                return replace(changed)

            walk(child, inner)

    walk(item, lambda new: new)
    return found


def test_a_summary_of_any_other_shape_is_a_summary_error(recordings: list[Path]) -> None:
    config = load_project_config(SAMPLES)
    items = [(path, summarize_file(path, config, cores=1)[0].to_json()) for path in recordings]
    path, item = next((path, item) for path, item in items if item["calls"] and item["volatile"])
    outcomes = {"error": 0, "same": 0}
    for wrong in wrong_shapes(item):
        try:
            read = RecordingSummary.from_json(path, wrong)
        except SummaryError:
            outcomes["error"] += 1
        else:  # a change that still makes a valid summary (a message's text, a finding's data) reads as such
            assert read.to_json() == json.loads(json.dumps(wrong))
            outcomes["same"] += 1
    assert outcomes["error"] > 100


def test_a_call_is_named_fields(recordings: list[Path]) -> None:
    config = load_project_config(SAMPLES)
    summary, _digest = summarize_file(recordings[0], config, cores=1)
    call = summary.calls[0]
    assert isinstance(call, CallSummary)
    assert call.to_json()[:2] == [call.index, call.line]
    assert call.stored[0] <= call.stored[1]
