"""The persistent cache: a warm `check` says what a cold one says; a broken cache is rebuilt, never trusted."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.engine import summary, summary_children, workspace
from server.engine.cache import CHANGE_SECONDS, FILE_NAME, SummaryCache
from server.engine.recording import read_recording
from server.engine.rules import Rules
from server.engine.secrets import finding_context
from server.engine.source import SourceText
from server.engine.summary import read_back, summarize_file
from server.lsp.locate import input_keys
from tests.conftest import COMPAT, REPO, SAMPLES, run_cli
from tests.secret_workspace import SECRETS, leaked, secret_session

LONG_AGO = time.time() - 3600


def aged(root: Path) -> Path:
    """Files last written an hour ago, so the cache may take them by their stat (recent ones need their content)."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (LONG_AGO, LONG_AGO))
    # Setting the times changed the files' ctime: the cache takes a file by its stat only once that is
    # `CHANGE_SECONDS` old (a rewrite putting the old mtime back would look unchanged otherwise).
    time.sleep(2 * CHANGE_SECONDS)
    return root


def check(root: Path, cache: Path, *args: str) -> tuple[int, Any]:
    result = run_cli_with_cache(cache, "check", "--format", "json", *args, cwd=root)
    return result.code, result.json()


def run_cli_with_cache(cache: Path, *args: str, cwd: Path) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REPLAY_LENS_CACHE_DIR", str(cache))
        return run_cli(*args, cwd=cwd)


def summary_rows(cache: Path) -> int:
    with contextlib.closing(sqlite3.connect(cache / FILE_NAME)) as connection:
        count: int = connection.execute("SELECT count(*) FROM summaries").fetchone()[0]
        return count


def summarized(root: Path, cache: Path) -> int:
    """How many recordings a load through the cache read and summarized (the others came from the cache)."""
    store = SummaryCache(cache)
    calls = []

    def counting(paths: list[Path], config: Any, keep: Any) -> Any:
        calls.extend(paths)
        return summary.Sharing(paths, config, keep)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(workspace, "Sharing", counting)
            loaded = workspace.load_workspace([root], workspace.load_project_config(root), store)
    finally:
        store.close()
    assert len(loaded.recordings) == 3
    return len(calls)


