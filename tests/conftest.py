"""Shared helpers: paths of the repository, the sample workspace and the compat fixtures; a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "fixtures"
COMPAT = REPO.parent / "shared" / "compat" / "deer-flow"


class CliResult:
    """What a real `python -m server ...` run printed and returned."""

    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.code = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 120) -> CliResult:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-m", "server", *map(str, args)],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in completed.stderr, completed.stderr
    return CliResult(completed)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test (and every process it starts) caches under a folder of this run, never the user's."""
    os.environ["REPLAY_LENS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of the sample workspace (tests may rewrite it)."""
    target = tmp_path / "workspace"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def findings_by_code(report: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [finding for finding in report["findings"] if finding["code"] == code]
