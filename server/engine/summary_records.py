"""The typed records of a recording summary (`summary`), and their JSON: the cache's form and the child processes'.

Python code sees only these records. Each turns into JSON and back in one
place (`to_json`, `from_json`): the JSON stays positional where it repeats (a
call is a list of ten fields, and a 1 GB recording's summary holds millions of
them), and JSON that is not what `to_json` writes raises `SummaryError`: a
cache or a child's answer is checked, never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.findings import Finding, Severity
from server.engine.normalize import HEX64, Keys
from server.engine.source import Position, Range, Span
from server.engine.volatile import DETECTOR_NAMED

FORMAT = 2
"""The summary's JSON format (in the cache's fingerprint: a new one only misses)."""


class SummaryError(ValueError):
    """A summary that does not have the shape `to_json` writes: never trusted."""


_BAD_SHAPE = (KeyError, IndexError, TypeError, ValueError, AttributeError)
"""What reading JSON of another shape raises on the way: each a `SummaryError`."""


@dataclass(frozen=True, slots=True)
class CallSummary:
    """What a check needs of one recorded call."""

    index: int
    line: int
    span: Span
    range: Range
    caller: str | None
    """The recorded caller, when it is a string."""
    input_hash: str | None
    """The recorded 64-hex keys (None when absent or not 64-hex), as `RecordedCall` validates them."""
    conversation_hash: str | None
    keys: Keys | str
    """The call's keys under the rules (without their canonical text), or why its input has none."""
    output_digest: str
    stored: tuple[int, int, int]
    """Where its line is read back: the byte offsets of the `\\n`-terminated piece of the file it is in, and
    where the line starts in that piece's text (`RecordedCall.stored`)."""

    def to_json(self) -> list[Any]:
        keys = (
            [self.keys.caller, self.keys.conversation_hash, self.keys.input_hash]
            if isinstance(self.keys, Keys)
            else self.keys
        )
        return [
            self.index,
            self.line,
            [self.span.start, self.span.end],
            range_json(self.range),
            self.caller,
            self.input_hash,
            self.conversation_hash,
            keys,
            self.output_digest,
            list(self.stored),
        ]

    @classmethod
    def from_json(cls, item: Any) -> CallSummary:
        index, line, span, where, caller, input_hash, conversation_hash, keys, digest, stored = item
        if isinstance(keys, str):
            computed: Keys | str = keys
        else:
            caller_key, conversation_key, input_key = keys
            computed = Keys(_str(caller_key), _hex64(conversation_key), _hex64(input_key))
        piece_start, piece_end, line_start = stored
        return cls(
            _int(index),
            _int(line),
            span_from_json(span),
            range_from_json(where),
            None if caller is None else _str(caller),
            None if input_hash is None else _hex64(input_hash),
            None if conversation_hash is None else _hex64(conversation_hash),
            computed,
            _str(digest),
            (_int(piece_start), _int(piece_end), _int(line_start)),
        )

    def shifted(self, calls: int, lines: int, chars: int) -> CallSummary:
        """This call of a part, placed after `calls` calls, `lines` lines and `chars` characters of the file."""
        return replace(
            self,
            index=self.index + calls,
            line=self.line + lines,
            span=Span(self.span.start + chars, self.span.end + chars),
            range=shifted_range(self.range, lines),
        )


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    """What a check needs of a recording: its calls, the findings that depend on it alone, and for each volatile
    finding the text around it that masking reads (`contexts`, in the same order)."""

    calls: list[CallSummary]
    problems: list[Finding]
    volatile: list[Finding]
    contexts: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "calls": [call.to_json() for call in self.calls],
            "problems": [finding_json(finding) for finding in self.problems],
            "volatile": [finding_json(finding) for finding in self.volatile],
            "contexts": self.contexts,
        }

    @classmethod
    def from_json(cls, path: Path, item: Any) -> RecordingSummary:
        """The summary of the recording at `path` that `item` (`to_json`'s) holds."""
        try:
            if item["format"] != FORMAT:
                raise SummaryError(f"summary format {item['format']!r}")
            calls = [CallSummary.from_json(call) for call in _list(item["calls"])]
            summary = cls(
                calls,
                [finding_from_json(path, finding) for finding in _list(item["problems"])],
                [finding_from_json(path, finding) for finding in _list(item["volatile"])],
                [_str(context) for context in _list(item["contexts"])],
            )
        except _BAD_SHAPE as exc:
            raise SummaryError(f"not a recording summary: {exc!r}") from None
        for index, call in enumerate(calls):
            if call.index != index:
                raise SummaryError(f"call {call.index} where call {index} belongs")
        if len(summary.contexts) != len(summary.volatile):
            raise SummaryError("one context per volatile finding")
        return summary


