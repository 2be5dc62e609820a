"""The capture on a real LangChain/LangGraph project run by pytest in a subprocess.

Record the fixtures with `--replay-lens=record`, then change the title prompt, the request
id (a volatile id) and the rules, and check that the capture run flags exactly the turns
that changed, with the right nearest turn and diff, that a rehash after the rules change
makes the next run clean, and that the tests' outcomes never depend on the plugin.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.capture.project import make_project, run_pytest
from tests.conftest import run_cli

RULE = """
[[tool.replay-lens.rules]]
name = "request-id"
pattern = '\\breq_[A-Za-z0-9]{8,}\\b'
replacement = "<REQ>"
"""
USER_RULE = '    (re.compile(r"\\breq_[A-Za-z0-9]{8,}\\b"), "<REQ>"),\n]\n'


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("demo"))
    run = run_pytest(root, "--replay-lens=record", env={"DEMO_RECORD": "1"})
    assert run.code == 0, run.output
    return root


def findings(root: Path) -> list[dict[str, Any]]:
    result = run_cli("check", "--format", "json", cwd=root)
    found: list[dict[str, Any]] = result.json()["findings"]
    return found


def where(finding: dict[str, Any], root: Path) -> tuple[str, str, Any]:
    path = (root / finding["path"]).resolve().relative_to(root.resolve()).as_posix()
    return finding["code"], path, finding["data"].get("turn")


def errors(root: Path) -> list[tuple[str, str, Any]]:
    return sorted(where(f, root) for f in findings(root) if f["severity"] == "error")


def same_outcomes(root: Path, env: dict[str, str] | None = None) -> dict[str, int]:
    """Run the suite without and with the capture: the outcomes must be identical."""
    plain = run_pytest(root, env=env)
    captured = run_pytest(root, "--replay-lens=capture", env=env)
    assert plain.outcomes == captured.outcomes, (plain.output, captured.output)
    assert plain.code == captured.code
    return captured.outcomes


def test_record_writes_fixtures_in_the_deer_flow_layout_with_their_recordings(recorded: Path) -> None:
    fixture = recorded / "tests" / "fixtures" / "replay" / "greet.ultra.json"
    text = fixture.read_text(encoding="utf-8")
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert (document["scenario"], document["mode"]) == ("greet", "ultra")
    assert [turn["caller"] for turn in document["turns"]] == ["lead_agent", "middleware:title"]
    lines = (fixture.with_suffix(".jsonl")).read_text(encoding="utf-8").splitlines()
    inputs = [json.loads(line)["input"] for line in lines]
    assert inputs[0][0]["type"] == "system" and "Say hi to Ada." in inputs[0][1]["data"]["content"]
    assert (recorded / ".replay-lens" / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"


def test_the_recorded_project_replays_clean_and_every_turn_is_verified(recorded: Path) -> None:
    assert same_outcomes(recorded) == {"passed": 3}
    captures = sorted((recorded / ".replay-lens" / "captures").glob("*.jsonl"))
    assert len(captures) == 2  # one per test that called a model; test_without_model wrote none
    line = json.loads(captures[0].read_text(encoding="utf-8").splitlines()[1])
    assert line["caller"] == "middleware:title" and line["test"].endswith("::test_greet")
    assert line["model"] == "ReplayChatModel" and line["output"]["type"] == "ai"
    result = run_cli("check", "--format", "json", cwd=recorded).json()
    assert [f for f in result["findings"] if f["severity"] == "error"] == []
    assert not [f for f in result["findings"] if f["code"] in ("unverifiable", "unlinked-recording")]


def test_a_prompt_change_flags_exactly_the_title_turns_with_the_diff(recorded: Path) -> None:
    agent = recorded / "agent.py"
    original = agent.read_text(encoding="utf-8")
    agent.write_text(original.replace("Write a short title", "Write a concise title"), encoding="utf-8")
    try:
        assert same_outcomes(recorded) == {"failed": 2, "passed": 1}
        found = findings(recorded)
    finally:
        agent.write_text(original, encoding="utf-8")
    flagged = sorted(where(f, recorded) for f in found if f["severity"] == "error")
    capture_greet, capture_weather = sorted(p for _, p, _ in flagged if p.startswith(".replay-lens"))
    assert flagged == sorted(
        [
            ("replay-miss", capture_greet, 1),
            ("replay-miss", capture_weather, 1),
            ("replay-miss", "tests/fixtures/replay/greet.ultra.json", 1),
            ("replay-miss", "tests/fixtures/replay/weather.ultra.json", 1),
        ]
    )
    diff = next(f for f in found if f["path"].endswith("greet.ultra.json"))["data"]["diff"]
    assert "-  Write a short title for this conversation:" in diff
    assert "+  Write a concise title for this conversation:" in diff
    assert not [f for f in found if f["code"] == "unused-turn"]  # the replay stopped at the miss


def test_a_new_volatile_id_misses_the_lead_turn_and_shows_the_id(recorded: Path) -> None:
    env = {"DEMO_REQUEST_ID": "req_Zx81Qw77Lm20Pp45"}
    assert same_outcomes(recorded, env) == {"failed": 2, "passed": 1}
    found = findings(recorded)
    misses = sorted(where(f, recorded) for f in found if f["code"] == "replay-miss" and "fixtures" in f["path"])
    assert misses == [
        ("replay-miss", "tests/fixtures/replay/greet.ultra.json", 0),
        ("replay-miss", "tests/fixtures/replay/weather.ultra.json", 0),
    ]
    diff = next(f for f in found if f["path"].endswith("greet.ultra.json") and f["code"] == "replay-miss")
    assert "req_7Hq2Lm9xPz4Kw8Rt" in diff["data"]["diff"] and "req_Zx81Qw77Lm20Pp45" in diff["data"]["diff"]
    volatile = [f for f in found if f["code"] == "volatile-text" and ".replay-lens" in f["path"]]
    assert volatile and all("req_Zx81Qw77Lm20Pp45" in f["message"] for f in volatile)


def test_a_rules_change_is_stale_then_rehashed_then_clean(recorded: Path) -> None:
    pyproject, keys = recorded / "pyproject.toml", recorded / "replaykeys.py"
    saved = {path: path.read_text(encoding="utf-8") for path in (pyproject, keys)}
    fixtures = recorded / "tests" / "fixtures" / "replay"
    saved_fixtures = {path: path.read_bytes() for path in fixtures.iterdir()}
    try:
        # The user normalizes request ids: in the replaying model's key code and in the config.
        pyproject.write_text(saved[pyproject] + RULE, encoding="utf-8")
        keys.write_text(saved[keys].replace("\n]\n", "\n" + USER_RULE, 1), encoding="utf-8")
        assert same_outcomes(recorded) == {"failed": 2, "passed": 1}
        found = findings(recorded)
        stale = sorted(where(f, recorded) for f in found if f["code"] == "stale-key")
        assert stale == [
            ("stale-key", "tests/fixtures/replay/greet.ultra.json", 0),
            ("stale-key", "tests/fixtures/replay/greet.ultra.json", 1),
            ("stale-key", "tests/fixtures/replay/weather.ultra.json", 0),
            ("stale-key", "tests/fixtures/replay/weather.ultra.json", 1),
        ]
        miss = next(f for f in found if f["path"].endswith("greet.ultra.json") and f["code"] == "replay-miss")
        assert miss["data"]["rehash"] is True and "rehash" in miss["message"]
        assert run_cli("check", "--fix", cwd=recorded).code in (0, 1)
        assert same_outcomes(recorded) == {"passed": 3}
        assert errors(recorded) == []
        # With the rule, a new request id no longer changes any key.
        assert same_outcomes(recorded, {"DEMO_REQUEST_ID": "req_Zx81Qw77Lm20Pp45"}) == {"passed": 3}
        assert errors(recorded) == []
    finally:
        for path, text in saved.items():
            path.write_text(text, encoding="utf-8")
        for path, data in saved_fixtures.items():
            path.write_bytes(data)


def test_a_turn_no_captured_call_consumes_is_unused(recorded: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(recorded, tmp_path / "copy"))
    greet = root / "tests" / "fixtures" / "replay" / "greet.ultra.json"
    document = json.loads(greet.read_text(encoding="utf-8"))
    weather = json.loads((greet.parent / "weather.ultra.json").read_text(encoding="utf-8"))
    document["turns"].append(weather["turns"][0])  # a dead turn: greet's test never sends that conversation
    greet.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert same_outcomes(root) == {"passed": 3}
    found = findings(root)
    assert sorted(where(f, root) for f in found if f["code"] == "unused-turn") == [
        ("unused-turn", "tests/fixtures/replay/greet.ultra.json", 2)
    ]
    assert errors(root) == []


def test_without_raw_inputs_a_rules_change_is_found_stale_from_the_capture_and_rehashed(
    recorded: Path, tmp_path: Path
) -> None:
    """deer-flow's case: fixtures with no recording. The missed call's input, keyed under the current
    rules minus the new one, reproduces the turn's key: the turn is stale, and `check --fix` rehashes it."""
    root = Path(shutil.copytree(recorded, tmp_path / "bare"))
    for recording in (root / "tests" / "fixtures" / "replay").glob("*.jsonl"):
        recording.unlink()
    shutil.rmtree(root / ".replay-lens")
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text("utf-8") + RULE, encoding="utf-8")
    keys = root / "replaykeys.py"
    keys.write_text(keys.read_text(encoding="utf-8").replace("\n]\n", "\n" + USER_RULE, 1), encoding="utf-8")
    rounds = []
    for _ in range(3):  # a miss stops the graph: each round rehashes the next turn it reaches
        outcomes = same_outcomes(root)
        stale = sorted(where(f, root) for f in findings(root) if f["code"] == "stale-key")
        rounds.append((outcomes, stale))
        if not stale:
            break
        assert run_cli("check", "--fix", cwd=root).code in (0, 1)
    greet, weather = "tests/fixtures/replay/greet.ultra.json", "tests/fixtures/replay/weather.ultra.json"
    assert rounds == [
        ({"failed": 2, "passed": 1}, [("stale-key", greet, 0), ("stale-key", weather, 0)]),
        ({"failed": 2, "passed": 1}, [("stale-key", greet, 1), ("stale-key", weather, 1)]),
        ({"passed": 3}, []),
    ]
    assert errors(root) == []


def test_a_whole_run_removes_the_captures_of_tests_that_no_longer_exist(recorded: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(recorded, tmp_path / "renamed"))
    folder = root / ".replay-lens" / "captures"
    assert run_pytest(root, "--replay-lens=capture").outcomes == {"passed": 3}
    before = sorted(path.name for path in folder.glob("*.jsonl"))
    tests = root / "tests" / "test_agent.py"
    tests.write_text(tests.read_text(encoding="utf-8").replace("def test_weather(", "def test_lisbon("), "utf-8")
    assert run_pytest(root, "--replay-lens=capture", "-k", "greet").outcomes == {"passed": 1}
    assert sorted(path.name for path in folder.glob("*.jsonl")) == before  # a partial run keeps the others
    assert run_pytest(root, "--replay-lens=capture").outcomes == {"passed": 3}
    after = sorted(path.name.split(".py--")[1].split(".")[0] for path in folder.glob("*.jsonl"))
    assert after == ["test_greet", "test_lisbon"]
    assert errors(root) == []
