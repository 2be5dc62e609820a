"""Load what a replay needs from disk: the session, its fixture, and the fixture's recorded inputs.

Without an explicit fixture, the one to replay against is the workspace
fixture holding the most of the session's keys: the keys recorded with its
calls (what links a recording to a fixture), else the keys under the current
rules, else a fixture named like the session file.

Recordings can be far larger than memory would hold parsed whole, and a
replay needs them only to give the fixture's turns their recorded inputs, for
the nearest input of a miss: only then are they summarized line by line (as
`check` reads them) to link the turns, and the linked lines read back, sharing
the history they repeat.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from server.engine.capture_files import is_capture
from server.engine.checks import turn_key
from server.engine.config import Config
from server.engine.files import open_regular
from server.engine.fixture import Fixture
from server.engine.normalize import InputShapeError, KeyChain, Normalizer
from server.engine.recording import LineParser, Link, RecordedCall, Recording, read_line
from server.engine.replay.engine import RecordedInput, ReplayReport, replay
from server.engine.sessions import read_session, resolve
from server.engine.sessions.fixtures import embedded_input, linked_calls, read
from server.engine.sessions.model import Session, SourceRef, StepKind
from server.engine.source import SourceText
from server.engine.summary import from_summary, summary_of
from server.engine.workspace import (
    classify,
    is_recording,
    iter_files,
    load_project_config,
    read_candidate,
    read_document,
)


class FixtureNotFoundError(LookupError):
    """No fixture to replay against: none given and none in the workspace matches the session."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl.zst", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def find_fixture(session: Session, fixtures: Sequence[Fixture], normalizer: Normalizer) -> Fixture | None:
    """The fixture holding most of the session's keys (recorded or current), else the one named like it."""
    recorded: set[str] = set()
    current: set[str] = set()
    chain = KeyChain(normalizer)
    for step in session.steps:
        if step.kind is not StepKind.MODEL:
            continue
        recorded.update(step.recorded_keys.values())
        if step.input is not None:
            try:
                keys = chain.keys(step.caller, step.input)
            except InputShapeError:
                continue
            current.update((keys.input_hash, keys.conversation_hash))

    def score(fixture: Fixture) -> tuple[int, int, bool]:
        keys = {key for turn in fixture.turns if (key := turn_key(turn)) is not None}
        return len(keys & recorded), len(keys & current), _stem(fixture.path) == _stem(session.info.path)

    ranked = sorted(fixtures, key=lambda fixture: (score(fixture), str(fixture.path)), reverse=True)
    if ranked and any(score(ranked[0])):
        return ranked[0]
    return None


def replay_path(
    path: Path, *, against: Path | None = None, session_id: str | None = None, config: Config | None = None
) -> ReplayReport:
    """Replay the session at `path` (raises `SessionNotFoundError`, `FixtureNotFoundError`, `ConfigError`).

    The rules and the recordings that give the fixture's turns their inputs come
    from the project config nearest to the fixture (or to the session).
    """
    info, problems = resolve(path, session_id)
    session = read_session(info)
    session.findings[:0] = problems
    if isinstance(session.facts.get("not_replayable"), str):
        raise FixtureNotFoundError(f"{info.kind} {info.id} cannot be replayed: {session.facts['not_replayable']}")
    config = config or load_project_config(against or path)
    fixtures, recordings = _workspace(config, read_fixtures=against is None)
    normalizer = Normalizer(config.rules)
    if against is not None:
        fixture = read(against, session)
        if fixture is None:
            raise FixtureNotFoundError(f"{against}: cannot read the fixture")
    else:
        fixture = find_fixture(session, fixtures, normalizer)
        if fixture is None:
            raise FixtureNotFoundError(
                f"no fixture under {config.root} holds this session's keys or is named like it: pass --against FIXTURE"
            )
        session.findings.extend(fixture.problems)
    return replay(session, fixture, config.rules, _LinkedInputs(fixture, recordings, config), config.root)


