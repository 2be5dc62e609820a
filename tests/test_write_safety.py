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
from typing import Any

import pytest

from server.__main__ import main
from server.engine import writes
from server.engine.writes import ChangedOnDiskError, NotRegularError, atomic_write, content_hash
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


def _save_in_place(path: Path) -> None:
    """An editor's save that keeps the file (and its size): same inode, maybe the same mtime tick."""
    data = path.read_bytes()
    with path.open("r+b") as handle:
        handle.write(b"X" if data[:1] != b"X" else b"Y")


def _save_by_rename(path: Path) -> None:
    """An editor's save that writes a new file and renames it over the old one."""
    fresh = path.with_name(path.name + ".editor")
    fresh.write_bytes(path.read_bytes() + b"\n")
    os.replace(fresh, path)


@pytest.mark.parametrize("save", [_save_in_place, _save_by_rename])
def test_a_save_that_lands_while_the_new_file_is_written_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, save: Any
) -> None:
    """The race of issue 18: the content is checked, the temp file written, and an editor saves meanwhile."""
    path = tmp_path / "f.json"
    path.write_bytes(b"original content")
    seen = content_hash(path.read_bytes())
    monkeypatch.setattr(writes, "before_commit", lambda: save(path))  # after the temp file, before the rename
    with pytest.raises(ChangedOnDiskError, match="changed on disk while it was rewritten"):
        atomic_write(path, b"rewritten", seen)
    saved = path.read_bytes()
    assert saved not in {b"original content", b"rewritten"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]  # no temp file left


def test_check_fix_keeps_a_save_that_lands_during_its_write(
    samples: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --fix` in process, with the editor's save landing between the temp file and the rename."""
    fixture = samples / "replay" / "write_note.ultra.json"
    monkeypatch.setattr(writes, "before_commit", lambda: _save_in_place(fixture))
    monkeypatch.setenv("REPLAY_LENS_CACHE_DIR", "off")
    monkeypatch.chdir(samples)
    assert main(["check", "--fix", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    failures = [f for f in report["findings"] if f["message"].startswith("not rewritten")]
    assert [Path(f["path"]).name for f in failures] == ["write_note.ultra.json"]
    assert "changed on disk while it was rewritten" in failures[0]["message"]
    assert fixture.read_bytes()[:1] == b"X"  # the editor's save, untouched
    assert report["summary"]["fixed"] == 0


def test_fix_writes_a_symlinked_fixture_through_to_its_target(samples: Path) -> None:
    """Two links and the file they lead to, all fixtures of the workspace: one rewrite, of the file."""
    shared = samples / "shared"
    shared.mkdir()
    config = samples / "replay-lens.toml"
    config.write_text(config.read_text().replace('"replay/*.json"', '"replay/*.json", "shared/*.json"'))
    fixture = samples / "replay" / "write_note.ultra.json"
    target = shared / fixture.name
    shutil.move(fixture, target)
    fixture.symlink_to(target)
    (samples / "replay" / "second-link.json").symlink_to(target)
    before = run_cli("check", "--format", "json", cwd=samples).json()["summary"]
    stale = before["stale"] // 3  # each stale turn is seen through three paths
    assert stale > 0 and before["stale"] == 3 * stale
    fixed = run_cli("check", "--fix", "--format", "json", cwd=samples).json()
    assert not [f for f in fixed["findings"] if f["message"].startswith("not rewritten")]
    assert fixed["summary"]["fixed"] == stale and fixed["summary"]["stale"] == 0
    assert fixture.is_symlink() and fixture.resolve() == target.resolve()
    assert sorted(p.name for p in shared.iterdir()) == [fixture.name]  # written in place, no copy beside


def test_write_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularError):
        atomic_write(fifo, b"x", content_hash(b""))  # never opened: a FIFO would block
    with pytest.raises(NotRegularError):
        atomic_write(Path("/dev/zero"), b"x", content_hash(b""))
