"""Acceptance: deer-flow's real fixtures (copies), a suite like deer-flow's, one capture run.

Before the run every turn is `unverifiable` (deer-flow keeps no raw inputs); after it, every
turn of the fixtures at deer-flow's HEAD has a verdict: valid where the suite sends the
conversation that produced the key, a `replay-miss` (with its nearest turn) where the prompt
is not in the fixture (the title and suggestion prompts). The first version of the fixture
keyed the system prompt, which nothing records: its replay stops at the first miss, and the
turns after it stay unverifiable (asserted, so a change there is seen).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.engine.checks import TurnStatus
from server.engine.workspace import load_project_config, load_workspace
from tests.capture.deerflow_project import make_deerflow_project
from tests.capture.project import run_pytest
from tests.conftest import COMPAT, run_cli

VALID, MISSED, UNVERIFIABLE = TurnStatus.VALID, TurnStatus.MISSED, TurnStatus.UNVERIFIABLE


def verdicts(root: Path) -> dict[str, list[TurnStatus]]:
    config = load_project_config(root)
    result = load_workspace([config.root], config).check()
    return {report.fixture.path.name: [turn.status for turn in report.turns] for report in result.fixtures}


def findings(root: Path) -> list[tuple[str, str, object]]:
    result = run_cli("check", "--format", "json", cwd=root).json()
    return sorted((f["code"], Path(f["path"]).name, f["data"].get("turn")) for f in result["findings"])


@pytest.fixture(scope="module")
def deerflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_deerflow_project(tmp_path_factory.mktemp("deerflow"))


def test_one_capture_run_turns_every_unverifiable_into_a_verdict(deerflow: Path) -> None:
    assert verdicts(deerflow) == {
        "subagent_file_task.ultra.json": [UNVERIFIABLE] * 4,
        "write_read_file.ultra.json": [UNVERIFIABLE] * 5,
    }
    plain = run_pytest(deerflow)
    captured = run_pytest(deerflow, "--replay-lens=capture")
    assert plain.outcomes == captured.outcomes == {"passed": 2}  # the title and suggestions fall back, as in deer-flow
    assert verdicts(deerflow) == {
        "subagent_file_task.ultra.json": [VALID] * 4,
        "write_read_file.ultra.json": [VALID, MISSED, VALID, VALID, MISSED],
    }
    found = findings(deerflow)
    assert not [item for item in found if item[0] == "unverifiable"]
    on_fixtures = [item for item in found if item[1].endswith(".json")]
    assert on_fixtures == [
        ("replay-miss", "subagent_file_task.ultra.json", None),  # its test calls a title agent the fixture lacks
        ("replay-miss", "subagent_file_task.ultra.json", None),  # and a suggestion agent
        ("replay-miss", "write_read_file.ultra.json", 1),  # middleware:title: prompt not in the fixture
        ("replay-miss", "write_read_file.ultra.json", 4),  # suggest_agent: same
    ]


def test_the_fixture_at_63ce88f_gets_the_same_verdicts(tmp_path: Path) -> None:
    root = make_deerflow_project(tmp_path / "at-63ce88f")
    replay = root / "tests" / "fixtures" / "replay"
    (replay / "subagent_file_task.ultra.json").unlink()
    shutil.copyfile(COMPAT / "write_read_file.ultra.at-63ce88f.json", replay / "write_read_file.ultra.json")
    (root / "tests" / "test_replay.py").write_text(
        (root / "tests" / "test_replay.py").read_text(encoding="utf-8").replace(', "subagent_file_task.ultra"', ""),
        encoding="utf-8",
    )
    assert run_pytest(root, "--replay-lens=capture").outcomes == {"passed": 1}
    assert verdicts(root) == {"write_read_file.ultra.json": [VALID, MISSED, VALID, VALID, MISSED]}


def test_the_first_fixture_version_keyed_the_system_prompt_and_stops_at_its_first_miss(tmp_path: Path) -> None:
    root = make_deerflow_project(tmp_path / "at-8875901")
    replay = root / "tests" / "fixtures" / "replay"
    (replay / "subagent_file_task.ultra.json").unlink()
    shutil.copyfile(COMPAT / "write_read_file.ultra.at-8875901.json", replay / "write_read_file.ultra.json")
    (root / "tests" / "test_replay.py").write_text(
        (root / "tests" / "test_replay.py").read_text(encoding="utf-8").replace(', "subagent_file_task.ultra"', ""),
        encoding="utf-8",
    )
    plain = run_pytest(root)
    captured = run_pytest(root, "--replay-lens=capture")
    assert plain.outcomes == captured.outcomes == {"failed": 1}
    assert verdicts(root) == {"write_read_file.ultra.json": [MISSED] + [UNVERIFIABLE] * 4}
