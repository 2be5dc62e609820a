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
from server.engine.jsonscan import JsonError, Member, read_members, scan_value, skip_ws
from server.engine.normalize import HEX64, InputShapeError, Keys
from server.engine.source import Range, SourceText, Span


@dataclass(slots=True)
class RecordedCall:
    """One recorded model call: a line of a recording."""

    index: int
    line: int
    span: Span
    record: dict[str, Any]
    range: Range | None = None
    """Its LSP range, for a call of a summary recording (which has no text to compute it from)."""
    stored: tuple[int, int, int] | None = None
    """For a call of a summary recording, where to read its line back: the byte offsets of the
    `\n`-terminated piece of the file it is in, and where the line starts in that piece's text."""
    input_hash: str | None = field(init=False)
    """The recorded 64-hex `input_hash` (None when absent or not 64-hex), validated once: checks read it often."""
    conversation_hash: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.input_hash = _hex(self.record.get("input_hash"))
        self.conversation_hash = _hex(self.record.get("conversation_hash"))

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


@dataclass(slots=True)
class Link:
    """A fixture turn's recorded call: the call and the recording it is in."""

    recording: Recording
    call: RecordedCall


LinkTable = dict[str, list[Link]]
"""A recording's calls by one kind of key (or by output digest), in recording order."""


@dataclass(frozen=True, slots=True)
class LinkTables:
    """A recording's calls by each key a fixture turn may link by (`checks._CallIndex`)."""

    recorded_input: LinkTable
    recorded_conversation: LinkTable
    current_input: LinkTable
    current_conversation: LinkTable


@dataclass(slots=True)
class Derived:
    """What `check` computes from one parsed recording, kept on it.

    A parsed recording never changes, so a server that re-checks a project after
    each edit recomputes nothing for the recordings that were not edited. What
    depends on the rules is kept by their fingerprint.
    """

    keys: dict[str, list[Keys | InputShapeError]] = field(default_factory=dict)
    """Each call's keys, by the rules' fingerprint (`checks.recording_keys`)."""
    links: dict[str, LinkTables] = field(default_factory=dict)
    """The calls by recorded and by current keys, by the rules' fingerprint."""
    volatile: dict[str, list[Finding]] = field(default_factory=dict)
    """The volatile-text findings, by the rules' fingerprint and the allowed text (`checks.volatile_memo_key`)."""
    outputs: LinkTable | None = None
    """The calls by output digest (built only when a turn links by neither key)."""
    output_digests: list[str] | None = None
    """A summary recording's output digests, one per call (its calls keep no output to digest)."""
    contexts: dict[Span, str] = field(default_factory=dict)
    """A summary recording's text around each volatile finding, by the finding's span: what masking reads
    (the recording has no text to read it in)."""


@dataclass(slots=True)
class Recording:
    path: Path
    source: SourceText
    calls: list[RecordedCall] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    summary: bool = False
    """A summary recording: calls without inputs or outputs, no text (see `summary.from_summary`)."""
    derived: Derived = field(default_factory=Derived, repr=False, compare=False)
    """Results computed from this parsed recording, kept on it (see `Derived`)."""


def _hex(value: Any) -> str | None:
    return value if isinstance(value, str) and HEX64.fullmatch(value) else None


LineProblem = tuple[codes.Code, int, int, str]
"""A problem of one line: its code, where it starts and ends in the line, its message."""


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
    parser = LineParser()
    for line, start in enumerate(starts):
        end = starts[line + 1] if line < last_line else len(text)
        raw = text[start:end].rstrip("\r\n")
        if not raw.strip():
            continue
        truncated = line == last_line and not text.endswith(("\n", "\r"))
        record, line_problem = read_line(parser, raw, truncated=truncated)
        if line_problem is not None:
            code, low, high, message = line_problem
            recording.problems.append(Finding.at(code, path, source, Span(start + low, start + high), message))
        if record is not None:
            recording.calls.append(RecordedCall(len(recording.calls), line, Span(start, start + len(raw)), record))
    return recording


def read_line(parser: LineParser, raw: str, *, truncated: bool) -> tuple[dict[str, Any] | None, LineProblem | None]:
    """One non-blank recording line: the recorded call it holds (None if none), and its problem."""
    try:
        record = parser.parse(raw)
    except JsonError as error:
        if truncated:
            message = (
                f"truncated last line ({len(raw)} characters): the recording stopped mid-write; "
                "the lines before it are read"
            )
            return None, (codes.INVALID_JSON, 0, len(raw), message)
        where = (error.offset, min(error.offset + 1, len(raw)))
        return None, (codes.INVALID_JSON, *where, f"invalid JSON on this line: {error.message}")
    shape = shape_problem(record)
    problem = None if shape is None else (codes.MALFORMED_RECORDING, 0, len(raw), shape)
    return (record if isinstance(record, dict) else None), problem


