"""Checks: link recordings to fixture turns, recompute keys and produce findings.

Pure functions over parsed documents; no I/O. The result keeps a report per
turn (status, recomputed keys, linked call) so adapters can show lenses, hovers
and fixes without recomputing anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.capture_files import any_capture
from server.engine.config import Config
from server.engine.findings import Finding
from server.engine.fixture import Fixture, Turn
from server.engine.normalize import HEX64, InputShapeError, KeyChain, Keys, Normalizer, RuleTimeoutError
from server.engine.outputs import output_digest
from server.engine.recording import Link, LinkTable, LinkTables, RecordedCall, Recording
from server.engine.source import Position, Range, Span
from server.engine.volatile import VolatileMatch, not_allowed, scan


class TurnStatus(StrEnum):
    VALID = "valid"
    STALE = "stale"
    UNVERIFIABLE = "unverifiable"
    MISMATCH = "caller-key-mismatch"
    MALFORMED = "malformed"
    MISSED = "missed"
    """No recording links it, and a captured call missed with this turn as its nearest (see replay.captures)."""
    UNUSED = "unused"
    """No recording links it, and the captured test run that replays its fixture never consumed it."""


@dataclass(slots=True)
class TurnReport:
    turn: Turn
    status: TurnStatus
    link: Link | None = None
    keys: Keys | None = None

    @property
    def rehash(self) -> dict[str, str] | None:
        """The new key values when the turn is stale (what a rehash writes)."""
        if self.status is not TurnStatus.STALE or self.keys is None:
            return None
        if self.turn.is_legacy:
            return {"input_hash": self.keys.conversation_hash}
        return {
            "caller": self.keys.caller,
            "conversation_hash": self.keys.conversation_hash,
            "input_hash": self.keys.input_hash,
        }


@dataclass(slots=True)
class FixtureReport:
    fixture: Fixture
    turns: list[TurnReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    output_digests: dict[int, str] = field(default_factory=dict)
    """The output digest of each turn that linking asked for (a turn neither key linked): kept with a cached
    report, so the next run can tell whether the same outputs still link to the same calls."""

    def count(self, status: TurnStatus) -> int:
        return sum(1 for report in self.turns if report.status is status)


@dataclass(slots=True)
class RecordingReport:
    recording: Recording
    findings: list[Finding] = field(default_factory=list)
    linked: dict[int, list[tuple[Fixture, Turn]]] = field(default_factory=dict)


@dataclass(slots=True)
class CheckResult:
    fixtures: list[FixtureReport]
    recordings: list[RecordingReport]
    problems: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        every: list[Finding] = list(self.problems)
        for fixture_report in self.fixtures:
            every.extend(fixture_report.findings)
        for recording_report in self.recordings:
            every.extend(recording_report.findings)
        return sorted(every, key=codes.sort_key)


def turn_key(turn: Turn) -> str | None:
    value = turn.input_hash
    return value if isinstance(value, str) and HEX64.fullmatch(value) else None


def _key_of(turn: Turn) -> str | None:
    """`turn_key(turn)`, as the check of its fixture kept it."""
    kept = turn.checked
    return kept.key if isinstance(kept, TurnCheck) else turn_key(turn)


def check(
    fixtures: Sequence[Fixture],
    recordings: Sequence[Recording],
    config: Config,
    known: Sequence[FixtureReport] = (),
    linker: Linker | None = None,
) -> CheckResult:
    """Check `fixtures` and `recordings`; `known` are reports of fixtures already settled against the same
    recordings (`fixture_cache.settle`, through `linker`), taken as they are."""
    linker = linker or Linker(recordings, config)
    fixture_reports = [*known, *(_check_fixture(fixture, linker) for fixture in fixtures)]
    recording_reports = [RecordingReport(recording, list(recording.problems)) for recording in recordings]
    by_recording = {id(report.recording): report for report in recording_reports}
    for fixture_report in fixture_reports:
        for turn_report in fixture_report.turns:
            if turn_report.link is not None:
                target = by_recording[id(turn_report.link.recording)]
                target.linked.setdefault(turn_report.link.call.index, []).append(
                    (fixture_report.fixture, turn_report.turn)
                )
    held: set[str] = set()  # every turn's key, looked up for recordings' calls only
    if recordings:
        held = {
            key for report in fixture_reports for turn in report.fixture.turns if (key := _key_of(turn)) is not None
        }
    for report in recording_reports:
        _check_recording(report, linker.keys, config, held, has_fixtures=bool(fixture_reports))
    result = CheckResult(fixture_reports, recording_reports)
    if any_capture((report.recording.path for report in recording_reports), config.root):
        # Imported here, only for captures: the replay engine builds on this module, and `check` on
        # fixtures and recordings alone need not load it and the session readers.
        from server.engine.replay.captures import check_captures  # noqa: PLC0415

        check_captures(result, config)
    return result


class Linker:
    """A run's recorded calls keyed under the current rules and indexed for linking: what every fixture of
    the run is checked against (built once, shared by the check and the settling of cached reports)."""

    def __init__(self, recordings: Sequence[Recording], config: Config) -> None:
        self.normalizer = Normalizer(config.rules, volatile=True)  # recordings' volatile text, folded in
        self._keys: dict[int, Keys | InputShapeError] = {}
        for recording in recordings:
            for call, computed in zip(recording.calls, recording_keys(recording, self.normalizer), strict=True):
                self._keys[id(call)] = computed
        self.index = _CallIndex(recordings, self.normalizer)

    def keys(self, call: RecordedCall) -> Keys | InputShapeError:
        return self._keys[id(call)]


def recording_keys(recording: Recording, normalizer: Normalizer) -> list[Keys | InputShapeError]:
    """Every call's keys under the normalizer's rules, computed once per parsed recording.

    Calls are keyed in order, so each reuses the history it re-sends (`KeyChain`).
    """
    fingerprint = normalizer.rules.fingerprint()
    cached = recording.derived.keys.get(fingerprint)
    if cached is None:
        chain = KeyChain(normalizer)
        cached = []
        for call in recording.calls:
            try:
                cached.append(chain.keys(call.caller, call.input))
            except InputShapeError as exc:
                cached.append(exc)
        recording.derived.keys[fingerprint] = cached
    return cached


class _CallIndex:
    """Recorded calls by recorded key, by current key and by output, in recording order.

    A turn links first by the key recorded with the call (SPEC §5); a turn that was
    rehashed since has the current key instead; a turn whose key matches neither
    (rules changed twice) still links by its recorded output, which carries a
    unique message id. Each recording's tables are built once and kept on it, so
    re-checking after an edit of a fixture costs a lookup per turn.
    """

    def __init__(self, recordings: Iterable[Recording], normalizer: Normalizer) -> None:
        self.recordings = list(recordings)
        tables = [_link_tables(recording, normalizer) for recording in self.recordings]
        self.recorded_input = _Table([table.recorded_input for table in tables])
        self.recorded_conversation = _Table([table.recorded_conversation for table in tables])
        self.current_input = _Table([table.current_input for table in tables])
        self.current_conversation = _Table([table.current_conversation for table in tables])
        self._by_output: _Table | None = None

    @property
    def by_output(self) -> _Table:
        """Calls by output digest: built only when a turn is left unlinked by both keys."""
        if self._by_output is None:
            self._by_output = _Table([_output_table(recording) for recording in self.recordings])
        return self._by_output

    def link(self, turns: Sequence[tuple[Turn, str]], output_of: Callable[[Turn], str]) -> dict[int, Link]:
        """Each turn's call, FIFO among equal keys, each call used once per fixture (`output_of`: the
        digest of a turn's output, asked only of a turn that neither key links).

        Without a recording there is nothing to link to: no turn's output is digested (it was 150 ms of a
        5,000-turn fixture's first check, for tables that are all empty).
        """
        links: dict[int, Link] = {}
        if not self.recordings:
            return links
        used: set[int] = set()

        def take(turn: Turn, candidates: list[Link]) -> None:
            for link in candidates:
                if id(link.call) not in used:
                    used.add(id(link.call))
                    links[turn.index] = link
                    return

        for turn, key in turns:
            if turn.is_legacy:
                take(turn, self.recorded_conversation.get(key) or self.recorded_input.get(key, []))
            else:
                take(turn, self.recorded_input.get(key, []))
        for turn, key in turns:
            if turn.index not in links:
                take(turn, (self.current_conversation if turn.is_legacy else self.current_input).get(key, []))
        for turn, _ in turns:
            if turn.index not in links and "output" in turn.members:
                take(turn, self.by_output.get(output_of(turn), []))
        return links


class _Table:
    """One kind of key across recordings: the links of a key, in recording order.

    Across a few recordings a lookup asks each one's table; across many (10,000 fixtures recorded into 100
    files) the tables are merged once, at the first lookup, so a lookup is one dictionary probe however many
    recordings there are."""

    _MERGE_ABOVE = 8

    def __init__(self, tables: list[LinkTable]) -> None:
        self.tables = tables
        self._merged: LinkTable | None = None

    def get(self, key: str, default: list[Link] | None = None) -> list[Link]:
        if len(self.tables) > self._MERGE_ABOVE:
            merged = self._merged
            if merged is None:
                merged = self._merged = {}
                owned: set[int] = set()  # the lists made here (a recording's own lists are never changed)
                for table in self.tables:
                    for each, links in table.items():
                        present = merged.get(each)
                        if present is None:
                            merged[each] = links
                        elif id(present) in owned:
                            present.extend(links)
                        else:
                            merged[each] = joined = [*present, *links]
                            owned.add(id(joined))
            hit = merged.get(key)
            return hit if hit is not None else (default if default is not None else [])
        found = [table[key] for table in self.tables if key in table]
        if not found:
            return default if default is not None else []
        return found[0] if len(found) == 1 else [link for links in found for link in links]


def _link_tables(recording: Recording, normalizer: Normalizer) -> LinkTables:
    """A recording's calls by recorded input and conversation hash, and by both current keys (kept on it)."""
    fingerprint = normalizer.rules.fingerprint()
    cached = recording.derived.links.get(fingerprint)
    if cached is None:
        recorded_input: LinkTable = {}
        recorded_conversation: LinkTable = {}
        current_input: LinkTable = {}
        current_conversation: LinkTable = {}
        for call, computed in zip(recording.calls, recording_keys(recording, normalizer), strict=True):
            link = Link(recording, call)
            if call.input_hash:
                recorded_input.setdefault(call.input_hash, []).append(link)
            if call.conversation_hash:
                recorded_conversation.setdefault(call.conversation_hash, []).append(link)
            if isinstance(computed, Keys):
                current_input.setdefault(computed.input_hash, []).append(link)
                current_conversation.setdefault(computed.conversation_hash, []).append(link)
        cached = recording.derived.links[fingerprint] = LinkTables(
            recorded_input, recorded_conversation, current_input, current_conversation
        )
    return cached


