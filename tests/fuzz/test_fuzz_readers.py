"""Fuzzing every reader: valid documents, then mutated. No exception may escape the engine.

A fixed budget runs with the suite; `make fuzz` runs a longer one
(REPLAY_LENS_FUZZ_EXAMPLES). Every input must end as findings or steps, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.engine.checks import check
from server.engine.config import ConfigError, default_config, load_config
from server.engine.fixture import read_fixture
from server.engine.recording import read_recording
from server.engine.rehash import apply_edits, rehash_edits
from server.engine.sessions import discover, page_steps, read_session
from server.engine.source import SourceText
from server.engine.workspace import classify
from tests.conftest import SAMPLES

EXAMPLES = int(os.environ.get("REPLAY_LENS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
value = st.recursive(
    scalar, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3), max_leaves=8
)
message = (
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["human", "ai", "tool", "system", "x"]),
            "data": st.fixed_dictionaries({"content": text | value}),
        }
    )
    | value
)
output = (
    st.fixed_dictionaries({"type": st.sampled_from(["ai", "human"]), "data": st.fixed_dictionaries({"content": text})})
    | value
)
turn = st.fixed_dictionaries(
    {"input_hash": HEX | value, "output": output},
    optional={"caller": text | value, "conversation_hash": HEX | value, "extra": value},
)
fixture_doc = st.fixed_dictionaries({"turns": st.lists(turn, max_size=4)}, optional={"scenario": text, "prompt": text})
record = st.fixed_dictionaries(
    {"input": st.lists(message, max_size=4) | value, "output": output},
    optional={"caller": text | value, "input_hash": HEX | value, "conversation_hash": HEX | value},
)


@st.composite
def mutated(draw: st.DrawFn, document: bytes) -> bytes:
    """A valid document, then a few byte-level edits: cut, insert, duplicate, flip, truncate."""
    data = bytearray(document)
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["cut", "insert", "duplicate", "flip", "truncate"]))
        if edit == "cut":
            del data[at : at + draw(st.integers(1, 20))]
        elif edit == "insert":
            data[at:at] = draw(
                st.sampled_from([b"{", b"}", b"[", b"]", b",", b'"', b":", b"\\", b"\n", b"\xff", b"\xe4\xbd", b"\x00"])
            )
        elif edit == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 40))]
        elif edit == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[at:]
    return bytes(data)


def fixture_bytes() -> st.SearchStrategy[bytes]:
    return fixture_doc.map(lambda d: (json.dumps(d, indent=2, ensure_ascii=False) + "\n").encode()).flatmap(mutated)


def recording_bytes() -> st.SearchStrategy[bytes]:
    lines = st.lists(record, min_size=1, max_size=4)
    return lines.map(lambda rs: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs).encode()).flatmap(mutated)


@FUZZ
@given(fixture_bytes(), recording_bytes())
def test_fixture_and_recording_readers_and_checks(fixture_data: bytes, recording_data: bytes) -> None:
    fixture = read_fixture(Path("f.json"), SourceText.from_bytes(fixture_data))
    recording = read_recording(Path("r.jsonl"), SourceText.from_bytes(recording_data))
    result = check([fixture], [recording], default_config(Path(".")))
    sources = {fixture.path: fixture.source, recording.path: recording.source}
    for finding in result.findings:
        assert finding.message
        source = sources[finding.path]  # every finding is about one of the two files it was given
        assert 0 <= finding.span.start <= finding.span.end <= len(source.text)  # a place inside the file
        assert finding.range == source.range(finding.span)  # and the range says the same place
    for report in result.fixtures:
        apply_edits(report.fixture.source.text, rehash_edits(report))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    check(
        [read_fixture(Path("f.json"), SourceText.from_bytes(data))],
        [read_recording(Path("r.jsonl"), SourceText.from_bytes(data))],
        default_config(Path(".")),
    )


@FUZZ
@given(
    fixture_bytes() | recording_bytes() | st.text().map(str.encode),
    st.sampled_from(["f.json", "r.jsonl", "notes.txt"]),
)
def test_an_editor_text_is_told_as_its_bytes_are(data: bytes, name: str) -> None:
    """A buffer is classified from its text, not encoded again: the same answer as for its bytes on disk."""
    text = SourceText.from_bytes(data).text
    config = default_config(Path("."))
    assert classify(Path(name), text, config) == classify(Path(name), text.encode("utf-8", "surrogatepass"), config)


CONFIG_KEYS = ["preset", "fixtures", "recordings", "exclude", "allow-volatile", "replace-rules", "colour"]
config_value = st.sampled_from(['"deerflow"', '"none"', "true", "3", '["a/*.json"]', "'(['", '"x"', "[]", "{}"])


@FUZZ
@given(
    st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), config_value), max_size=4),
    st.lists(st.tuples(st.sampled_from(["name", "pattern", "replacement", "flags"]), config_value), max_size=4),
    st.sampled_from(["", "[projection]\nsecond-pass = 1\n", "[key]\ncaller-aliases = 3\n", "[[rules]]\n"]),
    st.integers(0, 3),
)
def test_config_loader(
    tmp_path_factory: Any, top: list[tuple[str, str]], rule: list[tuple[str, str]], tail: str, cut: int
) -> None:
    body = "".join(f"{k} = {v}\n" for k, v in top) + "[[rules]]\n" + "".join(f"{k} = {v}\n" for k, v in rule) + tail
    path = tmp_path_factory.mktemp("cfg") / "replay-lens.toml"
    path.write_text(body[: len(body) - cut], encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as error:
        assert error.line >= 1 and error.message
        return
    config.rules.fingerprint()


TRACE_SAMPLES = sorted(p for p in (SAMPLES / "traces").rglob("*") if p.is_file())


@FUZZ
@given(st.sampled_from(TRACE_SAMPLES), st.data())
def test_session_readers_on_mutated_traces(tmp_path_factory: Any, sample: Path, data: st.DataObject) -> None:
    root = tmp_path_factory.mktemp("trace")
    copy = root / "traces"
    shutil.copytree(SAMPLES / "traces", copy)
    target = copy / sample.relative_to(SAMPLES / "traces")
    target.write_bytes(data.draw(mutated(target.read_bytes())))
    found = discover([copy])
    for info in found.sessions:
        session = read_session(info)
        assert session.steps is not None
        page = page_steps(info, 1, 5)
        assert page.total == len(session.steps) and len(page.steps) == min(5, page.total)
        json.dumps(page.to_json())


def test_a_locked_database_is_read_as_committed_and_left_as_it_was(tmp_path: Path) -> None:
    """A writer holding an exclusive lock does not stop a reader (databases are opened read-only, immutable):
    the sessions read are those of the unlocked database, and no file is left beside it."""
    copy = tmp_path / "traces"
    shutil.copytree(SAMPLES / "traces", copy)
    database = next(copy.rglob("*.sqlite"))
    unlocked = {info.id: [step.to_json() for step in read_session(info).steps] for info in discover([copy]).sessions}
    beside = sorted(database.parent.iterdir())
    writer = sqlite3.connect(database, timeout=0.1)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        found = discover([copy])
        locked = {info.id: [step.to_json() for step in read_session(info).steps] for info in found.sessions}
        assert not found.findings
    finally:
        writer.rollback()
        writer.close()
    assert any(info_id for info_id in locked if "react" in info_id)  # the database's sessions were read
    assert locked == unlocked
    assert sorted(database.parent.iterdir()) == beside
