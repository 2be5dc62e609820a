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
from tests.conftest import run_cli
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


def test_langgraph_sample_is_real_langgraph_output() -> None:
    """The sample workspace's database was written by LangGraph itself (tests/producers/langgraph/sample.py)."""
    session = session_of(LANGGRAPH_DB, "react-1")
    assert [(step.kind.value, step.caller or step.name) for step in session.steps] == [
        ("model", "agent"),
        ("tool", "get_weather"),
        ("tool", "get_weather"),
        ("tool", "get_time"),
        ("model", "agent"),
        ("model", "agent"),
        ("tool", "divide"),
        ("model", "agent"),
    ]
    first = session.steps[0]
    assert [m["type"] for m in first.input or []] == ["human"]
    assert first.output["data"]["tool_calls"][0]["args"] == {"city": "Zürich"}
    assert first.tokens is not None and first.tokens.total == 60
    assert session.steps[1].result == "4°C, Schneeregen ❄" and session.steps[6].status == "error"
    assert session.findings == []


def _retyped(tmp_path: Path, types: list[str]) -> Path:
    """A copy of the sample whose first react-1 checkpoints after the input are typed `types` (blobs unchanged)."""
    copy = tmp_path / "checkpoints.sqlite"
    copy.write_bytes(LANGGRAPH_DB.read_bytes())
    with sqlite3.connect(copy) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'react-1' AND checkpoint_ns = '' "
                "ORDER BY checkpoint_id LIMIT ? OFFSET 2",
                (len(types),),
            )
        ]
        for checkpoint_id, kind in zip(ids, types, strict=True):
            connection.execute("UPDATE checkpoints SET type = ? WHERE checkpoint_id = ?", (kind, checkpoint_id))
    connection.close()
    return copy


