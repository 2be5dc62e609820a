"""The `deerflow` preset reproduces deer-flow's replay keys byte for byte (SPEC §4)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from bench import reference
from server.engine.normalize import Normalizer
from server.engine.presets import DEERFLOW
from tests.conftest import COMPAT

NORMALIZER = Normalizer(DEERFLOW)
COMPAT_FIXTURES = sorted(COMPAT.glob("*.json"))


def test_compat_fixtures_are_present() -> None:
    assert len(COMPAT_FIXTURES) == 4


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize("path", COMPAT_FIXTURES, ids=lambda p: p.name)
def test_every_real_caller_aware_key_is_reproduced(path: Path) -> None:
    turns = [turn for turn in load(path)["turns"] if "caller" in turn]
    for turn in turns:
        caller = NORMALIZER.caller(turn["caller"])
        assert NORMALIZER.input_key(caller, turn["conversation_hash"]) == turn["input_hash"]
    assert turns or path.name.endswith("at-8875901.json")


# Inputs reconstructed from the real fixture: the user prompt (a human message named
# "user-input"), the recorded AI outputs and the tool results. The system prompt is
# not recorded anywhere and must not matter, so an arbitrary one is used.
def _real_session() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    document = load(COMPAT / "write_read_file.ultra.json")
    turns = document["turns"]
    system = {"type": "system", "data": {"content": "You are DeerFlow. Today is 2026-08-22T10:00:00Z."}}
    human = {"type": "human", "data": {"content": document["prompt"], "name": "user-input"}}
    wrote = {"type": "tool", "data": {"content": "OK", "name": "write_file", "tool_call_id": "call_a"}}
    read = {"type": "tool", "data": {"content": "hi from replay.", "name": "read_file", "tool_call_id": "call_b"}}
    inputs = {
        0: [system, human],
        2: [system, human, turns[0]["output"], wrote],
        3: [system, human, turns[0]["output"], wrote, turns[2]["output"], read],
    }
    return inputs, turns


@pytest.mark.parametrize("index", [0, 2, 3])
def test_real_conversation_hashes_from_reconstructed_inputs(index: int) -> None:
    inputs, turns = _real_session()
    keys = NORMALIZER.keys("lead_agent", inputs[index])
    assert keys.conversation_hash == turns[index]["conversation_hash"]
    assert keys.input_hash == turns[index]["input_hash"]


def test_user_input_markers_do_not_change_the_real_key() -> None:
    document = load(COMPAT / "subagent_file_task.ultra.json")
    wrapped = f"--- BEGIN USER INPUT ---\n{document['prompt']}\n--- END USER INPUT ---"
    keys = NORMALIZER.keys("", [{"type": "human", "data": {"content": wrapped, "name": "user-input"}}])
    assert keys.conversation_hash == document["turns"][0]["conversation_hash"]
    assert keys.input_hash == document["turns"][0]["input_hash"]


def msg(kind: str, content: Any, **data: Any) -> dict[str, Any]:
    return {"type": kind, "data": {"content": content, "additional_kwargs": {}, **data}}


UUIDS_AND_TIMES = (
    "run 0b8c7a52-3c1f-4e7a-9f0e-5d2b8c1a9e33 at 2026-11-20T09:14:03.512+01:00 (2026-11-20 09:14:03), "
    "day 2026-11-20, cwd /private/var/folders/x1/T/tmpab12, log /tmp/run-7/out.txt"
)
CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "named-human": ("lead_agent", [msg("human", "Hi there", name="user-input")]),
    "ai-tool-call": (
        "lead_agent",
        [
            msg("human", "write it"),
            msg(
                "ai",
                "",
                tool_calls=[
                    {"name": "write_file", "args": {"path": "/a", "n": 1}, "id": "call_x", "type": "tool_call"}
                ],
            ),
            msg("tool", "OK", name="write_file", tool_call_id="call_x"),
        ],
    ),
    "volatile-everywhere": ("subagent:general-purpose", [msg("human", UUIDS_AND_TIMES)]),
    "uuid-in-tool-args-needs-second-pass": (
        "lead_agent",
        [msg("ai", "", tool_calls=[{"name": "get", "args": {"id": "0b8c7a52-3c1f-4e7a-9f0e-5d2b8c1a9e33"}}])],
    ),
    "reminder-only-message-dropped": (
        "lead_agent",
        [msg("human", "<system-reminder>\nToday is 2026-11-20\n</system-reminder>"), msg("human", "go")],
    ),
    "hidden-message-skipped": ("lead_agent", [msg("human", "secret", additional_kwargs={"hide_from_ui": True})]),
    "role-labels-and-markers": (
        "title_agent",
        [msg("human", "User:\n--- BEGIN USER INPUT ---\nhello\n--- END USER INPUT ---\nAssistant:   \nok")],
    ),
    "content-blocks": (
        "  ",
        [msg("human", [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}, "raw", 3])],
    ),
    "non-ascii": ("lead_agent", [msg("human", "请翻译：今天天气很好 ☀️🌈 — ünïcödé")]),  # noqa: RUF001
    "non-string-content": ("lead_agent", [msg("human", {"odd": True}), msg("ai", None)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_preset_matches_the_spec_transcription(name: str) -> None:
    caller, messages = CASES[name]
    keys = NORMALIZER.keys(caller, messages)
    assert (keys.conversation_hash, keys.input_hash) == reference.keys(caller, messages)


def test_system_messages_full_of_volatile_text_do_not_change_the_key() -> None:
    conversation = [msg("human", "summarise the report")]
    plain = NORMALIZER.keys("lead_agent", conversation)
    for system_text in (UUIDS_AND_TIMES, "another prompt entirely", "run 11111111-2222-3333-4444-555555555555"):
        assert NORMALIZER.keys("lead_agent", [msg("system", system_text), *conversation]) == plain


def test_volatile_values_map_to_the_same_key() -> None:
    one = NORMALIZER.keys(
        "lead_agent", [msg("human", "id 0b8c7a52-3c1f-4e7a-9f0e-5d2b8c1a9e33 at 2026-01-02T03:04:05Z")]
    )
    two = NORMALIZER.keys(
        "lead_agent", [msg("human", "id 9a8b7c6d-1111-2222-3333-444455556666 at 2030-12-31T23:59:59Z")]
    )
    assert one.conversation_hash == two.conversation_hash
    assert "<UUID>" in one.canonical and "<TS>" in one.canonical


def test_second_pass_normalizes_dumped_tool_arguments() -> None:
    keys = NORMALIZER.keys("lead_agent", CASES["uuid-in-tool-args-needs-second-pass"][1])
    assert "<UUID>" in keys.canonical


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "lead_agent"),
        ("   ", "lead_agent"),
        (None, "lead_agent"),
        ("title_agent", "middleware:title"),
        (" suggest_agent ", "suggest_agent"),
        ("subagent:general-purpose", "subagent:general-purpose"),
    ],
)
def test_caller_normalization(raw: Any, expected: str) -> None:
    assert NORMALIZER.caller(raw) == expected


def test_fingerprint_is_stable_and_sensitive() -> None:
    assert DEERFLOW.fingerprint() == Normalizer(DEERFLOW).rules.fingerprint()
    changed = dataclasses.replace(DEERFLOW, substitutions=DEERFLOW.substitutions[:-1])
    assert changed.fingerprint() != DEERFLOW.fingerprint()
    assert dataclasses.replace(DEERFLOW, preset="renamed").fingerprint() == DEERFLOW.fingerprint()
