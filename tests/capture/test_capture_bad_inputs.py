"""Bad inputs to the capture: each is a warning in the summary, never a failed or changed test,
never a corrupted capture file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.capture.project import make_project, run_pytest
from tests.conftest import run_cli

BAD_TESTS = """\
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class Echo(BaseChatModel):
    crash: bool = False

    @property
    def _llm_type(self):
        return "echo"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if self.crash:
            raise RuntimeError("connection reset mid-call")
        return ChatResult(generations=[ChatGeneration(message=AIMessage("ok", id="msg-echo"))])


class Opaque:
    pass


def test_unserializable_messages():
    message = HumanMessage("look", additional_kwargs={"attachment": Opaque()})
    assert Echo().invoke([message]).content == "ok"
    assert Echo().invoke([HumanMessage("plain")]).content == "ok"


def test_crash_mid_call():
    Echo().invoke([HumanMessage("first")])
    Echo(crash=True).invoke([HumanMessage("second")])
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "demo")
    (root / "tests" / "test_bad.py").write_text(BAD_TESTS, encoding="utf-8")
    recorded = run_pytest(root, "--replay-lens=record", env={"DEMO_RECORD": "1"})
    assert recorded.code == 1  # test_crash_mid_call
    # A half-recorded run never writes (or replaces) a fixture: each refusal is a warning.
    assert (
        "test_crash_mid_call: fixture test_crash_mid_call.json not written: call 1 (default caller) failed "
        "(RuntimeError: connection reset mid-call)" in recorded.output
    )
    assert "test_unserializable_messages: fixture test_unserializable_messages.json not written" in recorded.output
    assert sorted(path.name for path in (root / "tests" / "fixtures" / "replay").glob("*.json")) == [
        "greet.ultra.json",
        "weather.ultra.json",
    ]
    return root


def captures(root: Path) -> dict[str, list[dict[str, object]]]:
    return {
        path.name.rsplit(".", 2)[0]: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for path in sorted((root / ".replay-lens" / "captures").glob("*.jsonl"))
    }


def test_unserializable_input_and_a_crash_mid_call_are_warnings_and_the_rest_is_captured(project: Path) -> None:
    plain = run_pytest(project)
    run = run_pytest(project, "--replay-lens=capture")
    assert run.outcomes == plain.outcomes == {"failed": 1, "passed": 4}
    assert "warning: tests/test_bad.py::test_unserializable_messages: call 0" in run.output
    assert "not JSON-serializable" in run.output
    found = captures(project)
    assert [line["seq"] for line in found["tests-test_bad.py--test_unserializable_messages"]] == [1]
    crash = found["tests-test_bad.py--test_crash_mid_call"]
    assert [line["output"] is None for line in crash] == [False, True]
    assert crash[1]["error"] == "RuntimeError: connection reset mid-call"
    result = run_cli("check", "--format", "json", cwd=project).json()
    assert not [f for f in result["findings"] if f["code"] in ("invalid-json", "malformed-recording")]


def test_a_capture_folder_that_cannot_be_written_warns_and_changes_no_test(project: Path) -> None:
    folder = project / ".replay-lens" / "captures"
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    folder.write_text("not a folder", encoding="utf-8")  # refuses writes even to root
    plain = run_pytest(project)
    run = run_pytest(project, "--replay-lens=capture")
    assert run.outcomes == plain.outcomes and run.code == plain.code
    assert run.output.count("capture not written") == 4  # the four tests that called a model
    assert folder.read_text(encoding="utf-8") == "not a folder"


def test_two_xdist_workers_capture_at_once_without_corrupting_a_file(project: Path) -> None:
    plain = run_pytest(project, "-n", "2")
    run = run_pytest(project, "-n", "2", "--replay-lens=capture")
    assert run.outcomes == plain.outcomes == {"failed": 1, "passed": 4}
    assert "captured 7 chat-model calls of 4 tests" in run.output  # totals gathered from both workers
    assert "not JSON-serializable" in run.output  # a worker's warning reaches the summary
    found = captures(project)
    assert len(found) == 4 and all(lines for lines in found.values())
    assert not list((project / ".replay-lens" / "captures").glob("*.tmp"))
    result = run_cli("check", "--format", "json", cwd=project).json()
    assert [f for f in result["findings"] if f["severity"] == "error"] == []


def test_without_langchain_the_option_is_a_usage_error(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "langchain_core"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'langchain_core'\")\n", "utf-8")
    root = tmp_path / "plain"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_x.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
    env = {"PYTHONPATH": str(shadow.parent)}
    run = run_pytest(root, "--replay-lens=capture", env=env)
    assert run.code == 4 and "Traceback" not in run.output
    assert "LangChain cannot be imported here" in run.output


def test_a_mistake_in_the_capture_config_is_a_usage_error_naming_the_key(tmp_path: Path) -> None:
    root = make_project(tmp_path / "demo")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace('fixtures-dir = "', 'fixture-dir = "'), encoding="utf-8"
    )
    run = run_pytest(root, "--replay-lens=capture")
    assert run.code == 4 and "Traceback" not in run.output
    assert "invalid Replay Lens configuration" in run.output
    assert "tool.replay-lens.capture.fixture-dir: unknown key" in run.output
    assert run_cli("check", cwd=root).code == 2
