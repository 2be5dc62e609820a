"""Damaged copies of the real CLI's schema-3 bundle and rollout: each fault is a finding, never a traceback.

Every broken file starts from what Codex 0.171.0 wrote (`data/0.171.0/`), cut
or rewritten the way a crash, a full disk or a hostile file would.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
import zstandard

from server.engine.sessions import Step, lines, read_session, resolve
from server.engine.sessions.codex_shard import read_shard
from tests.conftest import run_cli
from tests.producers.codex.test_codex_conformance import BUNDLES, CALLS, ROLLOUT, _read_input, _wire_input

SHARD = Path("payloads") / "000001.zst"


def _copy(tmp_path: Path) -> Path:
    bundle = tmp_path / BUNDLES[0].name
    shutil.copytree(BUNDLES[0], bundle)
    return bundle


def _records(bundle: Path) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress((bundle / SHARD).read_bytes())


def _codes(bundle: Path) -> list[str]:
    return [finding.code.name for finding in read_session(resolve(bundle)[0]).findings]


def test_truncated_shard_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    bundle = _copy(tmp_path)
    whole = (bundle / SHARD).read_bytes()
    (bundle / SHARD).write_bytes(whole[: len(whole) * 2 // 3])
    session = read_session(resolve(bundle)[0])
    cut = [finding for finding in session.findings if finding.path.name == "000001.zst"]
    assert len(cut) == 1 and "cut short" in cut[0].message and "records read" in cut[0].message
    assert any(finding.code.name == "missing-payload" for finding in session.findings)
    first = session.steps[0]
    assert first.kind.value == "model" and first.input  # its request payload lies before the cut
    assert any(step.problem and "not in payloads/000001.zst" in step.problem for step in session.steps)
    result = run_cli("steps", bundle, "--format", "json")
    assert result.code == 1 and result.json()["findings"]  # 1: error findings, no traceback


def test_record_whose_length_runs_past_the_end(tmp_path: Path) -> None:
    bundle = _copy(tmp_path)
    data = _records(bundle)
    bogus = struct.pack("<HQ", 14, 1000) + b"raw_payload:99" + b"{}"
    (bundle / SHARD).write_bytes(zstandard.ZstdCompressor().compress(data + bogus))
    shard = read_shard(bundle / SHARD)
    assert shard.problem is not None and "declares 1024 bytes" in shard.problem and "only 26 follow" in shard.problem
    assert len(shard) == data.count(b"raw_payload:")  # every whole record is kept
    session = read_session(resolve(bundle)[0])
    assert [finding.code.name for finding in session.findings] == ["trace-error"]
    assert len([step for step in session.steps if step.kind.value == "model"]) == 3


def test_record_cut_inside_its_payload(tmp_path: Path) -> None:
    bundle = _copy(tmp_path)
    data = _records(bundle)
    (bundle / SHARD).write_bytes(zstandard.ZstdCompressor().compress(data[:-7]))
    shard = read_shard(bundle / SHARD)
    assert shard.problem is not None and "only" in shard.problem
    # The cut record is the last protocol event, which no step needs: one finding says the shard is damaged.
    assert _codes(bundle) == ["trace-error"]


def _bomb(path: Path, records: int, size: int) -> None:
    """A few kilobytes of zstd that expand to `records` well-formed records of `size` bytes each."""
    compressor = zstandard.ZstdCompressor(level=19).compressobj()
    chunks = [compressor.compress(b"")]
    payload = b'{"x":"' + b"a" * (size - 8) + b'"}'
    for number in range(records):
        record_id = f"raw_payload:{number + 1}".encode()
        chunks.append(compressor.compress(struct.pack("<HQ", len(record_id), len(payload)) + record_id + payload))
    path.write_bytes(b"".join(chunks) + compressor.flush())


def test_zstd_bomb_is_capped_not_held(tmp_path: Path) -> None:
    """Records that expand past the cap: reading stops there, with a finding; what was read is kept."""
    bomb = tmp_path / "000001.zst"
    _bomb(bomb, 64, 1 << 20)
    assert bomb.stat().st_size < 64 << 10
    shard = read_shard(bomb, limit=4 << 20)
    assert shard.problem is not None and "past the 4 MiB read at most" in shard.problem
    assert len(shard) == 3 and all(len(shard.get(record_id) or b"") == 1 << 20 for record_id in shard)


def test_bomb_of_zeros_or_of_one_huge_record_stops_at_once(tmp_path: Path) -> None:
    """Zeros read as empty records, a header can declare a terabyte: neither is read on to the cap."""
    zeros = tmp_path / "zeros.zst"
    zeros.write_bytes(zstandard.ZstdCompressor(level=19).compress(bytes(64 << 20)))
    shard = read_shard(zeros)
    assert len(shard) == 0 and shard.problem is not None and "has no id" in shard.problem
    huge = tmp_path / "huge.zst"
    huge.write_bytes(zstandard.ZstdCompressor().compress(struct.pack("<HQ", 13, 1 << 40) + b"raw_payload:1" + b"{}"))
    shard = read_shard(huge)
    assert len(shard) == 0 and shard.problem is not None and "past the 256 MiB read at most" in shard.problem


def test_missing_shard_payload_not_json_and_bad_shard_number(tmp_path: Path) -> None:
    bundle = _copy(tmp_path)
    (bundle / SHARD).unlink()
    session = read_session(resolve(bundle)[0])
    assert "missing-payload" in [finding.code.name for finding in session.findings]
    assert all(step.kind.value != "model" or step.input is None for step in session.steps)

    bundle = _copy(tmp_path / "second")
    record = struct.pack("<HQ", 13, 5) + b"raw_payload:5" + b"{nope"
    (bundle / SHARD).write_bytes(zstandard.ZstdCompressor().compress(_records(bundle) + record))
    session = read_session(resolve(bundle)[0])
    assert any("is not JSON" in finding.message for finding in session.findings)

    bundle = _copy(tmp_path / "third")
    events = bundle / "trace.jsonl"
    events.write_text(events.read_text(encoding="utf-8").replace('"shard":1', '"shard":"one"'), encoding="utf-8")
    assert any("names no valid shard" in finding.message for finding in read_session(resolve(bundle)[0]).findings)


def test_rollout_bomb_line_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A compressed rollout whose one line expands past the line cap: skipped with a finding, later lines read."""
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 1 << 20)
    text = ROLLOUT.read_bytes()
    first, rest = text.split(b"\n", 1)
    bomb = tmp_path / ROLLOUT.name.replace(".jsonl", ".jsonl.zst")
    bomb.write_bytes(zstandard.ZstdCompressor().compress(first + b"\n" + b" " * (8 << 20) + b"\n" + rest))
    session = read_session(resolve(bomb)[0])
    assert any("longer than 1.0 MiB" in finding.message for finding in session.findings)
    assert len([step for step in session.steps if step.kind.value == "model"]) == 4


