"""Codex session rollouts (`rollout-<date>-<uuid>.jsonl`, `.jsonl.zst` once archived) as sessions.

A rollout logs the conversation, not the calls: `response_item` lines are the
history items, in order. A model call is a run of consecutive model-produced
items (assistant text, reasoning, tool calls); its input is the history before
the run. Its tokens are the `token_usage_record` that follows it (0.171: one
per response, with the response id); older CLIs write only `token_count`
events, whose `last_token_usage` is the tokens of one response when their
running total moves: 0.58.0 writes it before that response's items (and
repeats it unchanged at each turn), so a count arriving between calls belongs
to the next one. Tool calls join their results on `call_id`; a command's exit
code and failed status come from its `item_completed` event (0.171.0: the
output text only says "Process exited with code 2") or the output's
`metadata` (0.58.0). The file is streamed; paging keeps only the items since
the previous call.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.sessions import responses
from server.engine.sessions.lines import Line, iter_lines
from server.engine.sessions.model import (
    Session,
    SessionInfo,
    SourceRef,
    Step,
    StepKind,
    finding,
    iso_time,
    message,
    message_parts,
)

KIND = "codex-rollout"
_LINE_TYPES = frozenset(
    {"session_meta", "response_item", "event_msg", "turn_context", "compacted", "world_state", "token_usage_record"}
)
_TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output", "local_shell_call_output"})
_INPUT_ITEMS = frozenset({"message", *_TOOL_OUTPUTS})
_IGNORED_ITEMS = frozenset({"ghost_snapshot", "compaction", "compaction_summary", "other"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def sniff(path: Path, head: bytes) -> bool:
    name = path.name
    if not name.endswith((".jsonl", ".jsonl.zst")):
        return False
    if name.startswith("rollout-"):
        return True
    return b'"session_meta"' in head.split(b"\n", 1)[0]


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    fallback = _UUID.search(path.name)
    session_id = fallback.group(0) if fallback else path.name.split(".jsonl")[0]
    started = None
    title = path.name
    for line in iter_lines(path, problems):
        record, _ = line.parse()
        meta = record.get("payload") if isinstance(record, dict) and record.get("type") == "session_meta" else None
        if isinstance(meta, dict):
            session_id = str(meta.get("id") or session_id)
            started = iso_time(meta.get("timestamp")) or iso_time(record.get("timestamp"))
            version = meta.get("cli_version")
            title = f"Codex {version} session in {meta.get('cwd')}" if version else title
        break
    return [SessionInfo(KIND, path, session_id, title=title, started_at=started)]


@dataclass
class _Run:
    """The model-produced items of one call, as they arrive."""

    items: list[dict[str, Any]] = field(default_factory=list)
    first: SourceRef | None = None
    ended_at: str | None = None
    calls: dict[str, tuple[SourceRef, str | None]] = field(default_factory=dict)  # each call's place and time
    usage: Any = None
    counted: bool = False  # a new token total arrived after its first item
    outputs: list[tuple[int, dict[str, Any], str | None]] = field(default_factory=list)
    """Tool outputs held until the call ends: (number of its items before each, output item, time)."""


class _Reader:
    def __init__(self, info: SessionInfo, sink: Session, *, full_inputs: bool) -> None:
        self.info = info
        self.sink = sink
        self.full_inputs = full_inputs
        self.history: list[dict[str, Any]] = []  # converted messages (whole history, or since the last call)
        self.omitted = 0
        self.model: str | None = None
        self.names: dict[str, str] = {}
        self.run: _Run | None = None
        self.last_input_at: str | None = None
        self.queue: deque[tuple[Step, bool]] = deque()
        self.open: dict[str, Step] = {}
        self.awaiting_tokens: Step | None = None
        self.tools: dict[str, Step] = {}  # tool steps queued and not yet emitted, by call id
        self.commands: dict[str, dict[str, Any]] = {}  # `CommandExecution` items waiting for their output
        self.usage_records = False  # a `token_usage_record` was seen: `token_count` events are only totals
        self.last_total: Any = None  # `total_token_usage` of the last `token_count`
        self.pending_usage: Any = None  # a response's tokens that came before its items
        self.emitted = 0

    def _done(self, step: Step, done: bool) -> bool:
        """A tool call is done once its result arrived; anything else when marked."""
        return step.call_id not in self.open if step.kind is StepKind.TOOL else done

    def ready(self, *, flush: bool = False) -> Iterator[Step]:
        while self.queue and (flush or self._done(*self.queue[0])):
            step, _ = self.queue.popleft()
            if step.kind is StepKind.TOOL and step.call_id is not None:
                self.tools.pop(step.call_id, None)
            if step.kind is StepKind.TOOL and step.call_id in self.open:
                del self.open[step.call_id]
                step.status = "incomplete"
                step.problem = "no output for this call: the session stops before its result"
            step.index = self.emitted
            self.emitted += 1
            yield step

    def line(self, line: Line, record: Any) -> None:
        kind = record.get("type") if isinstance(record, dict) else None
        payload = record.get("payload") if isinstance(record, dict) else None
        when = iso_time(record.get("timestamp")) if isinstance(record, dict) else None
        if kind not in _LINE_TYPES or not isinstance(payload, dict):
            why = f"unknown line type {kind!r} (kept as is)" if isinstance(kind, str) else "not a rollout line"
            code = codes.UNKNOWN_EVENT if isinstance(kind, str) else codes.TRACE_ERROR
            self.sink.findings.append(finding(code, self.info.path, line.ref, why))
            self.opaque(Step(0, StepKind.OPAQUE, name=str(kind), source=line.ref, problem=why, data=record))
            return
        if kind == "event_msg":
            self._event(payload)
        elif kind == "token_usage_record":
            self._usage_record(payload)
        elif kind == "session_meta":
            self._meta(payload)
        elif kind == "turn_context":
            self._close_run()
            model = payload.get("model")
            self.model = model if isinstance(model, str) else self.model
        elif kind == "compacted":
            self._close_run()
            self._compacted(line, payload, when)
        elif kind == "response_item":
            self._item(line, payload, when)
        # `world_state` (0.171: the environment the session saw, once) is context, not a step.

    def _event(self, payload: dict[str, Any]) -> None:
        """Events repeat the history for a UI; only tokens and a command's outcome add to it."""
        if payload.get("type") == "token_count":
            self._tokens(payload)
        elif payload.get("type") == "item_completed":
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "CommandExecution" and isinstance(item.get("id"), str):
                step = self.tools.get(item["id"])
                if step is not None and step.status is not None:
                    _apply_command(step, item)
                else:
                    self.commands[item["id"]] = item

    def _meta(self, payload: dict[str, Any]) -> None:
        instructions = payload.get("instructions") or payload.get("base_instructions")
        if isinstance(instructions, dict):
            instructions = instructions.get("text")
        if isinstance(instructions, str) and instructions and not self.history:
            self.history.append(message("system", instructions))

    def _item(self, line: Line, item: dict[str, Any], when: str | None) -> None:
        kind = item.get("type")
        if responses.is_model_output(item):
            if self.run is not None and self.run.outputs and self.run.counted:
                self._close_run()  # tool outputs, then a new token total: this item starts the next response
            if self.run is None:
                self.run = _Run(first=line.ref, usage=self.pending_usage)
                self.pending_usage = None
            self.run.items.append(item)
            self.run.ended_at = when
            if kind in ("function_call", "custom_tool_call", "local_shell_call"):
                call = responses.tool_call(item)
                self.names[call["id"] or ""] = call["name"]
                self.run.calls[call["id"] or ""] = (line.ref, when)
            return
        run = self.run
        if kind in _TOOL_OUTPUTS and run is not None and self._holds(run, item):
            run.outputs.append((len(run.items), item, when))
            return
        self._close_run()
        if kind in _INPUT_ITEMS:
            self._input(item, when)
        elif kind not in _IGNORED_ITEMS:
            why = f"unknown response item type {kind!r} (kept as is)"
            self.sink.findings.append(finding(codes.UNKNOWN_EVENT, self.info.path, line.ref, why))
            self.opaque(Step(0, StepKind.OPAQUE, name=str(kind), source=line.ref, problem=why, data=item))

    def _holds(self, run: _Run, item: dict[str, Any]) -> bool:
        """Whether a tool output waits inside its call's run: CLIs that count tokens before each response
        (0.58.0) interleave parallel calls with their outputs, so only a new total ends the response."""
        return str(item.get("call_id")) in run.calls and not self.usage_records and self.last_total is not None

    def _input(self, item: dict[str, Any], when: str | None) -> None:
        """A history item the model did not produce: a message, or a tool output (its call's result)."""
        converted = responses.to_messages([item])
        for entry in converted:
            call_kind, data = message_parts(entry)
            if call_kind == "tool":
                data["name"] = self.names.get(str(data.get("tool_call_id")))
                self._tool_result(item, data, when)
        self.history.extend(converted)
        self.last_input_at = when

    def _tool_result(self, item: dict[str, Any], data: dict[str, Any], when: str | None) -> None:
        step = self.open.get(str(item.get("call_id")))
        if step is None:
            return
        del self.open[str(item.get("call_id"))]
        content = data.get("content")
        output = responses.parse_arguments(content)  # shell output as JSON text `{"output": ..., "metadata": ...}`
        step.result = output.get("output") if isinstance(output, dict) and "output" in output else content
        step.ended_at = when
        step.status = "completed"
        metadata = output.get("metadata") if isinstance(output, dict) else None
        if isinstance(metadata, dict):  # 0.58.0: `{"output", "metadata": {"exit_code", "duration_seconds"}}`
            exit_code = metadata.get("exit_code")
            _apply_command(step, {"exit_code": exit_code, "status": "failed" if exit_code not in (0, None) else None})
        command = self.commands.pop(str(item.get("call_id")), None)
        if command is not None:
            _apply_command(step, command)

    def _close_run(self) -> None:
        """End the current model call: queue it, then the tool calls it made."""
        run, self.run = self.run, None
        if run is None:
            return
        self._settle()
        usage = run.usage
        output = responses.output_message(run.items, model=self.model)
        step = Step(
            0,
            StepKind.MODEL,
            model=self.model,
            input=list(self.history),
            input_omitted=self.omitted,
            output=output,
            started_at=self.last_input_at,
            ended_at=run.ended_at,
            source=run.first,
        )
        if usage is not None:
            self._set_tokens(step, usage)
            self.queue.append((step, True))
        else:
            self.queue.append((step, False))
            self.awaiting_tokens = step
        _, data = message_parts(output)
        for call in data["tool_calls"]:
            tool = Step(
                0,
                StepKind.TOOL,
                name=call["name"],
                arguments=call["args"],
                call_id=call["id"],
                started_at=run.calls.get(call["id"] or "", (None, run.ended_at))[1],
                source=run.calls.get(call["id"] or "", (run.first, None))[0],
            )
            if call["id"]:
                self.open[call["id"]] = tool
                self.tools[call["id"]] = tool
            self.queue.append((tool, False))
        # The next call's input holds this response as the model was sent it: one message, or (0.58.0's
        # interleaved parallel calls) its items up to each tool output, then that output, and so on.
        first = run.outputs[0][0] if run.outputs else len(run.items)
        self.history.extend(responses.to_messages(run.items[:first]) if run.outputs else [output])
        if not self.full_inputs:
            self.omitted += len(self.history)
            self.history = []
        start = first
        for position, item, when in run.outputs:
            self.history.extend(responses.to_messages(run.items[start:position]))
            self._input(item, when)
            start = position
        if run.outputs:
            self.history.extend(responses.to_messages(run.items[start:]))

    def _tokens(self, payload: dict[str, Any]) -> None:
        """`token_count`, for CLIs that write no `token_usage_record`: a new total is one response's tokens,
        for the call whose items are arriving, else for the next one (0.58.0 writes them first)."""
        info = payload.get("info")
        if self.usage_records or not isinstance(info, dict) or not isinstance(info.get("last_token_usage"), dict):
            return
        if info.get("total_token_usage") == self.last_total:
            return  # repeated unchanged (0.58.0 writes the count again at each turn)
        self.last_total = info.get("total_token_usage")
        if self.run is not None and self.run.outputs:
            self._close_run()  # its tools have answered: the count is the next response's
        if self.run is not None:
            self.run.usage, self.run.counted = info["last_token_usage"], True
        else:
            self.pending_usage = info["last_token_usage"]

    def _usage_record(self, payload: dict[str, Any]) -> None:
        """`token_usage_record` (0.171): the tokens of the response that just ended, and its id."""
        self.usage_records = True
        self._close_run()
        step = self.awaiting_tokens
        if step is not None:
            self._set_tokens(step, payload.get("usage"))
            if isinstance(payload.get("response_id"), str):
                responses.set_response_id(step.output, payload["response_id"])
        self._settle()

    @staticmethod
    def _set_tokens(step: Step, usage: Any) -> None:
        step.tokens = responses.tokens_of(usage)
        _, data = message_parts(step.output)
        if step.tokens is not None and isinstance(data, dict):
            data["usage_metadata"] = {
                "input_tokens": step.tokens.input or 0,
                "output_tokens": step.tokens.output or 0,
                "total_tokens": step.tokens.total or 0,
            }

    def _settle(self) -> None:
        """The model call awaiting its tokens is done once they arrive, or once the next call closes."""
        step, self.awaiting_tokens = self.awaiting_tokens, None
        if step is None:
            return
        for position, (queued, _) in enumerate(self.queue):
            if queued is step:
                self.queue[position] = (step, True)
                break

    def _compacted(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        replacement = payload.get("replacement_history")
        summary = payload.get("message")
        self.opaque(
            Step(0, StepKind.OPAQUE, name="compacted", source=line.ref, started_at=when, data={"message": summary})
        )
        if isinstance(replacement, list):
            replaced = responses.to_messages(replacement)
        else:
            replaced = [message("human", summary if isinstance(summary, str) else "")]
        if self.full_inputs:
            self.history = replaced
        else:
            self.history, self.omitted = [], self.omitted + len(self.history)

    def opaque(self, step: Step) -> None:
        self._close_run()
        self.queue.append((step, True))

    def finish(self) -> None:
        self._close_run()
        self._settle()


def _apply_command(step: Step, command: dict[str, Any]) -> None:
    """A command's own outcome: `status: "failed"` and its exit code, which the output text does not carry."""
    status, exit_code = command.get("status"), command.get("exit_code")
    if isinstance(status, str) and status:
        step.status = status
    if isinstance(exit_code, int) and not isinstance(exit_code, bool):
        step.data = {**(step.data or {}), "exitCode": exit_code}


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    reader = _Reader(info, sink, full_inputs=full_inputs)
    for line in iter_lines(info.path, sink.findings):
        record, error = line.parse()
        if error is not None:
            sink.findings.append(finding(codes.TRACE_ERROR, info.path, line.ref, error))
            reader.opaque(Step(0, StepKind.OPAQUE, name="broken line", source=line.ref, problem=error))
        else:
            reader.line(line, record)
        yield from reader.ready()
    reader.finish()
    yield from reader.ready(flush=True)
