"""Build workspaces for the server tests: recordings with real keys and the fixtures recorded from them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.engine.normalize import Normalizer
from server.engine.presets import PRESETS


def message(kind: str, content: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "content": content,
        "additional_kwargs": {},
        "response_metadata": {},
        "type": kind,
        "name": None,
        "id": None,
    }
    data.update(extra)
    return {"type": kind, "data": data}


def ai(content: str, tool_calls: Sequence[dict[str, Any]] = (), message_id: str = "") -> dict[str, Any]:
    calls = [
        {"name": c["name"], "args": c["args"], "id": c.get("id", "call_1"), "type": "tool_call"} for c in tool_calls
    ]
    return message("ai", content, tool_calls=calls, invalid_tool_calls=[], id=message_id or None)


@dataclass
class Call:
    caller: str
    input: list[dict[str, Any]]
    output: dict[str, Any]
    recorded_with: str = "deerflow"
    """The preset the keys were recorded under: "none" simulates rules that changed since."""
    extra: dict[str, Any] = field(default_factory=dict)


def keys_of(call: Call) -> dict[str, str]:
    keys = Normalizer(PRESETS[call.recorded_with]).keys(call.caller, call.input)
    return {"caller": keys.caller, "conversation_hash": keys.conversation_hash, "input_hash": keys.input_hash}


def write_session(root: Path, name: str, calls: Sequence[Call], *, context: Any = None) -> tuple[Path, Path]:
    """`recordings/<name>.jsonl` and the fixture `replay/<name>.json` recorded from it (SPEC §3, §5 layout)."""
    recording = root / "recordings" / f"{name}.jsonl"
    fixture = root / "replay" / f"{name}.json"
    recording.parent.mkdir(parents=True, exist_ok=True)
    fixture.parent.mkdir(parents=True, exist_ok=True)
    lines, turns = [], []
    for call in calls:
        keys = keys_of(call)
        record = {
            "caller": call.caller,
            "input": call.input,
            "output": call.output,
            "conversation_hash": keys["conversation_hash"],
            "input_hash": keys["input_hash"],
            **call.extra,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
        turns.append({**keys, "output": call.output})
    document: dict[str, Any] = {"scenario": name, "mode": "flash", "model": "test-model"}
    if context is not None:
        document["context"] = context
    document["turns"] = turns
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fixture.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return fixture, recording


def write_config(root: Path, text: str = 'preset = "deerflow"\n') -> Path:
    config = root / "replay-lens.toml"
    config.write_text(text, encoding="utf-8")
    return config


def long_session(root: Path, name: str, calls: int, history_chars: int) -> None:
    """A session whose every call re-sends a growing history (what makes checks expensive)."""
    history: list[dict[str, Any]] = [message("system", "You are a test agent. " * 20)]
    session = []
    for index in range(calls):
        history = [
            *history,
            message("human", f"step {index}: " + "lorem ipsum dolor sit amet " * (history_chars // 27)),
        ]
        output = ai(f"answer {index}", message_id=f"run-{name}-{index}")
        session.append(Call("lead_agent", list(history), output))
        history = [*history, output]
    write_session(root, name, session)
