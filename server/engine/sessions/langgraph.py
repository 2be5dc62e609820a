"""LangGraph SQLite checkpoint databases (`SqliteSaver`) as sessions.

A thread's checkpoints are snapshots of the graph state; the messages in
`channel_values.messages` grow from one to the next. Steps are the difference:
each new AI message is a model call whose input is the messages before it,
each new tool message a tool call. A checkpoint that is pickled, encrypted or
corrupt is an opaque step, and the next readable checkpoint is compared with
the last readable one, so no step is invented or lost silently.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.sessions.messages import output_facts, tool_call_index, tool_step
from server.engine.sessions.model import (
    Session,
    SessionInfo,
    SourceRef,
    Step,
    StepKind,
    finding,
    iso_time,
    message_parts,
)
from server.engine.sessions.serde import OpaqueBlobError, UndecodableError, decode
from server.engine.sessions.sqlite import DatabaseError, connect, describe

KIND = "langgraph-checkpoints"
TABLE = "checkpoints"
_SEPARATOR = "|"


def _session_id(thread: str, namespace: str) -> str:
    return thread if not namespace else f"{thread}{_SEPARATOR}{namespace}"


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    try:
        with connect(path) as connection:
            rows = connection.execute(
                f"SELECT thread_id, checkpoint_ns, MIN(checkpoint_id), COUNT(*) FROM {TABLE} "
                "GROUP BY thread_id, checkpoint_ns ORDER BY thread_id, checkpoint_ns"
            ).fetchall()
    except (DatabaseError, sqlite3.Error) as exc:
        reason = str(exc) if isinstance(exc, DatabaseError) else describe(exc)
        problems.append(finding(codes.TRACE_ERROR, path, None, f"cannot list sessions: {reason}"))
        return [SessionInfo(KIND, path, path.name, title=f"unreadable checkpoints: {reason}")]
    return [
        SessionInfo(
            KIND,
            path,
            _session_id(str(thread), str(namespace or "")),
            title=f"LangGraph thread {thread}" + (f" ({namespace})" if namespace else "") + f", {total} checkpoints",
        )
        for thread, namespace, _, total in rows
    ]


def _caller(metadata: Any, output: Any) -> str | None:
    """The node that wrote the message: `metadata.writes` names it in most LangGraph versions."""
    if isinstance(metadata, dict):
        writes = metadata.get("writes")
        if isinstance(writes, dict) and len(writes) == 1:
            return str(next(iter(writes)))
    _, data = message_parts(output)
    name = data.get("name")
    return name if isinstance(name, str) and name else None


def _metadata(raw: Any) -> Any:
    if isinstance(raw, bytes | str):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return None


def _identity(entry: Any) -> str:
    """What makes a message the same across checkpoints: its id, else its content."""
    _, data = message_parts(entry)
    ident = data.get("id")
    return f"id:{ident}" if isinstance(ident, str) and ident else json.dumps(entry, sort_keys=True, default=str)


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    thread, _, namespace = info.id.partition(_SEPARATOR)
    index = count()
    seen: set[str] = set()
    produced = 0
    previous_ts: str | None = None
    try:
        with connect(info.path) as connection:
            cursor = connection.execute(
                f"SELECT checkpoint_id, type, checkpoint, metadata FROM {TABLE} "
                "WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id",
                (thread, namespace),
            )
            for checkpoint_id, kind, blob, raw_metadata in cursor:
                source = SourceRef(info.path, label=f"checkpoint {checkpoint_id}")
                try:
                    state = decode(kind, blob)
                except (OpaqueBlobError, UndecodableError) as exc:
                    code = codes.OPAQUE_DATA if isinstance(exc, OpaqueBlobError) else codes.TRACE_ERROR
                    sink.findings.append(finding(code, info.path, source, f"checkpoint {checkpoint_id}: {exc}"))
                    produced += 1
                    yield Step(
                        next(index),
                        StepKind.OPAQUE,
                        name=f"checkpoint ({kind})" if code is codes.OPAQUE_DATA else "corrupt checkpoint",
                        source=source,
                        problem=str(exc),
                        data={"checkpoint_id": checkpoint_id, "type": kind, "bytes": len(blob or b"")},
                    )
                    continue
                for step in _diff(state, _metadata(raw_metadata), seen, source, index, full_inputs=full_inputs):
                    step.started_at = previous_ts
                    produced += 1
                    yield step
                if isinstance(state, dict):
                    previous_ts = iso_time(state.get("ts"))
    except DatabaseError as problem:
        sink.findings.append(finding(codes.TRACE_ERROR, info.path, None, str(problem)))
        yield Step(produced, StepKind.OPAQUE, name="unreadable database", problem=str(problem))
    except sqlite3.Error as exc:
        reason = describe(exc)
        sink.findings.append(finding(codes.TRACE_ERROR, info.path, None, reason))
        yield Step(produced, StepKind.OPAQUE, name="unreadable database", problem=reason)


def _diff(
    state: Any, metadata: Any, seen: set[str], source: SourceRef, index: Iterator[int], *, full_inputs: bool
) -> Iterator[Step]:
    """Steps for the messages of a checkpoint that no earlier checkpoint held."""
    values = state.get("channel_values") if isinstance(state, dict) else None
    messages = values.get("messages") if isinstance(values, dict) else None
    if not isinstance(messages, list):
        return
    when = iso_time(state.get("ts")) if isinstance(state, dict) else None
    calls = tool_call_index(messages)
    first_new: int | None = None
    for position, entry in enumerate(messages):
        identity = _identity(entry)
        if identity in seen:
            continue
        seen.add(identity)
        first_new = position if first_new is None else first_new
        kind, data = message_parts(entry)
        if kind in ("ai", "AIMessageChunk"):
            model, tokens = output_facts(entry)
            start = 0 if full_inputs else first_new
            yield Step(
                next(index),
                StepKind.MODEL,
                caller=_caller(metadata, entry),
                model=model,
                input=messages[start:position],
                input_omitted=start,
                output=entry,
                tokens=tokens,
                ended_at=when,
                source=source,
            )
        elif kind == "tool" and isinstance(data.get("tool_call_id"), str):
            step = tool_step(next(index), data["tool_call_id"], data, calls, source)
            step.ended_at = when
            yield step
