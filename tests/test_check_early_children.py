"""`check` starts its summarizing children before it reads its config when its walk saw recordings enough to share
out (`summary_children.started_early`, issue 17): their start-up overlaps this process's, the output is the same
byte for byte, and children nobody needed are stopped at the end of the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import server.cli.checked
from bench.generate import Shape, generate
from server.engine import summary_children
from server.engine import workspace as engine_workspace
from server.engine.cache import CHANGE_SECONDS
from server.engine.summary_children import WORKERS_ENV, Child
from tests.conftest import REPO, run_cli


@pytest.fixture
def workspace(samples: Path, tmp_path: Path) -> Path:
    generated = generate(Shape(sessions=4, calls=5, system_size=600, tool_output_size=80), tmp_path / "generated")
    for path in sorted((generated / "recordings").glob("*.jsonl")):
        shutil.copy(path, samples / "recordings" / path.name)
    for path in sorted((generated / "fixtures").glob("*.json")):
        shutil.copy(path, samples / "replay" / path.name)
    return samples


@pytest.fixture
def events(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What happened, in order: a child started ("spawn"), the config read ("config"), a child taken to summarize
    ("taken"), a child stopped unused ("stopped"). The workspace's recordings count as enough to share, each too
    small to be cut into parts."""
    sizes = [path.stat().st_size for path in (workspace / "recordings").glob("*.jsonl")]
    assert sum(sizes) > 2 * max(sizes)
    monkeypatch.setattr(summary_children, "PART_BYTES", max(sizes) + 1)
    happened: list[str] = []
    spawned, start, close = Child.spawned.__func__, Child.start.__func__, Child.close  # type: ignore[attr-defined]
    load = engine_workspace.load_project_config

    def spawned_(cls: type[Child]) -> Child | None:
        happened.append("spawn")
        return spawned(cls)  # type: ignore[no-any-return]

    def start_(cls: type[Child], setup: dict[str, Any]) -> Child | None:
        happened.append("taken")
        return start(cls, setup)  # type: ignore[no-any-return]

    def close_(self: Child, *, stop: bool = False) -> None:
        happened.append("stopped" if stop else "closed")
        close(self, stop=stop)

    def load_(*args: Any) -> Any:
        happened.append("config")
        return load(*args)

    monkeypatch.setattr(Child, "spawned", classmethod(spawned_))
    monkeypatch.setattr(Child, "start", classmethod(start_))
    monkeypatch.setattr(Child, "close", close_)
    monkeypatch.setattr(server.cli.checked, "load_project_config", load_)
    return happened


def aged(root: Path) -> None:
    """Files last written an hour ago, and their ctime `CHANGE_SECONDS` old: the cache takes them by their stat."""
    long_ago = time.time() - 3600
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (long_ago, long_ago))
    time.sleep(2 * CHANGE_SECONDS)


def check(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, workers: str, *more: str) -> tuple[int, str]:
    monkeypatch.setenv("REPLAY_LENS_CACHE_DIR", str(cache))
    monkeypatch.setenv(WORKERS_ENV, workers)
    result = run_cli("check", "--format", "json", *more, ".", cwd=root)
    assert result.code in (0, 1), result.stderr
    return result.code, result.stdout


def test_children_start_before_the_config_is_read_and_give_the_same_output(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    alone = check(workspace, tmp_path / "cache-alone", monkeypatch, "1")
    assert events == ["config"]  # one worker: no child at all
    events.clear()
    shared = check(workspace, tmp_path / "cache-shared", monkeypatch, "2")
    assert shared == alone
    assert events[:3] == ["spawn", "config", "taken"], events
    # The early child is the one taken (no other started), and it is closed once: let finish, or stopped when
    # this process did every file before it was ready (the race a workspace this small may go either way).
    assert events.count("spawn") == 1 and events.count("closed") + events.count("stopped") == 1, events
    assert summary_children._early == []


def test_children_no_file_needs_are_stopped_at_the_end(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    """Every summary is cached by the first run; the second asks for other output (no run output kept for it), so
    its walk sees the recordings, starts a child early, and nothing is left for it to do."""
    aged(workspace)
    cache = tmp_path / "cache"
    first = check(workspace, cache, monkeypatch, "2")
    events.clear()
    again = check(workspace, cache, monkeypatch, "2", "--severity", "warning")
    assert again[0] == first[0] and again[1] != first[1]
    assert events == ["spawn", "config", "stopped"], events
    assert summary_children._early == []


def test_a_child_imports_only_what_it_summarizes_with() -> None:
    """The constant child program, started as the parent starts it, imports neither a config file's parsers and
    validators nor what starts children: its start-up is what `check` waits for before it shares."""
    import regex  # noqa: PLC0415

    probe = "import sys; sys.path[:0] = sys.argv[1:]; import server.engine.part_child; print(' '.join(sys.modules))"
    found = [str(REPO), str(Path(regex.__file__).resolve().parents[1])]
    modules = set(
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", probe, *found], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "server.engine.summary" in modules  # the probe sees what it imports
    assert sorted(modules & {"pydantic", "tomllib", "server.engine.config_tables", "subprocess", "tempfile"}) == []
