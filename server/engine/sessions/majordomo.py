"""majordomo / executus audit runs (SQLite `skill_runs` + `skill_run_logs`) as sessions (SPEC §6.4).

The audit `Writer` of an agent loop logs one row per run and one event per
row of `skill_run_logs` (`run_id`, `sequence`, `event_type`, JSON `payload`).
A run is a session: a `step` event is a model call (its output narration,
model, finish reason and tokens; its input is never logged, so a run cannot be
replayed), a `tool_call` and the `tool_result` with the same `id` are one tool
step, `error`, `resolved_model` and any custom event are opaque steps. The
Writer cuts narration at 2000 and results at 4000 bytes with `…[+N bytes]`;
a cut is marked with how much was cut. The events are streamed in order; only
tool calls still waiting for their result are held.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.sessions.model import (
    Session,
    SessionInfo,
    SourceRef,
    Step,
    StepKind,
    Tokens,
    ai_message,
    finding,
    iso_time,
    parse_time,
    unreadable_step,
)
from server.engine.sessions.sqlite import DatabaseError, connect, reason

KIND = "majordomo-run"
RUNS = "skill_runs"
LOGS = "skill_run_logs"
NOT_REPLAYABLE = "majordomo's audit Writer logs no model input (only each step's narration and tokens)"
REDACTED = "[redacted by the writer]"
_CUT = re.compile(r"…\[\+(\d+) bytes\]\Z")
_RUN_COLUMNS = (
    "skill_id",
    "caller_id",
    "channel_id",
    "parent_run_id",
    "inputs",
    "started_at",
    "finished_at",
    "status",
    "output",
    "error",
    "tool_calls_count",
    "runtime_seconds",
    "total_input_tokens",
    "total_output_tokens",
    "total_thinking_tokens",
)


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    query = f"SELECT id, skill_id, status, parent_run_id, started_at FROM {RUNS} ORDER BY started_at, rowid"
    try:
        with connect(path) as connection:
            rows = connection.execute(query).fetchall()
    except (DatabaseError, sqlite3.Error) as exc:
        why = reason(exc)
        problems.append(finding(codes.TRACE_ERROR, path, None, f"cannot list runs: {why}"))
        return [SessionInfo(KIND, path, path.name, title=f"unreadable majordomo audit: {reason}")]
    return [
        SessionInfo(
            KIND,
            path,
            str(run_id),
            title=f"{skill} run ({status})" + (f", child of {parent}" if parent else ""),
            started_at=iso_time(started),
        )
        for run_id, skill, status, parent, started in rows
    ]


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    del full_inputs
    sink.facts["not_replayable"] = NOT_REPLAYABLE
    events = _Events(info, sink)
    try:
        with connect(info.path) as connection:
            connection.row_factory = sqlite3.Row
            sink.facts["run"] = _run_facts(connection, info.id)
            query = f"SELECT sequence, event_type, payload, created_at FROM {LOGS} WHERE run_id = ? ORDER BY sequence"
            for row in connection.execute(query, (info.id,)):
                step = events.add(row)
                if step is not None:
                    yield step
    except (DatabaseError, sqlite3.Error) as exc:
        yield events.unreadable(reason(exc))
    events.close()


def _run_facts(connection: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """The run's own row (status, skill, caller, tokens, runtime, output, error) and its child runs."""
    columns = {str(row[1]) for row in connection.execute(f"PRAGMA table_info({RUNS})")}
    wanted = [name for name in _RUN_COLUMNS if name in columns]
    row = connection.execute(f"SELECT {', '.join(wanted)} FROM {RUNS} WHERE id = ?", (run_id,)).fetchone()
    facts: dict[str, Any] = {"id": run_id}
    if row is None:
        return facts
    values = dict(zip(wanted, row, strict=True))
    facts.update(
        {
            "skill": values.get("skill_id"),
            "caller": values.get("caller_id"),
            "channel": values.get("channel_id"),
            "parent_run_id": values.get("parent_run_id") or None,
            "status": values.get("status"),
            "inputs": _parsed(values.get("inputs"))[0],
            "started_at": iso_time(values.get("started_at")),
            "finished_at": iso_time(values.get("finished_at")),
            "runtime_seconds": values.get("runtime_seconds"),
            "tool_calls_count": values.get("tool_calls_count"),
            "tokens": {
                "input": values.get("total_input_tokens"),
                "output": values.get("total_output_tokens"),
                "thinking": values.get("total_thinking_tokens"),
            },
            "output": values.get("output"),
            "error": values.get("error") or None,
        }
    )
    if "parent_run_id" in columns:
        children = connection.execute(f"SELECT id FROM {RUNS} WHERE parent_run_id = ? ORDER BY rowid", (run_id,))
        facts["children"] = [str(child[0]) for child in children]
    facts["statement"] = _statement(facts)
    return facts


def _statement(run: dict[str, Any]) -> str:
    """The run in one line for a terminal."""
    tokens = run["tokens"]
    parts = [
        f"Run {run['id']}: skill {run['skill']}, status {run['status']}, caller {run['caller'] or '-'}",
        f"{run['tool_calls_count']} tool calls in {run['runtime_seconds']} s",
        f"tokens in/out/thinking {tokens['input']}/{tokens['output']}/{tokens['thinking']}",
    ]
    if run["parent_run_id"]:
        parts.append(f"child of run {run['parent_run_id']}")
    if run.get("children"):
        parts.append(f"child runs {', '.join(run['children'])}")
    if run["error"]:
        parts.append(f"error: {run['error']}")
    return "; ".join(parts) + f". Not replayable: {NOT_REPLAYABLE}."


