"""A `check` process ends as soon as it is done, without the interpreter's teardown (`server.__main__._end_now`):
everything it printed reaches the reader, whole, with the exit status the run gave; a reader that goes away early
(`| head`) gets no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli


def process(*args: str, cwd: Path, cache: Path) -> subprocess.Popen[bytes]:
    # Buffered as a user's terminal or pipe is (this machine's environment may ask for unbuffered streams).
    inherited = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    env = {**inherited, "PYTHONPATH": str(REPO), "REPLAY_LENS_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "server", "check", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def many_findings(samples: Path) -> Path:
    """The sample workspace with its stale fixture copied 300 times: an output far over a pipe's buffer."""
    stale = samples / "replay" / "write_note.ultra.json"
    for copy in range(300):
        shutil.copy(stale, samples / "replay" / f"copy{copy:03}.json")
    return samples


def test_everything_printed_arrives_with_the_runs_status(samples: Path, tmp_path: Path) -> None:
    root = many_findings(samples)
    child = process("--format", "json", "--severity", "info", ".", cwd=root, cache=tmp_path / "cache")
    output, errors = child.communicate(timeout=120)
    in_process = run_cli("check", "--format", "json", "--severity", "info", ".", cwd=root)
    assert (child.returncode, errors) == (1, b"")
    assert len(output) > 256 << 10  # four times a pipe's buffer
    assert json.loads(output) == json.loads(in_process.stdout)


def test_a_reader_gone_early_gets_no_traceback(samples: Path, tmp_path: Path) -> None:
    root = many_findings(samples)
    child = process("--format", "json", "--severity", "info", ".", cwd=root, cache=tmp_path / "cache")
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.read(10) == b'{\n  "versi'
    child.stdout.close()
    errors = child.stderr.read()
    assert child.wait(timeout=120) == 120  # the interpreter's own status for output it could not write
    assert b"Traceback" not in errors


def test_a_short_output_kept_in_the_streams_buffer_arrives(samples: Path, tmp_path: Path) -> None:
    """A text report shorter than the stream's buffer is still in it when the run is done: it is flushed first."""
    child = process("--format", "text", "--color", "never", ".", cwd=samples, cache=tmp_path / "cache")
    output, errors = child.communicate(timeout=120)
    in_process = run_cli("check", "--format", "text", "--color", "never", ".", cwd=samples)
    assert len(output) < 8 << 10
    assert (child.returncode, output.decode(), errors) == (in_process.code, in_process.stdout, b"")
