"""The session model: what every trace format is read into.

A session is an ordered list of steps. Model calls carry their input messages
and output as LangChain `messages_to_dict` entries, whatever the source format,
so one normalizer keys them all; tool calls carry a name, arguments and result.
Anything a reader cannot interpret (an unknown event, a pickled blob, a broken
line) is still a step, marked `opaque` and explained by `problem`, so the user
sees where it was and nothing is silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.findings import Code, Finding, Severity
from server.engine.source import Position, Range, Span


class StepKind(StrEnum):
    MODEL = "model"
    TOOL = "tool"
    OPAQUE = "opaque"


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int | None = None
    output: int | None = None
    total: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {"input": self.input, "output": self.output, "total": self.total}


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a step comes from: a file and, when the file is text, its exact range."""

    path: Path
    range: Range | None = None
    span: Span | None = None
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "range": self.range.to_json() if self.range else None,
            "label": self.label or None,
        }

    def describe(self) -> str:
        """`file:line` (1-based) or `file (label)`, for terminal output."""
        if self.range is not None:
            return f"{self.path.name}:{self.range.start.line + 1}"
        return f"{self.path.name} ({self.label})" if self.label else self.path.name


@dataclass(slots=True)
class Step:
    """One step of a session, in call order."""

    index: int
    kind: StepKind
    name: str = ""
    caller: str | None = None
    model: str | None = None
    input: list[Any] | None = None
    input_omitted: int = 0
    output: Any = None
    arguments: Any = None
    result: Any = None
    status: str | None = None
    call_id: str | None = None
    tokens: Tokens | None = None
    started_at: str | None = None
    ended_at: str | None = None
    recorded_keys: dict[str, str] = field(default_factory=dict)
    source: SourceRef | None = None
    problem: str | None = None
    data: Any = None

    @property
    def duration_ms(self) -> int | None:
        start, end = parse_time(self.started_at), parse_time(self.ended_at)
        if start is None or end is None:
            return None
        return round((end - start).total_seconds() * 1000)

    def summary(self, width: int = 80) -> str:
        """One line saying what the step did: the answer, the tool call and result, or the problem."""
        if self.kind is StepKind.MODEL:
            _, data = message_parts(self.output)
            calls = data.get("tool_calls")
            text = " ".join(str(data.get("content") or "").split())
            parts = [text] if text else []
            for call in calls if isinstance(calls, list) else []:
                if isinstance(call, dict):
                    parts.append(f"-> {call.get('name')}({_compact(call.get('args'))})")
            line = "; ".join(parts) or ("(no output)" if self.output is None else "(empty answer)")
        elif self.kind is StepKind.TOOL:
            result = self.result if isinstance(self.result, str) else _compact(self.result)
            line = f"{self.name}({_compact(self.arguments)}) = {' '.join(str(result).split())}"
        else:
            line = self.problem or _compact(self.data)
        if self.problem and self.kind is not StepKind.OPAQUE:
            line = f"[{self.problem}] {line}"
        return line if len(line) <= width else line[: width - 1] + "…"

    def to_json(self) -> dict[str, Any]:
        """Every field a client shows (names as in docs/protocol.md); empty fields are left out."""
        document: dict[str, Any] = {"index": self.index, "kind": self.kind.value, "summary": self.summary()}
        optional: dict[str, Any] = {
            "name": self.name or None,
            "caller": self.caller,
            "model": self.model,
            "status": self.status,
            "callId": self.call_id,
            "tokens": self.tokens.to_json() if self.tokens else None,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "durationMs": self.duration_ms,
            "input": self.input,
            "inputOmitted": self.input_omitted or None,
            "output": self.output,
            "arguments": self.arguments,
            "result": self.result,
            "recordedKeys": self.recorded_keys or None,
            "problem": self.problem,
            "data": self.data,
            "uri": location_uri(self.source.path) if self.source else None,
            "range": self.source.range.to_json() if self.source and self.source.range else None,
            "place": self.source.label or None if self.source else None,
        }
        document.update({key: value for key, value in optional.items() if value is not None})
        return document


def _compact(value: Any) -> str:
    """Arguments as `key=value, ...`, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{key}={json.dumps(item, ensure_ascii=False, default=str)}" for key, item in value.items())
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session found on disk: enough to list it and to open it again.

    `id` is the producer's own id (thread, session, rollout id) when there is
    one, else derived from the file name, so it is stable across runs.
    """

    kind: str
    path: Path
    id: str
    title: str = ""
    started_at: str | None = None

    @property
    def key(self) -> str:
        """One string that names the session across files: `path#id`."""
        return f"{self.path}#{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": location(self.path),
            "uri": location_uri(self.path),
            "id": self.id,
            "key": self.key,
            "title": self.title,
            "startedAt": self.started_at,
        }