def _output_table(recording: Recording) -> LinkTable:
    cached = recording.derived.outputs
    if cached is None:
        digests = recording.derived.output_digests or [output_digest(call.output) for call in recording.calls]
        cached = recording.derived.outputs = {}
        for call, digest in zip(recording.calls, digests, strict=True):
            if call.output is not None or recording.summary:  # a captured call that failed answered nothing
                cached.setdefault(digest, []).append(Link(recording, call))
    return cached


@dataclass(frozen=True, slots=True)
class _Verdict:
    """A keyed turn's verdict (`verify_turn`) under rules `rules`, given its link (None: linked to nothing)."""

    rules: str
    link: Link | None
    status: TurnStatus
    keys: Keys | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class TurnCheck:
    """What checking one turn found that is a function of the turn alone (its shape, output and key), and its
    last verdict: kept on the turn (`Turn.checked`) and moved with it by `reread_fixture`.

    A keystroke in a 5,000-turn fixture re-reads one turn; without this the check
    would judge every turn again (~150 ms). Duplicate keys, legacy keys and links
    are fixture-wide facts: they are found again at every check, and a verdict
    is reused only for the same rules and the very same link.
    """

    path: Path
    shape: tuple[Finding, ...]
    shape_ok: bool
    key: str | None
    verdict: _Verdict | None = None

    def shifted(self, delta: int, lines: int) -> TurnCheck:
        verdict = self.verdict
        if verdict is not None:
            verdict = replace(verdict, findings=tuple(_moved(finding, delta, lines) for finding in verdict.findings))
        shape = tuple(_moved(finding, delta, lines) for finding in self.shape)
        return TurnCheck(self.path, shape, self.shape_ok, self.key, verdict)


