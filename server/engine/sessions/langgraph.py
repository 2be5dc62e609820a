"""LangGraph checkpoints (`SqliteSaver` here, `PostgresSaver` in `postgres.py`) as sessions.

A thread's checkpoints are snapshots of the graph state; its message lists
(any state key holding messages) grow from one to the next. Steps are the
difference: each new AI message is a model call whose input is the messages
before it, each new tool message a tool call. Who made a message is in the
pending writes of the checkpoint before it (LangGraph 1.2's metadata has no
`writes`): the writing task's `task_path` names the node (`~__pregel_pull,
agent`). Messages written by `__start__` are the run's input, messages written
by `update_state` (or in an `update` checkpoint) are edits, and messages a
subgraph task returned belong to that subgraph's own namespace session. A
`DeltaChannel` keeps its messages in the writes only; they are rebuilt from them.

`build_steps` is the one place that turns checkpoints into steps; the SQLite
and PostgreSQL readers only fetch rows. A checkpoint that is pickled,
encrypted or corrupt is an opaque step, and the next readable checkpoint is
compared with the last readable one, so no step is invented or lost silently.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.findings import Severity
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
    unreadable_step,
)
from server.engine.sessions.serde import DELTA_SNAPSHOT, OpaqueBlobError, UndecodableError, decode
from server.engine.sessions.sqlite import DatabaseError, connect, reason

KIND = "langgraph-checkpoints"
TABLE = "checkpoints"
SEPARATOR = "|"
TASKS = "__pregel_tasks"
INPUT_BUDGET = 200_000
"""Input messages kept over a whole session's model calls (full inputs); past it, calls carry no input.

A checkpoint of 20,000 messages holds thousands of calls whose inputs are all
the messages before them: keeping each whole is quadratic in memory and in the
replay that keys them. Calls past the budget say so instead (they cannot be replayed)."""
_UUID_EPOCH = datetime(1582, 10, 15, tzinfo=UTC)
_AI_KINDS = ("ai", "AIMessageChunk")


# -- what a row source provides ---------------------------------------------------------
@dataclass(slots=True)
class Write:
    """One pending write of a task: the channel and the decoded value (None when it cannot be decoded)."""

    task_id: str
    task_path: str
    channel: str
    value: Any


@dataclass(slots=True)
class Checkpoint:
    """One checkpoint row, decoded: `state` is the checkpoint dict, `error` why it could not be decoded."""

    id: str
    kind: str
    size: int
    state: Any
    metadata: Any
    writes: list[Write] = field(default_factory=list)
    error: Exception | None = None


def decode_checkpoint(checkpoint_id: str, kind: str | None, blob: Any) -> Checkpoint:
    size = len(blob) if isinstance(blob, bytes | bytearray | memoryview | str) else 0
    try:
        return Checkpoint(checkpoint_id, str(kind), size, decode(kind, blob), None)
    except (OpaqueBlobError, UndecodableError) as exc:
        return Checkpoint(checkpoint_id, str(kind), size, None, None, error=exc)


def decode_write(task_id: Any, task_path: Any, channel: Any, kind: Any, blob: Any) -> Write:
    try:
        value = decode(None if kind is None else str(kind), blob)
    except (OpaqueBlobError, UndecodableError):
        value = None
    return Write(str(task_id), str(task_path or ""), str(channel), value)


def metadata_of(raw: Any) -> Any:
    """Checkpoint metadata: JSON text or bytes in SQLite, a dict already in PostgreSQL."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, bytes | str):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return None


# -- session ids ----------------------------------------------------------------------------
def session_id(thread: str, namespace: str) -> str:
    return thread if not namespace else f"{thread}{SEPARATOR}{namespace}"


def thread_candidates(wanted: str) -> list[str]:
    """The thread ids a session id may start with (`a|b|c`: `a`, `a|b`, `a|b|c`): a thread id may hold `|`."""
    parts = wanted.split(SEPARATOR)
    return [SEPARATOR.join(parts[:count]) for count in range(1, len(parts) + 1)]


