"""majordomo's audit `Writer`, as SPEC §6.4 describes it, writing its SQLite store.

The real producer (Go, seed `audit/writer.go`, executus `contrib/store`) is not
available to these tests, so this module writes exactly the layout and event
payloads SPEC §6.4 records from its output: one `skill_runs` row per run, one
`skill_run_logs` row per event keyed by `(run_id, sequence)`, payloads as JSON
text; narration cut at 2000 bytes and tool results at 4000 bytes with the suffix
`…[+N bytes]` (cut on the byte, as Go's `s[:n]` does, an invalid UTF-8 tail
becoming U+FFFD as Go's `json.Marshal` writes it); `text_redacted: true` instead
of the narration when the step called `mcp_call`, `email_send` or an `http_*`
tool. It also logs the ground truth (what the loop handed the Writer, uncut)
outside the database, for the tests to compare with.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE skill_runs (
    id TEXT PRIMARY KEY,
    skill_id TEXT NOT NULL,
    caller_id TEXT NOT NULL DEFAULT '',
    channel_id TEXT NOT NULL DEFAULT '',
    parent_run_id TEXT,
    inputs TEXT NOT NULL DEFAULT '{}',
    started_at DATETIME NOT NULL,
    finished_at DATETIME,
    status TEXT NOT NULL,
    output TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    tool_calls_count INTEGER NOT NULL DEFAULT 0,
    runtime_seconds REAL NOT NULL DEFAULT 0,
    total_input_tokens INTEGER NOT NULL DEFAULT 0,
    total_output_tokens INTEGER NOT NULL DEFAULT 0,
    total_thinking_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE skill_run_logs (
    run_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (run_id, sequence)
);
CREATE INDEX idx_skill_runs_parent ON skill_runs(parent_run_id);
"""

NARRATION_LIMIT = 2000
RESULT_LIMIT = 4000
REDACTING_TOOLS = ("mcp_call", "email_send")


def cut(text: str, limit: int) -> str:
    """Go's `s[:limit] + fmt.Sprintf("…[+%d bytes]", len(s)-limit)` on UTF-8 bytes, as JSON then stores it."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "replace") + f"…[+{len(data) - limit} bytes]"


def redacts(tools: list[str]) -> bool:
    return any(name in REDACTING_TOOLS or name.startswith("http_") for name in tools)


def go_time(moment: datetime) -> str:
    """A time as the Go store writes it (RFC 3339 with nanoseconds)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


@dataclass
class Run:
    """One run being written, and the ground truth of what it was given."""

    writer: Writer
    id: str
    skill: str
    started: datetime
    sequence: int = 0
    clock: datetime = field(default_factory=lambda: datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    truth: dict[str, Any] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    tool_calls: int = 0

    def _log(self, event: str, payload: dict[str, Any], truth: dict[str, Any] | None = None) -> None:
        self.sequence += 1
        self.clock += timedelta(milliseconds=250)
        self.writer.connection.execute(
            "INSERT INTO skill_run_logs VALUES (?, ?, ?, ?, ?)",
            (self.id, self.sequence, event, json.dumps(payload, ensure_ascii=False), go_time(self.clock)),
        )
        self.truth["events"].append({"sequence": self.sequence, "type": event, **(truth or payload)})

    def resolved_model(self, model: str) -> None:
        self._log("resolved_model", {"model": model})

    def step(self, iteration: int, model: str, finish: str, tokens: tuple[int, int, int, int], text: str,
             tools: list[str], step_ms: int) -> None:  # fmt: skip
        """One agent-loop iteration (one model call); `tools` are the tools its response calls."""
        in_tokens, out_tokens, thinking, cache_read = tokens
        self.input_tokens += in_tokens
        self.output_tokens += out_tokens
        self.thinking_tokens += thinking
        payload: dict[str, Any] = {
            "iter": iteration,
            "step_ms": step_ms,
            "model": model,
            "finish_reason": finish,
            "in_tokens": in_tokens,
            "out_tokens": out_tokens,
            "thinking_tokens": thinking,
            "cache_read_tokens": cache_read,
            "text_len": len(text.encode("utf-8")),
        }
        if redacts(tools):
            payload["text_redacted"] = True
        else:
            payload["text"] = cut(text, NARRATION_LIMIT)
        self._log("step", payload, {**payload, "text": text, "redacted": redacts(tools)})

    def tool_call(self, name: str, args: dict[str, Any], call_id: str) -> None:
        self.tool_calls += 1
        self._log("tool_call", {"name": name, "args": json.dumps(args, ensure_ascii=False), "id": call_id},
                  {"name": name, "args": args, "id": call_id})  # fmt: skip

    def tool_result(self, name: str, call_id: str, result: str) -> None:
        stored = cut(result, RESULT_LIMIT)
        payload = {"name": name, "id": call_id, "result": stored, "truncated": stored != result}
        self._log("tool_result", payload, {**payload, "result": result})

    def error(self, message: str) -> None:
        self._log("error", {"message": message})

    def custom(self, event: str, payload: dict[str, Any]) -> None:
        self._log(event, payload)

    def finish(self, status: str, output: str = "", error: str = "") -> None:
        runtime = (self.clock - self.started).total_seconds()
        self.writer.connection.execute(
            "UPDATE skill_runs SET finished_at = ?, status = ?, output = ?, error = ?, tool_calls_count = ?, "
            "runtime_seconds = ?, total_input_tokens = ?, total_output_tokens = ?, total_thinking_tokens = ? "
            "WHERE id = ?",
            (go_time(self.clock), status, output, error, self.tool_calls, runtime, self.input_tokens,
             self.output_tokens, self.thinking_tokens, self.id),
        )  # fmt: skip
        self.truth.update(
            status=status,
            output=output,
            error=error,
            tool_calls_count=self.tool_calls,
            runtime_seconds=runtime,
            tokens={"input": self.input_tokens, "output": self.output_tokens, "thinking": self.thinking_tokens},
        )


class Writer:
    """The store: runs are started, logged to and finished; `truth` is everything it was given."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.executescript(SCHEMA)
        self.truth: list[dict[str, Any]] = []

    def start(self, run_id: str, skill: str, caller: str, channel: str, inputs: dict[str, Any],
              started: datetime, parent: str | None = None) -> Run:  # fmt: skip
        self.connection.execute(
            "INSERT INTO skill_runs (id, skill_id, caller_id, channel_id, parent_run_id, inputs, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
            (run_id, skill, caller, channel, parent, json.dumps(inputs, ensure_ascii=False), go_time(started)),
        )
        truth = {"id": run_id, "skill": skill, "caller": caller, "channel": channel, "parent_run_id": parent,
                 "inputs": inputs, "status": "running", "events": []}  # fmt: skip
        self.truth.append(truth)
        return Run(self, run_id, skill, started, clock=started, truth=truth)

    def close(self) -> None:
        self.connection.close()