def _moved(finding: Finding, delta: int, lines: int) -> Finding:
    """`finding` `delta` characters and `lines` lines further down, on the same columns."""
    where, span = finding.range, finding.span
    start, end = where.start, where.end
    return Finding(
        finding.code,
        finding.path,
        Range(Position(start.line + lines, start.character), Position(end.line + lines, end.character)),
        Span(span.start + delta, span.end + delta),
        finding.message,
        finding.severity,
        finding.data,
    )


def _turn_check(turn: Turn, path: Path, add: Any, found: list[Finding]) -> TurnCheck:
    """The turn's shape, output and key: from its memo when it has one, else judged now and kept on it."""
    kept = turn.checked
    if isinstance(kept, TurnCheck) and kept.path == path:
        found += kept.shape
        return kept
    before = len(found)
    shape_ok = _check_turn_shape(turn, add)
    _check_output(turn, add)
    memo = TurnCheck(path, tuple(found[before:]), shape_ok, turn_key(turn))
    turn.checked = memo
    return memo


def _check_fixture(fixture: Fixture, linker: Linker) -> FixtureReport:
    normalizer, keys = linker.normalizer, linker.keys
    report = FixtureReport(fixture, findings=list(fixture.problems))
    source, path = fixture.source, fixture.path

    def add(code: codes.Code, span: Span, message: str, data: dict[str, Any] | None = None) -> None:
        report.findings.append(Finding.at(code, path, source, span, message, data))

    first_turn_of_key: dict[str, int] = {}
    keyed: list[tuple[Turn, str]] = []
    for turn in fixture.turns:
        if turn.broken:
            continue
        if not turn.members:
            report.turns.append(TurnReport(turn, TurnStatus.MALFORMED))
            continue
        memo = _turn_check(turn, path, add, report.findings)
        shape_ok, key = memo.shape_ok, memo.key
        if not shape_ok or key is None:
            report.turns.append(TurnReport(turn, TurnStatus.MALFORMED))
            continue
        if key in first_turn_of_key:
            add(
                codes.DUPLICATE_KEY,
                turn.span_of("input_hash"),
                f"turn {turn.index} has the same key as turn {first_turn_of_key[key]}: "
                "replay hands them out in FIFO order",
                {"turn": turn.index, "first": first_turn_of_key[key]},
            )
        else:
            first_turn_of_key[key] = turn.index
        if turn.is_legacy:
            _legacy_finding(report, turn, normalizer)
        keyed.append((turn, key))

    def output_of(turn: Turn) -> str:
        digest = report.output_digests[turn.index] = output_digest(fixture.output(turn))
        return digest

    links = linker.index.link(keyed, output_of)
    rules = normalizer.rules.fingerprint()
    for turn, key in keyed:
        link = links.get(turn.index)
        held = turn.checked
        verdict = held.verdict if isinstance(held, TurnCheck) else None
        if verdict is not None and verdict.rules == rules and verdict.link is link:
            report.findings += verdict.findings
            report.turns.append(TurnReport(turn, verdict.status, link, verdict.keys))
            continue
        before = len(report.findings)
        try:
            judged = verify_turn(turn, key, link, normalizer, keys, add)
        except RuleTimeoutError as exc:  # the turn's caller: the rule is named, the next turns are checked
            add(codes.RULE_TIMEOUT, turn.span_of("caller"), f"turn {turn.index}: {exc}", {"turn": turn.index})
            report.turns.append(TurnReport(turn, TurnStatus.UNVERIFIABLE))
            continue  # a time budget that ran out is no function of the turn: judged again next time
        report.turns.append(judged)
        if isinstance(held, TurnCheck):
            found = tuple(report.findings[before:])
            verdict = _Verdict(rules, link, judged.status, judged.keys, found)
            turn.checked = TurnCheck(held.path, held.shape, held.shape_ok, held.key, verdict)
    report.turns.sort(key=lambda turn_report: turn_report.turn.index)
    return report