def split_session_id(wanted: str, pairs: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(thread, namespace) of a session id, resolved against the real pairs: a thread id may hold `|`."""
    for thread, namespace in pairs:
        if session_id(thread, namespace) == wanted:
            return thread, namespace
    thread, _, namespace = wanted.partition(SEPARATOR)
    return thread, namespace


def started_at(checkpoint_id: str) -> str | None:
    """The time in a checkpoint id: LangGraph's ids are UUIDv6, time-ordered (no blob to decode)."""
    try:
        value = uuid.UUID(checkpoint_id)
    except ValueError:
        return None
    if value.version != 6:
        return None
    number = value.int
    ticks = ((number >> 96) & 0xFFFFFFFF) << 28 | ((number >> 80) & 0xFFFF) << 12 | (number >> 64) & 0x0FFF
    moment = _UUID_EPOCH + timedelta(microseconds=ticks // 10)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_info(kind: str, path: Path, thread: str, namespace: str, first: str, total: int, label: str) -> SessionInfo:
    where = f" ({namespace})" if namespace else ""
    return SessionInfo(
        kind,
        path,
        session_id(thread, namespace),
        title=f"LangGraph thread {thread}{where}, {total} checkpoint{'s' * (total != 1)}{label}",
        started_at=started_at(first),
    )


# -- checkpoints to steps ---------------------------------------------------------------------
def _node(task_path: str) -> str | None:
    """The node a task ran: `~__pregel_pull, agent` -> `agent`; pushes (Send) and updates name none."""
    parts = [part.strip() for part in task_path.split(",")]
    if len(parts) >= 2 and parts[0] == "~__pregel_pull":
        return parts[1]
    return None


def _is_update(task_path: str) -> bool:
    return task_path.startswith("~__interrupt__")


def _is_message_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(message_parts(item)[0] is not None for item in value)


def _fingerprint(entry: Any) -> str:
    return json.dumps(entry, sort_keys=True, default=str)


def _identity(entry: Any) -> str:
    """What makes a message the same across checkpoints: its id, else its content."""
    _, data = message_parts(entry)
    ident = data.get("id")
    return f"id:{ident}" if isinstance(ident, str) and ident else _fingerprint(entry)


def _merge(current: list[Any], written: Any) -> list[Any]:
    """`add_messages` over plain dicts: a message with a known id replaces it, others are appended."""
    merged = list(current)
    where = {_identity(entry): position for position, entry in enumerate(merged)}
    for entry in written if isinstance(written, list) else [written]:
        kind, data = message_parts(entry)
        if kind is None:
            continue
        if kind == "remove":  # RemoveMessage: by id, or every message before it (`__remove_all__`)
            gone = data.get("id")
            merged = [] if gone == "__remove_all__" else [m for m in merged if message_parts(m)[1].get("id") != gone]
            where = {_identity(item): position for position, item in enumerate(merged)}
            continue
        position = where.get(_identity(entry))
        if position is None:
            where[_identity(entry)] = len(merged)
            merged.append(entry)
        else:
            merged[position] = entry
    return merged


class _Writers:
    """Which task wrote a message, from a checkpoint's pending writes (by id, tool call id, or content)."""

    def __init__(self, writes: list[Write]) -> None:
        self.by_key: dict[str, Write] = {}
        for write in writes:
            if not isinstance(write.value, list):
                continue
            for entry in write.value:
                for key in self._keys(entry):
                    self.by_key.setdefault(key, write)

    @staticmethod
    def _keys(entry: Any) -> list[str]:
        kind, data = message_parts(entry)
        keys = []
        if isinstance(data.get("id"), str) and data["id"]:
            keys.append(f"id:{data['id']}")
        if kind == "tool" and isinstance(data.get("tool_call_id"), str):
            keys.append(f"call:{data['tool_call_id']}")
        keys.append(f"content:{kind}:{_fingerprint(data.get('content'))}")
        return keys

    def of(self, entry: Any) -> Write | None:
        for key in self._keys(entry):
            write = self.by_key.get(key)
            if write is not None:
                return write
        return None


@dataclass
class _Thread:
    """What is carried from one checkpoint to the next while reading a session."""

    namespace: str
    namespaces: set[str]
    full_inputs: bool
    seen: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=dict)
    shown: dict[str, int] = field(default_factory=dict)
    pending: list[Write] = field(default_factory=list)
    previous_ts: str | None = None
    budget: int = INPUT_BUDGET
    budget_exhausted: bool = False
    sends: list[tuple[str, Any]] = field(default_factory=list)

    def node_of(self, write: Write | None) -> str | None:
        """The node of the task that made a write: named by a pull task's path, or by its `Send`."""
        if write is None:
            return None
        node = _node(write.task_path)
        send = self._send(write)
        return node if node is not None else send[0] if send is not None else None

    def send_payload(self, write: Write) -> Any:
        send = self._send(write)
        return send[1] if send is not None else None

    def _send(self, write: Write) -> tuple[str, Any] | None:
        """The `Send` a push task ran (`~__pregel_push, <index into the __pregel_tasks channel>, ...`)."""
        parts = [part.strip() for part in write.task_path.split(",")]
        if len(parts) < 2 or parts[0] != "~__pregel_push" or not parts[1].isdigit():
            return None
        number = int(parts[1])
        return self.sends[number] if number < len(self.sends) else None

    def subgraph_task(self, write: Write, node: str | None) -> bool:
        """Whether the task is a subgraph whose own checkpoints hold its calls (namespace `node:task_id`)."""
        if node is None:
            return False
        child = f"{node}:{write.task_id}"
        return (f"{self.namespace}{SEPARATOR}{child}" if self.namespace else child) in self.namespaces


def build_steps(
    rows: Iterable[Checkpoint],
    info: SessionInfo,
    sink: Session,
    *,
    full_inputs: bool,
    namespaces: set[str],
    namespace: str,
) -> Iterator[Step]:
    """The steps of one thread namespace from its checkpoints in order (each with its own pending writes)."""
    thread = _Thread(namespace, namespaces, full_inputs)
    index = count()
    rows = iter(rows)
    current = next(rows, None)
    while current is not None:
        following = next(rows, None)
        source = SourceRef(info.path, label=f"checkpoint {current.id}")
        if current.error is not None:
            exc = current.error
            code = codes.OPAQUE_DATA if isinstance(exc, OpaqueBlobError) else codes.TRACE_ERROR
            sink.findings.append(finding(code, info.path, source, f"checkpoint {current.id}: {exc}"))
            yield Step(
                next(index),
                StepKind.OPAQUE,
                name=f"checkpoint ({current.kind})" if code is codes.OPAQUE_DATA else "corrupt checkpoint",
                source=source,
                problem=str(exc),
                data={"checkpoint_id": current.id, "type": current.kind, "bytes": current.size},
            )
        else:
            yield from _diff(current, thread, source, index, sink)
            yield from _interrupts(current, following is None, source, index)
            if isinstance(current.state, dict):
                thread.previous_ts = iso_time(current.state.get("ts"))
            thread.sends = _sends(current.state)
        # After an unreadable checkpoint, the next readable one is diffed against the last readable one:
        # the writes of both are who wrote its new messages.
        thread.pending = current.writes if current.error is None else thread.pending + current.writes
        current = following


def _sends(state: Any) -> list[tuple[str, Any]]:
    """The pending `Send`s of a checkpoint (`__pregel_tasks`), as (node, payload): push tasks index them."""
    values = state.get("channel_values") if isinstance(state, dict) else None
    tasks = values.get(TASKS) if isinstance(values, dict) else None
    sends: list[tuple[str, Any]] = []
    for task in tasks if isinstance(tasks, list) else []:
        packed = task.get("$value") if isinstance(task, dict) else None
        if isinstance(packed, list) and len(packed) == 2 and isinstance(packed[0], str):
            sends.append((packed[0], packed[1]))
        else:
            sends.append(("", None))
    return sends


def _message_lists(checkpoint: Checkpoint, thread: _Thread) -> dict[str, list[Any]]:
    """Every message list of the state: stored values, else (a `DeltaChannel`) rebuilt from the writes."""
    state = checkpoint.state if isinstance(checkpoint.state, dict) else {}
    values = state.get("channel_values")
    values = values if isinstance(values, dict) else {}
    versions = state.get("channel_versions")
    lists: dict[str, list[Any]] = {}
    for key, stored in values.items():
        # A DeltaChannel's periodic full value, else the channel's own value.
        value = stored[DELTA_SNAPSHOT] if isinstance(stored, dict) and DELTA_SNAPSHOT in stored else stored
        if _is_message_list(value):
            lists[key] = value
    written = {write.channel for write in thread.pending if _is_message_list(write.value)}
    for key in sorted((set(thread.lists) | written) - set(values)):
        if key.startswith("__") or (isinstance(versions, dict) and key not in versions and key not in thread.lists):
            continue
        merged = thread.lists.get(key, [])
        for write in thread.pending:
            if write.channel == key:
                merged = _merge(merged, write.value)
        lists[key] = merged
    thread.lists = lists
    return lists


def _diff(
    checkpoint: Checkpoint, thread: _Thread, source: SourceRef, index: Iterator[int], sink: Session
) -> Iterator[Step]:
    """Steps for the messages of a checkpoint that no earlier checkpoint held (or held otherwise)."""
    lists = _message_lists(checkpoint, thread)
    state = checkpoint.state if isinstance(checkpoint.state, dict) else {}
    metadata = metadata_of(checkpoint.metadata)
    edited = isinstance(metadata, dict) and metadata.get("source") == "update"
    when = iso_time(state.get("ts"))
    writers = _Writers(thread.pending)
    for key, messages in lists.items():
        calls: dict[str, tuple[str, Any]] | None = None
        # Where this superstep's messages begin: the tasks that wrote them all read the state before it.
        keys = [(_identity(entry), _fingerprint(entry)) for entry in messages]  # JSON dumps: once per message
        superstep = next(
            (at for at, (identity, fingerprint) in enumerate(keys) if thread.seen.get(identity) != fingerprint),
            len(messages),
        )
        for position, entry in enumerate(messages):
            identity, fingerprint = keys[position]
            known = thread.seen.get(identity)
            if known == fingerprint:
                continue
            thread.seen[identity] = fingerprint
            write = writers.of(entry)
            node = thread.node_of(write)
            if node == "__start__" or (write is not None and thread.subgraph_task(write, node)):
                continue  # the run's input, or a subgraph's answer (its calls are in its own session)
            kind, data = message_parts(entry)
            if edited or known is not None or (write is not None and _is_update(write.task_path)):
                yield _edit(next(index), key, entry, replaced=known is not None, source=source, when=when)
            elif kind in _AI_KINDS:
                given = _input_of(key, messages, position, superstep, write, thread)
                step = _model_step(next(index), key, given, position, entry, thread, source, sink)
                step.caller = node or _named(entry)
                step.ended_at = when
                yield step
            elif kind == "tool" and isinstance(data.get("tool_call_id"), str):
                calls = tool_call_index(messages[:position]) if calls is None else calls
                step = tool_step(next(index), data["tool_call_id"], data, calls, source)
                step.started_at, step.ended_at = thread.previous_ts, when
                yield step


def _input_of(
    key: str, messages: list[Any], position: int, superstep: int, write: Write | None, thread: _Thread
) -> tuple[list[Any], int]:
    """(the messages a call read, how many of them are its state's): see `_model_step`.

    A task known from its write read the state as it was before its superstep (parallel nodes do
    not see each other's answers); a `Send` task read the message list of its `Send` payload when it
    has one. Without writes (`durability="exit"`), every message before the answer is its input.
    """
    if write is None:
        return messages, position
    payload = thread.send_payload(write)
    if isinstance(payload, dict) and _is_message_list(payload.get(key)):
        sent: list[Any] = payload[key]
        return sent, len(sent)
    return messages, superstep


def _model_step(
    number: int,
    key: str,
    given: tuple[list[Any], int],
    position: int,
    entry: Any,
    thread: _Thread,
    source: SourceRef,
    sink: Session,
) -> Step:
    """A model call; `given` is its input list and where its input ends in it.

    With full inputs, the call carries all of them; on a page (`full_inputs=False`), only those
    not shown with an earlier call of the same list (`input_omitted` counts the others).
    """
    messages, end = given
    model, tokens = output_facts(entry)
    start = 0 if thread.full_inputs or messages is not thread.lists.get(key) else min(thread.shown.get(key, 0), end)
    thread.shown[key] = max(thread.shown.get(key, 0), position + 1)
    step = Step(
        number,
        StepKind.MODEL,
        model=model,
        input_omitted=start,
        output=entry,
        tokens=tokens,
        started_at=thread.previous_ts,
        source=source,
    )
    size = end - start
    if thread.budget_exhausted or size > thread.budget:
        step.problem = (
            f"input of {end} messages not kept: this session's model inputs exceed {INPUT_BUDGET:,} messages "
            "in all, so this call cannot be keyed or replayed"
        )
        if not thread.budget_exhausted:
            sink.findings.append(
                finding(codes.TRACE_ERROR, source.path, source, step.problem, severity=Severity.WARNING)
            )
            thread.budget_exhausted = True
    else:
        step.input = messages[start:end]
        thread.budget -= size
    return step


def _named(entry: Any) -> str | None:
    """The message's own `name` (an agent's name), when no task is known to have written it."""
    _, data = message_parts(entry)
    name = data.get("name")
    return name if isinstance(name, str) and name else None


def _edit(number: int, key: str, entry: Any, *, replaced: bool, source: SourceRef, when: str | None) -> Step:
    kind, _ = message_parts(entry)
    verb = "replaced" if replaced else "added"
    return Step(
        number,
        StepKind.OPAQUE,
        name=f"state edit ({kind} message {verb})",
        status="edited",
        ended_at=when,
        source=source,
        data={"edit": f"{kind} message {verb} in '{key}' by update_state, not by a model", "message": entry},
    )


def _interrupts(checkpoint: Checkpoint, last: bool, source: SourceRef, index: Iterator[int]) -> Iterator[Step]:
    """A pending `__interrupt__` write: the graph stopped for input (still waiting when nothing resumed it)."""
    resumed = any(write.channel == "__resume__" for write in checkpoint.writes)
    for write in checkpoint.writes:
        if write.channel != "__interrupt__":
            continue
        waiting = last and not resumed
        values = write.value if isinstance(write.value, list) else [write.value]
        for value in values:
            payload = value.get("$value") if isinstance(value, dict) and "$value" in value else value
            asked = payload.get("value") if isinstance(payload, dict) and "value" in payload else payload
            yield Step(
                next(index),
                StepKind.OPAQUE,
                name="interrupt (waiting for input)" if waiting else "interrupt (resumed)",
                caller=_node(write.task_path),
                status="waiting" if waiting else "resumed",
                source=source,
                data={"interrupt": asked, "node": _node(write.task_path)},
            )


# -- the SQLite row source ----------------------------------------------------------------------
def _pairs(connection: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    rows = connection.execute(
        f"SELECT thread_id, checkpoint_ns, MIN(checkpoint_id), COUNT(*) FROM {TABLE} "
        "GROUP BY thread_id, checkpoint_ns ORDER BY thread_id, checkpoint_ns"
    ).fetchall()
    return [(str(thread), str(namespace or ""), str(first), int(total)) for thread, namespace, first, total in rows]


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    try:
        with connect(path) as connection:
            pairs = _pairs(connection)
    except (DatabaseError, sqlite3.Error) as exc:
        why = reason(exc)
        problems.append(finding(codes.TRACE_ERROR, path, None, f"cannot list sessions: {why}"))
        return [SessionInfo(KIND, path, path.name, title=f"unreadable checkpoints: {reason}")]
    return [session_info(KIND, path, thread, ns, first, total, "") for thread, ns, first, total in pairs]


def _sqlite_rows(connection: sqlite3.Connection, thread: str, namespace: str) -> Iterator[Checkpoint]:
    columns = {row[1] for row in connection.execute("PRAGMA table_info(writes)")}
    path_column = "task_path" if "task_path" in columns else "''"
    cursor = connection.execute(
        f"SELECT checkpoint_id, type, checkpoint, metadata FROM {TABLE} "
        "WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id",
        (thread, namespace),
    )
    for checkpoint_id, kind, blob, raw_metadata in cursor:
        checkpoint = decode_checkpoint(str(checkpoint_id), kind, blob)
        checkpoint.metadata = metadata_of(raw_metadata)
        if columns:
            checkpoint.writes = [
                decode_write(*row)
                for row in connection.execute(
                    f"SELECT task_id, {path_column}, channel, type, value FROM writes "
                    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? ORDER BY task_id, idx",
                    (thread, namespace, checkpoint_id),
                )
            ]
        yield checkpoint


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    produced = 0
    try:
        with connect(info.path) as connection:
            candidates = thread_candidates(info.id)
            pairs = connection.execute(
                f"SELECT DISTINCT thread_id, checkpoint_ns FROM {TABLE} "
                f"WHERE thread_id IN ({', '.join('?' * len(candidates))})",
                candidates,
            ).fetchall()
            thread, namespace = split_session_id(info.id, pairs)
            namespaces = {ns for other, ns in pairs if other == thread}
            rows = _sqlite_rows(connection, thread, namespace)
            for step in build_steps(
                rows, info, sink, full_inputs=full_inputs, namespaces=namespaces, namespace=namespace
            ):
                produced += 1
                yield step
    except (DatabaseError, sqlite3.Error) as exc:
        yield unreadable_step(info, sink, reason(exc), produced)
