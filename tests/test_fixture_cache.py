"""Cached fixture reports: a warm `check` prints what a cold one prints, byte for byte, and a report is never
taken once its fixture, the rules or the recordings its turns link to (or could link to) have changed."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from server.engine.cache import CHANGE_SECONDS, FILE_NAME, SummaryCache
from server.engine.workspace import load_project_config, load_workspace
from tests.conftest import CliResult, run_cli

LONG_AGO = time.time() - 3600
FIXTURES = ("legacy_search.flash.json", "translate_cn.flash.json", "write_note.ultra.json")


def aged(root: Path, when: float = LONG_AGO) -> Path:
    """Files last written long ago, so the cache may take them by their stat (recent ones need their content)."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (when, when))
    # Setting the times changed the files' ctime: the cache takes a file by its stat only once that is
    # `CHANGE_SECONDS` old (a rewrite putting the old mtime back would look unchanged otherwise).
    time.sleep(2 * CHANGE_SECONDS)
    return root


def check(root: Path, cache: Path, *args: str) -> CliResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REPLAY_LENS_CACHE_DIR", str(cache))
        return run_cli("check", "--format", "json", *args, cwd=root)


def cold(root: Path) -> tuple[int, str]:
    result = check(root, root / "unused", "--no-cache")
    return result.code, result.stdout


def warm(root: Path, cache: Path, *args: str) -> tuple[int, str]:
    result = check(root, cache, *args)
    return result.code, result.stdout


def loaded(root: Path, cache: Path) -> tuple[int, int]:
    """How many fixtures a load and check through the cache read in full, and how many were cached reports."""
    store = SummaryCache(cache)
    try:
        workspace = load_workspace([root], load_project_config(root), store, reuse_fixtures=True)
        workspace.check()
    finally:
        store.close()
    return len(workspace.fixtures), len(workspace.known)


def report_rows(cache: Path) -> int:
    with contextlib.closing(sqlite3.connect(cache / FILE_NAME)) as connection:
        count: int = connection.execute("SELECT count(*) FROM reports").fetchone()[0]
        return count


@pytest.fixture
def unconfigured(samples: Path) -> Path:
    """The sample workspace without its config: fixtures and recordings told by their content."""
    (samples / "replay-lens.toml").unlink()
    return samples


@pytest.mark.parametrize("configured", [True, False], ids=["globs", "by-content"])
def test_a_warm_check_prints_the_cold_check_byte_for_byte(samples: Path, tmp_path: Path, configured: bool) -> None:
    if not configured:
        (samples / "replay-lens.toml").unlink()
    aged(samples)
    cache = tmp_path / "cache"
    expected = cold(samples)
    assert expected[0] == 1 and '"stale-key"' in expected[1] and '"unverifiable"' in expected[1]
    assert warm(samples, cache) == expected  # fills the cache
    assert report_rows(cache) == 3
    assert loaded(samples, cache) == (0, 3)  # every fixture is its cached report
    assert warm(samples, cache) == expected
    text = run_cli("check", cwd=samples)
    assert "stale-key" in text.stdout


def test_recent_files_are_known_by_their_content(samples: Path, tmp_path: Path) -> None:
    """Files written in the last seconds are never taken by their stat, only by their bytes' digest."""
    now = time.time()
    aged(samples, now)
    cache = tmp_path / "cache"
    expected = cold(samples)
    assert warm(samples, cache) == expected
    aged(samples, now)
    assert loaded(samples, cache) == (0, 3)
    assert warm(samples, cache) == expected


def test_a_changed_fixture_is_read_again(samples: Path, tmp_path: Path) -> None:
    aged(samples)
    cache = tmp_path / "cache"
    before = warm(samples, cache)
    fixture = samples / "replay" / "translate_cn.flash.json"
    fixture.write_text(fixture.read_text(encoding="utf-8").replace('"caller": "middleware:title"', '"caller": "x"'))
    os.utime(fixture, (LONG_AGO + 60, LONG_AGO + 60))
    assert loaded(samples, cache) == (1, 2)
    after = warm(samples, cache)
    assert after == cold(samples)
    assert after != before


def test_a_touched_fixture_is_known_by_its_content(samples: Path, tmp_path: Path) -> None:
    aged(samples)
    cache = tmp_path / "cache"
    expected = warm(samples, cache)
    aged(samples, LONG_AGO + 60)  # a checkout wrote the same bytes again
    assert loaded(samples, cache) == (0, 3)
    assert warm(samples, cache) == expected


def test_new_rules_read_every_fixture_again(samples: Path, tmp_path: Path) -> None:
    aged(samples)
    cache = tmp_path / "cache"
    before = warm(samples, cache)
    other = warm(samples, cache, "--preset", "none")
    assert other == warm(samples, cache, "--preset", "none", "--no-cache")
    assert other != before
    config = samples / "replay-lens.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[key]\nlegacy-fallback = false\n", encoding="utf-8")
    aged(samples)
    assert loaded(samples, cache) == (3, 0)
    changed = warm(samples, cache)
    assert changed == cold(samples)
    assert changed != before


