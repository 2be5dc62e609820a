"""Codex rollout-trace bundles as sessions.

A bundle is a folder with `manifest.json`, an append-only event log
(`trace.jsonl`, one raw event a line) and the payloads events point to: one
`payloads/<n>.json` file each (schema 1), or records of a zstd shard
`payloads/000001.zst` (schema 3, see `codex_shard`). Inference and tool calls
each span a start and an end event; a step is emitted when it ends, in the
order calls started, so the log is streamed once. A payload that is missing,
an event type this version does not know, or a broken line becomes a marked
step and a finding; nothing stops the read.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.files import read_regular, resolved
from server.engine.sessions import responses
from server.engine.sessions.codex_shard import Shard, read_shard, shard_name
from server.engine.sessions.lines import Line, iter_lines
from server.engine.sessions.model import Session, SessionInfo, Step, StepKind, finding, iso_time

KIND = "codex-bundle"
MANIFEST = "manifest.json"
EVENT_LOG = "trace.jsonl"

# Lifecycle and enrichment events: facts about calls, not calls.
_QUIET = frozenset(
    {
        "rollout_started",
        "rollout_ended",
        "thread_ended",
        "codex_turn_started",
        "codex_turn_ended",
        "tool_call_runtime_started",
        "mcp_tool_call_correlation_assigned",
        "code_cell_initial_response",
        "protocol_event_observed",
        "history_item_accepted",
        "recording_completed",
    }
)
# Known events shown as they are (no model or tool call of their own).
_SHOWN = frozenset(
    {
        "compaction_request_started",
        "compaction_request_completed",
        "compaction_request_failed",
        "compaction_installed",
        "agent_result_observed",
        "other",
    }
)


def sniff(path: Path, head: bytes) -> bool:
    del head
    return path.is_dir() and (path / EVENT_LOG).is_file()


@dataclass(frozen=True, slots=True)
class _Layout:
    root: Path
    events: Path
    payloads: Path
    manifest: dict[str, Any]


def _layout(path: Path, problems: list[Any]) -> _Layout:
    manifest: dict[str, Any] = {}
    try:
        loaded = json.loads(read_regular(path / MANIFEST).decode("utf-8"))
        manifest = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError) as exc:
        problems.append(finding(codes.TRACE_ERROR, path / MANIFEST, None, f"manifest unreadable: {exc}"))
    events = _inside(path, manifest.get("raw_event_log"), EVENT_LOG)
    payloads = _inside(path, manifest.get("payloads_dir"), "payloads")
    return _Layout(path, events, payloads, manifest)


def _inside(root: Path, relative: Any, default: str) -> Path:
    """`root/relative` when it stays inside the bundle, else `root/default` (a manifest never points outside)."""
    if isinstance(relative, str) and relative:
        candidate = resolved(root / relative)
        if candidate.is_relative_to(resolved(root)):
            return candidate
    return root / default


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    layout = _layout(path, problems)
    manifest = layout.manifest
    identity = manifest.get("rollout_id") or manifest.get("trace_id") or path.name
    trace_id = manifest.get("trace_id")
    return [
        SessionInfo(
            KIND,
            path,
            str(identity),
            title=f"Codex trace {trace_id}" if trace_id else path.name,
            started_at=iso_time(manifest.get("started_at_unix_ms")),
        )
    ]


class _Reader:
    """Turns raw events into steps, emitted in start order once each has ended."""

    def __init__(self, layout: _Layout, sink: Session, *, full_inputs: bool) -> None:
        self.layout = layout
        self.sink = sink
        self.full_inputs = full_inputs
        self.queue: deque[tuple[Step, bool]] = deque()
        self.open: dict[str, int] = {}
        self.base = 0  # queue position 0 is entry number `base`
        self.emitted = 0
        self.agents: dict[str, str] = {}
        self.seen_inputs: dict[str, int] = {}
        self.shards: dict[int, Shard] = {}
        self.runtime: dict[str, dict[str, Any]] = {}  # how each tool's runtime ended (status, exit code)
        self.handlers: dict[str, Callable[[Line, dict[str, Any], str | None], None]] = {
            "thread_started": self.on_thread_started,
            "inference_started": self.on_inference_started,
            "inference_completed": self.on_inference_completed,
            "inference_failed": self.on_inference_failed,
            "inference_cancelled": self.on_inference_cancelled,
            "tool_call_started": self.on_tool_call_started,
            "tool_call_runtime_ended": self.on_tool_call_runtime_ended,
            "tool_call_ended": self.on_tool_call_ended,
            "code_cell_started": self.on_code_cell_started,
            "code_cell_ended": self.on_code_cell_ended,
        }

    # -- queue ---------------------------------------------------------------
    def start(self, key: str | None, step: Step) -> None:
        if key is not None:
            self.open[key] = self.base + len(self.queue)
        self.queue.append((step, key is None))

    def finish(self, key: str) -> Step | None:
        number = self.open.pop(key, None)
        if number is None:
            return None
        step, _ = self.queue[number - self.base]
        self.queue[number - self.base] = (step, True)
        return step

    def ready(self, *, flush: bool = False) -> Iterator[Step]:
        while self.queue and (self.queue[0][1] or flush):
            step, done = self.queue.popleft()
            self.base += 1
            if not done:
                step.status = step.status or "incomplete"
                step.problem = step.problem or "no end event: the trace stops before this call finished"
            step.index = self.emitted
            self.emitted += 1
            yield step

    # -- payloads ------------------------------------------------------------
    def payload(self, ref: Any, line: Line) -> tuple[Any, str | None]:
        """The JSON a payload ref points to, or (None, why not) with a finding."""
        if isinstance(ref, dict) and isinstance(ref.get("raw_payload_id"), str) and "path" not in ref:
            return self.shard_payload(ref, line)
        if not isinstance(ref, dict) or not isinstance(ref.get("path"), str):
            return None, None
        target = resolved(self.layout.root / ref["path"])
        if not target.is_relative_to(resolved(self.layout.root)):
            why = f"payload path {ref['path']!r} points outside the bundle: not read"
        else:
            try:
                return json.loads(read_regular(target).decode("utf-8")), None
            except FileNotFoundError:
                why = f"payload {ref['path']} is missing"
                self.sink.findings.append(
                    finding(codes.MISSING_PAYLOAD, self.layout.events, line.ref, why, {"payload": ref["path"]})
                )
                return None, why
            except (OSError, ValueError) as exc:
                why = f"payload {ref['path']} is unreadable: {exc}"
        self.sink.findings.append(finding(codes.TRACE_ERROR, self.layout.events, line.ref, why))
        return None, why

    def shard_payload(self, ref: dict[str, Any], line: Line) -> tuple[Any, str | None]:
        """A payload from a schema-3 shard (read once, on the first ref to it)."""
        number = ref.get("shard", 1)
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 1_000_000:
            why = f"payload {ref['raw_payload_id']} names no valid shard ({number!r})"
            self.sink.findings.append(finding(codes.TRACE_ERROR, self.layout.events, line.ref, why))
            return None, why
        shard = self.shards.get(number)
        if shard is None:
            path = self.layout.payloads / shard_name(number)
            shard = self.shards[number] = read_shard(path)
            if shard.problem is not None:
                code = codes.MISSING_PAYLOAD if not shard else codes.TRACE_ERROR
                self.sink.findings.append(finding(code, path, None, shard.problem))
        record = shard.get(ref["raw_payload_id"])
        where = f"payloads/{shard_name(number)}"
        if record is None:
            why = f"payload {ref['raw_payload_id']} is not in {where}"
            why += f" ({shard.problem})" if shard.problem else ""
            self.sink.findings.append(
                finding(codes.MISSING_PAYLOAD, self.layout.events, line.ref, why, {"payload": ref["raw_payload_id"]})
            )
            return None, why
        try:
            return json.loads(record.decode("utf-8")), None
        except (ValueError, RecursionError) as exc:
            why = f"payload {ref['raw_payload_id']} in {where} is not JSON: {exc}"
        self.sink.findings.append(finding(codes.TRACE_ERROR, self.layout.events, line.ref, why))
        return None, why

    # -- events --------------------------------------------------------------
    def event(self, line: Line, event: Any) -> None:
        payload = event.get("payload") if isinstance(event, dict) else None
        kind = payload.get("type") if isinstance(payload, dict) else None
        if not isinstance(payload, dict) or not isinstance(kind, str):
            why = "not a trace event: no payload with a 'type'"
            self.sink.findings.append(finding(codes.TRACE_ERROR, self.layout.events, line.ref, why))
            self.start(None, Step(0, StepKind.OPAQUE, name="malformed event", source=line.ref, problem=why, data=event))
            return
        when = iso_time(event.get("wall_time_unix_ms"))
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(line, payload, when)
        elif kind in _SHOWN:
            self.start(None, Step(0, StepKind.OPAQUE, name=kind, source=line.ref, started_at=when, data=payload))
        elif kind not in _QUIET:
            why = f"unknown event type {kind!r} (kept as is)"
            self.sink.findings.append(finding(codes.UNKNOWN_EVENT, self.layout.events, line.ref, why))
            self.start(
                None, Step(0, StepKind.OPAQUE, name=kind, source=line.ref, started_at=when, problem=why, data=payload)
            )

    def on_thread_started(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        del line, when
        thread, agent = payload.get("thread_id"), payload.get("agent_path")
        if isinstance(thread, str) and isinstance(agent, str):
            self.agents[thread] = agent

    def on_inference_started(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        request, problem = self.payload(payload.get("request_payload"), line)
        items = request.get("input") if isinstance(request, dict) else None
        messages: list[Any] | None = None
        if isinstance(request, dict) and isinstance(items, list):
            messages = responses.to_messages(items, request.get("instructions"))
        else:
            prepared, why = self._prepared_prompt(payload.get("prepared_prompt_payload"), line)
            if prepared is not None:
                messages, problem = prepared, why
            elif request is not None:
                messages = []
        thread = str(payload.get("thread_id") or "")
        omitted = 0
        if not self.full_inputs and messages is not None:
            # Counted in messages (not request items: reasoning items become none), so pages add up.
            omitted = min(self.seen_inputs.get(thread, 0), len(messages))
            self.seen_inputs[thread] = len(messages)
            messages = messages[omitted:]
        mode = payload.get("request_input_mode")
        step = Step(
            0,
            StepKind.MODEL,
            caller=self.agents.get(thread, thread or None),
            model=payload.get("model") if isinstance(payload.get("model"), str) else None,
            input=messages,
            input_omitted=omitted,
            started_at=when,
            source=line.ref,
            problem=problem,
            data={"request_input_mode": mode}
            if isinstance(mode, dict) and mode.get("type") != "full_snapshot"
            else None,
        )
        self.start(f"inference:{payload.get('inference_call_id')}", step)

    def _prepared_prompt(self, prepared: Any, line: Line) -> tuple[list[Any] | None, str | None]:
        """The input of a schema-3 prepared prompt, for a request payload that cannot be read.

        The prepared payload is a list of JSON text fragments that, interleaved
        with its `parts` (one model item each), spell the prompt `{"input": [...],
        "base_instructions": {"text"}, ...}`; its base instructions are the
        developer message sent first. When the fragments cannot be read, the
        parts alone give every message after that one.
        """
        parts = prepared.get("parts") if isinstance(prepared, dict) else None
        if not isinstance(parts, list) or not parts:
            return None, None
        items: list[Any] = []
        problems: list[str] = []
        for part in parts:
            item, why = self.payload(part, line)
            if why is not None:
                problems.append(why)
            elif item is not None:
                items.append(item)
        if problems:
            return (responses.to_messages(items) if items else None), "; ".join(problems)
        fragments, why = self.payload(prepared, line)
        prompt = _spelled_prompt(fragments, items)
        if prompt is None:
            why = why or "the prepared prompt's text does not spell a prompt"
            return responses.to_messages(items), f"{why}: base instructions left out"
        instructions = prompt.get("base_instructions")
        text = instructions.get("text") if isinstance(instructions, dict) else None
        prompt_items = prompt.get("input")
        return responses.to_messages(prompt_items if isinstance(prompt_items, list) else items, text), None

    def _end_inference(self, line: Line, payload: dict[str, Any], when: str | None, status: str) -> None:
        step = self.finish(f"inference:{payload.get('inference_call_id')}")
        if step is None:
            self._orphan(line, payload)
            return
        ref = payload.get("response_payload") or payload.get("partial_response_payload")
        response, problem = self.payload(ref, line)
        if isinstance(response, dict):
            items = response.get("output_items")
            step.tokens = responses.tokens_of(response.get("token_usage"))
            step.output = responses.output_message(
                items if isinstance(items, list) else [],
                model=step.model,
                tokens=step.tokens,
                response_id=payload.get("response_id") or response.get("response_id"),
            )
        step.status, step.ended_at = status, when
        reason = payload.get("error") or payload.get("reason")
        step.problem = step.problem or problem or (f"{status}: {reason}" if isinstance(reason, str) else None)

    def on_inference_completed(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        self._end_inference(line, payload, when, "completed")

    def on_inference_failed(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        self._end_inference(line, payload, when, "failed")

    def on_inference_cancelled(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        self._end_inference(line, payload, when, "cancelled")

    def on_tool_call_started(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        invocation, problem = self.payload(payload.get("invocation_payload"), line)
        name, arguments = _tool_identity(payload, invocation)
        summary = payload.get("summary")
        if arguments is None and isinstance(summary, dict) and isinstance(summary.get("input_preview"), str):
            arguments = responses.parse_arguments(summary["input_preview"])
        call_id = payload.get("model_visible_call_id")
        step = Step(
            0,
            StepKind.TOOL,
            name=name,
            arguments=arguments,
            call_id=call_id if isinstance(call_id, str) else None,
            started_at=when,
            source=line.ref,
            problem=problem,
        )
        self.start(f"tool:{payload.get('tool_call_id')}", step)

    def on_tool_call_ended(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        step = self.finish(f"tool:{payload.get('tool_call_id')}")
        if step is None:
            self._orphan(line, payload)
            return
        result, problem = self.payload(payload.get("result_payload"), line)
        step.result = _result_value(result)
        step.status = str(payload.get("status") or "completed")
        runtime = self.runtime.pop(str(payload.get("tool_call_id")), None)
        if runtime is not None:
            # `tool_call_ended` says "completed" for a command that ran and exited 2: its runtime says "failed".
            if isinstance(runtime.get("status"), str) and runtime["status"] != "completed":
                step.status = runtime["status"]
            if isinstance(runtime.get("exit_code"), int):
                step.data = {**(step.data or {}), "exitCode": runtime["exit_code"]}
        step.ended_at = when
        step.problem = step.problem or problem

    def on_tool_call_runtime_ended(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        del when
        details, _ = self.payload(payload.get("runtime_payload"), line)
        exit_code = details.get("exit_code") if isinstance(details, dict) else None
        self.runtime[str(payload.get("tool_call_id"))] = {
            "status": payload.get("status"),
            "exit_code": exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        }

    def on_code_cell_started(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        call_id = payload.get("model_visible_call_id")
        step = Step(
            0,
            StepKind.TOOL,
            name="exec",
            arguments={"source_js": payload.get("source_js")},
            call_id=call_id if isinstance(call_id, str) else None,
            started_at=when,
            source=line.ref,
        )
        self.start(f"cell:{payload.get('runtime_cell_id')}", step)

    def on_code_cell_ended(self, line: Line, payload: dict[str, Any], when: str | None) -> None:
        step = self.finish(f"cell:{payload.get('runtime_cell_id')}")
        if step is None:
            self._orphan(line, payload)
            return
        result, problem = self.payload(payload.get("response_payload"), line)
        step.result, step.status, step.ended_at = result, str(payload.get("status") or "completed"), when
        step.problem = step.problem or problem

    def _orphan(self, line: Line, payload: dict[str, Any]) -> None:
        why = f"{payload.get('type')} for a call that never started"
        self.sink.findings.append(finding(codes.TRACE_ERROR, self.layout.events, line.ref, why))
        self.start(None, Step(0, StepKind.OPAQUE, name=str(payload.get("type")), source=line.ref, problem=why))


def _incremental(mode: Any) -> bool:
    """True when a request payload holds only the items after a previous response."""
    return isinstance(mode, dict) and mode.get("type") != "full_snapshot"


def _spelled_prompt(fragments: Any, items: list[Any]) -> dict[str, Any] | None:
    """The prompt that text fragments and the items between them spell, when they spell one JSON object."""
    if not isinstance(fragments, list) or len(fragments) != len(items) + 1:
        return None
    if not all(isinstance(fragment, str) for fragment in fragments):
        return None
    pieces = [fragments[0]]
    for item, fragment in zip(items, fragments[1:], strict=True):
        pieces += [json.dumps(item, ensure_ascii=False), fragment]
    try:
        prompt = json.loads("".join(pieces))
    except (ValueError, RecursionError):
        return None
    return prompt if isinstance(prompt, dict) else None


def _tool_identity(payload: dict[str, Any], invocation: Any) -> tuple[str, Any]:
    """A tool's name and parsed arguments, from its invocation payload or else its kind."""
    kind = payload.get("kind")
    name = ""
    if isinstance(invocation, dict) and isinstance(invocation.get("tool_name"), str):
        namespace = invocation.get("tool_namespace")
        name = f"{namespace}.{invocation['tool_name']}" if isinstance(namespace, str) and namespace else ""
        name = name or invocation["tool_name"]
    elif isinstance(kind, dict):
        if kind.get("type") == "mcp":
            name = f"{kind.get('server')}.{kind.get('tool')}"
        else:
            name = str(kind.get("name") or kind.get("type") or "")
    arguments: Any = None
    body = invocation.get("payload") if isinstance(invocation, dict) else None
    if isinstance(body, dict):
        raw = body.get("arguments", body.get("input", body))
        arguments = responses.parse_arguments(raw)
    return name or "tool", arguments


def _result_value(result: Any) -> Any:
    """The caller-facing value of a tool result payload (its output or error), else the payload."""
    if isinstance(result, dict) and isinstance(result.get("response_item"), dict):
        result = result["response_item"]  # schema 3: `{"type": "direct_response", "response_item": {...}}`
    if isinstance(result, dict):
        for key in ("output", "content", "error"):
            if key in result:
                return result[key]
    return result


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    layout = _layout(info.path, sink.findings)
    reader = _Reader(layout, sink, full_inputs=full_inputs)
    if not layout.events.is_file():
        why = f"the event log {layout.events.name} is missing"
        sink.findings.append(finding(codes.TRACE_ERROR, info.path, None, why))
        yield Step(0, StepKind.OPAQUE, name="missing event log", problem=why)
        return
    for line in iter_lines(layout.events, sink.findings):
        event, error = line.parse()
        if error is not None:
            sink.findings.append(finding(codes.TRACE_ERROR, layout.events, line.ref, error))
            reader.start(None, Step(0, StepKind.OPAQUE, name="broken line", source=line.ref, problem=error))
        else:
            reader.event(line, event)
        yield from reader.ready()
    yield from reader.ready(flush=True)
