"""Bombs and huge files cost bounded memory (issue 18, item 6): each run is memory-capped (`RLIMIT_AS`).

- a zstd bomb (`.jsonl.zst`, 33 KB for 1 GiB) is decompressed as a stream within a budget;
- a 1 GiB sparse `.jsonl` that is not a recording is told by its first line, never read;
- a 3 GiB sparse `.json` is a `read-error` saying it is too large, and the rest is checked.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zstandard

from server.engine.files import MAX_DOCUMENT_BYTES, ZSTD_MIN_BUDGET, size_text
from tests.conftest import REPO, SAMPLES

MEMORY_CAP = 1 << 30
"""Each run's address space; the bombs and sparse files below each hold more than that."""


def run_capped(*args: str | os.PathLike[str], cwd: Path) -> tuple[int, str, str]:
    """A real CLI run whose address space is capped: running out of memory fails it (a traceback, exit 1)."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    completed = subprocess.run(
        [sys.executable, "-m", "server", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in completed.stderr and "MemoryError" not in completed.stderr, completed.stderr
    return completed.returncode, completed.stdout, completed.stderr


def zstd_bomb(path: Path, unit: bytes, frames: int = 64) -> Path:
    """`frames` zstd frames of 16 MiB each of `unit` repeated (1 GiB for 64): a few hundred bytes per frame."""
    frame = zstandard.ZstdCompressor(level=19).compress(unit * ((16 << 20) // len(unit)))
    path.write_bytes(frame * frames)
    return path


@pytest.mark.parametrize(
    "unit",
    [b"\0", b"\n", b'{"type": "event_msg", "payload": {"type": "agent_message", "message": "' + b"x" * 4000 + b'"}}\n'],
    ids=["zeros", "line-breaks", "json-lines"],
)
def test_a_zstd_bomb_is_read_within_its_budget(tmp_path: Path, unit: bytes) -> None:
    bomb = zstd_bomb(tmp_path / "rollout-2026-01-01T00-00-00-bomb.jsonl.zst", unit)
    assert bomb.stat().st_size < 128 * 1024
    budget = f"decompresses to more than {size_text(ZSTD_MIN_BUDGET)}"
    code, out, _ = run_capped("sessions", "--format", "json", tmp_path, cwd=tmp_path)
    listing = json.loads(out)
    assert code == 0 and [session["path"] for session in listing["sessions"]] == [str(bomb)]
    code, out, _ = run_capped("steps", "--format", "json", bomb, cwd=tmp_path)
    messages = [finding["message"] for finding in json.loads(out)["findings"]]
    assert any(budget in message for message in messages), messages


def test_a_legitimate_zst_file_is_read_whole(tmp_path: Path) -> None:
    """The control: the budget leaves room for real compressed rollouts (here a sample compressed 20 times)."""
    rollout = next((SAMPLES / "traces" / "codex-sessions").rglob("rollout-*.jsonl"))
    compressed = tmp_path / (rollout.name + ".zst")
    compressed.write_bytes(zstandard.ZstdCompressor().compress(rollout.read_bytes()))
    plain = run_capped("steps", "--format", "json", rollout, cwd=tmp_path)
    packed = run_capped("steps", "--format", "json", compressed, cwd=tmp_path)
    assert json.loads(packed[1])["total"] == json.loads(plain[1])["total"] > 0
    assert json.loads(packed[1])["findings"] == json.loads(plain[1])["findings"]


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def check_report(root: Path, *args: str) -> Any:
    code, out, err = run_capped("check", "--format", "json", *args, cwd=root)
    assert code in (0, 1), err
    return json.loads(out)


@pytest.mark.parametrize("cache", ["--no-cache", "--severity=info"])
def test_a_huge_jsonl_that_is_not_a_recording_is_not_read(tmp_path: Path, cache: str) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    shutil.copy(SAMPLES / "recordings" / "write_note.ultra.jsonl", workspace)
    sparse(workspace / "events.jsonl", 1 << 30, b'{"event": "started"}\n')
    report = check_report(workspace, cache)
    assert report["summary"]["recordings"] == 1
    assert all(not finding["path"].endswith("events.jsonl") for finding in report["findings"])


def test_a_huge_json_is_a_finding_and_the_rest_is_checked(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(SAMPLES / "replay", workspace)
    huge = sparse(workspace / "huge.json", 3 << 30, b'{"turns": [{"input_hash": "')
    expected_rest = check_report(SAMPLES / "replay", "--no-cache")["summary"]["fixtures"]
    for args in (["--no-cache"], [], ["--no-cache", str(huge)]):
        report = check_report(workspace, *args)
        (finding,) = [finding for finding in report["findings"] if finding["path"] == str(huge)]
        assert finding["code"] == "read-error"
        assert finding["message"] == (
            f"cannot read: too large (3.0 GiB): files over {size_text(MAX_DOCUMENT_BYTES)} are not read whole"
        )
        if str(huge) not in args:
            assert report["summary"]["fixtures"] == expected_rest


def test_a_recording_line_too_long_to_hold_is_skipped(tmp_path: Path) -> None:
    """A recording whose second line runs 1 GiB without a break (a sparse file): that line is a finding,
    the lines around it are read, in the memory of a few lines."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    first, second, *_ = (SAMPLES / "recordings" / "write_note.ultra.jsonl").read_bytes().splitlines(keepends=True)
    path = workspace / "huge.jsonl"
    with path.open("wb") as handle:
        handle.write(first + b'{"caller": "lead_agent", "input": [')
        handle.seek(1 << 30)
        handle.write(b"]}\n" + second)
    report = check_report(workspace, "--severity=info")
    assert report["summary"]["recordings"] == 1
    (skipped,) = [finding for finding in report["findings"] if finding["code"] == "read-error"]
    assert skipped["message"] == "line 2 is longer than 64.0 MiB: skipped"
    assert skipped["range"]["start"]["line"] == 1
