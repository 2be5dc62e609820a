"""Opening a fixture as it is on disk takes the parse indexing made of it (`state.parse_text`), and only then."""

from __future__ import annotations

from pathlib import Path

from server.engine.fixture import Fixture
from server.engine.workspace import load_project_config
from server.lsp.buffers import Snapshot
from server.lsp.state import Document, parse_text, read_disk
from tests.lsp.helpers import copy_samples

NAME = "replay/write_note.ultra.json"


def disk_document(tmp_path: Path, prefix: bytes = b"") -> Document:
    """The sample fixture (with `prefix` before its bytes) in a copy of the sample workspace, read from disk."""
    path = copy_samples(tmp_path / "workspace") / NAME
    path.write_bytes(prefix + path.read_bytes())
    document = read_disk(path, load_project_config(path.parents[1]), None)
    assert document is not None and isinstance(document.parsed, Fixture)
    return document


def opened(previous: Document, text: str) -> Document:
    document = parse_text(
        previous.path,
        previous.uri,
        Snapshot(text, 7, -1, None),
        1,
        load_project_config(previous.path.parents[1]),
        previous,
    )
    assert document is not None and document.version == 1 and document.serial == 7
    return document


def test_the_same_text_takes_the_disk_parse(tmp_path: Path) -> None:
    previous = disk_document(tmp_path)
    text = "".join(previous.source.text)  # equal, but the editor's own string
    document = opened(previous, text)
    assert isinstance(document.parsed, Fixture) and isinstance(previous.parsed, Fixture)
    assert document.parsed.turns is previous.parsed.turns  # not parsed again
    assert document.source.text is text  # the disk's copy of the text is not kept
    assert document.source.line_starts == previous.source.line_starts


def test_another_text_is_parsed_anew(tmp_path: Path) -> None:
    previous = disk_document(tmp_path)
    text = previous.source.text.replace('"turns"', '"turns"  ', 1)  # unsaved spaces: every offset after moves
    document = opened(previous, text)
    assert isinstance(document.parsed, Fixture) and isinstance(previous.parsed, Fixture)
    assert document.parsed.turns is not previous.parsed.turns
    assert document.parsed.source.text == text
    moved = [turn.span.start - 2 for turn in document.parsed.turns]
    assert moved == [turn.span.start for turn in previous.parsed.turns]


def test_a_file_with_a_byte_order_mark_is_parsed_from_the_editor_text(tmp_path: Path) -> None:
    previous = disk_document(tmp_path, b"\xef\xbb\xbf")
    assert previous.source.bom and not previous.source.text.startswith("\ufeff")  # the text the editor shows
    document = opened(previous, previous.source.text)
    assert isinstance(document.parsed, Fixture) and isinstance(previous.parsed, Fixture)
    assert document.parsed.turns is not previous.parsed.turns
    assert not document.source.bom  # edits and rehashes write what the editor holds, no BOM added
