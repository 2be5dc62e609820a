"""Domain rules the language server used to keep for itself, now engine-side (issue 15, item 6).

`walk_order` is the order `iter_files` walks in (the server checks documents in
the CLI's order, so linking and rehashing agree); `count_turns` is the count the
editor's status shows, equal to the CLI's summary of the same workspace.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from server.engine.counts import count_turns
from server.engine.workspace import iter_files, load_project_config, load_workspace, walk_order
from tests.conftest import SAMPLES, run_cli


def test_walk_order_sorts_files_as_iter_files_walks_them(tmp_path: Path) -> None:
    names = ["b.json", "a/z.jsonl", "a/b/c.json", "a/a.json", "c.json", "a/b.json/x.json", "ab/y.json", "0/1.json"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}", encoding="utf-8")
    walked = list(iter_files([tmp_path], load_project_config(tmp_path)))
    assert sorted(walked) != walked  # a directory's files come before its subdirectories: not path order
    shuffled = walked[:]
    random.Random(4).shuffle(shuffled)
    assert sorted(shuffled, key=lambda path: walk_order(path, tmp_path)) == walked


def test_count_turns_is_the_check_summary_of_the_cli() -> None:
    root = SAMPLES
    result = load_workspace([root], load_project_config(root)).check()
    counts = count_turns(result.fixtures)
    cli = run_cli("check", "--format", "json", "--no-cache", cwd=root)
    summary = json.loads(cli.stdout)["summary"]
    assert counts.fixtures == summary["fixtures"] > 0
    assert (counts.turns, counts.stale, counts.unverifiable) == (
        summary["turns"],
        summary["stale"],
        summary["unverifiable"],
    )
