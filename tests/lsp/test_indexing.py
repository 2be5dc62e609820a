"""Indexing a large workspace: progress with percentages, and requests answered while it runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lsprotocol import types

from tests.lsp.helpers import SAMPLES, Client, open_document, position_of, start


def large_workspace(root: Path, copies: int) -> Path:
    """`copies` copies of the sample sessions (no config: recognized by content), 6 files each."""
    for index in range(copies):
        for folder in ("replay", "recordings"):
            shutil.copytree(SAMPLES / folder, root / f"run{index:03d}" / folder)
    return root


def progress_values(client: Client) -> list[Any]:
    """Begin, report and end values (pytest-lsp stores them under each token)."""
    return [value for values in client.progress_reports.values() for value in values]


def ended(client: Client) -> bool:
    return any(isinstance(value, types.WorkDoneProgressEnd) for value in progress_values(client))


async def test_hover_is_answered_while_a_large_workspace_indexes(client: Client, tmp_path: Path) -> None:
    root = large_workspace(tmp_path / "large", 500)
    await start(client, root, progress=True)
    path = root / "run000" / "replay" / "write_note.ultra.json"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, path)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position_of(text, '"output"'))
    )
    assert not ended(client), "indexing finished before the hover: the workspace is too small for this test"
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "**Turn 0** · caller `lead_agent` · checking… (the workspace is still being indexed)" in hover.contents.value
    assert "**Recorded output**" in hover.contents.value

    await client.until(lambda: ended(client), timeout=60, what="the end of indexing")
    values = progress_values(client)
    assert isinstance(values[0], types.WorkDoneProgressBegin)
    percentages = [value.percentage or 0 for value in values if isinstance(value, types.WorkDoneProgressReport)]
    assert percentages == sorted(percentages)
    assert any(percentage is not None and 0 < percentage < 90 for percentage in percentages)
    assert isinstance(values[-1], types.WorkDoneProgressEnd)
    assert values[-1].message == "1500 fixtures, 1500 recordings"
    # Once indexed, the same hover knows the turn's status.
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position_of(text, '"output"'))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "✗ stale" in hover.contents.value
    assert client.statuses[-1]["fixtures"] == 1500
    assert client.statuses[-1]["indexing"] is False


async def test_nested_configs_are_projects_of_their_own(client: Client, tmp_path: Path) -> None:
    # Like this repository: the workspace root has no config, the sample folder has its own.
    nested = tmp_path / "fixtures"
    shutil.copytree(SAMPLES, nested, ignore=shutil.ignore_patterns("*.py", "traces"))
    config = nested / "replay-lens.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('"deerflow"', '"none"'), encoding="utf-8")
    for folder in ("replay", "recordings"):
        shutil.copytree(SAMPLES / folder, tmp_path / "outside" / folder)
    await start(client, tmp_path)
    inside = (nested / "replay" / "write_note.ultra.json").as_uri()
    outside = (tmp_path / "outside" / "replay" / "write_note.ultra.json").as_uri()
    assert list(await client.diagnostics_for(inside)) == []  # checked under the nested config's rules
    items = await client.diagnostics_for(outside)
    assert sorted(str(item.code) for item in items) == ["stale-key"] * 3  # under the defaults (deerflow)
