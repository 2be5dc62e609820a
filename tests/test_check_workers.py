"""`check` summarizes a workspace's recordings on every core (issue 17): the output is the same, byte for byte.

The recordings are spread over this process and child processes, one file at a time (`summary.Sharing`);
`$REPLAY_LENS_WORKERS` sets how many. Each run here starts with an empty cache, so every recording is summarized.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.generate import Shape, generate
from server.engine import summary
from server.engine.cache import SummaryCache
from server.engine.config import Config
from server.engine.summary import Sharing, summarize_file
from server.engine.summary_children import WORKERS_ENV, Child, usable_cores
from server.engine.summary_records import RecordingSummary
from server.engine.workspace import load_project_config
from tests.conftest import run_cli


@pytest.fixture
def workspace(samples: Path, tmp_path: Path) -> Path:
    """The sample workspace with many recordings: generated sessions (volatile text, CJK), the samples copied
    under other names (so calls are held twice, links compete), one cut mid-line, one with a byte that is not
    UTF-8, one blank, and a FIFO named like a recording (unreadable)."""
    generated = generate(Shape(sessions=5, calls=6, system_size=600, tool_output_size=80), tmp_path / "generated")
    for path in sorted((generated / "recordings").glob("*.jsonl")):
        shutil.copy(path, samples / "recordings" / path.name)
    for path in sorted((generated / "fixtures").glob("*.json")):
        shutil.copy(path, samples / "replay" / path.name)
    recordings = samples / "recordings"
    originals = sorted(recordings.glob("*.flash.jsonl")) + sorted(recordings.glob("*.ultra.jsonl"))
    for copy in range(3):
        for path in originals:
            shutil.copy(path, recordings / f"copy{copy}-{path.name}")
    note = (recordings / "write_note.ultra.jsonl").read_bytes()
    (recordings / "cut.jsonl").write_bytes(note[: len(note) - 40])
    (recordings / "latin1.jsonl").write_bytes(note.replace(b"note", b"n\xf6te", 1))
    (recordings / "blank.jsonl").write_bytes(b"\n\n")
    os.mkfifo(recordings / "m-fifo.jsonl")
    return samples


def check_with(
    workers: str | None, root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, *, stderr: bool = False
) -> tuple[int, str]:
    """Exit code and JSON output (or stderr) of `check` with `workers` (None: unset) and an empty cache of its own."""
    monkeypatch.setenv("REPLAY_LENS_CACHE_DIR", str(cache))
    if workers is None:
        monkeypatch.delenv(WORKERS_ENV, raising=False)
    else:
        monkeypatch.setenv(WORKERS_ENV, workers)
    # What a process says once (a bad worker count) is read in a process of its own.
    result = run_cli("check", "--format", "json", "--severity", "info", ".", cwd=root, process=stderr)
    assert result.code in (0, 1), result.stderr
    return result.code, result.stderr if stderr else result.stdout


def test_one_worker_or_several_give_the_same_output(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = check_with("1", workspace, tmp_path / "cache-1", monkeypatch)
    assert '"code": "read-error"' in one[1]  # the FIFO
    assert '"code": "volatile-text"' in one[1]
    assert '"code": "invalid-json"' in one[1]
    for workers in ("2", "3", "8", None):
        assert check_with(workers, workspace, tmp_path / f"cache-{workers}", monkeypatch) == one, workers
    monkeypatch.setenv("REPLAY_LENS_CACHE_DIR", "off")  # every file read whole, in this process: the reference
    whole = run_cli("check", "--format", "json", "--severity", "info", ".", cwd=workspace)
    assert (whole.code, whole.stdout) == one


def test_summarizing_files_together_gives_what_each_gives_alone(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, with children: each result is `summarize_file`'s on that file, the errors too (the FIFO is
    handed to a child, which cannot read it either; the missing file is never handed out)."""
    config = load_project_config(workspace)
    paths = [*sorted((workspace / "recordings").iterdir()), workspace / "recordings" / "gone.jsonl"]
    monkeypatch.setenv(WORKERS_ENV, "3")
    found = Sharing(paths, config).results()
    assert [str(item) if isinstance(item, OSError) else item for item in found] == alone(paths, config)
    assert sum(isinstance(item, OSError) for item in found) == 2


def test_a_child_answers_what_this_process_computes(workspace: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The child program itself (which `Sharing` may or may not get to use, as the race goes): every
    file handed to one child in turn, its answers are this process's summaries, an error for the FIFO."""
    config = load_project_config(workspace)
    paths = sorted((workspace / "recordings").iterdir())
    child = Child.start(summary.child_setup(config))
    assert child is not None
    answers: list[object] = []
    try:
        assert child.ready()
        for path in paths:
            child.send({"path": str(path)})
            answer = child.answer()
            assert answer is not None
            if "error" in answer:
                answers.append(answer["error"])
            else:
                answers.append((RecordingSummary.from_json(path, answer["summary"]), answer["digest"]))
    finally:
        with caplog.at_level(logging.WARNING, logger="server.engine.summary_children"):
            child.close()
    expected = alone(paths, config)
    assert [answer for answer, wanted in zip(answers, expected, strict=True) if isinstance(wanted, str)] == [
        "OSError(22, 'not a regular file (a pipe, socket or device is never read)')"
    ]
    assert [a for a in answers if not isinstance(a, str)] == [e for e in expected if not isinstance(e, str)]
    assert "failed" not in caplog.text


def alone(paths: list[Path], config: Config) -> list[object]:
    """Each file's `summarize_file` here, or the text of its error."""
    expected: list[object] = []
    for path in paths:
        try:
            expected.append(summarize_file(path, config))
        except OSError as exc:
            expected.append(str(exc))
    return expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "٣"])
def test_a_bad_worker_count_is_said_and_ignored(
    value: str, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(WORKERS_ENV, value)
    with caplog.at_level(logging.WARNING, logger="server.engine.summary_children"):
        assert usable_cores() >= 1
        assert usable_cores() >= 1
    said = f"{WORKERS_ENV}={value!r} is not a whole number of at least 1"
    assert caplog.text.count(said) == 1  # said once a process, however often it is read
    assert said in check_with(value, workspace, tmp_path / "cache-said", monkeypatch, stderr=True)[1]
    assert check_with(value, workspace, tmp_path / "cache-bad", monkeypatch) == check_with(
        "1", workspace, tmp_path / "cache-1", monkeypatch
    )


def test_a_recording_gone_once_summarized_is_a_read_error(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Summarized, then deleted before its summary is cached (its stat is taken again): a finding, no traceback."""
    from server.engine import workspace as walker  # noqa: PLC0415

    gone = samples / "recordings" / "translate_cn.flash.jsonl"

    class ThenDelete(summary.Sharing):
        """Deletes the file once it is summarized, before its summary is kept."""

        def __init__(self, paths: list[Path], config: Config, keep: Any) -> None:
            def deleting(index: int, summarized: summary.Summarized) -> None:
                if paths[index] == gone:
                    gone.unlink()
                keep(index, summarized)

            super().__init__(paths, config, deleting)

    monkeypatch.setattr(walker, "Sharing", ThenDelete)
    config = load_project_config(samples)
    cache = SummaryCache(samples.parent / "cache")
    try:
        loaded = walker.load_workspace([samples], config, cache)
    finally:
        cache.close()
    assert [recording.path.name for recording in loaded.recordings] == [
        "legacy_search.flash.jsonl",
        "write_note.ultra.jsonl",
    ]
    (unreadable,) = loaded.unreadable
    assert (unreadable.code.name, unreadable.path) == ("read-error", gone)
