"""An edit's new text is built by one `str.replace` where the characters before the edit are found first at its
place, and by the block-wise splice elsewhere: either way, exactly the edited text (issue 17, the server's RSS)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from server.lsp import buffers
from tests.lsp.helpers import Client, open_document, position_of, replace_all, start
from tests.lsp.test_edit_latency import keystroke, published, shown

KEY = '"input_hash": "'


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, int, int, str]:
    """A text of a few pieces in any order (what precedes an edit often occurs earlier, at other offsets than a
    period's), and an edit of it."""
    pool = draw(st.lists(st.text(alphabet="ab\n😀", max_size=12), min_size=1, max_size=3))
    text = "".join(draw(st.lists(st.sampled_from(pool), max_size=20)))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return text, start, end, draw(st.text(alphabet="ab\n😀", max_size=5))


@settings(max_examples=300, deadline=None)
@given(edits(), st.sampled_from([0, 1, 3, 8]))
def test_a_splice_is_the_edited_text(edit: tuple[str, int, int, str], context: int) -> None:
    """With the context a few characters long, as with the server's own, both ways are taken (texts of a few
    dozen characters stand for a document of megabytes)."""
    text, start, end, new = edit
    with mock.patch.object(buffers, "_CONTEXT", context):
        assert buffers._spliced(text, start, end, new) == text[:start] + new + text[end:]
    assert buffers._spliced(text, start, end, new) == text[:start] + new + text[end:]


async def test_an_edit_lands_in_its_own_copy_of_a_repeated_turn(client: Client, workspace: Path) -> None:
    """Three copies of one turn: what precedes the third copy's key also precedes the second's (a replace of the
    first occurrence would edit the wrong copy), while the second's is found first at its own place. Keys broken
    and mended in each copy show what a whole re-read of the edited text shows."""
    await start(client, workspace, options={"debounceMs": 0})
    path = workspace / "replay" / "write_note.ultra.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["turns"] = [data["turns"][0]] * 3 + data["turns"][1:]
    text = json.dumps(data, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
    uri = open_document(client, path, text=text)
    shown_before = shown(await published(client, uri, 1))
    keys = [match.end() + 4 for match in re.finditer(re.escape(KEY), text)]  # one character replaced by one: kept
    found_first = [text.find(text[key - buffers._CONTEXT : key + 1]) == key - buffers._CONTEXT for key in keys[:3]]
    assert found_first == [True, True, False]  # the third copy's edit takes the block-wise splice
    version = 1
    for copy in (2, 1, 0, 2):
        offset = keys[copy]
        new = "0" if text[offset] != "0" else "1"
        version += 1
        keystroke(client, uri, position_of(text[:offset] + "\0", "\0"), 1, new, version)
        text = text[:offset] + new + text[offset + 1 :]
        typed = shown(await published(client, uri, version))
        assert typed != shown_before
        replace_all(client, uri, text, "", version + 1)
        await published(client, uri, version + 1)
        replace_all(client, uri, "", text, version + 2)
        version += 2
        assert typed == shown(await published(client, uri, version))
        shown_before = typed
