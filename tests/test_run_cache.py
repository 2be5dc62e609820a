"""The kept output of whole `check` runs (`run_cache`): printed again only when nothing it follows from changed.

Property: whatever changes between runs (the edits of `test_fixture_cache_changes`, and touches, rewrites that put
the old size and mtime back, new fixtures, config edits, unrelated files), a `check` through the cache prints
byte for byte what a `check --no-cache` prints, with the same exit status, and so does the next one (a hit).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.engine.cache import CHANGE_SECONDS, FILE_NAME
from tests.conftest import REPO, SAMPLES
from tests.test_fixture_cache_changes import LONG_AGO, apply

OWN_OPERATIONS = ("touch", "same-stat", "new-fixture", "config", "unrelated", "nothing")
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["remove", "restore", "copy-first", "cut", "rename", "edit", "swap", *OWN_OPERATIONS],
        ),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=4,
)
SETTINGS = st.sampled_from(
    [
        ("--format", "json"),
        ("--format", "text", "--color", "never"),
        ("--format", "sarif", "--severity", "warning"),
        ("--format", "json", "--reveal-secrets", "--preset", "deerflow"),
    ]
)


def check(root: Path, cache: Path, *options: str) -> tuple[bytes, int]:
    """The stdout bytes and exit status of one `check` process in `root`, caching under `cache`."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "REPLAY_LENS_CACHE_DIR": str(cache)}
    completed = subprocess.run(
        [sys.executable, "-m", "server", "check", *options],
        cwd=root,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in completed.stderr, completed.stderr.decode(errors="replace")
    return completed.stdout, completed.returncode


def workspace_copy(folder: Path) -> Path:
    root = folder / "ws"
    shutil.copytree(SAMPLES, root, ignore=shutil.ignore_patterns("*.py", "__pycache__", "traces"))
    for path in root.rglob("*"):
        os.utime(path, (LONG_AGO, LONG_AGO))
    # A run over files whose inode changed within `CHANGE_SECONDS` is not kept: the copy's ctimes are now,
    # and a `check` process reaches its walk in less than that since its imports are only what it runs.
    time.sleep(2 * CHANGE_SECONDS)
    return root


def own(root: Path, operation: str, pick: int, step: int) -> None:
    fixtures = sorted((root / "replay").glob("*.json"))
    when = LONG_AGO + 10 * step
    fixture = fixtures[pick % len(fixtures)] if fixtures else None
    if operation == "touch" and fixture is not None:
        os.utime(fixture, (when, when))
    elif operation == "same-stat" and fixture is not None:
        # New bytes, the same size and mtime: only the ctime tells.
        before = fixture.stat()
        text = fixture.read_text(encoding="utf-8")
        at = text.find('"input_hash": "')
        if at >= 0:
            start = at + len('"input_hash": "')
            fixture.write_text(text[:start] + "f" * 64 + text[start + 64 :], encoding="utf-8")
            os.utime(fixture, ns=(before.st_atime_ns, before.st_mtime_ns))
    elif operation == "new-fixture" and fixture is not None:
        target = root / "replay" / f"added{step}.json"
        shutil.copy2(fixture, target)
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace('"input_hash": "', '"input_hash": "0', 1), encoding="utf-8")
        os.utime(target, (when, when))
    elif operation == "config":
        config = root / "replay-lens.toml"
        config.write_text(config.read_text(encoding="utf-8") + f"\n# edit {step}\n", encoding="utf-8")
        os.utime(config, (when, when))
    elif operation == "unrelated":
        (root / "replay" / f"notes{step}.txt").write_text("not a fixture\n", encoding="utf-8")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS, SETTINGS)
def test_a_kept_run_prints_what_a_run_without_cache_prints(
    operations: list[tuple[str, int]], options: tuple[str, ...]
) -> None:
    with tempfile.TemporaryDirectory(prefix="run-cache-") as folder:
        root, stash, cache = workspace_copy(Path(folder)), Path(folder) / "stash", Path(folder) / "cache"
        stash.mkdir()
        assert check(root, cache, *options) == check(root, cache, "--no-cache", *options)
        for step, (operation, pick) in enumerate(operations, start=1):
            if operation in OWN_OPERATIONS:
                own(root, operation, pick, step)
            else:
                apply(root, stash, operation, pick, step)
            cached = check(root, cache, *options)
            assert cached == check(root, cache, "--no-cache", *options), (step, operation)
            assert check(root, cache, *options) == cached, (step, operation)


