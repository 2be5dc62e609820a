"""Recordings (SPEC §5) as sessions: one model call per JSONL line, tool calls derived.

A recording stores raw inputs, so the tool results a call saw are in its input
as `tool` messages; the first time a result appears it becomes a tool step just
before that call. The file is streamed: a recording of any size pages in
constant memory, and a truncated last line is a marked step. The history each
call re-sends is parsed once and shared (`LineParser`): a session read whole
holds each message once, and the replay's key chain recognizes it by identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from operator import is_
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.jsonscan import JsonError
from server.engine.normalize import HEX64
from server.engine.recording import LineParser, shape_problem
from server.engine.sessions.lines import Line, iter_lines
from server.engine.sessions.messages import output_facts, tool_call_index, tool_results, tool_step
from server.engine.sessions.model import Session, SessionInfo, Step, StepKind, finding, iso_time, tokens_from_usage

KIND = "recording"


def sniff(path: Path, head: bytes) -> bool:
    first = head.split(b"\n", 1)[0]
    return (
        path.name.endswith(".jsonl")
        and b'"input"' in first
        and b'"output"' in first
        and (b'"input_hash"' in first or b'"conversation_hash"' in first)
    )


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    """One session per file, named by the `session` key of its first call when there is one."""
    session_id = path.name.removesuffix(".jsonl")
    started = None
    for line in iter_lines(path, problems):
        record, _ = line.parse()
        if isinstance(record, dict):
            named = record.get("session")
            if isinstance(named, str) and named:
                session_id = named
            started = iso_time(record.get("ts"))
        break
    return [SessionInfo(KIND, path, session_id, title=path.name, started_at=started)]


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    """Steps in call order; `full_inputs` is moot here since every line holds its whole input."""
    del full_inputs
    index = count()
    seen_results: set[str] = set()
    parser = LineParser()
    history = _History()
    for line in iter_lines(info.path, sink.findings):
        record, error = _parse(parser, line)
        if error is not None:
            sink.findings.append(finding(codes.INVALID_JSON, info.path, line.ref, error))
            yield Step(next(index), StepKind.OPAQUE, name="broken line", source=line.ref, problem=error)
            continue
        shape = shape_problem(record, needs_key=False)
        if shape is not None:
            sink.findings.append(finding(codes.MALFORMED_RECORDING, info.path, line.ref, shape))
            yield Step(next(index), StepKind.OPAQUE, name="malformed call", source=line.ref, problem=shape, data=record)
            continue
        inputs: list[Any] = record["input"]
        fresh = history.advance(inputs)
        results = tool_results(fresh, seen_results)
        if results:
            calls = history.calls
            for call_id, data in results:
                yield tool_step(next(index), call_id, data, calls, line.ref)
        model, tokens = output_facts(record["output"])
        caller = record.get("caller")
        yield Step(
            next(index),
            StepKind.MODEL,
            caller=caller if isinstance(caller, str) else None,
            model=record["model"] if isinstance(record.get("model"), str) else model,
            input=inputs,
            output=record["output"],
            tokens=tokens_from_usage(record.get("usage")) or tokens,
            started_at=iso_time(record.get("ts")),
            recorded_keys={
                name: record[name]
                for name in ("input_hash", "conversation_hash")
                if isinstance(record.get(name), str) and HEX64.fullmatch(record[name])
            },
            source=line.ref,
        )


def _parse(parser: LineParser, line: Line) -> tuple[Any, str | None]:
    """`line.parse()`'s result, sharing the history with the lines before; its error message when it fails."""
    try:
        return parser.parse(line.text), None
    except (JsonError, RecursionError):
        return line.parse()


class _History:
    """The last input seen and the tool calls in it, advanced by what the next input adds.

    A call re-sends the previous call's messages (the very objects, shared by the
    parser) before its own, so only the new ones are scanned: a session of n calls
    costs O(n) message scans instead of O(n²).
    """

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.calls: dict[str, tuple[str, Any]] = {}

    def advance(self, messages: list[Any]) -> list[Any]:
        """The messages of `messages` not in the previous input's leading run; `calls` then indexes all of them."""
        previous = self.messages
        if len(messages) >= len(previous) and all(map(is_, previous, messages)):  # compared at C speed
            fresh = messages[len(previous) :]
        else:
            self.calls = {}
            fresh = messages
        self.calls.update(tool_call_index(fresh))
        self.messages = messages
        return fresh