def _legacy_finding(report: FixtureReport, turn: Turn, normalizer: Normalizer) -> None:
    fallback = normalizer.rules.key.legacy_fallback
    why = "found only through the legacy fallback" if fallback else "never found: legacy fallback is off"
    report.findings.append(
        Finding.at(
            codes.LEGACY_KEY,
            report.fixture.path,
            report.fixture.source,
            turn.span_of("input_hash"),
            f"legacy turn {turn.index}: a bare conversation hash with no caller, {why}",
            {"turn": turn.index},
            severity=codes.Severity.WARNING if fallback else codes.Severity.ERROR,
        )
    )


def verify_turn(turn: Turn, key: str, link: Link | None, normalizer: Normalizer, keys: Any, add: Any) -> TurnReport:
    """A keyed turn's verdict from its linked call (valid or stale), or without one (unverifiable or mismatch)."""
    if link is None:
        if not turn.is_legacy:
            caller = normalizer.caller(turn.caller)
            expected = normalizer.input_key(caller, turn.conversation_hash)
            if expected != key:
                add(
                    codes.CALLER_KEY_MISMATCH,
                    turn.span_of("input_hash"),
                    f"input_hash {key[:12]}… is not the key of caller {caller!r} and its conversation_hash "
                    f"(expected {expected[:12]}…)",
                    {"turn": turn.index, "expected": expected},
                )
                return TurnReport(turn, TurnStatus.MISMATCH)
        add(
            codes.UNVERIFIABLE,
            turn.span_of("input_hash"),
            f"turn {turn.index}: no recording links to this key, so it cannot be recomputed",
            {"turn": turn.index},
        )
        return TurnReport(turn, TurnStatus.UNVERIFIABLE)
    computed = keys(link.call)
    if isinstance(computed, InputShapeError):
        return TurnReport(turn, TurnStatus.UNVERIFIABLE, link)
    if not isinstance(link.call.caller, str) and not turn.is_legacy:
        computed = _with_caller(normalizer, computed, turn.caller)
    report = TurnReport(turn, TurnStatus.VALID, link, computed)
    changes = _changes(turn, computed)
    if changes:
        report.status = TurnStatus.STALE
        add(
            codes.STALE_KEY,
            turn.span_of("input_hash"),
            f"stale key in turn {turn.index}: {'; '.join(changes)} under current rules "
            f"(from {link.recording.path.name}:{link.call.line + 1})",
            {
                "turn": turn.index,
                "rehash": report.rehash,
                "recording": str(link.recording.path),
                "line": link.call.line,
            },
        )
    return report