def _workspace(config: Config, *, read_fixtures: bool) -> tuple[list[Fixture], list[Recording | Path]]:
    """The workspace's fixtures (read whole when asked) and, in the order `check` reads them, its recordings:
    each a path to summarize when it is needed, or a capture (small, read whole like a fixture).

    A file that cannot be read is left out, as the workspace leaves it out of a check."""
    fixtures: list[Fixture] = []
    recordings: list[Recording | Path] = []
    for candidate in iter_files([config.root], config):
        try:
            if is_recording(candidate, config):
                recordings.append(candidate)
                continue
            if not read_fixtures and not is_capture(candidate, config.root):
                continue  # besides the recordings told above, only a capture is one
            data = read_candidate(candidate, config)
        except OSError:
            continue
        kind = None if data is None else classify(candidate, data, config)
        if data is None or kind is None:
            continue
        document = read_document(candidate, data, kind)
        if isinstance(document, Fixture):
            fixtures.append(document)
        else:
            recordings.append(document)
    return fixtures, recordings


def _summaries(recordings: Sequence[Recording | Path], config: Config) -> list[Recording]:
    """Each recording as `check` reads it through its cache: calls and keys, line by line, no inputs."""
    read: list[Recording] = []
    for recording in recordings:
        if isinstance(recording, Recording):
            read.append(recording)
            continue
        try:
            summary = summary_of(recording, config)  # its digest keys no cache here: not computed
        except OSError:
            continue
        read.append(from_summary(recording, summary, config))
    return read


class _LinkedInputs(Mapping[int, RecordedInput]):
    """`{turn index: recorded input}` (embedded in the turn, else its linked call's), worked out on first use.

    Only a miss asks for recorded inputs: a replay that hits every call links no
    turn and reads no recording. The first use summarizes the recordings to link
    the turns, then reads the linked lines back once, in file order, so the
    history they repeat is shared.
    """

    def __init__(self, fixture: Fixture, recordings: Sequence[Recording | Path], config: Config) -> None:
        self.fixture = fixture
        self.recordings = recordings
        self.config = config
        self.known: dict[int, RecordedInput] | None = None

    def inputs(self) -> dict[int, RecordedInput]:
        if self.known is None:
            embedded: dict[int, RecordedInput] = {}
            usable = [turn for turn in self.fixture.turns if not turn.broken and turn.members]
            for turn in usable:
                messages = embedded_input(turn)
                if messages is not None:
                    embedded[turn.index] = RecordedInput(messages)
            links: dict[int, Link] = {}
            if len(embedded) < len(usable):
                linked = linked_calls(self.fixture, _summaries(self.recordings, self.config), self.config)
                links = {index: link for index, link in linked.items() if index not in embedded}
            self.known = {**embedded, **_read_back(links)}
        return self.known

    def __len__(self) -> int:
        return len(self.inputs())

    def __iter__(self) -> Iterator[int]:
        return iter(self.inputs())

    def __getitem__(self, turn: int) -> RecordedInput:
        return self.inputs()[turn]


def _read_back(links: Mapping[int, Link]) -> dict[int, RecordedInput]:
    """The recorded input of each linked call, read from its line; one parser per file shares the history."""
    by_file: dict[Path, list[tuple[int, Link]]] = {}
    for turn, link in links.items():
        by_file.setdefault(link.recording.path, []).append((turn, link))
    inputs: dict[int, RecordedInput] = {}
    for path, linked in by_file.items():
        parser = LineParser()
        try:
            with open_regular(path) as handle:
                for turn, link in sorted(linked, key=lambda item: item[1].call.index):
                    messages = _line_input(handle, link, parser)
                    if messages is not None:
                        where = link.call.range or link.recording.source.range(link.call.span)
                        inputs[turn] = RecordedInput(messages, SourceRef(path, where, link.call.span))
        except OSError:
            continue
    return inputs


def _line_input(handle: Any, link: Link, parser: LineParser) -> list[Any] | None:
    """The input of a linked call; None when the file no longer holds that call there (changed since)."""
    call = link.call
    if call.stored is None:
        return call.input
    start, end, line_start = call.stored
    handle.seek(start)
    text = SourceText.from_bytes(handle.read(end - start), start).text
    record, _problem = read_line(
        parser, text[line_start : line_start + call.span.end - call.span.start], truncated=False
    )
    if record is None:
        return None
    found = RecordedCall(call.index, call.line, call.span, record)
    if (found.caller, found.input_hash, found.conversation_hash) != (
        call.caller,
        call.input_hash,
        call.conversation_hash,
    ):
        return None
    return found.input
