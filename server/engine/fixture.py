"""Fixture reader (SPEC §3): turns with exact source spans, tolerant of broken JSON.

Every top-level member and every member of every turn is located. When the
document is invalid mid-edit, the syntax error becomes an `invalid-json`
finding at its place, and the reader resynchronizes on the next turn that
starts at the same indentation, so the turns that still parse are checked.
"""

from __future__ import annotations

import contextlib
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from server.engine import findings as codes
from server.engine.findings import Finding
from server.engine.jsonscan import JsonError, Member, parse_members, read_members, scan_value, skip_ws
from server.engine.outputs import output_problem
from server.engine.source import SourceText, Span

_TURNS_KEY = re.compile(r'"turns"\s*:\s*\[')


class TurnMemo(Protocol):
    """What a check found of one turn (`server.engine.checks`), carried to the turn's next version."""

    def shifted(self, delta: int, lines: int) -> TurnMemo:
        """The same findings `delta` characters and `lines` lines further down (columns unchanged)."""


@dataclass(slots=True)
class Turn:
    """One fixture turn: its members by key, located.

    The value of `output` is not kept (outputs are most of a fixture's memory):
    `output_problem` says what a check needs of it, `Fixture.output` reads it again.
    """

    index: int
    span: Span
    members: dict[str, Member]
    broken: bool = False
    output_problem: str | None = None
    checked: TurnMemo | None = field(default=None, compare=False, repr=False)
    """The last check's findings of this turn, reused while the turn, the rules and its link are the same."""

    def value(self, key: str) -> Any:
        member = self.members.get(key)
        return member.value if member is not None else None

    def span_of(self, key: str) -> Span:
        """The value span of `key`, or the whole turn when it is missing."""
        member = self.members.get(key)
        return member.span if member is not None else self.head

    @property
    def head(self) -> Span:
        """The turn's opening brace: a compact anchor for turn-wide findings."""
        return Span(self.span.start, self.span.start + 1)

    @property
    def is_legacy(self) -> bool:
        return "caller" not in self.members and "conversation_hash" not in self.members

    @property
    def caller(self) -> Any:
        return self.value("caller")

    @property
    def input_hash(self) -> Any:
        return self.value("input_hash")

    @property
    def conversation_hash(self) -> Any:
        return self.value("conversation_hash")


@dataclass(slots=True)
class Fixture:
    """A parsed fixture document."""

    path: Path
    source: SourceText
    turns: list[Turn] = field(default_factory=list)
    top: dict[str, Member] = field(default_factory=dict)
    problems: list[Finding] = field(default_factory=list)

    @property
    def parsed_cleanly(self) -> bool:
        """True when nothing about the file's syntax or encoding is in doubt (safe to rewrite)."""
        return not any(p.code is codes.INVALID_JSON for p in self.problems)

    def output(self, turn: Turn) -> Any:
        """The value of the turn's `output` (read again from the text), or None when it has none."""
        member = turn.members.get("output")
        return None if member is None else scan_value(self.source.text, member.span.start)[0]

    def turn_at(self, offset: int) -> Turn | None:
        for turn in self.turns:
            if turn.span.contains(offset):
                return turn
        return None


def read_fixture(path: Path, source: SourceText) -> Fixture:
    fixture = Fixture(path=path, source=source)
    if source.decode_problem is not None:
        problem = source.decode_problem
        fixture.problems.append(
            _problem(fixture, codes.INVALID_JSON, Span(problem.offset, problem.offset + 1), problem.message)
        )
    _Walker(fixture).walk()
    return fixture


