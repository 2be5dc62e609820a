"""Write what a test's models received: a capture per test, and with `record`, a fixture per scenario.

Each file is written whole to a temporary file in its folder and renamed over the old one, so
a reader (the language server watching the folder, another pytest-xdist worker) sees the old
file or the new one, never a part. A test with no model call leaves no capture (its old one is
removed), so the folder holds what the last run of each test sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.capture.calls import TestCalls
from server.engine.capture_files import CAPTURES_DIR
from server.engine.config import Config
from server.engine.jsontext import dumps
from server.engine.normalize import InputShapeError, Normalizer
from server.engine.replay.record import build_fixture
from server.engine.sessions.model import Session, SessionInfo, Step, StepKind
from server.engine.writes import overwrite

GITIGNORE = "# Written by Replay Lens: what the last test run's models received (pytest --replay-lens).\n*\n"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UMASK = os.umask(0)
os.umask(_UMASK)


def captures_dir(config: Config) -> Path:
    return config.root / CAPTURES_DIR


def capture_path(config: Config, nodeid: str) -> Path:
    """A stable file name per test: readable, short, and unique through a digest of the node id."""
    slug = _UNSAFE.sub("-", nodeid.replace("::", "--")).strip("-")[-80:]
    digest = hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:10]
    return captures_dir(config) / f"{slug}.{digest}.jsonl"


def replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (`writes.overwrite`), as an ordinary file of the umask's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    overwrite(path, text.encode("utf-8"), 0o666 & ~_UMASK)


def ensure_gitignore(config: Config) -> None:
    folder = config.root / ".replay-lens"
    ignore = folder / ".gitignore"
    if not ignore.exists():
        replace_file(ignore, GITIGNORE)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Where `record` writes a test's fixture, and what the fixture says it is."""

    name: str
    mode: str
    fixture: Path


def capture_lines(test: TestCalls, config: Config, scenario: Scenario | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The recording lines (SPEC §5, keyed under the project's current rules) of a test's calls, and the
    calls that could not be keyed."""
    normalizer = Normalizer(config.rules)
    lines: list[dict[str, Any]] = []
    problems: list[str] = []
    for call in test.calls:
        if call.input is None:
            continue  # not serializable: already told
        try:
            keys = normalizer.keys(call.caller, call.input)
        except InputShapeError as exc:
            problems.append(f"call {call.seq} ({call.caller}): its input cannot be keyed ({exc}); not captured")
            continue
        line: dict[str, Any] = {
            "seq": call.seq,
            "test": test.nodeid,
            "caller": keys.caller,
            "model": call.model,
            "conversation_hash": keys.conversation_hash,
            "input_hash": keys.input_hash,
            "input": call.input,
            "output": call.output,
        }
        if call.error is not None:
            line["error"] = call.error
        if scenario is not None:
            line["scenario"] = scenario.name
            line["fixture"] = _relative(scenario.fixture, config.root)
        lines.append(line)
    return lines, problems


def write_capture(path: Path, lines: list[dict[str, Any]]) -> None:
    """The capture of one test (removed when the test made no call)."""
    if not lines:
        with contextlib.suppress(NotADirectoryError):  # no capture folder: no old capture to remove
            path.unlink(missing_ok=True)
        return
    replace_file(path, "".join(dumps(line) + "\n" for line in lines))  # lone surrogates escaped


def write_fixture(test: TestCalls, scenario: Scenario, config: Config) -> list[str]:
    """The scenario's fixture (deer-flow layout) and, beside it, its recording with the raw inputs
    (`<fixture stem>.jsonl`), so every turn is verifiable from the start; the calls left out (an
    output that is not an AI message, an input that cannot be keyed). The caller refuses a test
    whose calls did not all complete."""
    steps = [
        Step(call.seq, StepKind.MODEL, caller=call.caller, model=call.model, input=call.input, output=call.output)
        for call in test.calls
    ]
    session = Session(SessionInfo("capture", Path(test.nodeid.split("::")[0]), test.nodeid), steps)
    draft = build_fixture(session, config.rules, scenario.fixture)
    draft.document["scenario"] = scenario.name
    draft.document["mode"] = scenario.mode
    draft.document["recorded_from"] = {"kind": "pytest", "test": test.nodeid}
    for line in draft.recording:
        line["test"] = test.nodeid
    replace_file(scenario.fixture, draft.text)
    replace_file(scenario.fixture.with_suffix(".jsonl"), draft.recording_text)
    return [f"call {index}: {why}; left out of the fixture" for index, why in draft.skipped]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
