"""The editor side of the capture, against a real server process: captures written by a test run
update the fixture's diagnostics with no editor event, and `replayLens.runReplayTests` runs the
tests that replay a fixture (trusted workspaces only), with progress and a cancel that kills
pytest and what it started."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.capture.deerflow_project import make_deerflow_project
from tests.capture.project import make_project, run_pytest
from tests.lsp.helpers import Client, codes, start

SLOW_TEST = """\
import subprocess
import sys
import time


def test_slow(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open("child.pid", "w") as stream:
        stream.write(str(child.pid))
    time.sleep(120)
"""


@pytest.fixture(scope="module")
def recorded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("template"))
    assert run_pytest(root, "--replay-lens=record", env={"DEMO_RECORD": "1"}).code == 0
    return root


@pytest.fixture
def project(recorded_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(recorded_template, tmp_path / "demo"))


def change_title_prompt(root: Path) -> None:
    agent = root / "agent.py"
    agent.write_text(agent.read_text(encoding="utf-8").replace("short title", "concise title"), encoding="utf-8")


async def test_a_test_run_updates_the_fixture_diagnostics_without_an_editor_event(
    client: Client, project: Path
) -> None:
    await start(client, project)
    greet = (project / "tests" / "fixtures" / "replay" / "greet.ultra.json").as_uri()
    await client.diagnostics_for(greet, what="the fixture's first diagnostics")
    change_title_prompt(project)
    assert run_pytest(project, "--replay-lens=capture").outcomes == {"failed": 2, "passed": 1}
    found = await client.diagnostics_for(greet, lambda items: "replay-miss" in codes(items), what="the miss")
    miss = next(item for item in found if item.code == "replay-miss")
    assert miss.range.start.line == 32  # turn 1's input_hash: the title turn
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=greet), position=miss.range.start)
    )
    assert hover is not None
    shown = str(hover.contents)
    assert "Captured call 1 against this turn" in shown
    assert "-  Write a short title for this conversation:" in shown
    assert "+  Write a concise title for this conversation:" in shown
    assert not client.registrations  # the server's own watcher saw the capture


async def test_run_replay_tests_runs_the_tests_of_a_fixture_and_shows_the_miss(client: Client, project: Path) -> None:
    await start(client, project, progress=True, options={"workspaceTrusted": True})
    greet = project / "tests" / "fixtures" / "replay" / "greet.ultra.json"
    await client.diagnostics_for(greet.as_uri(), what="the fixture's first diagnostics")
    assert run_pytest(project, "--replay-lens=capture").outcomes == {"passed": 3}  # captures tell which tests
    await client.until(
        lambda: any(".replay-lens" in uri for uri in client.diagnostics), what="the captures being checked"
    )
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=greet.as_uri()))
    )
    (run,) = [
        lens.command for lens in lenses or [] if lens.command and lens.command.command == "replayLens.runReplayTests"
    ]
    assert run.title == "▶ Run Replay Tests" and list(run.arguments or []) == [{"uri": greet.as_uri()}]
    change_title_prompt(project)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="replayLens.runReplayTests", arguments=[{"uri": greet.as_uri()}])
    )
    assert result["tests"] == ["tests/test_agent.py::test_greet"]
    assert result["outcomes"] == {"failed": 1} and result["exitCode"] == 1 and not result["cancelled"]
    found = await client.diagnostics_for(greet.as_uri(), lambda items: "replay-miss" in codes(items))
    assert [item.range.start.line for item in found if item.code == "replay-miss"] == [32]
    reports = [report for reports in client.progress_reports.values() for report in reports]
    begin = next(
        report
        for report in reports
        if isinstance(report, types.WorkDoneProgressBegin) and report.title.startswith("Replay tests")
    )
    assert begin.cancellable and begin.title == "Replay tests of greet.ultra.json"
    assert any(
        isinstance(report, types.WorkDoneProgressEnd) and "1 failed" in (report.message or "") for report in reports
    )


async def test_run_replay_tests_is_refused_in_an_untrusted_workspace(client: Client, project: Path) -> None:
    shutil.rmtree(project / ".replay-lens")
    await start(client, project)
    with pytest.raises(JsonRpcException, match="trusted workspace"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="replayLens.runReplayTests", arguments=[{}])
        )
    assert not (project / ".replay-lens").exists()  # nothing ran


def gone(pid: int) -> bool:
    """The process ended (a zombie left unreaped by a container's init counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def test_cancel_kills_pytest_and_the_processes_it_started(client: Client, project: Path) -> None:
    (project / "tests" / "test_agent.py").unlink()
    (project / "tests" / "test_slow.py").write_text(SLOW_TEST, encoding="utf-8")
    pid_file = project / "child.pid"
    await start(client, project, progress=True, options={"workspaceTrusted": True})
    task = asyncio.ensure_future(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="replayLens.runReplayTests", arguments=[{}])
        )
    )
    # pytest, then the test, then its child start: long under a loaded machine (a bound, not a timing)
    await client.until(lambda: pid_file.exists() and pid_file.read_text(), timeout=180, what="the test's child process")
    child = int(pid_file.read_text())
    (token,) = [token for token, reports in client.progress_reports.items() if "tests" in str(token)]
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(task, 120)
    assert result["cancelled"] is True and result["exitCode"] is None
    await client.until(lambda: gone(child), what="the test's child process to be killed")


async def test_a_fixture_without_recordings_says_unverifiable_and_points_to_the_capture(
    client: Client, tmp_path: Path
) -> None:
    root = make_deerflow_project(tmp_path / "deerflow")
    await start(client, root)
    fixture = root / "tests" / "fixtures" / "replay" / "write_read_file.ultra.json"
    await client.diagnostics_for(fixture.as_uri(), what="the fixture's diagnostics")
    status = await client.until(
        lambda: next((s for s in reversed(client.statuses) if s.get("fixtures") == 2 and not s["indexing"]), None),
        what="the status after the check",
    )
    assert (status["stale"], status["unverifiable"], status["missed"]) == (0, 9, 0)
    text = fixture.read_text(encoding="utf-8")
    line = text[: text.index('"input_hash"')].count("\n")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=fixture.as_uri()),
            position=types.Position(line=line, character=8),
        )
    )
    assert hover is not None and "pytest --replay-lens=capture" in str(hover.contents)