def reread_fixture(old: Fixture, text: str, prefix: int, suffix: int) -> Fixture | None:
    """`old` after an edit inside one of its turns, re-reading only that turn; None to read it whole.

    `text` is the new text: its first `prefix` and last `suffix` characters are
    unchanged from `old`'s. A keystroke in a 20 MB fixture re-reads a few
    kilobytes instead of every turn; later turns keep their values and shift
    their spans. Anything less simple (a problem in `old`, an edit that touches a
    turn's braces or spans two turns, a turn that no longer parses) returns None,
    and the whole read (with its error recovery) takes over.
    """
    delta = len(text) - len(old.source.text)
    start, old_end = prefix, len(old.source.text) - suffix
    if old.problems or start > old_end or old_end + delta < start:
        return None
    position = bisect_right([turn.span.start for turn in old.turns], start) - 1
    if position < 0:
        return None
    turn = old.turns[position]
    if turn.broken or not turn.members or not (turn.span.start < start and old_end < turn.span.end):
        return None
    try:
        members, end = parse_members(text, turn.span.start)
    except JsonError:
        return None
    if end != turn.span.end + delta:
        return None
    source = old.source.edited(text, start, old_end)
    fixture = Fixture(path=old.path, source=source, problems=[])
    # A later turn keeps its check's findings, moved, when it starts on a line after the edit's last one
    # (its columns are unchanged); line breaks are counted as `\n` only, so a `\r` anywhere keeps none
    # (an index shifted by `edited` says there is none without a pass over the text).
    old_text = old.source.text
    lines = text.count("\n", start, old_end + delta) - old_text.count("\n", start, old_end)
    plain = source.indexed or ("\r" not in old_text and "\r" not in text[start : old_end + delta])
    line_after = old_text.find("\n", old_end) if plain else -1
    fixture.turns = [
        *old.turns[:position],
        _turn(turn.index, Span(turn.span.start, end), members),
        *(_shifted_turn(later, delta, lines, line_after) for later in old.turns[position + 1 :]),
    ]
    fixture.top = {key: _shifted(member, delta, start) for key, member in old.top.items()}
    return fixture


def _turn(index: int, span: Span, members: list[Member]) -> Turn:
    """A turn read whole: its output judged, then let go."""
    by_key = {member.key: member for member in members}
    output = by_key.get("output")
    if output is None:
        return Turn(index, span, by_key)
    by_key["output"] = Member(output.key, output.key_span, None, output.span)
    return Turn(index, span, by_key, output_problem=output_problem(output.value))


def _shifted_turn(turn: Turn, delta: int, lines: int, line_after: int) -> Turn:
    """`turn`, after an edit before it that added `delta` characters and `lines` lines.

    `line_after` is where the line holding the edit's end ends (-1: no findings
    move): a turn starting past it keeps its findings, moved.
    """
    if not delta and not lines and line_after >= 0:
        return turn
    members = {key: _shifted(member, delta, -1) for key, member in turn.members.items()}
    memo = turn.checked
    moved = memo.shifted(delta, lines) if memo is not None and 0 <= line_after < turn.span.start else None
    return Turn(turn.index, _shift(turn.span, delta, -1), members, turn.broken, turn.output_problem, moved)


def _shifted(member: Member, delta: int, after: int) -> Member:
    """`member` with the offsets past `after` moved by `delta` (a member holding the edit grows)."""
    if not delta or member.span.end <= after:
        return member
    return Member(member.key, _shift(member.key_span, delta, after), member.value, _shift(member.span, delta, after))


def _shift(span: Span, delta: int, after: int) -> Span:
    def moved(offset: int) -> int:
        return offset + delta if offset > after else offset

    return Span(moved(span.start), moved(span.end))


def _problem(fixture: Fixture, code: codes.Code, span: Span, message: str) -> Finding:
    return Finding.at(code, fixture.path, fixture.source, span, message)


