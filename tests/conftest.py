"""Shared helpers: paths of the repository, the sample workspace and the compat fixtures; a CLI runner."""

from __future__ import annotations

import atexit
import io
import json
import locale
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lsp import zygote

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "fixtures"
COMPAT = REPO.parent / "shared" / "compat" / "deer-flow"


class CliResult:
    """What a `python -m server ...` run printed and returned."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    *args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 120, process: bool = False
) -> CliResult:
    """`python -m server ARGS` in `cwd`: its exit status, stdout and stderr.

    Run in this process (`server.__main__.main` on streams of its own, in `cwd`; see
    `_in_process`) unless `process` is set or `REPLAY_LENS_TEST_CLI=process`: a new
    interpreter costs half a second of imports, more than most commands take. Tests
    of what only a process has (the import path, the interpreter's streams) pass
    `process=True`; `REPLAY_LENS_TEST_CLI=process pytest` runs every CLI test that way.
    `timeout` bounds a process only.
    """
    if process or os.environ.get("REPLAY_LENS_TEST_CLI") == "process":
        completed = subprocess.run(
            [sys.executable, "-m", "server", *map(str, args)],
            cwd=cwd or REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = CliResult(completed.returncode, completed.stdout, completed.stderr)
    else:
        result = _in_process([str(arg) for arg in args], cwd or REPO)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _in_process(argv: list[str], cwd: Path) -> CliResult:
    """`main(argv)` as the process would run it: streams that encode like a pipe's, the exit status of
    `sys.exit`, warnings logged with no handler written to stderr (Python's last resort); an exception
    escapes to the test, as a traceback would fail it."""
    path = sys.path[:]
    from server.__main__ import main  # noqa: PLC0415  (its import drops the current folder from sys.path)

    sys.path[:] = path
    out, err = io.BytesIO(), io.BytesIO()
    streams = (sys.stdout, sys.stderr)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stdout = sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    last_resort = logging.StreamHandler(stderr)
    last_resort.setLevel(logging.WARNING)
    # Another test's leftover asyncio task, collected now, is that test's, not this command's (the CLI runs no loop).
    last_resort.addFilter(lambda record: record.name != "asyncio")
    root.handlers[:] = [last_resort]
    root.setLevel(logging.WARNING)
    before = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    finally:
        os.chdir(before)
        sys.stdout, sys.stderr = streams
        root.handlers[:] = handlers
        root.setLevel(level)
    stdout.flush()
    stderr.flush()
    return CliResult(code, _as_read_from_a_pipe(out.getvalue()), _as_read_from_a_pipe(err.getvalue()))


def _as_read_from_a_pipe(data: bytes) -> str:
    """Decoded as `subprocess.run(text=True)` decodes: the locale's encoding, universal newlines."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=locale.getpreferredencoding(False)).read()


# Every test (and every process it starts) caches under a folder of this run, never the user's. Set
# on import, before any test module copies the environment for its servers (tests/lsp/helpers.py).
_CACHE = tempfile.mkdtemp(prefix="replay-lens-test-cache-")
os.environ["REPLAY_LENS_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def server_zygote() -> Iterator[None]:
    """Server processes forked from one that has imported the server (tests/lsp/zygote.py)."""
    with zygote.started():
        yield


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of the sample workspace (tests may rewrite it)."""
    target = tmp_path / "workspace"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def findings_by_code(report: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [finding for finding in report["findings"] if finding["code"] == code]
