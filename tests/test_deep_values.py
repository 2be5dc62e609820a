"""Values nested as deep as the JSON parser allows are walked without a RecursionError (issue 18, item 4).

Python's JSON parser accepts about 1,000 levels; a walker that recurses once per
level fails well before that when it starts from a request handler's stack. The
walkers here (secret masking, tool-argument comparison, previews) run 100 frames
deep, as in the server, on values 600 to 960 levels deep.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.engine.normalize import Normalizer
from server.engine.presets import PRESETS
from server.engine.preview import normalized_input, render_output
from server.engine.replay.values import compare
from server.engine.secrets import MASK, mask_json
from tests.conftest import run_cli

DEPTHS = [600, 960]


def nested(depth: int, leaf: str = "x", key: str | None = None) -> Any:
    """A value `depth` levels deep (lists, or objects under `key`), built in a loop: pytest's own stack is
    too deep to parse 960 levels here, a reader parses them from a shallow one."""
    value: Any = leaf
    for _ in range(depth):
        value = [value] if key is None else {key: value}
    return value


def from_deep_stack(call: Callable[[], Any], frames: int = 100) -> Any:
    """`call()` from `frames` frames down, as a handler in the server runs."""
    return call() if frames == 0 else from_deep_stack(call, frames - 1)


def innermost(value: Any) -> Any:
    while isinstance(value, dict | list):
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value


@pytest.mark.parametrize("depth", DEPTHS)
def test_masking_walks_any_depth(depth: int) -> None:
    shaped, named = nested(depth, "sk-proj-" + "a" * 20), nested(depth, "plain", key="api_key")
    assert innermost(from_deep_stack(lambda: mask_json(shaped))) == "sk-proj-" + MASK
    assert innermost(from_deep_stack(lambda: mask_json(named))) == MASK
    assert mask_json({"path": "args.password", "expected": "a", "actual": "b", "missing": None}) == {
        "path": "args.password",
        "expected": MASK,
        "actual": MASK,
        "missing": None,
    }


@pytest.mark.parametrize("depth", DEPTHS)
def test_tool_arguments_compare_at_any_depth(depth: int) -> None:
    normalizer = Normalizer(PRESETS["deerflow"])
    first, second, day, other_day = (nested(depth, leaf) for leaf in ("a", "b", "2026-01-01", "2026-02-02"))
    (difference,) = from_deep_stack(lambda: compare(normalizer, first, second))
    assert difference.path == "args" + "[0]" * depth and (difference.expected, difference.actual) == ("a", "b")
    same = from_deep_stack(lambda: compare(normalizer, day, other_day))
    assert same == []  # both dates normalize to <DATE>


@pytest.mark.parametrize("depth", DEPTHS)
def test_previews_of_deep_values(depth: int) -> None:
    output = {"type": "ai", "data": {"content": "", "tool_calls": [{"name": "t", "args": {"deep": nested(depth)}}]}}
    text = from_deep_stack(lambda: render_output(output))
    assert "→ tool call t(" in text and "…" in text
    deep = nested(depth)
    assert "…" in from_deep_stack(lambda: render_output(deep))
    canonical = "[" * depth + "1" + "]" * depth
    assert from_deep_stack(lambda: normalized_input(canonical))


def test_steps_and_replay_of_a_deeply_nested_recording(samples: Path, tmp_path: Path) -> None:
    recording = samples / "recordings" / "translate_cn.flash.jsonl"
    lines = recording.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["output"]["data"]["additional_kwargs"] = {"deep": "@DEEP@", "secret": "@SECRET@"}
    lines[0] = (
        json.dumps(first)
        .replace('"@DEEP@"', "[" * 900 + '"x"' + "]" * 900)
        .replace('"@SECRET@"', '{"api_key": ' * 900 + '"hunter2"' + "}" * 900)
    )
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    steps = run_cli("steps", "--format", "json", recording, cwd=samples)
    assert steps.code == 0 and "hunter2" not in steps.stdout
    assert innermost(steps.json()["steps"][0]["output"]["data"]["additional_kwargs"]["secret"]) == MASK
    replay = run_cli("replay", "--format", "json", recording, cwd=samples)
    assert replay.json()["summary"]["hits"] >= 1
    written = tmp_path / "deep.json"
    assert run_cli("record-fixture", recording, "-o", written, cwd=samples).code == 0
    read_back = run_cli("check", "--format", "json", written, cwd=samples).json()["findings"]
    assert {finding["code"] for finding in read_back} == {"unverifiable", "duplicate-key"}  # as the sample gives
