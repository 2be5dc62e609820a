"""Issue 16, items 4 and 5: a replay report made in one checkout reads in another; similarity below 100 % when the
inputs differ.

`replay --format json` names every file relative to its project root (report version 2), so the report CI writes
in `/home/runner/...` names the same files as the one made in any other checkout. The editor's server adds the
absolute path and URI for its own client. A miss's similarity compares the two inputs its diff shows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from server.engine.replay import replay_path
from server.engine.replay.places import REPORT_VERSION, Places
from server.engine.replay.render import percent, similarity
from tests.conftest import SAMPLES, run_cli

RECORDING = Path("recordings") / "write_note.ultra.jsonl"
FIXTURE = Path("replay") / "write_note.ultra.json"


def checkout(target: Path) -> Path:
    """A copy of the sample project (config, fixtures, recordings), as a checkout of it would be."""
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("*.py", "__pycache__", "traces"))
    return target


def places(document: Any) -> list[dict[str, Any]]:
    """Every object of the report that names a file (it has a `file`, a `path` or a `uri`)."""
    found: list[dict[str, Any]] = []
    if isinstance(document, list):
        for item in document:
            found += places(item)
    elif isinstance(document, dict):
        if {"file", "path", "uri"} & document.keys():
            found.append(document)
        for value in document.values():
            found += places(value)
    return found


def test_a_report_made_in_one_checkout_names_the_files_of_any_other(tmp_path: Path) -> None:
    ci = checkout(tmp_path / "home" / "runner" / "work" / "agent")
    mine = checkout(tmp_path / "src" / "agent-copy")
    made = run_cli("replay", RECORDING, "--format", "json", cwd=ci)
    assert made.code == 1  # the sample session diverges: the report is still written
    assert str(tmp_path) not in made.stdout  # no absolute path, in any form
    report = made.json()
    assert report["version"] == REPORT_VERSION == 2
    assert report["session"]["file"] == "recordings/write_note.ultra.jsonl"
    assert report["fixture"]["file"] == "replay/write_note.ultra.json"
    named = places(report)
    assert len(named) >= 20  # session, fixture, steps, nearest turns, where they were recorded, diagnostics
    for place in named:
        assert "uri" not in place and place["path"] == place["file"], place
        assert (ci / place["file"]).is_file() and (mine / place["file"]).is_file(), place
    # the same session replayed in the other checkout, from another directory, gives the same report
    elsewhere = run_cli("replay", mine / RECORDING, "--format", "json", cwd=tmp_path)
    assert elsewhere.json() == report


def test_the_editors_report_adds_absolute_places_to_the_portable_one(tmp_path: Path) -> None:
    root = checkout(tmp_path / "project")
    report = replay_path(root / RECORDING)
    local, portable = report.to_json(), report.to_json(portable=True)
    assert local["version"] == portable["version"] == 2
    for near, far in zip(places(local), places(portable), strict=True):
        assert near["file"] == far["file"]
        assert Path(near["path"]) == root / near["file"]
        if "code" not in near:  # a finding has its path only, as in version 1
            assert near["uri"] == (root / near["file"]).resolve().as_uri()
    step = local["steps"][0]
    assert step["uri"] == step["nearest"]["recorded"]["uri"] == (root / RECORDING).resolve().as_uri()
    assert step["nearest"]["uri"] == local["fixture"]["uri"] == (root / FIXTURE).resolve().as_uri()
    assert step["nearest"]["recorded"]["file"] == "recordings/write_note.ultra.jsonl"
    assert step["nearest"]["recorded"]["range"]["start"]["line"] == 0


def test_a_fixture_outside_the_project_root_is_named_relative_to_it(tmp_path: Path) -> None:
    root = checkout(tmp_path / "project")
    shutil.copy(root / FIXTURE, tmp_path / "shared.ultra.json")
    report = run_cli("replay", RECORDING, "--against", tmp_path / "shared.ultra.json", "--format", "json", cwd=root)
    assert str(tmp_path) not in report.stdout
    assert report.json()["fixture"] == {"file": "../shared.ultra.json", "path": "../shared.ultra.json"}


def test_places_without_a_root_and_database_urls() -> None:
    url = Path("postgresql://me@127.0.0.1:5432/agents")  # a `Path` folds the `//`; the report unfolds it
    place = Places(Path("/work/project"), portable=True).place(url)
    assert place == {"path": "postgresql://me@127.0.0.1:5432/agents", "uri": "postgresql://me@127.0.0.1:5432/agents"}
    assert Places(None, portable=True).place(Path("/a/b/c.jsonl")) == {"file": "c.jsonl", "path": "c.jsonl"}
    assert Places(None, portable=False).place(Path("/a/b/c.jsonl")) == {
        "path": "/a/b/c.jsonl",
        "uri": "file:///a/b/c.jsonl",
    }


# -- item 5: similarity ---------------------------------------------------------------------------------
lines_strategy = st.lists(st.text(max_size=12), max_size=40)


@given(lines_strategy, lines_strategy)
def test_any_two_inputs_that_differ_are_less_than_100_percent_alike(first: list[str], second: list[str]) -> None:
    ratio = similarity(first, second)
    if first == second:
        assert ratio == 1.0 and percent(ratio) == "100%"
    else:
        assert 0.0 <= ratio < 1.0
        assert percent(ratio) != "100%" and float(percent(ratio).rstrip("%")) < 100


@given(st.floats(min_value=0.0, max_value=1.0))
def test_percent_is_floored(ratio: float) -> None:
    shown = float(percent(ratio).rstrip("%"))
    assert shown <= ratio * 100 + 1e-6
    assert (shown == 100) == (ratio >= 1.0)


def test_a_long_input_one_line_apart_reads_below_100_percent(tmp_path: Path) -> None:
    """The issue's case: "similarity 100%" beside a diff, where a long input differs in one line (rounded)."""
    root = checkout(tmp_path / "project")
    first = json.loads((root / RECORDING).read_text(encoding="utf-8").splitlines()[0])
    human = next(m for m in first["input"] if m["type"] == "human" and not m["data"]["additional_kwargs"])  # shown
    text = "\n".join(f"line {n}: the same context as recorded" for n in range(400))
    human["data"]["content"] = text
    long_session = tmp_path / "long.jsonl"
    long_session.write_text(json.dumps(first) + "\n", encoding="utf-8")
    fixture, recording = root / "replay" / "long.ultra.json", root / "recordings" / "long.ultra.jsonl"
    made = run_cli("record-fixture", long_session, "-o", fixture, "--recording", recording, cwd=root)
    assert made.code == 0, made.stderr
    human["data"]["content"] = text.replace("line 200: the same", "line 200: a changed")
    changed = tmp_path / "changed.jsonl"
    changed.write_text(json.dumps(first) + "\n", encoding="utf-8")
    report = run_cli("replay", changed, "--against", fixture, "--format", "json", cwd=root)
    nearest = report.json()["steps"][0]["nearest"]
    assert "-  line 200: the same context as recorded" in nearest["diff"].splitlines()
    assert (
        0.99 < nearest["similarity"] < 1.0 and nearest["similarityText"] == "99.7%"
    )  # one line of 400 differs: "100%" when rounded
    text_report = run_cli("replay", changed, "--against", fixture, cwd=root).stdout
    assert "(99.7% alike" in text_report and "100%" not in text_report
