"""Nothing on disk is lost or half-written: rewrites are atomic even when the process is killed."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.engine.writes import ChangedOnDiskError, atomic_write, content_hash
from tests.conftest import REPO, SAMPLES, run_cli

TRIALS = int(os.environ.get("REPLAY_LENS_KILL_TRIALS", "12"))


def big_stale_workspace(root: Path) -> Path:
    """The sample workspace with a 20 MB prompt in the stale fixture, so its rewrite takes a while."""
    shutil.copytree(SAMPLES, root, ignore=shutil.ignore_patterns("*.py", "traces"))
    fixture = root / "replay" / "write_note.ultra.json"
    document = json.loads(fixture.read_text(encoding="utf-8"))
    document["prompt"] = "请 lorem ipsum " * 1_500_000
    fixture.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return fixture


def test_killed_rewrites_leave_the_old_or_the_new_file(tmp_path: Path) -> None:
    template = tmp_path / "template"
    fixture = big_stale_workspace(template)
    old = fixture.read_bytes()
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    run_cli("check", "--fix", cwd=reference)
    new = (reference / fixture.relative_to(template)).read_bytes()
    assert new != old

    rng = random.Random(1)
    outcomes = {"old": 0, "new": 0}
    for trial in range(TRIALS):
        workspace = tmp_path / f"trial-{trial}"
        shutil.copytree(template, workspace)
        target = workspace / fixture.relative_to(template)
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "check", "--fix"],
            cwd=workspace,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not list(target.parent.glob(".*.tmp")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)  # wait for the rewrite to begin, then kill somewhere inside it
        time.sleep(rng.uniform(0, 0.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        data = target.read_bytes()
        assert data in (old, new), f"trial {trial}: corrupted file ({len(data)} bytes)"
        outcomes["old" if data == old else "new"] += 1
    print(f"kill trials: {TRIALS}, old: {outcomes['old']}, new: {outcomes['new']}, corrupted: 0")


def test_write_refuses_a_file_changed_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"original")
    seen = content_hash(b"original")
    path.write_bytes(b"edited by someone else")
    with pytest.raises(ChangedOnDiskError):
        atomic_write(path, b"rewritten", seen)
    assert path.read_bytes() == b"edited by someone else"
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_keeps_mode_and_replaces_whole(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"x" * 1000)
    path.chmod(0o600)
    atomic_write(path, b"short", hashlib.sha256(b"x" * 1000).hexdigest())
    assert path.read_bytes() == b"short"
    assert path.stat().st_mode & 0o777 == 0o600
