"""The workspace of the LSP benchmark: one fixture of about 20 MB with 5,000 turns, and its recording.

Each call sends a shared system prompt, its own task and, one call in four, the
previous tool exchange, so the recording stays within twice the fixture's size
(a session re-sending its whole history for 5,000 calls would be gigabytes).
Keys come from `bench.reference`; one turn in a hundred was recorded under older
rules (the system prompt was hashed), so it is stale: the fixture has findings,
as real ones do. Deterministic for a seed, and cached under `bench/out/lsp/`.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import reference
from bench.generate import WORDS, message, prose

STALE_EVERY = 100


@dataclass(frozen=True)
class LspShape:
    turns: int = 5000
    answer_chars: int = 2450
    task_chars: int = 400
    system_chars: int = 1000
    cjk: float = 0.2
    seed: int = 11

    def name(self) -> str:
        return (
            f"t{self.turns}-a{self.answer_chars}-q{self.task_chars}-sys{self.system_chars}-cjk{self.cjk}-r{self.seed}"
        )


@dataclass(frozen=True)
class LspWorkspace:
    root: Path
    fixture: Path
    recording: Path


def _calls(shape: LspShape) -> list[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
    rng = random.Random(shape.seed)
    system = message("system", "You are the benchmark agent. " + prose(rng, shape.system_chars, 0))
    calls = []
    previous: list[dict[str, Any]] = []
    for index in range(shape.turns):
        task = f"Task {index} (run {uuid.UUID(int=rng.getrandbits(128))}): " + prose(rng, shape.task_chars, shape.cjk)
        inputs = [system, *previous, message("human", task)]
        call_id = f"call_{rng.getrandbits(48):012x}"
        tool = rng.choice(["read_file", "write_file", "search"])
        output = message(
            "ai",
            prose(rng, shape.answer_chars, shape.cjk),
            tool_calls=[
                {
                    "name": tool,
                    "args": {"path": f"/workspace/{rng.choice(WORDS)}-{index}.txt"},
                    "id": call_id,
                    "type": "tool_call",
                }
            ],
            invalid_tool_calls=[],
            id=f"run-{index:05d}",
            usage_metadata={
                "input_tokens": 900 + index % 300,
                "output_tokens": 400,
                "total_tokens": 1300 + index % 300,
            },
        )
        caller = "middleware:title" if index % 20 == 19 else "lead_agent"
        calls.append((caller, inputs, output))
        result = message("tool", prose(rng, 300, shape.cjk), name=tool, tool_call_id=call_id)
        previous = [output, result] if index % 4 == 0 else []
    return calls


def _keys(index: int, caller: str, inputs: list[dict[str, Any]]) -> tuple[str, str]:
    """The recorded keys: under the current rules, or (stale turns) with the system prompt hashed too."""
    if index % STALE_EVERY == STALE_EVERY // 2:
        inputs = [{"type": "human", "data": inputs[0]["data"]}, *inputs[1:]]
    return reference.keys(caller, inputs)


def generate(shape: LspShape, out: Path) -> LspWorkspace:
    """Write the workspace for `shape` under `out` (reused when already complete)."""
    root = out / shape.name()
    workspace = LspWorkspace(root, root / "fixtures" / "big.json", root / "recordings" / "big.jsonl")
    done = root / ".complete"
    if done.exists():
        return workspace
    workspace.fixture.parent.mkdir(parents=True, exist_ok=True)
    workspace.recording.parent.mkdir(parents=True, exist_ok=True)
    (root / "replay-lens.toml").write_text(
        'preset = "deerflow"\nfixtures = ["fixtures/*.json"]\nrecordings = ["recordings/*.jsonl"]\n', encoding="utf-8"
    )
    turns = []
    with workspace.recording.open("w", encoding="utf-8") as recording:
        for index, (caller, inputs, output) in enumerate(_calls(shape)):
            conversation, key = _keys(index, caller, inputs)
            record = {"seq": index, "caller": caller, "conversation_hash": conversation, "input_hash": key}
            recording.write(json.dumps({**record, "input": inputs, "output": output}, ensure_ascii=False) + "\n")
            turns.append({"caller": caller, "conversation_hash": conversation, "input_hash": key, "output": output})
    document = {"scenario": "lsp-bench", "mode": "bench", "model": "gpt-5", "turns": turns}
    workspace.fixture.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    done.touch()
    return workspace
