"""Build a fixture (SPEC §3) from any session whose model calls have inputs and outputs.

Turns are keyed under the current rules, in call order, so a replay of the
same session hits every one of them. The file is written the way the producer
writes fixtures (2-space indent, non-ASCII kept, trailing newline) and created
atomically; the matching recording (SPEC §5) can be written beside it, which
makes every key verifiable later by `check`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.engine.jsontext import dumps
from server.engine.normalize import InputShapeError, Normalizer
from server.engine.outputs import output_problem
from server.engine.rules import Rules
from server.engine.sessions.model import Session, StepKind, message_parts
from server.engine.writes import StagedWrite, commit_all, stage_create, stage_replace

_NAMED = re.compile(r"^(?P<scenario>.+)\.(?P<mode>[A-Za-z0-9_-]+)\.json$")


@dataclass
class FixtureDraft:
    """A fixture document ready to write, the matching recording lines, and the calls left out."""

    document: dict[str, Any]
    recording: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return dumps(self.document, indent=2) + "\n"

    @property
    def recording_text(self) -> str:
        return "".join(dumps(line) + "\n" for line in self.recording)


def _first_human_text(messages: list[Any]) -> str | None:
    for entry in messages:
        kind, data = message_parts(entry)
        if kind == "human" and isinstance(data.get("content"), str) and data["content"].strip():
            return str(data["content"])
    return None


def build_fixture(session: Session, rules: Rules, target: Path) -> FixtureDraft:
    """A fixture for `session` keyed under `rules`; `target`'s name gives scenario and mode when it can."""
    normalizer = Normalizer(rules)
    named = _NAMED.match(target.name)
    scenario = named.group("scenario") if named else target.name.removesuffix(".json")
    document: dict[str, Any] = {"scenario": scenario, "mode": named.group("mode") if named else "recorded"}
    draft = FixtureDraft(document)
    turns: list[dict[str, Any]] = []
    models: list[str] = []
    prompt = None
    for step in session.steps:
        if step.kind is not StepKind.MODEL:
            continue
        if step.input is None:
            draft.skipped.append((step.index, "no recorded input"))
            continue
        problem = output_problem(step.output)
        if problem is not None:
            draft.skipped.append((step.index, problem))
            continue
        try:
            keys = normalizer.keys(step.caller, step.input)
        except InputShapeError as exc:
            draft.skipped.append((step.index, f"input cannot be keyed: {exc}"))
            continue
        if step.model:
            models.append(step.model)
        prompt = prompt or _first_human_text(step.input)
        turns.append(
            {
                "caller": keys.caller,
                "conversation_hash": keys.conversation_hash,
                "input_hash": keys.input_hash,
                "output": step.output,
            }
        )
        draft.recording.append(
            {
                "seq": len(draft.recording),
                "caller": keys.caller,
                "model": step.model,
                "conversation_hash": keys.conversation_hash,
                "input_hash": keys.input_hash,
                "input": step.input,
                "output": step.output,
            }
        )
    document["model"] = models[0] if models else ""
    if prompt is not None:
        document["prompt"] = prompt
    document["recorded_from"] = {"kind": session.info.kind, "session": session.info.id, "file": session.info.path.name}
    document["turns"] = turns
    return draft


def write_new(files: Sequence[tuple[Path, str]], *, replace: bool = False) -> None:
    """Create every `(path, text)` atomically, all of them or none; with `replace`, an existing file is
    replaced instead (a symlink written through to its target; a FIFO or a device refused, never opened)."""
    staged: list[StagedWrite] = []
    try:
        for path, text in files:
            data = text.encode("utf-8")
            exists = replace and os.path.lexists(path)
            staged.append(stage_replace(path, data, None) if exists else stage_create(path, data))
    except BaseException:
        for write in staged:
            write.discard()
        raise
    commit_all(staged)
