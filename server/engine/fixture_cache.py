"""Cached fixture reports: a fixture unchanged since an earlier `check` is not read again while its links hold.

A fixture's report (its turns' statuses, its findings) follows from its bytes,
the rules (with this engine's code: `summary_fingerprint`) and the recorded
calls its turns link to. An entry, kept in the summary cache by the sha256 of
the fixture's bytes under `fixture_fingerprint`, holds that report and what
linking asked of the recordings: each keyed turn's key and, for a turn neither
key linked, its output digest. It stands only when linking the same keys
against this run's recordings (`settle`) gives the same recorded calls, each
identified by its recording's content digest, path and call index: a new,
changed, moved or removed recording that links or unlinks any turn makes it a
miss, and the fixture is read and checked as usual. Reports whose verdict is
not a function of those inputs (a rule's time budget ran out) are not kept.

Entries are JSON, read as data: nothing in the cache runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.cache import SummaryCache, summary_fingerprint
from server.engine.checks import FixtureReport, Linker, TurnReport, TurnStatus, linked_keys, turn_key
from server.engine.config import Config
from server.engine.findings import Finding, Severity
from server.engine.fixture import Fixture, Turn
from server.engine.jsonscan import Member
from server.engine.recording import Link, Recording
from server.engine.source import Position, Range, SourceText, Span

FORMAT = 1
_KEY_MEMBERS = ("caller", "conversation_hash", "input_hash", "output")
"""The members of a turn that checking and the run's summary read (a cached turn keeps no others)."""


def fixture_fingerprint(config: Config) -> str:
    """What a cached report depends on besides the fixture's bytes and its links."""
    return hashlib.sha256(f"fixture-report-{FORMAT}:{summary_fingerprint(config)}".encode()).hexdigest()


@dataclass(slots=True)
class KnownFixture:
    """A fixture whose cached report may stand: its path, the sha256 of its bytes, and the entry."""

    path: Path
    digest: str
    entry: dict[str, Any]


class _UnsettledError(Exception):
    """Linking asked what the entry does not know (an output digest it never needed): not taken."""


def entry(report: FixtureReport, digests: dict[int, str]) -> dict[str, Any] | None:
    """The cache entry of a report checked in full (`digests`: each recording's content digest, by id), or
    None when it must not be cached."""
    links: list[list[Any]] = []
    for turn_report in report.turns:
        link = turn_report.link
        if link is None:
            links.append([turn_report.turn.index, turn_report.status.value, None])
            continue
        recording = digests.get(id(link.recording))
        if recording is None:  # a recording read without a digest (a capture): nothing to compare with later
            return None
        if turn_report.status is TurnStatus.UNVERIFIABLE:  # its call had no keys: maybe a rule's time ran out
            return None
        place = [recording, str(link.recording.path), link.call.index]
        links.append([turn_report.turn.index, turn_report.status.value, place])
    findings = []
    for finding in report.findings:
        if finding.code is codes.RULE_TIMEOUT or "text" in finding.data:  # timed; or masked by its file's text
            return None
        start, end = finding.range.start, finding.range.end
        findings.append(
            [
                finding.code.name,
                int(finding.severity),
                start.line,
                start.character,
                end.line,
                end.character,
                finding.span.start,
                finding.span.end,
                finding.message,
                finding.data,
            ]
        )
    turns = []
    for turn in report.fixture.turns:  # flat rows: a warm run rebuilds 30,000 of them
        row = [turn.index, turn.span.start, turn.span.end, turn.broken, turn.output_problem]
        for name in _KEY_MEMBERS:
            member = turn.members.get(name)
            if member is not None:
                row += [
                    name,
                    member.key_span.start,
                    member.key_span.end,
                    member.value,
                    member.span.start,
                    member.span.end,
                ]
        turns.append(row)
    keyed = {str(index): digest for index, digest in report.output_digests.items()}
    return {"turns": turns, "links": links, "outputs": keyed, "findings": findings}


def settle(known: KnownFixture, linker: Linker, digests: dict[int, str]) -> FixtureReport | None:
    """The cached report of `known`, when its turns link to the same calls in this run; else None.

    `digests`: each of the run's recordings' content digest, by id."""
    try:
        return _settled(known, linker, digests)
    except (_UnsettledError, AttributeError, KeyError, IndexError, TypeError, ValueError):  # not read back
        return None


