"""Fixtures as sessions: each turn is a model call, its input embedded or linked.

A fixture alone stores keys and outputs only. Its turns get inputs from an
`input` (or `messages`) list embedded in the turn, else from the recording line
the turn links to (SPEC §5), found in the fixture's workspace. A turn with
neither is still a step, marked as having no input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path
from typing import Any

from server.engine import findings as codes
from server.engine.checks import check, turn_key
from server.engine.config import Config, ConfigError
from server.engine.files import read_regular
from server.engine.findings import Finding
from server.engine.fixture import Fixture, Turn, read_fixture
from server.engine.normalize import HEX64
from server.engine.recording import Link, Recording
from server.engine.sessions.messages import output_facts
from server.engine.sessions.model import Session, SessionInfo, SourceRef, Step, StepKind, finding
from server.engine.source import SourceText
from server.engine.workspace import load_project_config, load_workspace

KIND = "fixture"
EMBEDDED_INPUT_KEYS = ("input", "messages")


def sniff(path: Path, head: bytes) -> bool:
    return path.suffix == ".json" and b'"turns"' in head and (b'"input_hash"' in head or b'"conversation_hash"' in head)


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    del problems
    return [SessionInfo(KIND, path, path.name.removesuffix(".json"), title=path.name)]


def read(path: Path, sink: Session) -> Fixture | None:
    """The parsed fixture, or None (with a finding) when it cannot be read."""
    try:
        data = read_regular(path)
    except OSError as exc:
        sink.findings.append(finding(codes.READ_ERROR, path, None, f"cannot read: {exc.strerror or exc}"))
        return None
    fixture = read_fixture(path, SourceText.from_bytes(data))
    sink.findings.extend(fixture.problems)
    return fixture


def embedded_input(turn: Turn) -> list[Any] | None:
    for key in EMBEDDED_INPUT_KEYS:
        value = turn.value(key)
        if isinstance(value, list):
            return value
    return None


def linked_calls(fixture: Fixture, recordings: Sequence[Recording], config: Config) -> dict[int, Link]:
    """`{turn index: link}` for the turns a recording links to (SPEC §5, FIFO per key)."""
    report = check([fixture], recordings, config).fixtures[0]
    return {report.turn.index: report.link for report in report.turns if report.link is not None}


def workspace_links(fixture: Fixture, problems: list[Finding]) -> dict[int, Link]:
    """Links from the recordings of the fixture's own workspace (its nearest config)."""
    if all(embedded_input(turn) is not None for turn in fixture.turns if not turn.broken):
        return {}
    try:
        config = load_project_config(fixture.path)
    except ConfigError as error:
        problems.append(error.to_finding())
        return {}
    workspace = load_workspace([config.root], config)
    return linked_calls(fixture, workspace.recordings, config)


def turn_input(turn: Turn, links: dict[int, Link]) -> tuple[list[Any] | None, SourceRef | None]:
    """A turn's recorded input and where it is recorded: embedded in the turn, or a linked line."""
    embedded = embedded_input(turn)
    if embedded is not None:
        return embedded, None
    link = links.get(turn.index)
    if link is None:
        return None, None
    source = link.recording.source
    where = SourceRef(link.recording.path, source.range(link.call.span), link.call.span)
    return link.call.input, where


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    del full_inputs
    fixture = read(info.path, sink)
    if fixture is None:
        return
    links = workspace_links(fixture, sink.findings)
    model = fixture.top["model"].value if "model" in fixture.top else None
    index = count()
    for turn in fixture.turns:
        ref = SourceRef(info.path, fixture.source.range(turn.span), turn.span, label=f"turn {turn.index}")
        if turn.broken or not turn.members:
            yield Step(next(index), StepKind.OPAQUE, name=f"turn {turn.index}", source=ref, problem="unreadable turn")
            continue
        inputs, _ = turn_input(turn, links)
        problem = None if inputs is not None else "no recorded input: the turn embeds none and no recording links to it"
        output = fixture.output(turn)
        output_model, tokens = output_facts(output)
        caller = turn.caller
        yield Step(
            next(index),
            StepKind.MODEL,
            name=f"turn {turn.index}",
            caller=caller if isinstance(caller, str) else None,
            model=output_model or (model if isinstance(model, str) else None),
            input=inputs,
            output=output,
            tokens=tokens,
            recorded_keys=_recorded_keys(turn),
            source=ref,
            problem=problem,
        )


def _recorded_keys(turn: Turn) -> dict[str, str]:
    keys: dict[str, str] = {}
    key = turn_key(turn)
    if key is not None:
        keys["input_hash"] = key
    conversation = turn.conversation_hash
    if isinstance(conversation, str) and HEX64.fullmatch(conversation):
        keys["conversation_hash"] = conversation
    elif turn.is_legacy and key is not None:
        keys["conversation_hash"] = key
    return keys