@dataclass(frozen=True, slots=True)
class FirstVolatile:
    """A volatile text of a part of a recording: the call that first shows it, in how many calls of the part it
    is, and where it first is (with the text around it)."""

    text: str
    detector: str
    """The `Detector` that found it, by name (`volatile.DETECTOR_NAMED`)."""
    call: int
    seen: int
    span: Span
    range: Range
    context: str

    def to_json(self) -> list[Any]:
        span = [self.span.start, self.span.end]
        return [self.text, self.detector, self.call, self.seen, span, range_json(self.range), self.context]

    @classmethod
    def from_json(cls, item: Any) -> FirstVolatile:
        text, detector, call, seen, span, where, context = item
        if detector not in DETECTOR_NAMED:
            raise SummaryError(f"no detector {detector!r}")
        return cls(
            _str(text), detector, _int(call), _int(seen), span_from_json(span), range_from_json(where), _str(context)
        )


@dataclass(frozen=True, slots=True)
class Part:
    """The summary of whole lines of a recording, in places relative to where they start (`summary._joined`
    shifts them into place): what a child process summarizing part of a big file sends back."""

    calls: list[CallSummary]
    problems: list[Finding]
    decode_problem: Finding | None
    """The part's first byte that is not UTF-8 (the file's first is the one reported)."""
    volatile: list[FirstVolatile]
    lines: int
    chars: int

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": [call.to_json() for call in self.calls],
            "problems": [finding_json(finding) for finding in self.problems],
            "decode_problem": None if self.decode_problem is None else finding_json(self.decode_problem),
            "volatile": [first.to_json() for first in self.volatile],
            "lines": self.lines,
            "chars": self.chars,
        }

    @classmethod
    def from_json(cls, path: Path, item: Any) -> Part:
        """The part of the recording at `path` that `item` (`to_json`'s) holds."""
        try:
            decode_problem = item["decode_problem"]
            return cls(
                [CallSummary.from_json(call) for call in _list(item["calls"])],
                [finding_from_json(path, finding) for finding in _list(item["problems"])],
                None if decode_problem is None else finding_from_json(path, decode_problem),
                [FirstVolatile.from_json(first) for first in _list(item["volatile"])],
                _int(item["lines"]),
                _int(item["chars"]),
            )
        except _BAD_SHAPE as exc:
            raise SummaryError(f"not a part of a recording summary: {exc!r}") from None


def shifted_finding(finding: Finding, lines: int, chars: int) -> Finding:
    """`finding` of a part, placed after `lines` lines and `chars` characters of the file."""
    span = Span(finding.span.start + chars, finding.span.end + chars)
    return replace(finding, range=shifted_range(finding.range, lines), span=span)


def shifted_range(place: Range, lines: int) -> Range:
    """`place` in a part, placed after `lines` lines of the file."""
    return Range(
        Position(place.start.line + lines, place.start.character), Position(place.end.line + lines, place.end.character)
    )


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code.name,
        "severity": int(finding.severity),
        "range": range_json(finding.range),
        "span": [finding.span.start, finding.span.end],
        "message": finding.message,
        "data": finding.data,
    }


def finding_from_json(path: Path, item: Any) -> Finding:
    data = item["data"]
    if not isinstance(data, dict):
        raise SummaryError("finding data is not an object")
    return Finding(
        code=codes.CODES[item["code"]],
        path=path,
        range=range_from_json(item["range"]),
        span=span_from_json(item["span"]),
        message=_str(item["message"]),
        severity=Severity(item["severity"]),
        data=data,
    )


def range_json(where: Range) -> list[int]:
    return [where.start.line, where.start.character, where.end.line, where.end.character]


def range_from_json(item: Any) -> Range:
    start_line, start_character, end_line, end_character = (_int(value) for value in item)
    return Range(Position(start_line, start_character), Position(end_line, end_character))


def span_from_json(item: Any) -> Span:
    start, end = item
    return Span(_int(start), _int(end))


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise SummaryError(f"{value!r} is not a list")
    return value


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise SummaryError(f"{value!r} is not an offset")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise SummaryError(f"{value!r} is not a string")
    return value


def _hex64(value: Any) -> str:
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        raise SummaryError(f"{value!r} is not a key")
    return value