def test_warm_check_is_the_cold_check(samples: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    aged(samples)
    cold = check(samples, cache)
    assert summary_rows(cache) == 3
    assert summarized(samples, cache) == 0
    assert check(samples, cache) == cold
    assert check(samples, cache, "--no-cache") == cold
    text = run_cli_with_cache(cache, "check", cwd=samples)
    assert "stale-key" in text.stdout and "volatile-text" in text.stdout


def test_the_compat_fixtures_warm_and_cold(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = check(COMPAT, cache, "--no-cache", str(COMPAT))
    check(COMPAT, cache, str(COMPAT))
    assert check(COMPAT, cache, str(COMPAT)) == cold


def test_secrets_stay_masked_from_a_summary(tmp_path: Path) -> None:
    root = tmp_path / "secrets"
    root.mkdir()
    secret_session(root)
    aged(root)
    cache = tmp_path / "cache"
    cold = run_cli_with_cache(cache, "check", "--format", "json", cwd=root)
    warm = run_cli_with_cache(cache, "check", "--format", "json", cwd=root)
    assert warm.stdout == cold.stdout
    assert not leaked(warm.stdout)
    revealed = run_cli_with_cache(cache, "check", "--format", "json", "--reveal-secrets", cwd=root)
    assert any(secret in revealed.stdout for secret in SECRETS)


def test_a_changed_recording_is_read_again(samples: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    aged(samples)
    _, before = check(samples, cache)
    recording = samples / "recordings" / "write_note.ultra.jsonl"
    lines = recording.read_text(encoding="utf-8").splitlines(keepends=True)
    recording.write_text("".join(lines[:1]), encoding="utf-8")  # the other calls are gone
    os.utime(recording, (LONG_AGO + 60, LONG_AGO + 60))
    _, after = check(samples, cache)
    assert after == check(samples, cache, "--no-cache")[1]
    assert after != before


def test_a_touched_recording_is_known_by_its_content(samples: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    aged(samples)
    cold = check(samples, cache)
    for path in (samples / "recordings").iterdir():
        os.utime(path, (LONG_AGO + 60, LONG_AGO + 60))  # a checkout wrote the same bytes again
    assert summarized(samples, cache) == 0
    assert check(samples, cache) == cold


def test_new_rules_summarize_again(samples: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    aged(samples)
    _, cold = check(samples, cache)
    assert summary_rows(cache) == 3
    _, other = check(samples, cache, "--preset", "none")
    assert summary_rows(cache) == 6
    assert other == check(samples, cache, "--preset", "none", "--no-cache")[1]
    assert other["summary"] != cold["summary"]


def test_a_corrupt_database_is_set_aside_and_rebuilt(samples: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    aged(samples)
    cold = check(samples, cache)
    (cache / FILE_NAME).write_bytes(b"not a database at all " * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{cache / FILE_NAME}{suffix}").unlink(missing_ok=True)
    assert check(samples, cache) == cold
    assert (cache / f"{FILE_NAME}.broken").exists()
    assert summary_rows(cache) == 3
    assert check(samples, cache) == cold


@pytest.mark.parametrize("garbage", [b"\x00\x01garbage", b"", b"{}", b"[1]", b'{"format": 2}', b"\xff{}", 7])
def test_a_corrupt_summary_is_a_miss(samples: Path, tmp_path: Path, garbage: bytes | int) -> None:
    """Bytes that are not JSON, nothing, `{}`, a list, a summary cut short, not UTF-8, not bytes at all: each read
    again from the file and rewritten."""
    cache = tmp_path / "cache"
    aged(samples)
    cold = check(samples, cache)
    with sqlite3.connect(cache / FILE_NAME) as connection:
        connection.execute("UPDATE summaries SET summary = ?", (garbage,))
        connection.execute("DELETE FROM runs")  # no run's output kept (`run_cache`): the run reads the summaries
    assert summarized(samples, cache) == 3
    assert summarized(samples, cache) == 0
    assert check(samples, cache) == cold


def test_a_summary_with_wrong_values_is_a_miss(samples: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    aged(samples)
    cold = check(samples, cache)
    with sqlite3.connect(cache / FILE_NAME) as connection:
        for digest, blob in connection.execute("SELECT digest, summary FROM summaries").fetchall():
            summary = json.loads(blob)
            summary["calls"][0][7] = ["lead_agent", "not a key", "x"]
            tampered = json.dumps(summary).encode()
            connection.execute("UPDATE summaries SET summary = ? WHERE digest = ?", (tampered, digest))
        connection.execute("DELETE FROM runs")  # no run's output kept (`run_cache`): the run reads the summaries
    assert check(samples, cache) == cold


def test_an_unusable_cache_folder_only_costs_time(samples: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    cold = check(samples, tmp_path / "cache", "--no-cache")
    result = run_cli_with_cache(blocker / "cache", "check", "--format", "json", cwd=samples)
    assert (result.code, result.json()) == cold


def test_two_processes_share_the_cache(samples: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    aged(samples)
    expected = check(samples, cache, "--no-cache")
    env = {**os.environ, "PYTHONPATH": str(REPO), "REPLAY_LENS_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "server", "check", "--format", "json"]
    for _ in range(3):
        runs = [
            subprocess.Popen(command, cwd=samples, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        for run in runs:
            stdout, stderr = run.communicate(timeout=120)
            assert "Traceback" not in stderr
            assert (run.returncode, json.loads(stdout)) == expected
    assert summary_rows(cache) == 3


SAMPLE_LINES = (SAMPLES / "recordings" / "write_note.ultra.jsonl").read_bytes().splitlines(keepends=True)
PIECES = st.sampled_from(
    [
        *SAMPLE_LINES,
        b"\n",
        b"   \n",
        b"\r\n",
        b"\r",
        b"[1, 2]\n",
        b'{"input": [], "output": {}}\n',
        b'{"caller": "x", "input": "no", "output": 1, "input_hash": "' + b"a" * 64 + b'"}\n',
        b"\xff\xfe not UTF-8\n",
        b"\xe4\xb8",
        "中文 😀 req_7Hq2Lm9xPz4Kw8Rt\n".encode(),
        b'{"broken": \n',
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(PIECES, min_size=1, max_size=8),
    bom=st.booleans(),
    cut=st.integers(min_value=0, max_value=400),
    carriage=st.booleans(),
)
def test_a_recording_summarized_line_by_line_checks_as_read_whole(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[bytes], bom: bool, cut: int, carriage: bool
) -> None:
    """Blank and broken lines, `\\r` breaks, a BOM, bad UTF-8, a cut last line: the same findings to the character."""
    root = tmp_path_factory.mktemp("stream")
    shutil.copytree(SAMPLES / "replay", root / "replay")
    shutil.copy(SAMPLES / "replay-lens.toml", root)
    data = b"".join(pieces)
    if carriage:
        data = data.replace(b"\n", b"\r\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + data[: max(len(data) - cut, 1)]
    (root / "recordings").mkdir()
    (root / "recordings" / "write_note.ultra.jsonl").write_bytes(data)
    config = workspace.load_project_config(root)
    whole = workspace.load_workspace([root], config).check()
    store = SummaryCache(tmp_path_factory.mktemp("cache"))
    try:
        streamed = workspace.load_workspace([root], config, store).check()
    finally:
        store.close()
    assert [f.to_json() for f in streamed.findings] == [f.to_json() for f in whole.findings]
    assert [f.span for f in streamed.findings] == [f.span for f in whole.findings]
    assert outcome(streamed) == outcome(whole)
    source = whole.recordings[0].recording.source
    contexts = streamed.recordings[0].recording.derived.contexts
    for finding in whole.recordings[0].findings:
        if finding.code.name == "volatile-text":
            assert contexts[finding.span] == finding_context(source, finding.span)
    # Each call's line reads back from the file: the record and the range of the whole read.
    summary = streamed.recordings[0].recording
    for kept, read in zip(summary.calls, whole.recordings[0].recording.calls, strict=True):
        back = read_back(summary.path, kept)
        assert back is not None and back.record == read.record
        assert kept.range == source.range(read.span, "utf-16")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(PIECES, min_size=1, max_size=12), bom=st.booleans(), carriage=st.booleans())
def test_a_recording_summarized_in_parts_is_summarized_as_in_one(
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
    pieces: list[bytes],
    bom: bool,
    carriage: bool,
) -> None:
    """Cut into parts for child processes (here or not), the summary is the same to the byte: places shifted right.

    The children must succeed (a failed one's part is summarized here, which would hide it).
    """
    data = b"".join(pieces)
    path = tmp_path_factory.mktemp("parts") / "recording.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (data.replace(b"\n", b"\r\n") if carriage else data))
    config = workspace.load_project_config(SAMPLES)
    whole = summarize_file(path, config, cores=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(summary_children, "PART_BYTES", 96)
        patch.setattr(summary, "_PROBE", -1.0)  # share the rest after the first line
        patch.setattr(summary, "_CHILD_START", 0.0)
        assert summarize_file(path, config, cores=3) == whole
        assert summarize_file(path, config, cores=2, offload=True) == whole
        # Without a digest asked for (replay), the same summary, the children's parts not read here.
        assert summary.summary_of(path, config, cores=3) == whole[0]
        assert summary.summary_of(path, config, cores=2, offload=True) == whole[0]
    assert "a summarizing process failed" not in caplog.text


def test_rules_reach_a_child_process_unchanged(tmp_path: Path) -> None:
    """A child gets the rules as JSON (`Rules.to_json`) and rebuilds them without validating again."""
    (tmp_path / "replay-lens.toml").write_text(
        'replace-rules = true\n[[rules]]\nname = "x"\npattern = "a+b"\nflags = ["dotall", "ascii"]\n'
        '[projection]\nskip-types = ["system", "tool"]\nsecond-pass = false\n'
        '[key]\ncaller-aliases = { a = "b" }\n',
        encoding="utf-8",
    )
    rules = workspace.load_project_config(tmp_path).rules
    assert Rules.from_json(json.loads(json.dumps(rules.to_json()))) == rules


def test_a_part_whose_child_fails_is_summarized_here(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "recording.jsonl"
    path.write_bytes(b"".join(SAMPLE_LINES * 3))
    config = workspace.load_project_config(SAMPLES)
    whole = summarize_file(path, config, cores=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(summary_children, "PART_BYTES", 256)
        patch.setattr(summary_children, "_CHILD", "import sys; sys.stderr.write('out of memory'); sys.exit(3)")
        assert summarize_file(path, config, cores=2, offload=True) == whole
    assert "a summarizing process failed (exit 3): out of memory" in caplog.text


def outcome(result: Any) -> list[tuple[Any, ...]]:
    return [
        (t.turn.index, t.status, t.link.call.index if t.link else None, t.keys and t.keys.input_hash)
        for report in result.fixtures
        for t in report.turns
    ]


def test_a_call_is_read_back_only_from_the_file_it_was_summarized_from(samples: Path) -> None:
    """Hover and "Show Normalized Input" read a summary's call back from disk: a changed file is refused."""
    config = workspace.load_project_config(samples)
    path = samples / "recordings" / "write_note.ultra.jsonl"
    store = SummaryCache(samples / ".cache")
    try:
        loaded = workspace.load_workspace([samples], config, store)
    finally:
        store.close()
    report = next(
        t
        for r in loaded.check().fixtures
        for t in r.turns
        if t.link and t.link.recording.path == path and t.link.call.index == 1
    )
    assert report.link is not None and report.link.recording.summary
    keys = input_keys(config, report)
    assert keys is not None and "Write a 3-6 word title" in keys.canonical
    data = path.read_bytes()
    # The same hashes, another input (as a hand edit would leave it): the keys of the text read back differ.
    path.write_bytes(data.replace(b"Write a 3-6 word title", b"Write a 3-7 word title", 1))
    assert read_back(path, report.link.call) is not None
    assert input_keys(config, report) is None
    # Lines swapped: the call's place holds another line.
    lines = data.splitlines(keepends=True)
    path.write_bytes(b"".join([lines[2], lines[1], lines[0], *lines[3:]]))
    assert read_back(path, report.link.call) is None
    path.unlink()
    assert read_back(path, report.link.call) is None
    assert input_keys(config, report) is None


@pytest.mark.parametrize("hold", ["exclusive-mode", "write-transaction"])
def test_a_cache_locked_by_another_process_is_skipped_and_left_intact(samples: Path, tmp_path: Path, hold: str) -> None:
    """Issue 18: the run waited 10 s, then moved the other process's database aside as broken."""
    cache = tmp_path / "cache"
    aged(samples)
    expected = check(samples, cache, "--no-cache")
    assert check(samples, cache) == expected  # the cache now holds the samples' summaries
    database = cache / FILE_NAME
    rows, inode = summary_rows(cache), database.stat().st_ino
    other = sqlite3.connect(database, isolation_level=None)  # another process's hold, as the kernel sees it
    try:
        if hold == "exclusive-mode":
            other.execute("PRAGMA locking_mode=EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        other.execute("DELETE FROM files WHERE 0")
        (samples / "recordings" / "write_note.ultra.jsonl").touch()  # a summary to store: a write is tried
        result = run_cli_with_cache(cache, "check", "--format", "json", cwd=samples)
        assert (result.code, result.json()) == expected
        assert "cache: off for this run: database is locked" in result.stderr
    finally:
        other.close()
    assert sorted(p.name for p in cache.iterdir() if "broken" in p.name) == []
    assert database.stat().st_ino == inode and summary_rows(cache) == rows
    assert check(samples, cache) == expected  # and used again once free


def test_a_line_too_long_to_hold_is_skipped_and_later_places_stay_exact(tmp_path: Path) -> None:
    """A line past `MAX_LINE_BYTES` is a read-error, not held (a sparse file's one line can be gigabytes); the
    calls after it keep the places a whole read gives them, in characters (non-ASCII counted as such)."""
    path = tmp_path / "recording.jsonl"
    long_line = ('{"note": "' + "é€😀" * 2000 + '"}\n').encode("utf-8")
    path.write_bytes(SAMPLE_LINES[0] + long_line + SAMPLE_LINES[1])
    config = workspace.load_project_config(SAMPLES)
    whole = read_recording(path, SourceText.from_bytes(path.read_bytes()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(summary, "MAX_LINE_BYTES", 4096)
        part, digest = summarize_file(path, config, cores=1)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [(call.line, call.span) for call in part.calls] == [
        (call.line, call.span) for call in whole.calls if call.line != 1
    ]
    (skipped,) = [problem for problem in part.problems if problem.code.name == "read-error"]
    assert skipped.message == "line 2 is longer than 4.0 KiB: skipped"
    assert skipped.range.start.line == 1
