"""Generate a realistic benchmark workspace: long agent sessions as recordings plus their fixtures.

Every call of a session re-sends the whole history (system prompt, user turns,
assistant tool calls, tool results), so a session of n calls carries O(n²) bytes
of input with O(n) unique content — the shape that makes key computation slow.
Fixtures are keyed with `bench.reference`, the independent transcription of SPEC §4,
so a clean `check` proves the engine's keys identical to the reference.

    python -m bench.generate --out bench/out/ws --sessions 14 --calls 120
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import reference

CJK = "今天天气很好我们去公园散步吧这是一个测试句子用于基准测试"
WORDS = [
    "agent",
    "tool",
    "call",
    "result",
    "file",
    "write",
    "read",
    "search",
    "plan",
    "step",
    "output",
    "input",
    "model",
    "replay",
    "fixture",
    "key",
]


@dataclass(frozen=True)
class Shape:
    sessions: int = 14
    calls: int = 120
    growth: int = 2
    system_size: int = 8000
    tool_output_size: int = 1200
    output_size: int = 120
    cjk: float = 0.2
    volatile: float = 0.3
    seed: int = 7

    def name(self) -> str:
        return (
            f"s{self.sessions}-c{self.calls}-g{self.growth}-sys{self.system_size}-t{self.tool_output_size}"
            f"-o{self.output_size}"
            f"-cjk{self.cjk}-v{self.volatile}-r{self.seed}"
        )


def prose(rng: random.Random, size: int, cjk: float) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        word = "".join(rng.choices(CJK, k=4)) if rng.random() < cjk else rng.choice(WORDS)
        parts.append(word)
        length += len(word) + 1
    return " ".join(parts)


def _volatile(rng: random.Random) -> str:
    return rng.choice(
        [
            f"run {uuid.UUID(int=rng.getrandbits(128))}",
            f"at 2026-11-{rng.randint(10, 28)}T{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}Z",
            f"in /tmp/pytest-{rng.randint(1, 999)}/work",
            f"on 2026-11-{rng.randint(10, 28)}",
        ]
    )


def message(kind: str, content: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "data": {"content": content, "additional_kwargs": {}, "type": kind, "name": None, **data}}


def session_calls(shape: Shape, index: int) -> list[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
    """The (caller, input, output) of every call of one session."""
    rng = random.Random(shape.seed * 1000 + index)
    system = message(
        "system",
        f"You are agent {index}. Started {uuid.UUID(int=rng.getrandbits(128))}. " + prose(rng, shape.system_size, 0),
    )
    history = [system, message("human", "Task: " + prose(rng, 300, shape.cjk), name="user-input")]
    calls = []
    for step in range(shape.calls):
        call_id = f"call_{rng.getrandbits(48):012x}"
        args = {"path": f"/workspace/{rng.choice(WORDS)}-{step}.txt", "query": prose(rng, 60, shape.cjk)}
        output = message(
            "ai",
            prose(rng, shape.output_size, shape.cjk),
            tool_calls=[
                {
                    "name": rng.choice(["read_file", "write_file", "search"]),
                    "args": args,
                    "id": call_id,
                    "type": "tool_call",
                }
            ],
            invalid_tool_calls=[],
            usage_metadata={"input_tokens": 1000 + step * 50, "output_tokens": 80, "total_tokens": 1080 + step * 50},
        )
        calls.append(("lead_agent", list(history), output))
        result = prose(rng, shape.tool_output_size, shape.cjk)
        if rng.random() < shape.volatile:
            result += " " + _volatile(rng)
        history.append(output)
        history.append(message("tool", result, name=output["data"]["tool_calls"][0]["name"], tool_call_id=call_id))
        for _ in range(shape.growth - 2):
            history.append(message("human", prose(rng, 200, shape.cjk)))
    return calls


def complete(root: Path, fixtures: str) -> bool:
    """Whether an earlier run wrote the workspace at `root` whole (it is reused); else its `recordings` and
    `fixtures` folders and its config (deerflow rules, fixtures found by the glob `fixtures`) are made ready."""
    if (root / ".complete").exists():
        return True
    (root / "recordings").mkdir(parents=True, exist_ok=True)
    (root / "fixtures").mkdir(parents=True, exist_ok=True)
    (root / "replay-lens.toml").write_text(
        f'preset = "deerflow"\nfixtures = ["{fixtures}"]\nrecordings = ["recordings/*.jsonl"]\n', encoding="utf-8"
    )
    return False


def generate(shape: Shape, out: Path) -> Path:
    """Write the workspace for `shape` under `out` (reused when already complete)."""
    root = out / shape.name()
    if complete(root, "fixtures/*.json"):
        return root
    for index in range(shape.sessions):
        turns = []
        with (root / "recordings" / f"session-{index:04d}.jsonl").open("w", encoding="utf-8") as recording:
            for seq, (caller, inputs, output) in enumerate(session_calls(shape, index)):
                conversation, key = reference.keys(caller, inputs)
                record = {
                    "seq": seq,
                    "caller": caller,
                    "conversation_hash": conversation,
                    "input_hash": key,
                    "input": inputs,
                    "output": output,
                }
                recording.write(json.dumps(record, ensure_ascii=False) + "\n")
                turns.append({"caller": caller, "conversation_hash": conversation, "input_hash": key, "output": output})
        fixture = {"scenario": f"session-{index}", "mode": "bench", "model": "gpt-5", "turns": turns}
        (root / "fixtures" / f"session-{index:04d}.json").write_text(
            json.dumps(fixture, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    (root / ".complete").touch()
    return root


def shape_from_args(argv: list[str] | None = None) -> tuple[Shape, Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/out/workspaces"))
    defaults = Shape()
    for field_name, value in vars(defaults).items():
        parser.add_argument(f"--{field_name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    shape = Shape(**{name: getattr(args, name) for name in vars(defaults)})
    return shape, args.out


if __name__ == "__main__":
    shape, out = shape_from_args()
    print(generate(shape, out))
