"""SQLite sessions: locked and corrupt databases, LangGraph checkpoints (safe decoding); CATO in test_cato.py."""

from __future__ import annotations

import importlib
import json
import pickle
import sqlite3
import sys
from pathlib import Path
from typing import Any, NoReturn

import msgpack
import pytest

from server.engine.sessions import StepKind, read_session, resolve
from server.engine.sessions.serde import decode
from tests.sessions.conftest import CATO_DB, LANGGRAPH_DB


def session_of(path: Path, session_id: str) -> Any:
    return read_session(resolve(path, session_id)[0])


def test_locked_database_is_a_marked_step(tmp_path: Path) -> None:
    copy = tmp_path / "audit.db"
    copy.write_bytes(CATO_DB.read_bytes())
    holder = sqlite3.connect(copy, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        info, problems = resolve(copy, "sess-alpha")
        session = read_session(info)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [step.kind for step in session.steps] == [StepKind.OPAQUE]
    assert "locked" in (session.steps[0].problem or "")
    assert [f.code.name for f in session.findings] == ["trace-error"]
    assert "locked" in problems[0].message


def test_corrupt_database_is_a_marked_step(tmp_path: Path) -> None:
    corrupt = tmp_path / "checkpoints.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    info, _ = resolve(corrupt)
    assert info.kind == "database"
    session = read_session(info)
    assert session.steps[0].kind is StepKind.OPAQUE and "corrupt" in (session.steps[0].problem or "")
    assert [f.code.name for f in session.findings] == ["trace-error"]


def test_langgraph_steps_come_from_checkpoint_diffs() -> None:
    session = session_of(LANGGRAPH_DB, "weather-1")
    assert [(step.kind.value, step.caller or step.name) for step in session.steps] == [
        ("model", "agent"),
        ("tool", "get_weather"),
        ("model", "agent"),
    ]
    first = session.steps[0]
    assert [m["type"] for m in first.input or []] == ["human"]
    assert first.output["data"]["tool_calls"][0]["args"] == {"city": "Paris"}
    assert first.tokens is not None and first.tokens.total == 98
    assert session.steps[1].arguments == {"city": "Paris"} and session.steps[1].result == "18°C and sunny"
    legacy = session_of(LANGGRAPH_DB, "notes-legacy")
    assert [step.kind for step in legacy.steps] == [StepKind.MODEL]
    assert legacy.steps[0].output["data"]["content"] == "The notes cover fixtures and keys."


def test_pickled_and_encrypted_checkpoints_are_opaque_and_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("user data must never be unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    session = session_of(LANGGRAPH_DB, "weather-2")
    assert [step.kind for step in session.steps[:2]] == [StepKind.OPAQUE, StepKind.OPAQUE]
    assert "never unpickled" in (session.steps[0].problem or "")
    assert "never decrypted" in (session.steps[1].problem or "")
    assert [f.code.name for f in session.findings] == ["opaque-data", "opaque-data"]
    # The readable checkpoint after them is diffed against the last readable one: nothing lost.
    assert [step.kind for step in session.steps[2:]] == [StepKind.MODEL, StepKind.TOOL, StepKind.MODEL]


def test_msgpack_extensions_are_data_never_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    real_import = importlib.import_module

    def spy(name: str, package: str | None = None) -> Any:
        imported.append(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", spy)
    hostile = [
        msgpack.ExtType(0, msgpack.packb(["os", "system", "echo pwned"])),
        msgpack.ExtType(3, msgpack.packb(["zz_never_imported", "Boom", "x", "explode"])),
        msgpack.ExtType(5, msgpack.packb(["langchain_core.messages.ai", "AIMessage", {"content": "hi", "type": "ai"}])),
        msgpack.ExtType(42, b"\x00\x01"),
    ]
    decoded = decode("msgpack", msgpack.packb({"values": hostile, 1: b"\x00"}))
    assert decoded == {
        "values": [
            {"$type": "os.system", "$value": "echo pwned"},
            {"$type": "zz_never_imported.Boom", "$value": "x"},
            {"type": "ai", "data": {"content": "hi", "type": "ai"}},
            {"$ext": 42, "$bytes": 2},
        ],
        "1": {"$base64": "AA=="},
    }
    assert imported == [] and "zz_never_imported" not in sys.modules
    json.dumps(decoded)


def test_json_checkpoints_revive_nothing() -> None:
    blob = json.dumps({"lc": 2, "type": "constructor", "id": ["os", "system"], "args": ["echo pwned"]}).encode()
    assert decode("json", blob) == {"$type": "os.system", "$value": ["echo pwned"]}
