"""Recording reader (SPEC §5): one model call per JSONL line, with raw inputs.

Every complete line is read; a broken line (typically the last one, cut by a
crash mid-write) becomes a finding and does not hide the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.findings import Finding
from server.engine.jsonscan import JsonError, scan_value
from server.engine.normalize import HEX64
from server.engine.source import SourceText, Span


@dataclass(slots=True)
class RecordedCall:
    """One recorded model call: a line of a recording."""

    index: int
    line: int
    span: Span
    record: dict[str, Any]

    @property
    def caller(self) -> Any:
        return self.record.get("caller")

    @property
    def input(self) -> list[Any]:
        value = self.record.get("input")
        return value if isinstance(value, list) else []

    @property
    def output(self) -> Any:
        return self.record.get("output")

    @property
    def input_hash(self) -> str | None:
        return _hex(self.record.get("input_hash"))

    @property
    def conversation_hash(self) -> str | None:
        return _hex(self.record.get("conversation_hash"))


@dataclass(slots=True)
class Recording:
    path: Path
    source: SourceText
    calls: list[RecordedCall] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)


def _hex(value: Any) -> str | None:
    return value if isinstance(value, str) and HEX64.fullmatch(value) else None


def read_recording(path: Path, source: SourceText) -> Recording:
    recording = Recording(path=path, source=source)
    text = source.text
    if source.decode_problem is not None:
        problem = source.decode_problem
        recording.problems.append(
            Finding.at(codes.INVALID_JSON, path, source, Span(problem.offset, problem.offset + 1), problem.message)
        )
    starts = source.line_starts
    last_line = len(starts) - 1
    for line, start in enumerate(starts):
        end = starts[line + 1] if line < last_line else len(text)
        raw = text[start:end].rstrip("\r\n")
        if not raw.strip():
            continue
        span = Span(start, start + len(raw))
        try:
            record = _parse_line(raw)
        except JsonError as error:
            truncated = line == last_line and not text.endswith(("\n", "\r"))
            message = (
                f"truncated last line ({len(raw)} characters): the recording stopped mid-write; "
                "the lines before it are read"
                if truncated
                else f"invalid JSON on this line: {error.message}"
            )
            where = span if truncated else Span(start + error.offset, min(start + error.offset + 1, span.end))
            recording.problems.append(Finding.at(codes.INVALID_JSON, path, source, where, message))
            continue
        shape = _shape_problem(record)
        if shape is not None:
            recording.problems.append(Finding.at(codes.MALFORMED_RECORDING, path, source, span, shape))
            if not isinstance(record, dict):
                continue
        recording.calls.append(RecordedCall(len(recording.calls), line, span, record))
    return recording


def _parse_line(raw: str) -> Any:
    index = len(raw) - len(raw.lstrip())
    value, end = scan_value(raw, index)
    if raw[end:].strip():
        raise JsonError(end + (len(raw[end:]) - len(raw[end:].lstrip())), "Extra data after the JSON value")
    return value


def _shape_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"a recording line is a JSON object, not {type(record).__name__}"
    missing = [key for key in ("input", "output") if key not in record]
    if missing:
        return f"recorded call has no {' or '.join(repr(k) for k in missing)}"
    if not isinstance(record["input"], list):
        return "recorded 'input' is not a list of messages"
    if _hex(record.get("input_hash")) is None and _hex(record.get("conversation_hash")) is None:
        return "recorded call has no 64-hex 'input_hash' or 'conversation_hash': it cannot link to a fixture turn"
    return None