@dataclass(slots=True)
class Session:
    """A session read whole: its steps in order and what went wrong reading it."""

    info: SessionInfo
    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StepPage:
    """One page of a session's steps (pages are 1-based)."""

    info: SessionInfo
    page: int
    page_size: int
    total: int
    steps: list[Step]
    findings: list[Finding]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.info.to_json(),
            "page": self.page,
            "pageSize": self.page_size,
            "pages": self.pages,
            "total": self.total,
            "steps": [step.to_json() for step in self.steps],
            "findings": [finding.to_json() for finding in self.findings],
            "facts": self.facts,
        }


_URL_SCHEMES = ("postgresql:/", "postgres:/")


def location(path: str | Path) -> str:
    """A session's place as text: a file path, or a database URL given as a `Path` (which folds its `//`)."""
    text = str(path)
    for folded in _URL_SCHEMES:
        if text.startswith(folded) and not text.startswith(folded + "/"):
            return folded + "/" + text[len(folded) :]
    return text


def location_uri(path: Path) -> str:
    """The URI clients open: `file:` for files, the (masked) database URL for a database."""
    text = location(path)
    return text if text.startswith(_URL_SCHEMES) else path.resolve().as_uri()


def unreadable_step(info: SessionInfo, sink: Session, reason: str, index: int = 0) -> Step:
    """The one step of a database that cannot be read (or stops being readable at step `index`), and its finding."""
    sink.findings.append(finding(codes.TRACE_ERROR, info.path, None, reason))
    return Step(index, StepKind.OPAQUE, name="unreadable database", problem=reason)


def finding(
    code: Code,
    path: Path,
    ref: SourceRef | None,
    message: str,
    data: dict[str, Any] | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A finding at a step's place (the file's start when the source is not text)."""
    origin = Range(Position(0, 0), Position(0, 0))
    return Finding(
        code=code,
        path=path,
        range=ref.range if ref is not None and ref.range is not None else origin,
        span=ref.span if ref is not None and ref.span is not None else Span(0, 0),
        message=message,
        severity=severity if severity is not None else code.severity,
        data=data or {},
    )


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_time(value: Any) -> str | None:
    """An ISO 8601 UTC time from what producers write: ISO text or Unix seconds/milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, str):
        parsed = parse_time(value)
        return value if parsed is not None else None
    return None


def ai_message(
    content: Any,
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    message_id: str | None = None,
    model: str | None = None,
    tokens: Tokens | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A LangChain `messages_to_dict` AI message: the output shape a fixture turn holds."""
    usage = None
    if tokens is not None and (tokens.input is not None or tokens.output is not None):
        usage = {
            "input_tokens": tokens.input or 0,
            "output_tokens": tokens.output or 0,
            "total_tokens": tokens.total if tokens.total is not None else (tokens.input or 0) + (tokens.output or 0),
        }
    return {
        "type": "ai",
        "data": {
            "content": content,
            "additional_kwargs": extra or {},
            "response_metadata": {"model_name": model} if model else {},
            "type": "ai",
            "name": None,
            "id": message_id,
            "tool_calls": tool_calls or [],
            "invalid_tool_calls": [],
            "usage_metadata": usage,
        },
    }


def message(kind: str, content: Any, **data: Any) -> dict[str, Any]:
    """A LangChain `messages_to_dict` entry of any type (human, system, tool, ...)."""
    body: dict[str, Any] = {"content": content, "additional_kwargs": {}, "response_metadata": {}, "type": kind}
    body.update(data)
    return {"type": kind, "data": body}


def message_parts(entry: Any) -> tuple[str | None, dict[str, Any]]:
    """(type, data) of a `messages_to_dict` entry or a flat message dict; (None, {}) otherwise."""
    if not isinstance(entry, dict):
        return None, {}
    data = entry.get("data")
    if isinstance(data, dict):
        kind = entry.get("type", data.get("type"))
        return (kind if isinstance(kind, str) else None), data
    kind = entry.get("type")
    return (kind if isinstance(kind, str) else None), entry


def tokens_from_usage(usage: Any) -> Tokens | None:
    """Tokens from a LangChain `usage_metadata` or an OpenAI-style usage object."""
    if not isinstance(usage, dict):
        return None

    def number(*names: str) -> int | None:
        for name in names:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    tokens = Tokens(
        number("input_tokens", "prompt_tokens"),
        number("output_tokens", "completion_tokens"),
        number("total_tokens"),
    )
    return tokens if tokens != Tokens() else None
