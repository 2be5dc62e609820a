"""Workspace walking survives symlink loops, unlistable folders and files that vanish mid-read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from server.engine import workspace as workspace_module
from server.engine.config import default_config
from server.engine.workspace import load_workspace
from tests.conftest import COMPAT, run_cli


def test_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.json").write_bytes((COMPAT / "write_read_file.ultra.json").read_bytes())
    os.symlink(tmp_path, tmp_path / "real" / "loop")
    os.symlink(tmp_path / "real", tmp_path / "again")
    result = run_cli("check", "--format", "json", tmp_path, timeout=60)
    assert result.json()["summary"]["fixtures"] == 1


def test_unlistable_folder_is_a_read_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: os.PathLike[str] | str = ".") -> object:  # a folder the user may not list
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    loaded = load_workspace([tmp_path], default_config(tmp_path))
    (finding,) = loaded.unreadable
    assert finding.code.name == "read-error" and "Permission denied" in finding.message
    assert finding.path.name == "locked"


def test_file_deleted_between_listing_and_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone.json"
    monkeypatch.setattr(workspace_module, "iter_files", lambda paths, config, on_error=None: iter([gone]))
    loaded = load_workspace([tmp_path], default_config(tmp_path))
    (finding,) = loaded.check().findings
    assert finding.code.name == "read-error" and finding.path == gone


def test_file_symlink_loop_is_a_read_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    result = run_cli("check", "--format", "json", tmp_path)
    assert result.code == 1
    assert {(Path(f["path"]).name, f["code"]) for f in result.json()["findings"]} == {
        ("a.json", "read-error"),
        ("b.json", "read-error"),
    }


def test_fifo_is_never_opened(tmp_path: Path) -> None:
    (tmp_path / "pipe.json").parent.mkdir(exist_ok=True)
    os.mkfifo(tmp_path / "pipe.json")
    os.mkfifo(tmp_path / "pipe.jsonl")
    shutil.copy(COMPAT / "write_read_file.ultra.json", tmp_path / "real.json")
    result = run_cli("check", "--format", "json", tmp_path, timeout=30)
    assert result.json()["summary"]["fixtures"] == 1
    sessions = run_cli("sessions", "--format", "json", tmp_path, timeout=30)
    assert sessions.code == 0 and "pipe" not in sessions.stdout