def _settled(known: KnownFixture, linker: Linker, digests: dict[int, str]) -> FixtureReport | None:
    stored = known.entry
    fixture = Fixture(known.path, SourceText(""), turns=[_turn(row) for row in stored["turns"]])
    by_index = {turn.index: turn for turn in fixture.turns}
    outputs: dict[str, str] = stored["outputs"]

    def output_of(turn: Turn) -> str:
        digest = outputs.get(str(turn.index))
        if not isinstance(digest, str):
            raise _UnsettledError
        return digest

    rows = stored["links"]
    # The turns checking linked, in order: every reported turn but a malformed one (which has no key).
    keyed = [
        (turn, key)
        for index, status, _ in rows
        if status != TurnStatus.MALFORMED and (key := turn_key(turn := by_index[index])) is not None
    ]
    links = linker.index.link(keyed, output_of)
    report = FixtureReport(fixture, output_digests={int(index): digest for index, digest in outputs.items()})
    for index, status, place in rows:
        turn, link = by_index[index], links.get(index)
        if not _same(link, place, digests):
            return None
        keys = None if link is None else linked_keys(turn, link, linker)
        report.turns.append(TurnReport(turn, _STATUSES[status], link, keys))
    report.findings = [_finding(known.path, row) for row in stored["findings"]]
    return report


def _same(link: Link | None, place: list[Any] | None, digests: dict[int, str]) -> bool:
    if link is None or place is None:
        return link is None and place is None
    recording: Recording = link.recording
    return place == [digests.get(id(recording)), str(recording.path), link.call.index]


def _turn(row: list[Any]) -> Turn:
    index, start, end, broken, output_problem = row[:5]
    members = {
        row[at]: Member(row[at], Span(row[at + 1], row[at + 2]), row[at + 3], Span(row[at + 4], row[at + 5]))
        for at in range(5, len(row), 6)
    }
    return Turn(index, Span(start, end), members, broken=broken, output_problem=output_problem)


def _finding(path: Path, row: list[Any]) -> Finding:
    name, severity, line, character, end_line, end_character, start, end, message, data = row
    where = Range(Position(line, character), Position(end_line, end_character))
    return Finding(codes.CODES[name], path, where, Span(start, end), message, _SEVERITIES[severity], data)


_SEVERITIES = {int(severity): severity for severity in Severity}
_STATUSES = {status.value: status for status in TurnStatus}


class FixtureStore:
    """The cached reports of one run's fixtures: found by stat (one query per target) or by content, and the
    fixtures read in full this run, kept after the check."""

    def __init__(self, cache: SummaryCache, config: Config, targets: Iterable[Path]) -> None:
        self.cache = cache
        self.fingerprint = fixture_fingerprint(config)
        self._by_path: dict[bytes, tuple[int, int, int, int, str, Any]] = {}
        for target in targets:
            self._by_path.update(cache.entries_under(target, self.fingerprint))
        self._read: dict[int, tuple[Path, os.stat_result | None, str]] = {}

    def by_stat(self, path: Path) -> KnownFixture | None:
        """The entry of `path` when its size, mtime, ctime and inode are those it was kept at (`cache._note_file`)."""
        row = self._by_path.get(os.fsencode(os.path.abspath(path)))
        if row is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        size, mtime_ns, ctime_ns, inode, digest, blob = row
        if (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino) != (size, mtime_ns, ctime_ns, inode):
            return None
        return _known(path, digest, blob)

    def by_content(self, path: Path, digest: str, stat: os.stat_result | None) -> KnownFixture | None:
        """The entry of content already read (a file touched, copied or just written), noting its path."""
        blob = self.cache.entry(digest, self.fingerprint)
        known = None if blob is None else _known(path, digest, blob)
        if known is not None:
            self.cache.remember(path, stat, digest)
        return known

    def read(self, fixture: Fixture, digest: str, stat: os.stat_result | None) -> None:
        """Note a fixture read in full (`stat`: its stat when unchanged through the read), to keep its report."""
        self._read[id(fixture)] = (fixture.path, stat, digest)

    def keep(self, reports: Iterable[FixtureReport], digests: dict[int, str]) -> None:
        """Keep the report of every fixture read in full this run (one transaction)."""
        rows = []
        for report in reports:
            noted = self._read.pop(id(report.fixture), None)
            kept = None if noted is None else entry(report, digests)
            if noted is not None and kept is not None:
                rows.append((noted[0], noted[1], noted[2], kept))
        self.cache.store_entries(rows, self.fingerprint)


def _known(path: Path, digest: str, blob: Any) -> KnownFixture | None:
    try:
        stored = json.loads(blob)
    except (TypeError, ValueError):
        return None
    return KnownFixture(path, digest, stored) if isinstance(stored, dict) else None
