"""What a check needs of a recorded output: whether a replayer would take it, and a digest to link by."""

from __future__ import annotations

import json
from typing import Any

from server.engine.normalize import sha256_hex


def output_digest(output: Any) -> str:
    return sha256_hex(json.dumps(output, sort_keys=True, ensure_ascii=False, default=str))


def output_problem(output: Any) -> str | None:
    """Why an output would be refused by a replayer (not an AI message dict), or None."""
    if not isinstance(output, dict):
        return f"output is {type(output).__name__}, not a message dict"
    kind = output.get("type")
    if kind not in ("ai", "AIMessageChunk"):
        return f"output type is {json.dumps(kind)}, a replayer needs an AI message ('ai')"
    data = output.get("data")
    if not isinstance(data, dict):
        return "output has no 'data' object"
    if not isinstance(data.get("content"), str | list):
        return "output data has no 'content' (a string or a list of blocks)"
    calls = data.get("tool_calls", [])
    if not isinstance(calls, list):
        return "output 'tool_calls' is not a list"
    for position, call in enumerate(calls):
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("name"), str)
            or not isinstance(call.get("args"), dict)
        ):
            return f"tool call {position} needs a string 'name' and an object 'args'"
    return None
