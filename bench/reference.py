"""The baseline a user would otherwise write: SPEC §4 transcribed directly, no caching.

Every call's full input is normalized and hashed from scratch, as the replaying
projects do. The benchmark measures the engine against it, and the tests use it
as an independent oracle for the `deerflow` preset.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

RULES = [
    (re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL), ""),
    (re.compile(r"^(User|Assistant):\s*$\n?", re.MULTILINE), ""),
    (re.compile(r"--- BEGIN USER INPUT ---\n?"), ""),
    (re.compile(r"\n?--- END USER INPUT ---"), ""),
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<UUID>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<TS>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "<DATE>"),
    (re.compile(r"(?:/private)?/(?:var/folders|tmp)/[^\s\"']*"), "<PATH>"),
]


def normalize(text: str) -> str:
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    return text


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                parts.append(block.get("text", "") or json.dumps(block, sort_keys=True, ensure_ascii=False))
            else:
                parts.append(str(block))
        return "".join(parts)
    return str(content)


def canonical(messages: list[dict[str, Any]]) -> str:
    entries = []
    for message in messages:
        data = message["data"]
        if message["type"] == "system" or (data.get("additional_kwargs") or {}).get("hide_from_ui"):
            continue
        content = normalize(content_text(data.get("content", "")))
        calls = data.get("tool_calls")
        if not content.strip() and not calls:
            continue
        entry: dict[str, Any] = {"type": message["type"], "content": content}
        if calls:
            entry["tool_calls"] = [{"name": c.get("name"), "args": c.get("args")} for c in calls]
        if data.get("name"):
            entry["name"] = data["name"]
        entries.append(entry)
    return normalize(json.dumps(entries, sort_keys=True, ensure_ascii=False))


def caller_name(caller: Any) -> str:
    name = normalize(str(caller or "").strip()) or "lead_agent"
    return {"title_agent": "middleware:title"}.get(name, name)


def keys(caller: Any, messages: list[dict[str, Any]]) -> tuple[str, str]:
    """(conversation_hash, input_hash) of one call."""
    conversation = hashlib.sha256(canonical(messages).encode("utf-8")).hexdigest()
    payload = json.dumps(
        {"caller": caller_name(caller), "conversation_hash": conversation}, sort_keys=True, ensure_ascii=False
    )
    return conversation, hashlib.sha256(payload.encode("utf-8")).hexdigest()
