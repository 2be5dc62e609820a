"""The README's two set-up commands do what they say, run as a new user would on a fresh clone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    block = README.split("<!-- setup-commands -->")[1].split("<!-- /setup-commands -->")[0]
    return re.findall(r"^\s*(make \S+)", block, re.MULTILINE)


def test_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    assert setup_commands() == ["make demo", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_demo_command_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    result = subprocess.run(["make", "demo"], cwd=clone, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error[stale-key]" in result.stdout
    assert "3 stale turns can be rehashed from recordings: rerun with --fix." in result.stdout
    assert "Traceback" not in result.stderr
