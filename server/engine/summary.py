"""What a check needs of a recording, as plain JSON data, and the recording it stands for.

A recording's raw inputs are most of its bytes, but a check only needs each
call's place, recorded keys, current keys and output digest, plus the findings
that depend on the recording alone. `summarize` keeps exactly that;
`from_summary` gives back a *summary recording*: a `Recording` whose calls carry
no input or output, which `check` treats like the parsed one (its keys, link
tables and volatile findings are already in `derived`). Readers that need the
inputs (hover, replay, sessions) read the file itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.checks import output_digest, recording_keys, recording_volatile, volatile_memo_key
from server.engine.config import Config
from server.engine.findings import Finding, Severity
from server.engine.normalize import HEX64, InputShapeError, Keys, Normalizer
from server.engine.recording import RecordedCall, Recording
from server.engine.secrets import finding_context
from server.engine.source import Position, Range, SourceText, Span

FORMAT = 1


class SummaryError(ValueError):
    """A summary that does not have the shape `summarize` writes: never trusted."""


def summarize(recording: Recording, config: Config) -> dict[str, Any]:
    """The JSON-safe summary of a parsed recording under `config`'s rules and allowed volatile text."""
    normalizer = Normalizer(config.rules)
    source = recording.source
    calls = []
    for call, computed in zip(recording.calls, recording_keys(recording, normalizer), strict=True):
        keys: list[str] | str = (
            [computed.caller, computed.conversation_hash, computed.input_hash]
            if isinstance(computed, Keys)
            else str(computed)
        )
        calls.append(
            [
                call.index,
                call.line,
                [call.span.start, call.span.end],
                _range_json(source.range(call.span)),
                call.caller if isinstance(call.caller, str) else None,
                call.input_hash,
                call.conversation_hash,
                keys,
                output_digest(call.output),
            ]
        )
    volatile = recording_volatile(recording, config)
    return {
        "format": FORMAT,
        "calls": calls,
        "problems": [_finding_json(finding) for finding in recording.problems],
        "volatile": [_finding_json(finding) for finding in volatile],
        "contexts": [finding_context(source, finding.span) for finding in volatile],
    }


def from_summary(path: Path, summary: Any, config: Config) -> Recording:
    """The summary recording of `path`; raises `SummaryError` when `summary` is not what `summarize` wrote."""
    try:
        return _rebuild(path, summary, config)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise SummaryError(f"not a recording summary: {exc!r}") from None


def _rebuild(path: Path, summary: Any, config: Config) -> Recording:
    if summary["format"] != FORMAT:
        raise SummaryError(f"summary format {summary['format']!r}")
    recording = Recording(path=path, source=SourceText(""))
    keys: list[Keys | InputShapeError] = []
    digests: list[str] = []
    for index, (
        position,
        line,
        span,
        where,
        caller,
        input_hash,
        conversation_hash,
        computed,
        digest,
    ) in enumerate(summary["calls"]):
        if position != index:
            raise SummaryError(f"call {position} where call {index} belongs")
        record = {"caller": caller, "input_hash": _hex(input_hash), "conversation_hash": _hex(conversation_hash)}
        call = RecordedCall(index, _int(line), Span(_int(span[0]), _int(span[1])), record, _range(where))
        recording.calls.append(call)
        if isinstance(computed, str):
            keys.append(InputShapeError(computed))
        else:
            caller_key, conversation_key, input_key = computed
            keys.append(Keys(_str(caller_key), _hex64(conversation_key), _hex64(input_key)))
        digests.append(_str(digest))
    recording.problems = [_finding(path, item) for item in summary["problems"]]
    volatile = [_finding(path, item) for item in summary["volatile"]]
    contexts = [_str(context) for context in summary["contexts"]]
    if len(contexts) != len(volatile):
        raise SummaryError("one context per volatile finding")
    recording.derived.update(
        {
            f"keys:{config.rules.fingerprint()}": keys,
            volatile_memo_key(config): volatile,
            "output-digests": digests,
            "contexts": {finding.span: context for finding, context in zip(volatile, contexts, strict=True)},
        }
    )
    return recording


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code.name,
        "severity": int(finding.severity),
        "range": _range_json(finding.range),
        "span": [finding.span.start, finding.span.end],
        "message": finding.message,
        "data": finding.data,
    }


def _finding(path: Path, item: dict[str, Any]) -> Finding:
    data = item["data"]
    if not isinstance(data, dict):
        raise SummaryError("finding data is not an object")
    return Finding(
        code=codes.CODES[item["code"]],
        path=path,
        range=_range(item["range"]),
        span=Span(_int(item["span"][0]), _int(item["span"][1])),
        message=_str(item["message"]),
        severity=Severity(item["severity"]),
        data=data,
    )


def _range_json(where: Range) -> list[int]:
    return [where.start.line, where.start.character, where.end.line, where.end.character]


def _range(item: list[Any]) -> Range:
    start_line, start_character, end_line, end_character = (_int(value) for value in item)
    return Range(Position(start_line, start_character), Position(end_line, end_character))


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise SummaryError(f"{value!r} is not an offset")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise SummaryError(f"{value!r} is not a string")
    return value


def _hex(value: Any) -> str | None:
    return None if value is None else _hex64(value)


def _hex64(value: Any) -> str:
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        raise SummaryError(f"{value!r} is not a key")
    return value