def test_a_changed_linked_recording_is_not_trusted(samples: Path, tmp_path: Path) -> None:
    aged(samples)
    cache = tmp_path / "cache"
    before = warm(samples, cache)
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    lines = recording.read_text(encoding="utf-8").splitlines(keepends=True)
    recording.write_text("".join(lines[:1]), encoding="utf-8")  # the other calls are gone
    os.utime(recording, (LONG_AGO + 60, LONG_AGO + 60))
    assert loaded(samples, cache) == (1, 2)  # only write_note links to it
    after = warm(samples, cache)
    assert after == cold(samples)
    assert after != before


def test_a_removed_recording_then_restored_links_again(samples: Path, tmp_path: Path) -> None:
    """A report kept while no recording linked a turn is not taken once one does again."""
    aged(samples)
    cache = tmp_path / "cache"
    with_recording = warm(samples, cache)
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    kept = tmp_path / "kept.jsonl"
    shutil.move(recording, kept)
    without = warm(samples, cache)
    assert without == cold(samples)
    assert without != with_recording
    assert warm(samples, cache) == without
    shutil.move(kept, recording)
    assert warm(samples, cache) == with_recording == cold(samples)


def test_a_recording_that_links_first_or_moves_is_not_trusted(samples: Path, tmp_path: Path) -> None:
    """The same calls in a new recording sorted first take the links (FIFO); a renamed recording changes the
    messages that name it: both make the reports of the fixtures linked to them misses."""
    aged(samples)
    cache = tmp_path / "cache"
    before = warm(samples, cache)
    recordings = samples / "recordings"
    shutil.copy2(recordings / "write_note.ultra.jsonl", recordings / "a_copy.jsonl")
    first = warm(samples, cache)
    assert first == cold(samples)
    assert "a_copy.jsonl" in first[1] and first != before
    (recordings / "a_copy.jsonl").unlink()
    (recordings / "write_note.ultra.jsonl").rename(recordings / "renamed.jsonl")
    moved = warm(samples, cache)
    assert moved == cold(samples)
    assert "renamed.jsonl" in moved[1]


@pytest.mark.parametrize("garbage", [b"\x00\x01garbage", b"", b"{}", b"[1]", b'{"turns": 2}', b"\xff{}", 7])
def test_a_corrupt_report_is_a_miss(samples: Path, tmp_path: Path, garbage: bytes | int) -> None:
    aged(samples)
    cache = tmp_path / "cache"
    expected = warm(samples, cache)
    with contextlib.closing(sqlite3.connect(cache / FILE_NAME)) as connection, connection:
        connection.execute("UPDATE reports SET report = ?", (garbage,))
        connection.execute("DELETE FROM runs")  # no run's output kept (`run_cache`): the run reads the reports
    assert warm(samples, cache) == expected
    assert loaded(samples, cache) == (0, 3)  # read again and kept anew


def test_a_missing_reports_table_is_a_miss(samples: Path, tmp_path: Path) -> None:
    aged(samples)
    cache = tmp_path / "cache"
    expected = warm(samples, cache)
    with contextlib.closing(sqlite3.connect(cache / FILE_NAME)) as connection, connection:
        connection.execute("DROP TABLE reports")
        connection.execute("DELETE FROM runs")  # no run's output kept (`run_cache`): the run looks for reports
    assert warm(samples, cache) == expected
    assert warm(samples, cache) == expected


def test_fix_reads_every_fixture_though_their_reports_are_cached(samples: Path, tmp_path: Path) -> None:
    aged(samples)
    cache = tmp_path / "cache"
    warm(samples, cache)
    fixed = check(samples, cache, "--fix")
    assert fixed.json()["summary"]["fixed"] == 3
    after = warm(samples, cache)
    assert '"stale-key"' not in after[1]
    assert after == cold(samples)


def test_a_named_file_that_is_no_fixture_keeps_no_report(unconfigured: Path, tmp_path: Path) -> None:
    """Named, any `.json` is read as a fixture; unnamed, the same file is no fixture: no report is kept for it."""
    aged(unconfigured)
    cache = tmp_path / "cache"
    other = unconfigured / "notes.json"
    other.write_text('{"turns": []}\n', encoding="utf-8")
    aged(unconfigured)
    named = warm(unconfigured, cache, str(other))
    unnamed = check(unconfigured, cache, "--no-cache", str(other))
    assert named == (unnamed.code, unnamed.stdout)
    assert report_rows(cache) == 0
    assert warm(unconfigured, cache) == cold(unconfigured)


def test_a_capture_reads_every_fixture(samples: Path, tmp_path: Path) -> None:
    """A capture replays its fixture's turns, which a cached report does not hold."""
    aged(samples)
    cache = tmp_path / "cache"
    warm(samples, cache)
    captures = samples / ".replay-lens" / "captures"
    captures.mkdir(parents=True)
    shutil.copy2(samples / "recordings" / "write_note.ultra.jsonl", captures / "run.jsonl")
    assert loaded(samples, cache)[1] == 0
    assert warm(samples, cache) == cold(samples)