def linked_keys(turn: Turn, link: Link, linker: Linker) -> Keys | None:
    """The keys `verify_turn` gives a turn from its linked call (None when the call's input has no keys)."""
    computed = linker.keys(link.call)
    if isinstance(computed, InputShapeError):
        return None
    if not isinstance(link.call.caller, str) and not turn.is_legacy:
        computed = _with_caller(linker.normalizer, computed, turn.caller)
    return computed


def _with_caller(normalizer: Normalizer, computed: Keys, caller: Any) -> Keys:
    """Keys of a call whose recording did not store a caller: take the turn's."""
    name = normalizer.caller(caller)
    return replace(computed, caller=name, input_hash=normalizer.input_key(name, computed.conversation_hash))


def _changes(turn: Turn, computed: Keys) -> list[str]:
    if turn.is_legacy:
        old = turn.input_hash
        return (
            []
            if old == computed.conversation_hash
            else [f"input_hash {old[:12]}… → {computed.conversation_hash[:12]}…"]
        )
    changes = []
    if turn.caller != computed.caller:
        changes.append(f"caller {turn.caller!r} → {computed.caller!r}")
    for name in ("conversation_hash", "input_hash"):
        old, new = turn.value(name), getattr(computed, name)
        if old != new:
            changes.append(f"{name} {str(old)[:12]}… → {new[:12]}…")
    return changes


