"""Whole-process figures by history depth: `check` per depth beside the reference and the floor,
and `replay --against` of one deep session beside `check` on the same file.

    python -m bench.depth [--json bench/out/depth.json]

Environment (so a 2-core machine runs it in minutes):
- `DEPTH_BENCH_CALLS`: calls of the deep session replayed (default 2000; each
  call re-sends the whole history, so the file grows with the square: 1000
  calls make ~0.3 GB, 2000 ~1.3 GB);
- `DEPTH_BENCH_DEPTHS`: calls per session of the `check` shapes (default 10,30,120);
- `DEPTH_BENCH_MB`: recordings per depth shape, in MB (default 40);
- `DEPTH_BENCH_ROUNDS`: runs of `check`, the floor and the reference per shape, taken
  in turn; each figure is the median of its rounds (default 3).

Every figure is one process run as CI runs it (`python -m server ...`), timed
from start to exit, with its peak RSS (`ru_maxrss` from `wait4`: the largest of
the process and the children it waited for). `check` runs cold: a fresh summary
cache, so every recording is summarized line by line; `replay` uses no cache.
Ratios are what matter on a shared machine: each is taken within the same run.
Timings are measured, never asserted; the exit codes are (clean fixtures keyed
by `bench.reference`: `check` exits 0, `replay` exits 0 with every call a hit).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import Shape, generate

_OUT = Path("bench/out")


def run(command: list[str], cache: Path | None = None) -> dict[str, Any]:
    """Seconds, peak RSS (MB) and exit code of one process; its stdout is parsed when it is JSON."""
    env = {**os.environ, "REPLAY_LENS_CACHE_DIR": str(cache or "off")}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    try:
        document = json.loads(output) if output else None
    except ValueError:
        document = None
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": process.returncode,
        "output": document,
    }


def check(target: Path, cache_root: Path) -> dict[str, Any]:
    """`check` cold: a cache folder of its own, empty."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=cache_root))
    return run([sys.executable, "-m", "server", "check", "--format", "json", "--severity", "error", str(target)], cache)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one measure as one: median seconds and RSS, the worst exit code, every round's seconds."""
    return {
        "seconds": round(statistics.median(run["seconds"] for run in runs), 3),
        "peak_rss_mb": round(statistics.median(run["peak_rss_mb"] for run in runs), 1),
        "exit": max(run["exit"] for run in runs),
        "rounds": [run["seconds"] for run in runs],
    }


def baseline(mode: str, recordings: list[Path]) -> dict[str, Any]:
    return run([sys.executable, "-m", "bench.baseline", mode, *map(str, recordings)])


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def depth_shapes(depths: list[int], megabytes: int, out: Path, cache_root: Path) -> list[dict[str, Any]]:
    rows = []
    for calls in depths:
        probe = generate(Shape(sessions=1, calls=calls), out)
        per_session = sum(path.stat().st_size for path in (probe / "recordings").glob("*.jsonl"))
        sessions = max(1, math.ceil(megabytes * 1e6 / per_session))
        root = generate(Shape(sessions=sessions, calls=calls), out)
        recordings = sorted((root / "recordings").glob("*.jsonl"))
        size = sum(path.stat().st_size for path in recordings) / 1e6
        print(f"check, {calls}-call sessions: {sessions} sessions, {size:.1f} MB ...", file=sys.stderr)
        runs: dict[str, list[dict[str, Any]]] = {"check": [], "floor": [], "reference": []}
        for _ in range(_env_int("DEPTH_BENCH_ROUNDS", 3)):  # in turn, so a busy moment hits all three alike
            runs["check"].append(check(root, cache_root))
            runs["floor"].append(baseline("floor", recordings))
            runs["reference"].append(baseline("reference", recordings))
        engine, floor, reference = (_median(runs[name]) for name in ("check", "floor", "reference"))
        rows.append(
            {
                "calls_per_session": calls,
                "sessions": sessions,
                "mb": round(size, 1),
                "check": engine,
                "floor": floor,
                "reference": reference,
                "x_reference": round(reference["seconds"] / engine["seconds"], 2),
                "x_floor": round(floor["seconds"] / engine["seconds"], 2),
            }
        )
    return rows


def deep_replay(calls: int, out: Path, cache_root: Path) -> dict[str, Any]:
    shape = Shape(sessions=1, calls=calls, system_size=2000, tool_output_size=40, output_size=40)
    print(f"replay of one {calls}-call session: generating ...", file=sys.stderr)
    root = generate(shape, out)
    recording = root / "recordings" / "session-0000.jsonl"
    fixture = root / "fixtures" / "session-0000.json"
    size = recording.stat().st_size / 1e6
    print(f"replay of one {calls}-call session ({size:.0f} MB) ...", file=sys.stderr)
    engine = check(recording, cache_root)
    command = [sys.executable, "-m", "server", "replay", str(recording), "--against", str(fixture), "--format", "json"]
    replayed = run(command)
    summary = (replayed.pop("output") or {}).get("summary", {})
    engine.pop("output")
    return {
        "calls": calls,
        "mb": round(size, 1),
        "check": engine,
        "replay": replayed,
        "replay_summary": summary,
        "time_x_check": round(replayed["seconds"] / engine["seconds"], 2),
        "rss_x_check": round(replayed["peak_rss_mb"] / engine["peak_rss_mb"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=_OUT / "workspaces")
    parser.add_argument("--json", type=Path, default=_OUT / "depth.json")
    args = parser.parse_args(argv)
    depths = [int(part) for part in os.environ.get("DEPTH_BENCH_DEPTHS", "10,30,120").split(",") if part]
    with tempfile.TemporaryDirectory(prefix="replay-lens-depth-") as folder:
        cache_root = Path(folder)
        shapes = depth_shapes(depths, _env_int("DEPTH_BENCH_MB", 40), args.out, cache_root)
        deep = deep_replay(_env_int("DEPTH_BENCH_CALLS", 2000), args.out, cache_root)

    print(f"{'check, whole process':<26} {'MB':>6} {'seconds':>8} {'RSS MB':>7} {'x reference':>12} {'x floor':>8}")
    for row in shapes:
        name = f"{row['calls_per_session']}-call sessions"
        print(
            f"{name:<26} {row['mb']:>6} {row['check']['seconds']:>8.2f} {row['check']['peak_rss_mb']:>7.0f}"
            f" {row['x_reference']:>12.2f} {row['x_floor']:>8.2f}"
            f"   (reference {row['reference']['seconds']:.2f} s, floor {row['floor']['seconds']:.2f} s)"
        )
    print()
    print(f"one {deep['calls']}-call session, {deep['mb']} MB: {'':<10} {'seconds':>8} {'RSS MB':>7}")
    for name in ("check", "replay"):
        print(
            f"  {name + (' --against' if name == 'replay' else ' (cold cache)'):<36} "
            f"{deep[name]['seconds']:>8.2f} {deep[name]['peak_rss_mb']:>7.0f}"
        )
    print(f"  replay / check: {deep['time_x_check']:.2f}x the time; replay summary {deep['replay_summary']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"depths": shapes, "deep_replay": deep}, indent=2), encoding="utf-8")
    clean = all(row["check"]["exit"] == 0 and row["reference"]["exit"] == 0 for row in shapes)
    clean = clean and deep["check"]["exit"] == 0 and deep["replay"]["exit"] == 0
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
