"""OpenAI Responses-API items (what Codex sends and receives) as LangChain message dicts.

Codex traces store model-visible history as Responses items (`message`,
`function_call`, `function_call_output`, `reasoning`, ...). Converting them to
the message dicts the rest of the engine uses lets one normalizer key a Codex
call like any other, and a fixture be built from it.
"""

from __future__ import annotations

import json
from typing import Any

from server.engine.sessions.model import Tokens, ai_message, message, message_parts

_ROLES = {"user": "human", "assistant": "ai", "system": "system", "developer": "system"}
_CALL_TYPES = ("function_call", "custom_tool_call", "local_shell_call", "web_search_call", "tool_search_call")
_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output", "local_shell_call_output", "tool_search_output")
MODEL_OUTPUT_TYPES = frozenset({"reasoning", *_CALL_TYPES})


def is_model_output(item: Any) -> bool:
    """True for items the model produced (assistant text, reasoning, tool calls)."""
    if not isinstance(item, dict):
        return False
    kind = item.get("type")
    return kind in MODEL_OUTPUT_TYPES or (kind == "message" and item.get("role") == "assistant")


def text_of(content: Any) -> str:
    """The text of a Responses `content` (a string or a list of typed blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block.get("text", "") if isinstance(block, dict) and isinstance(block.get("text"), str) else ""
            for block in content
        )
    return "" if content is None else json.dumps(content, ensure_ascii=False, sort_keys=True)


def parse_arguments(arguments: Any) -> Any:
    """Function-call arguments are JSON text; parsed when they are, kept as text when not."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def tool_call(item: dict[str, Any]) -> dict[str, Any]:
    """A LangChain tool call from a Responses call item."""
    kind = item.get("type")
    if kind == "function_call":
        name, args = item.get("name"), parse_arguments(item.get("arguments"))
    elif kind == "custom_tool_call":
        name, args = item.get("name"), {"input": item.get("input")}
    else:
        name, args = kind, item.get("action")
    call_id = item.get("call_id") or item.get("id")
    return {
        "name": str(name or kind),
        "args": args if isinstance(args, dict) else {"value": args},
        "id": call_id if isinstance(call_id, str) else None,
        "type": "tool_call",
    }


def to_messages(items: list[Any], instructions: Any = None) -> list[dict[str, Any]]:
    """Message dicts for a Responses `input` list; reasoning items carry no visible text and are left out."""
    messages: list[dict[str, Any]] = []
    if isinstance(instructions, str) and instructions:
        messages.append(message("system", instructions))
    names: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = _ROLES.get(str(item.get("role")), "human")
            messages.append(message(role, text_of(item.get("content"))) if role != "ai" else _ai(item))
        elif kind in _CALL_TYPES:
            call = tool_call(item)
            names[call["id"] or ""] = call["name"]
            previous_kind, previous = message_parts(messages[-1]) if messages else (None, {})
            if previous_kind == "ai":
                previous["tool_calls"].append(call)
            else:
                messages.append(ai_message("", [call]))
        elif kind in _OUTPUT_TYPES:
            call_id = str(item.get("call_id") or "")
            output = item.get("output")
            content = output if isinstance(output, str) else text_of(output)
            messages.append(message("tool", content, tool_call_id=call_id, name=names.get(call_id), status="success"))
    return messages


def _ai(item: dict[str, Any]) -> dict[str, Any]:
    item_id = item.get("id")
    return ai_message(text_of(item.get("content")), message_id=item_id if isinstance(item_id, str) else None)


def output_message(
    items: list[Any], *, model: str | None = None, tokens: Tokens | None = None, response_id: Any = None
) -> dict[str, Any]:
    """One AI message dict for a model response's output items.

    Its id is the assistant message item's (`msg_...`), else the response's;
    the response id is also kept in `response_metadata.id` and the reasoning
    summaries in `additional_kwargs.reasoning`, as LangChain's OpenAI client
    keeps them, so nothing the model said is dropped.
    """
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    reasoning: list[dict[str, Any]] = []
    message_id: str | None = None
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            texts.append(text_of(item.get("content")))
            item_id = item.get("id")
            message_id = message_id or (item_id if isinstance(item_id, str) else None)
        elif item.get("type") in _CALL_TYPES:
            calls.append(tool_call(item))
        elif item.get("type") == "reasoning":
            reasoning.append(item)
    response = response_id if isinstance(response_id, str) else None
    output = ai_message(
        "".join(texts),
        calls,
        message_id=message_id or response,
        model=model,
        tokens=tokens,
        extra={"reasoning": _reasoning(reasoning)} if reasoning else None,
    )
    if response is not None:
        output["data"]["response_metadata"]["id"] = response
    return output


def _reasoning(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The reasoning of a response as LangChain keeps it: the first item's id and every summary text, in order
    (encrypted content is not kept: nobody can read it)."""
    texts = [
        part["text"]
        for item in items
        if isinstance(item.get("summary"), list)
        for part in item["summary"]
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]
    item_id = items[0].get("id")
    return {
        "type": "reasoning",
        "id": item_id if isinstance(item_id, str) else None,
        "summary": [{"type": "summary_text", "text": text} for text in texts],
    }


def set_response_id(output: Any, response_id: str) -> None:
    """Record a response id learnt after the output was built (rollouts give it with the tokens)."""
    if isinstance(output, dict) and isinstance(output.get("data"), dict):
        data = output["data"]
        data["response_metadata"]["id"] = response_id
        data["id"] = data.get("id") or response_id


def tokens_of(usage: Any) -> Tokens | None:
    """Tokens of a Codex `TokenUsage` (`input_tokens`, `output_tokens`, `total_tokens`, ...)."""
    if not isinstance(usage, dict):
        return None

    def number(name: str) -> int | None:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    tokens = Tokens(number("input_tokens"), number("output_tokens"), number("total_tokens"))
    return tokens if tokens != Tokens() else None
