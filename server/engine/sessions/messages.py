"""Helpers over LangChain message dicts shared by the session readers.

Recordings and checkpoints store what the model saw, not what the tools did:
tool results only appear as `tool` messages in later inputs. These helpers
turn those messages back into tool steps, joined to the AI tool call that
asked for them by `tool_call_id`, so every source shows its tool calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.engine.sessions.model import SourceRef, Step, StepKind, Tokens, message_parts, tokens_from_usage


def tool_call_index(messages: Iterable[Any]) -> dict[str, tuple[str, Any]]:
    """`{tool_call_id: (name, args)}` over every AI message's tool calls."""
    index: dict[str, tuple[str, Any]] = {}
    for entry in messages:
        kind, data = message_parts(entry)
        if kind not in ("ai", "AIMessageChunk"):
            continue
        calls = data.get("tool_calls")
        if not isinstance(calls, list):
            continue
        for call in calls:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                index[call["id"]] = (str(call.get("name") or ""), call.get("args"))
    return index


def tool_results(messages: Iterable[Any], seen: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Tool messages whose `tool_call_id` is not in `seen` (which is updated), in order."""
    found: list[tuple[str, dict[str, Any]]] = []
    for entry in messages:
        kind, data = message_parts(entry)
        call_id = data.get("tool_call_id")
        if kind != "tool" or not isinstance(call_id, str) or call_id in seen:
            continue
        seen.add(call_id)
        found.append((call_id, data))
    return found


def tool_step(
    index: int, call_id: str, data: dict[str, Any], calls: dict[str, tuple[str, Any]], source: SourceRef | None
) -> Step:
    """A tool step from a tool result message and the call that asked for it."""
    name, args = calls.get(call_id, (str(data.get("name") or ""), None))
    status = data.get("status")
    return Step(
        index,
        StepKind.TOOL,
        name=name or str(data.get("name") or ""),
        arguments=args,
        result=data.get("content"),
        status=status if isinstance(status, str) else "success",
        call_id=call_id,
        source=source,
        problem=None if call_id in calls else "the tool call that asked for this result is not in the input",
    )


def output_facts(output: Any) -> tuple[str | None, Tokens | None]:
    """(model name, tokens) of an AI message dict, when it says."""
    _, data = message_parts(output)
    metadata = data.get("response_metadata")
    model = None
    if isinstance(metadata, dict):
        name = metadata.get("model_name") or metadata.get("model")
        model = name if isinstance(name, str) else None
    return model, tokens_from_usage(data.get("usage_metadata"))