class LineParser:
    """Parse recording lines, sharing the input messages a line re-sends from a recent one.

    Each call's `input` repeats an earlier call's messages byte for byte before
    adding its own. Those bytes are compared (at C speed) instead of parsed again,
    and the same message objects are reused: memory holds each message once, and
    `KeyChain` recognizes the shared history by identity.
    """

    def __init__(self, width: int = 4) -> None:
        self.width = width
        self.recent: list[_Array] = []

    def parse(self, raw: str) -> Any:
        index = skip_ws(raw, 0)
        if index < len(raw) and raw[index] == "{":
            members: list[Member] = []
            end = read_members(raw, index, members, {"input": self._input})
            value: Any = {member.key: member.value for member in members}
        else:
            value, end = scan_value(raw, index)
        rest = skip_ws(raw, end)
        if rest < len(raw):
            raise JsonError(rest, "Extra data after the JSON value")
        return value

    def _input(self, text: str, index: int) -> tuple[Any, int]:
        if index >= len(text) or text[index] != "[":
            return scan_value(text, index)
        messages, ends = self._shared(text, index)
        position = skip_ws(text, index + ends[-1] if ends else index + 1)
        if not messages and position < len(text) and text[position] != "]":
            value, position = scan_value(text, position)
            messages.append(value)
            ends.append(position - index)
            position = skip_ws(text, position)
        while position < len(text) and text[position] == ",":
            value, position = scan_value(text, skip_ws(text, position + 1))
            messages.append(value)
            ends.append(position - index)
            position = skip_ws(text, position)
        if position >= len(text) or text[position] != "]":
            raise JsonError(position, "Expecting ',' delimiter or ']'")
        if messages:
            self.recent.insert(0, _Array(text[index : index + ends[-1]], messages, ends))
            del self.recent[self.width :]
        return messages, position + 1

    def _shared(self, text: str, index: int) -> tuple[list[Any], list[int]]:
        """The longest run of leading messages this array shares, byte for byte, with a recent one."""
        best: tuple[_Array, int] | None = None
        for array in self.recent:
            if best is not None and len(array.messages) <= best[1]:
                continue  # it cannot share more than the best found (each try compares up to the whole history)
            count = array.shared_with(text, index)
            if count and (best is None or count > best[1]):
                best = (array, count)
        if best is None:
            return [], []
        array, count = best
        return array.messages[:count], array.ends[:count]


@dataclass(slots=True)
class _Array:
    """A recent input array: its text up to its last message, the messages, and where each ends."""

    text: str
    messages: list[Any]
    ends: list[int]

    def shared_with(self, text: str, index: int) -> int:
        """How many leading messages `text[index:]` repeats exactly (each ending on a `,` or `]`)."""

        def repeats(count: int) -> bool:
            end = self.ends[count - 1]
            if not text.startswith(self.text[:end] if end < len(self.text) else self.text, index):
                return False
            after = skip_ws(text, index + end)
            return after < len(text) and text[after] in ",]"

        if repeats(len(self.ends)):
            return len(self.ends)
        low, high = 0, len(self.ends) - 1  # invariant: `low` messages repeat, `high + 1` do not
        while low < high:
            middle = (low + high + 1) // 2
            if repeats(middle):
                low = middle
            else:
                high = middle - 1
        return low


def shape_problem(record: Any, *, needs_key: bool = True) -> str | None:
    """Why a parsed line is not a recorded call (or, with `needs_key`, cannot link to a turn)."""
    if not isinstance(record, dict):
        return f"a recording line is a JSON object, not {type(record).__name__}"
    missing = [key for key in ("input", "output") if key not in record]
    if missing:
        return f"recorded call has no {' or '.join(repr(k) for k in missing)}"
    if not isinstance(record["input"], list):
        return "recorded 'input' is not a list of messages"
    if needs_key and _hex(record.get("input_hash")) is None and _hex(record.get("conversation_hash")) is None:
        return "recorded call has no 64-hex 'input_hash' or 'conversation_hash': it cannot link to a fixture turn"
    return None
