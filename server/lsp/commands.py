"""Commands over `workspace/executeCommand` (the contract is docs/protocol.md).

- `replayLens.rehash` `{uri, turn?}` → `{applied, turns: [index]}`: rehash the
  stale turns of a fixture (or one turn) through `workspace/applyEdit`, so it
  lands in the editor's undo history. A client that cannot apply edits gets the
  file rewritten on disk (atomically, refusing if it changed) unless it has the
  file open.
- `replayLens.showNormalizedInput` `{uri, turn}` (turn: a turn index in a
  fixture, a call index in a recording; or `position`) → `{text}`: the
  normalized input a key is computed from; `text` is null when it is unknown.

`replayLens.replaySession` is in `replay.py`, `replayLens.runReplayTests` in `run_tests.py`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from server.engine.checks import FixtureReport, TurnStatus
from server.engine.fixture import Fixture
from server.engine.normalize import Keys
from server.engine.preview import normalized_input, safe
from server.engine.rehash import apply_edits, rehash_edits
from server.engine.source import SourceText
from server.engine.writes import ChangedOnDiskError, atomic_write, content_hash
from server.lsp.answers import failed
from server.lsp.context import Context
from server.lsp.convert import uri_to_path
from server.lsp.edits import rehash_edit
from server.lsp.locate import call_at, call_by_index, call_keys, input_keys, turn_at, turn_report
from server.lsp.session import Snapshot
from server.lsp.state import Document


def _arguments(args: tuple[Any, ...]) -> tuple[str, int | None, types.Position | None]:
    """(uri, index, position) from `[{"uri", "turn"?, "position"?}]` or `[uri, turn?]`."""
    if len(args) == 1 and isinstance(args[0], dict):
        first = args[0]
        args = (first.get("uri"), first.get("turn"), first.get("position"))
    if not args or not isinstance(args[0], str):
        raise JsonRpcInvalidParams("the first argument must be a document URI")
    index = args[1] if len(args) > 1 else None
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise JsonRpcInvalidParams("'turn' must be a 0-based index")
    raw = args[2] if len(args) > 2 else None
    position = None
    if isinstance(raw, dict) and isinstance(raw.get("line"), int) and isinstance(raw.get("character"), int):
        position = types.Position(line=raw["line"], character=raw["character"])
    elif raw is not None:
        raise JsonRpcInvalidParams("'position' must be {line, character}")
    return args[0], index, position


async def _current(context: Context, uri: str) -> Snapshot:
    path = uri_to_path(uri)
    if path is not None and not context.session.is_open(uri):
        context.session.refuse_outside(path)
    current = await context.snapshot(uri)
    if current is None:
        raise JsonRpcInvalidParams(f"not a fixture or recording of the workspace: {uri}")
    if current.analysis is None:
        raise failed("the workspace is still being checked; try again")
    return current


def _write(document: Document, report: FixtureReport, turns: list[int] | None) -> None:
    """What `check --fix` does, for one file: the same edits, written atomically."""
    source = document.source
    new = SourceText(apply_edits(source.text, rehash_edits(report, turns)), bom=source.bom)
    atomic_write(document.path, new.encode(), content_hash(source.encode()))


async def rehash(context: Context, args: tuple[Any, ...]) -> dict[str, Any]:
    uri, index, _position = _arguments(args)
    session = context.session
    current = await _current(context, uri)
    document = current.document
    report = current.analysis.fixtures.get(document.path) if current.analysis is not None else None
    if report is None:
        raise JsonRpcInvalidParams(f"not a fixture: {uri}")
    turns = [index] if index is not None else None
    edit = rehash_edit(current.capabilities, current.encoding, document, report, turns)
    if edit is None:
        reason = "nothing to rehash" if report.fixture.parsed_cleanly else "the file has syntax errors"
        return {"applied": False, "turns": [], "message": reason}
    stale = [
        item.turn.index
        for item in report.turns
        if item.status is TurnStatus.STALE and (turns is None or item.turn.index in turns)
    ]
    workspace = current.capabilities.workspace
    if workspace is not None and workspace.apply_edit:
        label = f"Rehash {len(stale)} stale turn{'s' * (len(stale) != 1)}"
        result = await session.client.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
        return {"applied": result.applied, "turns": stale, "message": result.failure_reason}
    if session.is_open(uri):
        raise failed("the client cannot apply edits to the open document")
    try:
        session.refuse_outside(document.path)  # an editor's document from elsewhere is never written on disk
        await asyncio.to_thread(_write, document, report, turns)
    except (ChangedOnDiskError, OSError) as exc:
        raise failed(f"not rewritten: {exc}") from None
    await context.documents.refresh({document.path})
    return {"applied": True, "turns": stale, "message": None}


async def show_normalized_input(context: Context, args: tuple[Any, ...]) -> dict[str, Any]:
    uri, index, position = _arguments(args)
    current = await _current(context, uri)
    analysis = current.analysis
    assert analysis is not None
    parsed = current.document.parsed
    keys: Keys | None = None
    if isinstance(parsed, Fixture):
        turn = turn_at(parsed, position, current.encoding) if position is not None else None
        if turn is None and index is not None:
            turn = next((item for item in parsed.turns if item.index == index and not item.broken), None)
        report = turn_report(analysis, current.document, turn) if turn is not None else None
        if report is None:
            return {"text": None, "message": "no turn there"}
        if report.keys is None:
            return {"text": None, "message": "no recording links to this turn: its input is unknown"}
        keys = await asyncio.to_thread(input_keys, analysis.config, report)
        if keys is None:
            return {"text": None, "message": "the recording changed on disk since the check: try again once checked"}
    else:
        call = call_at(parsed, position.line) if position is not None else None
        if call is None and index is not None:
            call = call_by_index(parsed, index)
        if call is None:
            return {"text": None, "message": "no recorded call there"}
        keys = await asyncio.to_thread(call_keys, analysis.config, parsed, call)
        if keys is None:
            return {"text": None, "message": "the recorded input cannot be normalized"}
    return {"text": safe(normalized_input(keys.canonical), reveal=current.settings.reveal_secrets)}