def _parsed(text: Any) -> tuple[Any, str | None]:
    """(value, why it is not JSON) of a JSON text column."""
    if not isinstance(text, str):
        return text, None
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        return text, f"not JSON ({exc})"


def _cut(text: Any) -> int | None:
    """The bytes the Writer cut from a text (its `…[+N bytes]` suffix), None when it is whole."""
    found = _CUT.search(text) if isinstance(text, str) else None
    return int(found.group(1)) if found else None


def _earlier(when: str | None, milliseconds: int | None) -> str | None:
    """The step's start: `step_ms` (wall time since the previous step) before it was logged."""
    moment = parse_time(when)
    if moment is None or milliseconds is None:
        return None
    return (moment - timedelta(milliseconds=milliseconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Events:
    """Turns a run's events into steps in event order.

    A tool call is emitted at once and completed in place when its result
    arrives (callers keep the step objects: `read_session` all, `page_steps`
    its page), so only the calls still waiting are held.
    """

    def __init__(self, info: SessionInfo, sink: Session) -> None:
        self.info = info
        self.sink = sink
        self.count = 0
        self.open: dict[str, Step] = {}  # tool calls by id, waiting for their result

    def add(self, row: sqlite3.Row) -> Step | None:
        kind = str(row["event_type"])
        source = SourceRef(self.info.path, label=f"{LOGS} {self.info.id} #{row['sequence']}")
        payload, problem = _parsed(row["payload"])
        when = iso_time(row["created_at"])
        if problem is None and not isinstance(payload, dict):
            problem = f"not a JSON object ({type(payload).__name__})"
        if problem is not None:
            message = f"run {self.info.id}, event {row['sequence']} ({kind}): payload {problem}"
            self.sink.findings.append(finding(codes.TRACE_ERROR, self.info.path, source, message))
            return self._numbered(Step(0, StepKind.OPAQUE, name=kind, started_at=when, source=source, problem=message))
        if kind == "tool_result":
            return self._result(payload, source, when)
        return self._numbered(self._step(kind, payload, source, when))

    def _step(self, kind: str, payload: dict[str, Any], source: SourceRef, when: str | None) -> Step:
        if kind == "step":
            return self._model(payload, source, when)
        if kind == "tool_call":
            arguments, bad = _parsed(payload.get("args"))
            call_id = payload.get("id")
            step = Step(
                0,
                StepKind.TOOL,
                name=str(payload.get("name") or ""),
                arguments=arguments,
                call_id=str(call_id) if call_id is not None else None,
                started_at=when,
                source=source,
                problem=f"args {bad}" if bad else None,
            )
            if step.call_id is not None:
                self.open[step.call_id] = step
            return step
        if kind == "error":
            message = payload.get("message")
            problem = f"error: {message}"
            return Step(
                0, StepKind.OPAQUE, name="error", status="error", started_at=when, source=source, problem=problem
            )
        if kind == "resolved_model":
            self.sink.facts.setdefault("run", {})["resolved_model"] = payload.get("model")
        # resolved_model and the Writer's custom events (e.g. compaction_fired): kept as they are, not unknown.
        return Step(0, StepKind.OPAQUE, name=kind, started_at=when, source=source, data=payload)

    def _model(self, payload: dict[str, Any], source: SourceRef, when: str | None) -> Step:
        model = payload.get("model") if isinstance(payload.get("model"), str) else None
        tokens = Tokens(_number(payload, "in_tokens"), _number(payload, "out_tokens"))
        text = REDACTED if payload.get("text_redacted") is True else payload.get("text")
        cut = _cut(text)
        data: dict[str, Any] = {
            name: payload.get(name)
            for name in ("iter", "step_ms", "finish_reason", "thinking_tokens", "cache_read_tokens", "text_len")
            if name in payload
        }
        if payload.get("text_redacted") is True:
            data["text"] = "redacted by the writer (the step called mcp_call, email_send or an http_* tool)"
        return Step(
            0,
            StepKind.MODEL,
            caller=str(self.sink.facts.get("run", {}).get("skill") or "") or None,
            model=model,
            output=ai_message(text if isinstance(text, str) else "", model=model, tokens=tokens),
            tokens=tokens,
            started_at=_earlier(when, _number(payload, "step_ms")),
            ended_at=when,
            source=source,
            problem=f"narration cut by the writer at 2000 bytes ({cut} more bytes)" if cut is not None else None,
            data=data,
        )

    def _result(self, payload: dict[str, Any], source: SourceRef, when: str | None) -> Step | None:
        """Complete the call of the same id (already emitted: it is updated in place), or a step of its own."""
        call_id = payload.get("id")
        step = self.open.pop(str(call_id), None) if call_id is not None else None
        orphan = step is None
        if step is None:
            problem = "a tool_result with no tool_call of its id before it"
            step = Step(0, StepKind.TOOL, name=str(payload.get("name") or ""), source=source, problem=problem)
            step.call_id = str(call_id) if call_id is not None else None
        result = payload.get("result")
        cut = _cut(result)
        step.result = result
        step.ended_at = when
        step.status = "completed"
        if cut is not None or payload.get("truncated") is True:
            more = f" ({cut} more bytes)" if cut is not None else ""
            note = f"result cut by the writer at 4000 bytes{more}"
            step.problem = f"{step.problem}; {note}" if step.problem else note
        return self._numbered(step) if orphan else None

    def close(self) -> None:
        """Mark the calls whose result never came (the steps were emitted already; they are updated in place)."""
        for step in self.open.values():
            step.problem = "no tool_result was logged for this call (the run stopped before it?)"
        self.open.clear()

    def _numbered(self, step: Step) -> Step:
        step.index = self.count
        self.count += 1
        return step

    def unreadable(self, why: str) -> Step:
        return self._numbered(unreadable_step(self.info, self.sink, why))
