"""`server.lsp.documents`: a file opened outside every workspace folder gets its project when it is opened.

Taking a request's snapshot never indexes anything (issue 15): the open does it,
and a request sent right behind the `didOpen` waits for that open instead of
answering "not a document of the workspace".
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from lsprotocol import types

from tests.lsp.helpers import Client, open_document, start

TURNS = ["turn 0 · lead_agent", "turn 1 · middleware:title", "turn 2 · lead_agent", "turn 3 · lead_agent"]


async def _symbols(client: Client, uri: str) -> list[str]:
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return [symbol.name for symbol in symbols or []]


async def test_a_request_right_behind_the_open_of_a_loose_file_sees_it(client: Client, workspace: Path) -> None:
    outside = workspace.parent / "elsewhere"
    outside.mkdir()
    path = outside / "write_note.ultra.json"
    shutil.copyfile(workspace / "replay" / "write_note.ultra.json", path)
    await start(client, workspace / "recordings")
    uri = open_document(client, path)
    assert await _symbols(client, uri) == TURNS  # sent before any answer to the open: no wait in between


async def test_a_request_right_behind_the_open_of_a_file_under_another_config_sees_it(
    client: Client, workspace: Path
) -> None:
    """The config's folder is indexed like a workspace folder, and the request waits for that indexing."""
    outside = workspace.parent / "elsewhere"
    (outside / "replay").mkdir(parents=True)
    (outside / "recordings").mkdir()
    shutil.copyfile(workspace / "replay-lens.toml", outside / "replay-lens.toml")
    path = outside / "replay" / "write_note.ultra.json"
    shutil.copyfile(workspace / "replay" / "write_note.ultra.json", path)
    shutil.copyfile(
        workspace / "recordings" / "write_note.ultra.jsonl", outside / "recordings" / "write_note.ultra.jsonl"
    )
    await start(client, workspace / "recordings")
    uri = open_document(client, path)
    assert await _symbols(client, uri) == TURNS
    # Linked to the recording beside it (indexed as a folder): stale, not unverifiable. The lens says so; Problems
    # stay empty, the file being outside the workspace folders (`tests/lsp/test_diagnostics_store.py`).
    titles: list[str] = []
    deadline = asyncio.get_running_loop().time() + 30
    while not titles and asyncio.get_running_loop().time() < deadline:  # no lenses until the folder is checked
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        titles = [lens.command.title for lens in lenses or [] if lens.command is not None]
        await asyncio.sleep(0 if titles else 0.05)
    assert titles and titles[0] == "4 turns · 3 stale · 0 unverifiable", titles