def _check_turn_shape(turn: Turn, add: Any) -> bool:
    """Report every shape problem of a turn's keys; True when it has none."""
    problems = list(_turn_shape_problems(turn))
    for span, message in problems:
        add(codes.MALFORMED_FIXTURE, span, message, {"turn": turn.index})
    return not problems


def _turn_shape_problems(turn: Turn) -> Iterable[tuple[Span, str]]:
    if "input_hash" not in turn.members:
        yield turn.head, f"turn {turn.index} has no 'input_hash'"
    for name in ("input_hash", "conversation_hash"):
        value = turn.value(name)
        if name in turn.members and not (isinstance(value, str) and HEX64.fullmatch(value)):
            yield turn.span_of(name), f"'{name}' of turn {turn.index} is not 64 lowercase hex digits"
    has_caller, has_conversation = "caller" in turn.members, "conversation_hash" in turn.members
    if has_caller != has_conversation:
        missing = "conversation_hash" if has_caller else "caller"
        yield (
            turn.head,
            f"turn {turn.index} has no '{missing}': a caller-aware turn needs both 'caller' and 'conversation_hash'",
        )
    elif has_caller and not isinstance(turn.caller, str):
        yield turn.span_of("caller"), f"'caller' of turn {turn.index} is not a string"


def _check_output(turn: Turn, add: Any) -> None:
    if "output" not in turn.members:
        add(codes.MALFORMED_OUTPUT, turn.head, f"turn {turn.index} has no 'output'", {"turn": turn.index})
        return
    problem = turn.output_problem
    if problem is not None:
        add(
            codes.MALFORMED_OUTPUT,
            turn.span_of("output"),
            f"turn {turn.index}: {problem}",
            {"turn": turn.index},
        )


def _check_recording(report: RecordingReport, keys: Any, config: Config, held: set[str], *, has_fixtures: bool) -> None:
    """Shape, volatile text, and calls no turn holds (`held`: every turn's key; a call another recording of
    the same run linked first, such as a capture of it, is held all the same)."""
    recording = report.recording
    for call in recording.calls:
        computed = keys(call)
        if isinstance(computed, RuleTimeoutError):
            report.findings.append(call_finding(recording, call, codes.RULE_TIMEOUT, str(computed)))
        elif isinstance(computed, InputShapeError):
            report.findings.append(
                call_finding(recording, call, codes.MALFORMED_RECORDING, f"cannot compute the key: {computed}")
            )
        elif (
            has_fixtures
            and call.index not in report.linked
            and not {call.input_hash, call.conversation_hash, computed.input_hash, computed.conversation_hash} & held
        ):
            message = (
                f"recorded call {call.index} ({computed.caller}) is held by no fixture turn: its replay would miss"
            )
            report.findings.append(
                call_finding(recording, call, codes.UNLINKED_RECORDING, message, {"call": call.index})
            )
    report.findings.extend(recording_volatile(recording, config))


def call_finding(
    recording: Recording, call: RecordedCall, code: codes.Code, message: str, data: dict[str, Any] | None = None
) -> Finding:
    """A finding on a whole recorded line (a summary recording's call knows its range without the text)."""
    if call.range is None:
        return Finding.at(code, recording.path, recording.source, call.span, message, data)
    return Finding(code, recording.path, call.range, call.span, message, code.severity, data or {})


