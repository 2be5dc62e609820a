"""Shared helpers for session and replay tests: private copies of the sample traces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

TRACES = SAMPLES / "traces"
BUNDLES = TRACES / "codex-bundle"
CLEAN_BUNDLE = next(path for path in sorted(BUNDLES.iterdir()) if not path.name.endswith("-broken"))
BROKEN_BUNDLE = BUNDLES / f"{CLEAN_BUNDLE.name.rsplit('-', 5)[0]}-broken"
ROLLOUTS = TRACES / "codex-sessions"
CATO_DB = TRACES / "cato" / "audit.db"
LANGGRAPH_DB = TRACES / "langgraph" / "checkpoints.sqlite"


@pytest.fixture
def traces(tmp_path: Path) -> Path:
    """A private copy of the sample traces (tests may break it further)."""
    target = tmp_path / "traces"
    shutil.copytree(TRACES, target)
    return target
