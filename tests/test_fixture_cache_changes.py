"""Property: whatever changes between runs (recordings removed, restored, copied, cut short or renamed; fixtures
edited or swapped), a check through the cache of fixture reports finds exactly what a check without it finds."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.engine.cache import SummaryCache
from server.engine.workspace import load_project_config, load_workspace
from tests.conftest import SAMPLES

LONG_AGO = time.time() - 3600
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["remove", "restore", "copy-first", "copy-last", "cut", "rename", "edit", "swap"]),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=5,
)


def outcome(root: Path, cache: Path | None) -> Any:
    """Every finding and every turn's status, as a check through `cache` (None: no cache at all) sees them."""
    config = load_project_config(root)
    store = None if cache is None else SummaryCache(cache)
    try:
        result = load_workspace([root], config, store, reuse_fixtures=store is not None).check()
    finally:
        if store is not None:
            store.close()
    statuses = sorted(
        (
            str(report.fixture.path),
            turn.turn.index,
            turn.status.value,
            None if turn.link is None else str(turn.link.recording.path),
        )
        for report in result.fixtures
        for turn in report.turns
    )
    return statuses, [finding.to_json() for finding in result.findings]


def apply(root: Path, stash: Path, operation: str, pick: int, step: int) -> None:
    recordings = sorted((root / "recordings").glob("*.jsonl"))
    fixtures = sorted((root / "replay").glob("*.json"))
    stashed = sorted(stash.glob("*.jsonl"))
    when = LONG_AGO + 10 * step  # a new stat for what changes, old enough to be taken by it
    if operation == "remove" and recordings:
        shutil.move(recordings[pick % len(recordings)], stash)
    elif operation == "restore" and stashed:
        target = root / "recordings" / stashed[pick % len(stashed)].name
        shutil.move(stashed[pick % len(stashed)], target)
        os.utime(target, (when, when))
    elif operation.startswith("copy") and recordings:
        prefix = "a" if operation == "copy-first" else "z"
        target = root / "recordings" / f"{prefix}{step}.jsonl"
        shutil.copy2(recordings[pick % len(recordings)], target)
    elif operation == "cut" and recordings:
        recording = recordings[pick % len(recordings)]
        lines = recording.read_bytes().splitlines(keepends=True)
        recording.write_bytes(b"".join(lines[: pick % max(1, len(lines))]))
        os.utime(recording, (when, when))
    elif operation == "rename" and recordings:
        recording = recordings[pick % len(recordings)]
        recording.rename(recording.with_name(f"renamed{step}.jsonl"))
    elif operation == "edit" and fixtures:
        fixture = fixtures[pick % len(fixtures)]
        text = fixture.read_text(encoding="utf-8")
        at = text.find('"input_hash": "', (pick * 97) % max(1, len(text)))
        if at < 0:
            at = text.find('"input_hash": "')
        start = at + len('"input_hash": "')
        fixture.write_text(text[:start] + "0" * 64 + text[start + 64 :], encoding="utf-8")
        os.utime(fixture, (when, when))
    elif operation == "swap" and len(fixtures) > 1:
        first, second = fixtures[pick % len(fixtures)], fixtures[(pick + 1) % len(fixtures)]
        first_bytes, second_bytes = first.read_bytes(), second.read_bytes()
        first.write_bytes(second_bytes)
        second.write_bytes(first_bytes)
        for path in (first, second):
            os.utime(path, (when, when))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS)
def test_a_cached_check_finds_what_an_uncached_one_finds(operations: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory(prefix="fixture-cache-") as folder:
        root, stash, cache = Path(folder) / "ws", Path(folder) / "stash", Path(folder) / "cache"
        shutil.copytree(SAMPLES, root, ignore=shutil.ignore_patterns("*.py", "__pycache__", "traces"))
        stash.mkdir()
        for path in root.rglob("*"):
            os.utime(path, (LONG_AGO, LONG_AGO))
        assert outcome(root, cache) == outcome(root, None)
        for step, (operation, pick) in enumerate(operations, start=1):
            apply(root, stash, operation, pick, step)
            assert outcome(root, cache) == outcome(root, None), (step, operation)