def test_pickled_and_encrypted_checkpoints_are_opaque_and_never_decoded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("user data must never be unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    session = session_of(_retyped(tmp_path, ["pickle", "msgpack+aes"]), "react-1")
    kinds = [step.kind for step in session.steps]
    assert kinds[:2] == [StepKind.OPAQUE, StepKind.OPAQUE]
    assert "never unpickled" in (session.steps[0].problem or "")
    assert "never decrypted" in (session.steps[1].problem or "")
    assert [f.code.name for f in session.findings] == ["opaque-data", "opaque-data"]
    # The readable checkpoint after them is diffed against the last readable one: nothing lost.
    assert kinds.count(StepKind.MODEL) == 4 and kinds.count(StepKind.TOOL) == 4
    assert {step.caller for step in session.steps if step.kind is StepKind.MODEL} == {"agent"}


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


# -- LangGraph databases as the real SqliteSaver writes them --------------------------------------
def _run_real_graph(path: Path) -> sqlite3.Connection:
    """A real LangGraph run into `path` (WAL mode, as SqliteSaver sets it); the writer stays open."""
    from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415  # producers extra, only here

    from tests.producers.langgraph.graphs import ScriptedChatModel, react_agent, reply  # noqa: PLC0415

    connection = sqlite3.connect(path, check_same_thread=False)
    connection.execute("PRAGMA wal_autocheckpoint = 0")  # keep every commit in the -wal, as a live writer may
    model = ScriptedChatModel(script=[reply("", [("get_time", {"city": "Oslo"})]), reply("10:42 in Oslo.")])
    agent = react_agent(model, SqliteSaver(connection))
    agent.invoke({"messages": [("user", "Time in Oslo?")]}, {"configurable": {"thread_id": "live-1"}})
    return connection


def _folder_state(folder: Path) -> tuple[int, dict[str, bytes]]:
    return folder.stat().st_mtime_ns, {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_live_wal_database_is_read_whole_and_left_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    writer = _run_real_graph(folder / "checkpoints.sqlite")
    try:
        before = _folder_state(folder)
        assert len(before[1]["checkpoints.sqlite-wal"]) > 0  # the commits are only in the WAL
        listed = run_cli("sessions", folder / "checkpoints.sqlite", "--format", "json")
        steps = run_cli("steps", folder / "checkpoints.sqlite", "--session-id", "live-1", "--format", "json")
        assert _folder_state(folder) == before
    finally:
        writer.close()
    assert [entry["id"] for entry in listed.json()["sessions"]] == ["live-1"]
    assert [(s["kind"], s.get("caller") or s.get("name")) for s in steps.json()["steps"]] == [
        ("model", "agent"),
        ("tool", "get_time"),
        ("model", "agent"),
    ]


def test_wal_database_on_a_read_only_folder_creates_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    _run_real_graph(folder / "checkpoints.sqlite").close()  # the writer checkpoints and removes its -wal
    assert sorted(path.name for path in folder.iterdir()) == ["checkpoints.sqlite"]
    assert (folder / "checkpoints.sqlite").read_bytes()[18:20] == b"\x02\x02"  # still a WAL-mode database
    folder.chmod(0o555)
    try:
        before = _folder_state(folder)
        steps = run_cli("steps", folder / "checkpoints.sqlite", "--session-id", "live-1", "--format", "json")
        replayed = run_cli("sessions", folder)
        # Not even a file created and removed (the folder's mtime would change): as root the mode alone
        # would not stop a write, so this is what shows that the folder's mode never mattered.
        assert _folder_state(folder) == before
    finally:
        folder.chmod(0o755)
    assert steps.code == 0 and len(steps.json()["steps"]) == 3
    assert "live-1" in replayed.stdout


def test_checkpoint_blob_that_is_not_msgpack_is_a_finding(tmp_path: Path) -> None:
    copy = tmp_path / "checkpoints.sqlite"
    copy.write_bytes(LANGGRAPH_DB.read_bytes())
    with sqlite3.connect(copy) as connection:
        (victim,) = connection.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'react-1' AND checkpoint_ns = '' "
            "ORDER BY checkpoint_id LIMIT 1 OFFSET 2"
        ).fetchone()
        connection.execute("UPDATE checkpoints SET checkpoint = x'c1c1c1' WHERE checkpoint_id = ?", (victim,))
    connection.close()
    result = run_cli("steps", copy, "--session-id", "react-1", "--format", "json")
    assert result.code == 1  # an error finding
    page = result.json()
    broken = [step for step in page["steps"] if step["kind"] == "opaque"]
    assert [step["name"] for step in broken] == ["corrupt checkpoint"] and "invalid msgpack" in broken[0]["problem"]
    assert [f["code"] for f in page["findings"]] == ["trace-error"]
    assert sum(step["kind"] == "model" for step in page["steps"]) == 4  # the next checkpoint still shows the rest


def test_values_nested_960_deep_are_cut_not_a_recursion_error() -> None:
    value: Any = "bottom"
    for _ in range(960):
        value = [value]
    decoded = decode("msgpack", msgpack.packb({"channel_values": {"deep": value}}))
    json.dumps(decoded)
    assert "$cut" in json.dumps(decoded)


def test_a_checkpoint_of_20k_messages_is_read_with_bounded_inputs(tmp_path: Path) -> None:
    """Issue 18: 10,000 calls in one checkpoint, each input all the messages before it, took replay > 300 s."""
    from langchain_core.messages import AIMessage, HumanMessage  # noqa: PLC0415
    from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415
    from langgraph.graph import START, StateGraph  # noqa: PLC0415

    from tests.producers.langgraph.graphs import Plain  # noqa: PLC0415

    def flood(state: Plain) -> dict[str, Any]:
        pairs = [[HumanMessage(f"q{n}", id=f"h{n}"), AIMessage(f"a{n}", id=f"a{n}")] for n in range(10_000)]
        return {"messages": [message for pair in pairs for message in pair][1:]}

    graph = StateGraph(Plain)
    graph.add_node("flood", flood)
    graph.add_edge(START, "flood")
    path = tmp_path / "huge.sqlite"
    connection = sqlite3.connect(path, check_same_thread=False)
    graph.compile(checkpointer=SqliteSaver(connection)).invoke(
        {"messages": [HumanMessage("q0", id="h0")]}, {"configurable": {"thread_id": "huge"}}, durability="exit"
    )
    connection.close()
    fixture = tmp_path / "huge.json"
    recorded = run_cli("record-fixture", path, "-o", fixture, timeout=300)
    assert recorded.code == 0, recorded.stderr
    kept = len(json.loads(fixture.read_text())["turns"])
    assert 0 < kept < 10_000
    replayed = run_cli("replay", path, "--against", fixture, "--format", "json", timeout=300)
    report = replayed.json()
    assert replayed.code == 1 and report["summary"]["hits"] == kept
    assert report["summary"]["misses"] == 10_000 - kept
    assert any("not kept" in f["message"] for f in report["findings"])
