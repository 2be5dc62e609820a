"""The window a rewrite leaves for a lost update: from the final check of the target to the rename.

    python -m bench.write_window [--trials 10]

Rewrites a 24 MB fixture `--trials` times through `server.engine.writes.atomic_write` and times,
around the real calls, the final check (the target hashed again, then its identity taken), the
gap from its end to the `rename`, and the whole write (the window before issue 18: nothing was
checked between the first comparison and the rename).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from server.engine import writes
from server.engine.writes import atomic_write, content_hash


def measure(trials: int) -> dict[str, float]:
    marks: dict[str, float] = {}
    check, rename = writes._hash_and_stat, os.replace

    def timed_check(path: Path) -> Any:
        marks["check"] = time.perf_counter()
        found = check(path)
        marks["checked"] = time.perf_counter()
        return found

    def timed_rename(source: Any, target: Any) -> None:
        marks["rename"] = time.perf_counter()
        rename(source, target)

    data = (json.dumps({"prompt": "请 lorem ipsum " * 1_500_000}, ensure_ascii=False) + "\n").encode()
    checks, gaps, writes_ = [], [], []
    with (
        mock.patch.object(writes, "_hash_and_stat", timed_check),
        mock.patch.object(os, "replace", timed_rename),
        tempfile.TemporaryDirectory() as folder,
    ):
        path = Path(folder) / "big.json"
        for _ in range(trials):
            path.write_bytes(data)
            start = time.perf_counter()
            atomic_write(path, data.replace(b"lorem", b"LOREM", 1), content_hash(data))
            checks.append(marks["checked"] - marks["check"])
            gaps.append(marks["rename"] - marks["checked"])
            writes_.append(marks["rename"] - start)
    return {
        "megabytes": len(data) / 1e6,
        "final_check_ms": statistics.median(checks) * 1e3,
        "window_us_median": statistics.median(gaps) * 1e6,
        "window_us_max": max(gaps) * 1e6,
        "whole_write_ms": statistics.median(writes_) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    found = measure(parser.parse_args().trials)
    print(
        f"{found['megabytes']:.1f} MB fixture: final check {found['final_check_ms']:.0f} ms; window from its end "
        f"to the rename {found['window_us_median']:.0f} µs (median), {found['window_us_max']:.0f} µs (max); "
        f"whole write {found['whole_write_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()
