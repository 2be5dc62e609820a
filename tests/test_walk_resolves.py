"""Reading a workspace resolves each folder once, not each file (a `resolve()` is an `lstat` per component),
and still places a symlinked file by its target."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.engine import workspace
from server.engine.cache import SummaryCache
from server.engine.workspace import classify, load_project_config, load_workspace
from tests.conftest import SAMPLES


def test_a_workspace_of_many_fixtures_resolves_each_folder_once(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(SAMPLES, root, ignore=shutil.ignore_patterns("*.py", "__pycache__", "traces"))
    fixture = root / "replay" / "write_note.ultra.json"
    for number in range(40):
        shutil.copy2(fixture, root / "replay" / f"copy-{number:02d}.json")
    resolved: list[Path] = []
    real = workspace.resolved

    def counting(path: Path) -> Path:
        resolved.append(path)
        return real(path)

    config = load_project_config(root)
    store = SummaryCache(tmp_path / "cache")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(workspace, "resolved", counting)
            loaded = load_workspace([root], config, store, reuse_fixtures=True)
    finally:
        store.close()
    assert len(loaded.fixtures) == 43 and len(loaded.recordings) == 3
    assert not [path for path in resolved if path.suffix == ".json"]  # no fixture resolved on its own
    assert len(resolved) <= 10  # the folders, the root, and each recording (a capture is told by its target)


def test_a_symlinked_fixture_is_classified_by_its_target(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(SAMPLES, root, ignore=shutil.ignore_patterns("*.py", "__pycache__", "traces"))
    outside = tmp_path / "elsewhere.json"
    shutil.copy2(root / "replay" / "write_note.ultra.json", outside)
    link = root / "replay" / "linked.json"
    link.symlink_to(outside)
    config = load_project_config(root)
    assert classify(link, b"", config) is None  # its target is outside `replay/`: no fixture by the globs
    store = SummaryCache(tmp_path / "cache")
    try:
        loaded = load_workspace([root], config, store, reuse_fixtures=True)
    finally:
        store.close()
    assert link not in {fixture.path for fixture in loaded.fixtures}
    assert len(loaded.fixtures) + len(loaded.known) == 3