def _without(bundle: Path, kind: str) -> list[str]:
    """Rewrite the bundle's shard without the payloads its `inference_started` events name under `kind`."""
    events = [json.loads(line) for line in (bundle / "trace.jsonl").read_text(encoding="utf-8").splitlines()]
    dropped = [
        event["payload"][kind]["raw_payload_id"] for event in events if event["payload"]["type"] == "inference_started"
    ]
    shard = read_shard(bundle / SHARD)
    records = {record_id: shard.get(record_id) or b"" for record_id in shard}
    kept = b"".join(
        struct.pack("<HQ", len(key.encode()), len(value)) + key.encode() + value
        for key, value in records.items()
        if key not in dropped
    )
    (bundle / SHARD).write_bytes(zstandard.ZstdCompressor().compress(kept))
    return dropped


def _wire_inputs(session_steps: list[Step]) -> tuple[list[list[tuple[Any, ...]]], list[list[tuple[Any, ...]]]]:
    models = [step for step in session_steps if step.kind.value == "model"]
    read = [_read_input(step.input or []) for step in models]
    sent = [_wire_input(call["input"]) for call in CALLS[: len(models)]]
    return read, sent


def test_unreadable_request_payload_is_rebuilt_from_the_prepared_prompt(tmp_path: Path) -> None:
    """Schema 3 also stores each prompt as text fragments around its model items: with the request payload
    gone, the input is spelled from them, base instructions (the first developer message) included."""
    bundle = _copy(tmp_path)
    dropped = _without(bundle, "request_payload")
    session = read_session(resolve(bundle)[0])
    read, sent = _wire_inputs(session.steps)
    assert read == sent and len(read) == 3
    assert {finding.data.get("payload") for finding in session.findings} == set(dropped)
    assert all(step.problem is None for step in session.steps)


def test_unreadable_prompt_text_leaves_only_the_base_instructions_out(tmp_path: Path) -> None:
    bundle = _copy(tmp_path)
    _without(bundle, "request_payload")
    _without(bundle, "prepared_prompt_payload")
    session = read_session(resolve(bundle)[0])
    read, sent = _wire_inputs(session.steps)
    assert read == [messages[1:] for messages in sent]
    models = [step for step in session.steps if step.kind.value == "model"]
    assert all((step.problem or "").endswith(": base instructions left out") for step in models)