def kept_rows(cache: Path) -> list[tuple[bytes, int]]:
    with sqlite3.connect(f"file:{cache / FILE_NAME}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT output, status FROM runs").fetchall()


def forge(cache: Path, output: bytes) -> None:
    """Replace every kept output: what a run then prints shows whether it took it."""
    connection = sqlite3.connect(cache / FILE_NAME)
    try:
        connection.execute("UPDATE runs SET output = ?", (output,))
        connection.commit()
    finally:
        connection.close()


def test_an_unchanged_workspace_prints_the_kept_output_without_reading(tmp_path: Path) -> None:
    root, cache = workspace_copy(tmp_path), tmp_path / "cache"
    first = check(root, cache, "--format", "json")
    assert kept_rows(cache) == [first]
    forge(cache, b"kept\n")
    assert check(root, cache, "--format", "json") == (b"kept\n", first[1])
    # Other settings are another run; --fix always runs.
    assert check(root, cache, "--format", "text", "--color", "never")[0] != b"kept\n"
    assert check(root, cache, "--format", "json", "--fix")[0] != b"kept\n"


def test_a_changed_file_is_read_again_even_with_its_old_size_and_mtime(tmp_path: Path) -> None:
    root, cache = workspace_copy(tmp_path), tmp_path / "cache"
    check(root, cache, "--format", "json")
    forge(cache, b"kept\n")
    own(root, "same-stat", 0, 1)
    assert check(root, cache, "--format", "json") == check(root, cache, "--no-cache", "--format", "json")


def test_a_new_file_in_a_folder_is_read(tmp_path: Path) -> None:
    root, cache = workspace_copy(tmp_path), tmp_path / "cache"
    check(root, cache, "--format", "json")
    forge(cache, b"kept\n")
    own(root, "new-fixture", 0, 1)
    output, _ = check(root, cache, "--format", "json")
    assert output != b"kept\n" and b"added1.json" in output


def test_a_run_over_files_just_written_is_not_kept(tmp_path: Path) -> None:
    root, cache = workspace_copy(tmp_path), tmp_path / "cache"
    (root / "replay" / "write_note.ultra.json").touch()  # modified now: a write in the same tick would not show
    check(root, cache, "--format", "json")
    assert kept_rows(cache) == []


def test_a_name_that_is_not_utf8_is_printed_again_byte_for_byte(tmp_path: Path) -> None:
    root, cache = workspace_copy(tmp_path), tmp_path / "cache"
    odd = os.path.join(os.fsencode(root / "replay"), b"bad\xffname.json")
    shutil.copy2(root / "replay" / "write_note.ultra.json", os.fsdecode(odd))
    time.sleep(2 * CHANGE_SECONDS)  # the copy's inode changed now: see `workspace_copy`
    text = ("--format", "text", "--color", "never")
    first = check(root, cache, *text)
    assert b"bad\xffname.json" in first[0]
    assert kept_rows(cache) != []
    assert check(root, cache, *text) == first == check(root, cache, "--no-cache", *text)


def test_a_workspace_without_a_config_is_kept_and_printed_again(tmp_path: Path) -> None:
    root, cache = workspace_copy(tmp_path), tmp_path / "cache"
    (root / "replay-lens.toml").unlink()
    (root / ".git").mkdir()  # the project's root, as `project_root` finds it
    first = check(root, cache, "--format", "json")
    assert len(kept_rows(cache)) == 1
    assert check(root, cache, "--format", "json") == first == check(root, cache, "--no-cache", "--format", "json")
    # A config made since is another run (the key names the config file).
    (root / "replay-lens.toml").write_text('preset = "deerflow"\nfixtures = ["nothing/*.json"]\n', encoding="utf-8")
    assert check(root, cache, "--format", "json") == check(root, cache, "--no-cache", "--format", "json") != first
