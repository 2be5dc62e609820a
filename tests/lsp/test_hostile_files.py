"""Hostile files do not stop a folder's indexing (issue 18, items 4 and 6): the real server process.

A name that is not UTF-8, a 3 GiB sparse `.json` (too large to read whole: a
`read-error`), a 1 GiB sparse `.jsonl` that is not a recording (never read): the
server publishes exactly what `check` finds.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

import pytest

from tests.conftest import SAMPLES, run_cli
from tests.lsp.helpers import copy_samples
from tests.lsp.rpc import RawServer

BAD_RECORDING = os.fsdecode(b"bad\xffname.jsonl")
BAD_FIXTURE = os.fsdecode(b"bad\xfefix.json")


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    process = await RawServer.start()
    yield process
    assert await process.close() == 0, process.stderr[-3000:].decode("utf-8", "replace")


def _path(uri: str) -> str:
    return os.fsdecode(unquote_to_bytes(urlsplit(uri).path))


def published(server: RawServer) -> dict[str, list[tuple[str, str, str]]]:
    return {
        _path(uri): sorted((item["code"], json.dumps(item["range"], sort_keys=True), item["message"]) for item in items)
        for uri, items in server.diagnostics().items()
        if items
    }


def expected(report: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    found: dict[str, list[tuple[str, str, str]]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["path"], []).append(
            (finding["code"], json.dumps(finding["range"], sort_keys=True), finding["message"])
        )
    return {path: sorted(items) for path, items in found.items()}


async def test_a_folder_with_names_that_are_not_utf8_is_indexed(server: RawServer, tmp_path: Path) -> None:
    workspace = copy_samples(tmp_path / "workspace")
    recording = workspace / "recordings" / BAD_RECORDING
    recording.write_bytes((workspace / "recordings" / "translate_cn.flash.jsonl").read_bytes() + b'{"caller": "cut')
    shutil.copy(workspace / "replay" / "legacy_search.flash.json", workspace / "replay" / BAD_FIXTURE)
    report = run_cli("check", "--format", "json", workspace, cwd=workspace).json()
    want = expected(report)
    assert {str(recording), str(workspace / "replay" / BAD_FIXTURE)} <= set(want)
    await server.initialize(workspace)
    await server.until(lambda: published(server) == want, what="the same findings as check, names included")
    reply = await server.request(
        "textDocument/documentSymbol",
        {"textDocument": {"uri": "file://" + quote(os.fsencode(workspace / "replay" / BAD_FIXTURE))}},
    )
    assert reply["result"], reply  # the URI names the file on disk, byte for byte


async def test_huge_sparse_files_are_findings_or_skipped(server: RawServer, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in ("replay", "recordings"):
        shutil.copytree(SAMPLES / name, workspace / name)
    huge = workspace / "replay" / "huge.json"
    with huge.open("wb") as handle:
        handle.write(b'{"turns": [')
        handle.truncate(3 << 30)
    with (workspace / "events.jsonl").open("wb") as handle:
        handle.write(b'{"event": "started"}\n')
        handle.truncate(1 << 30)
    want = expected(run_cli("check", "--format", "json", workspace, cwd=workspace).json())
    assert [code for code, _, _ in want[str(huge)]] == ["read-error"]
    await server.initialize(workspace)
    await server.until(lambda: published(server) == want, what="the huge file as a read-error, the rest checked")
    assert server.rss_kib() < 512 * 1024


@pytest.mark.parametrize("count", [1000, 5000])
async def test_a_replace_all_in_a_20_mb_fixture(server: RawServer, tmp_path: Path, count: int) -> None:
    """One `didChange` carrying an editor's Replace All inside the 20 MB prompt line: applied in one pass, and
    the server then answers with the document as edited (its outline, its diagnostics for the new version)."""
    workspace = copy_samples(tmp_path / "workspace")
    fixture = workspace / "replay" / "write_note.ultra.json"
    document = json.loads(fixture.read_text(encoding="utf-8"))
    document["prompt"] = "请 lorem ipsum " * 1_500_000
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    fixture.write_text(text, encoding="utf-8")
    await server.initialize(workspace)
    uri = fixture.as_uri()
    opened = {"uri": uri, "languageId": "json", "version": 1, "text": text}
    await server.notify("textDocument/didOpen", {"textDocument": opened})
    line = text[: text.index('"prompt"')].count("\n")
    start = text.index('"prompt"') - text.rfind("\n", 0, text.index('"prompt"')) - 1 + len('"prompt": "')
    width = len("请 lorem ipsum ")
    changes = [  # from the end backwards, as VS Code sends them: "lorem" -> "LOREM" in the first `count` repeats
        {
            "range": {
                "start": {"line": line, "character": start + k * width + 2},
                "end": {"line": line, "character": start + k * width + 7},
            },
            "text": "LOREM",
        }
        for k in reversed(range(count))
    ]
    await server.notify(
        "textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": changes}
    )
    reply = await server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}, timeout=120)
    assert len(reply["result"]) == len(document["turns"]), reply
    other = copy_samples(tmp_path / "saved")  # the edited text saved in a copy of the workspace, as `check` sees it
    saved = other / "replay" / fixture.name
    saved.write_text(text.replace("lorem", "LOREM", count), encoding="utf-8")
    want = expected(run_cli("check", "--format", "json", other, cwd=other).json())[str(saved)]
    await server.until(
        lambda: (
            sorted(
                (item["code"], json.dumps(item["range"], sort_keys=True), item["message"])
                for item in server.diagnostics().get(uri, [])
            )
            == want
        ),
        timeout=120,
        what="the diagnostics of the edited text",
    )


@pytest.mark.parametrize("depth", [600, 960])
async def test_deeply_nested_values_through_the_server(server: RawServer, tmp_path: Path, depth: int) -> None:
    """A recorded output nested `depth` levels deep: its step page and the fixture turn's hover are answered."""
    workspace = copy_samples(tmp_path / "workspace")
    recording = workspace / "recordings" / "translate_cn.flash.jsonl"
    lines = recording.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["output"]["data"]["additional_kwargs"] = {"deep": "@DEEP@", "api_key": "@DEEP@"}
    lines[0] = json.dumps(first).replace('"@DEEP@"', "[" * depth + '"sk-proj-aaaaaaaaaaaaaaaaaaaa"' + "]" * depth)
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    await server.initialize(workspace)
    page = await server.request("replayLens/steps", {"uri": recording.as_uri()}, timeout=60)
    assert "result" in page, page
    assert "sk-proj-aaaa" not in json.dumps(page)
    fixture = workspace / "replay" / "translate_cn.flash.json"
    hover = await server.request(
        "textDocument/hover", {"textDocument": {"uri": fixture.as_uri()}, "position": {"line": 14, "character": 10}}
    )
    assert "result" in hover, hover
    assert server.notifications("window/showMessage") == []