def volatile_memo_key(config: Config) -> str:
    allow = "|".join(pattern.pattern for pattern in config.allow_volatile)
    return f"volatile:{config.rules.fingerprint()}:{allow}"


def recording_volatile(recording: Recording, config: Config) -> list[Finding]:
    """The recording's volatile-text findings: they depend on it and the rules only, so they are kept."""
    memo_key = volatile_memo_key(config)
    cached = recording.derived.volatile.get(memo_key)
    if cached is not None:
        return cached
    normalizer = Normalizer(config.rules, volatile=True)
    tally = VolatileTally(config)
    source = recording.source
    where: dict[str, tuple[Span, Range]] = {}
    for call, computed in zip(recording.calls, recording_keys(recording, normalizer), strict=True):
        if not isinstance(computed, InputShapeError):
            for text in tally.add(call.index, computed):
                span = locate_in_line(source.text, call.span, text)
                where[text] = (span, source.range(span))
    cached = recording.derived.volatile[memo_key] = tally.findings(recording.path, where)
    return cached


class VolatileTally:
    """Volatile texts of a recording's calls, in order: where each first appears and in how many calls.

    Each distinct normalized message is scanned once, by the normalizer as it
    normalized it (`Keys.volatile`) or here; history re-sent by later calls costs
    a dictionary lookup, not another regex scan.
    """

    def __init__(self, config: Config) -> None:
        self.allow = config.allow_volatile
        self.by_piece: dict[str, list[VolatileMatch]] = {}
        self.first: dict[str, tuple[int, VolatileMatch]] = {}
        self.calls: dict[str, int] = {}
        self.last: dict[str, int] = {}

    def add(self, call: int, computed: Keys) -> list[str]:
        """Tally call number `call`; the texts it is the first to show (to be located in its line now)."""
        new = []
        scanned = computed.volatile if computed.pieces else None
        for piece in computed.pieces or (computed.canonical,):
            matches = self.by_piece.get(piece)
            if matches is None:
                found = scanned.get(piece, ()) if scanned is not None else scan(piece)
                matches = self.by_piece[piece] = not_allowed(found, self.allow)
            for match in matches:
                text = match.text
                if text not in self.first:
                    self.first[text] = (call, match)
                    new.append(text)
                if self.last.get(text) != call:
                    self.last[text] = call
                    self.calls[text] = self.calls.get(text, 0) + 1
        return new

    def merge(self, text: str, match: VolatileMatch, call: int, count: int) -> bool:
        """Fold in a text that a later part of the recording first shows in `call`, and in `count` calls
        in all; True when no earlier part showed it."""
        self.calls[text] = self.calls.get(text, 0) + count
        if text in self.first:
            return False
        self.first[text] = (call, match)
        return True

    def findings(self, path: Path, where: dict[str, tuple[Span, Range]]) -> list[Finding]:
        """One finding per volatile text, at the place `where` it was first located."""
        found = []
        for text, (call, match) in self.first.items():
            later = self.calls[text] - 1
            also = f" (and in {later} later call{'s' if later != 1 else ''})" if later else ""
            rule = match.suggested_rule()
            span, place = where[text]
            message = (
                f"{match.detector.what} {text!r} survived normalization{also}; suggested rule: "
                f"{rule['pattern']} → {rule['replacement']}"
            )
            if match.note:
                message += f" ({match.note})"
            data = {"text": text, "call": call, "rule": rule}
            found.append(Finding(codes.VOLATILE_TEXT, path, place, span, message, codes.VOLATILE_TEXT.severity, data))
        return found


def locate_in_line(text: str, line: Span, needle: str) -> Span:
    for candidate in (needle, json.dumps(needle)[1:-1]):
        found = text.find(candidate, line.start, line.end)
        if found >= 0:
            return Span(found, found + len(candidate))
    return line
