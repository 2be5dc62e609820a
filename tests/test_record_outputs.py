"""`record-fixture` writes regular files only, and the fixture and its recording both or neither (issue 18, item 8).

Before: `-o FIFO --force` blocked forever opening the FIFO, `-o /dev/zero --force`
read the device until memory ran out, and a fixture stayed written when writing
`--recording` failed.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from server.__main__ import main
from server.engine import writes
from tests.conftest import REPO, SAMPLES

SESSION = SAMPLES / "recordings" / "translate_cn.flash.jsonl"
MEMORY_CAP = 1 << 30
"""Address space a `record-fixture` run gets: reading `/dev/zero` whole would pass it within a second."""


def record_capped(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """A real `record-fixture` run whose address space is capped (`RLIMIT_AS`): a run out of memory fails."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run(
        [sys.executable, "-m", "server", "record-fixture", SESSION, *map(str, args)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=120,  # a hang fails the test instead of blocking the run
        check=False,
    )


def test_a_normal_run_fits_under_the_cap(tmp_path: Path) -> None:
    """The control: the cap leaves room for the work, so a refusal below is not a memory failure."""
    result = record_capped("-o", tmp_path / "new.json", "--recording", tmp_path / "new.jsonl")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new.json").is_file() and (tmp_path / "new.jsonl").is_file()


@pytest.mark.parametrize("flag", ["-o", "--recording"])
def test_a_fifo_or_a_device_is_refused(tmp_path: Path, flag: str) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    zero_link = tmp_path / "zero.json"
    zero_link.symlink_to("/dev/zero")
    for output in (fifo, Path("/dev/zero"), zero_link):
        others = ["-o", tmp_path / "f.json"] if flag == "--recording" else []
        result = record_capped(flag, output, "--force", *others)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"error: {output} is not a regular file (a pipe, device or folder is never written)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.json", "zero.json"]  # nothing written


def test_no_fixture_is_left_when_the_recording_cannot_be_written(tmp_path: Path) -> None:
    fixture, recording = tmp_path / "new.json", tmp_path / "taken.jsonl"
    recording.write_text("someone's file\n")
    result = record_capped("-o", fixture, "--recording", recording)
    assert result.returncode == 2 and "taken.jsonl already exists" in result.stderr
    assert not fixture.exists() and recording.read_text() == "someone's file\n"


def test_a_commit_that_fails_halfway_undoes_the_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The recording's name is taken after both files were staged: the fixture, renamed first, is removed."""
    fixture, recording = tmp_path / "new.json", tmp_path / "new.jsonl"
    monkeypatch.setattr(writes, "before_commit", lambda: recording.write_text("created meanwhile\n"))
    assert main(["record-fixture", str(SESSION), "-o", str(fixture), "--recording", str(recording)]) == 2
    assert not fixture.exists() and recording.read_text() == "created meanwhile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.jsonl"]


def test_force_replaces_both_and_undoes_the_first_when_the_second_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture, recording = tmp_path / "old.json", tmp_path / "old.jsonl"
    fixture.write_text("old fixture\n")
    recording.write_text("old recording\n")
    monkeypatch.setattr(writes, "before_commit", lambda: recording.write_text("edited meanwhile\n"))
    assert main(["record-fixture", str(SESSION), "-o", str(fixture), "--recording", str(recording), "--force"]) == 2
    assert fixture.read_text() == "old fixture\n" and recording.read_text() == "edited meanwhile\n"
    monkeypatch.setattr(writes, "before_commit", lambda: None)
    assert main(["record-fixture", str(SESSION), "-o", str(fixture), "--recording", str(recording), "--force"]) == 0
    assert fixture.read_text().startswith("{") and recording.read_text().startswith('{"seq": 0')