class _Walker:
    def __init__(self, fixture: Fixture) -> None:
        self.fixture = fixture
        self.text = fixture.source.text
        self.turns_seen = False

    def syntax_error(self, error: JsonError) -> None:
        end = min(error.offset + 1, len(self.text))
        span = Span(error.offset, max(end, error.offset))
        self.fixture.problems.append(_problem(self.fixture, codes.INVALID_JSON, span, f"invalid JSON: {error.message}"))

    def walk(self) -> None:
        text = self.text
        start = skip_ws(text, 0)
        if start >= len(text):
            self.fixture.problems.append(
                _problem(
                    self.fixture,
                    codes.MALFORMED_FIXTURE,
                    Span(0, 0),
                    "empty file: a fixture is a JSON object with 'turns'",
                )
            )
            return
        if text[start] != "{":
            self.not_an_object(start)
            return
        try:
            end = self.walk_top(start)
            trailing = skip_ws(text, end)
            if trailing < len(text):
                self.syntax_error(JsonError(trailing, "Extra data after the fixture object"))
        except JsonError as error:
            self.syntax_error(error)
            if not self.turns_seen:
                self.recover_turns(error.offset)
        except _AbandonedError:
            pass
        if not self.turns_seen and self.fixture.parsed_cleanly:
            self.fixture.problems.append(
                _problem(
                    self.fixture,
                    codes.MALFORMED_FIXTURE,
                    Span(start, start + 1),
                    "fixture has no 'turns' array",
                )
            )

    def not_an_object(self, start: int) -> None:
        try:
            value, end = scan_value(self.text, start)
        except JsonError as error:
            self.syntax_error(error)
            return
        kind = _json_kind(value)
        self.fixture.problems.append(
            _problem(
                self.fixture,
                codes.MALFORMED_FIXTURE,
                Span(start, end),
                f"top level is {kind}: a fixture is a JSON object with a 'turns' array",
            )
        )

    def walk_top(self, start: int) -> int:
        """Walk the top-level object; its `turns` array is walked turn by turn."""
        members: list[Member] = []
        try:
            return read_members(self.text, start, members, {"turns": self.turns_value})
        finally:  # what was read before a syntax error is kept
            self.fixture.top.update((member.key, member) for member in members)

    def turns_value(self, text: str, index: int) -> tuple[Any, int]:
        self.turns_seen = True
        if index < len(text) and text[index] == "[":
            return None, self.walk_turns(index)
        value, end = scan_value(text, index)
        message = f"'turns' is {_json_kind(value)}, not an array"
        self.fixture.problems.append(_problem(self.fixture, codes.MALFORMED_FIXTURE, Span(index, end), message))
        return value, end

    def walk_turns(self, start: int) -> int:
        """Walk the turns array at `start`; recover inside it on syntax errors."""
        text = self.text
        index = skip_ws(text, start + 1)
        if index < len(text) and text[index] == "]":
            return index + 1
        while True:
            turn_start = index
            turns_before = len(self.fixture.turns)
            try:
                index = self.read_turn(index)
                index = skip_ws(text, index)
                if index < len(text) and text[index] == ",":
                    index = skip_ws(text, index + 1)
                    continue
                if index < len(text) and text[index] == "]":
                    return index + 1
                raise JsonError(index, "Expecting ',' delimiter or ']'")
            except JsonError as error:
                self.syntax_error(error)
                if len(self.fixture.turns) == turns_before:
                    # The broken turn keeps its index so later turns keep theirs.
                    broken = Turn(turns_before, Span(turn_start, max(error.offset, turn_start)), {}, broken=True)
                    self.fixture.turns.append(broken)
                resumed = self.next_turn_start(error.offset)
                if resumed is None:
                    raise _AbandonedError from None
                index = resumed

    def read_turn(self, start: int) -> int:
        turn_index = len(self.fixture.turns)
        if start < len(self.text) and self.text[start] != "{":
            value, end = scan_value(self.text, start)
            self.fixture.problems.append(
                _problem(
                    self.fixture,
                    codes.MALFORMED_FIXTURE,
                    Span(start, end),
                    f"turn {turn_index} is {_json_kind(value)}, not an object",
                )
            )
            self.fixture.turns.append(Turn(turn_index, Span(start, end), {}))
            return end
        members, end = parse_members(self.text, start)
        self.fixture.turns.append(_turn(turn_index, Span(start, end), members))
        return end

    def next_turn_start(self, after: int) -> int | None:
        """The next `{` that opens a line at the indentation of the turns seen so far."""
        indent = self.turn_indent()
        pattern = re.compile(r"\n(" + re.escape(indent) + r")\{" if indent is not None else r"\n([ \t]*)\{")
        match = pattern.search(self.text, after)
        return match.end() - 1 if match else None

    def turn_indent(self) -> str | None:
        for turn in self.fixture.turns:
            line_start = self.text.rfind("\n", 0, turn.span.start) + 1
            prefix = self.text[line_start : turn.span.start]
            if prefix.strip() == "":
                return prefix
        return None

    def recover_turns(self, after: int) -> None:
        """The top level broke before 'turns': find the array by its key and walk it."""
        match = _TURNS_KEY.search(self.text, after) or _TURNS_KEY.search(self.text)
        if match is None:
            return
        self.turns_seen = True
        with contextlib.suppress(_AbandonedError):
            self.walk_turns(match.end() - 1)


class _AbandonedError(Exception):
    """Raised when no later turn could be found after a syntax error: reading stops there."""


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"
