"""Whole-process `check` on many small fixtures: cold cache, then warm, output compared byte for byte.

    python -m bench.small_fixtures [--fixtures 10000] [--json bench/out/small-fixtures.json]

The workspace: `--fixtures` fixtures of a few turns each (about 5 KB, as
`record`ed unit-test scenarios are), their sessions kept `--per-recording` to a
recording file (a test run records many scenarios into one file). Keys come
from `bench.reference`, so a clean `check` (exit 0) proves the engine's keys
identical to the reference's.

Two targets: the fixtures alone (no recording links a turn: each turn is an
`unverifiable` finding, so the report is large) and the whole workspace (every
turn verified, no finding). Each figure is one process (`python -m server check
--format json`) timed from start to exit with its CPU time (user + system, its
children's included: less sensitive to a loaded machine) and peak RSS: cold (an empty cache
folder of its own), then warm twice on the same cache (nothing changed since
the cold run). The warm runs' output must be the cold run's, byte for byte
(exit 1 otherwise). The default of 2,000 fixtures runs in under a minute;
`--fixtures 10000` is the issue's size (47 MB of fixtures, 115 MB of
recordings; generated once under `bench/out`, about 15 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import reference
from bench.generate import Shape, complete, session_calls

_OUT = Path("bench/out")
SHAPE = Shape(calls=3, system_size=400, tool_output_size=300, output_size=450, volatile=0.0)
"""One small scenario: three calls over a short history, no volatile text (a clean run exits 0)."""


def generate(fixtures: int, per_recording: int, out: Path) -> Path:
    """Write (once) `fixtures` fixtures and their recordings, `per_recording` sessions to a recording."""
    root = out / f"small-f{fixtures}-p{per_recording}-{SHAPE.name()}"
    if complete(root, "fixtures/**/*.json"):
        return root
    shape = replace(SHAPE, sessions=fixtures)
    for start in range(0, fixtures, per_recording):
        lines: list[str] = []
        for index in range(start, min(start + per_recording, fixtures)):
            turns = []
            for caller, inputs, output in session_calls(shape, index):
                conversation, key = reference.keys(caller, inputs)
                lines.append(
                    json.dumps(
                        {
                            "seq": len(lines),
                            "caller": caller,
                            "conversation_hash": conversation,
                            "input_hash": key,
                            "input": inputs,
                            "output": output,
                        },
                        ensure_ascii=False,
                    )
                )
                turns.append({"caller": caller, "conversation_hash": conversation, "input_hash": key, "output": output})
            folder = root / "fixtures" / f"group-{index // 1000:03d}"
            folder.mkdir(exist_ok=True)
            fixture = {"scenario": f"scenario-{index}", "mode": "bench", "model": "gpt-5", "turns": turns}
            (folder / f"scenario-{index:05d}.json").write_text(
                json.dumps(fixture, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        (root / "recordings" / f"run-{start // per_recording:04d}.jsonl").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
    (root / ".complete").touch()
    return root


def run_check(root: Path, target: str, cache: Path) -> tuple[dict[str, Any], bytes]:
    """Seconds, peak RSS (MB) and exit code of one `check --format json TARGET` process in `root`, and its
    stdout."""
    env = {**os.environ, "REPLAY_LENS_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "server", "check", "--format", "json", target]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": os.waitstatus_to_exitcode(status),
    }, output


def size_mb(folder: Path) -> float:
    return round(sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6, 1)


def measure(root: Path, target: str) -> dict[str, Any]:
    """Cold, then warm twice, each a whole process on the same fresh cache folder."""
    with tempfile.TemporaryDirectory(prefix="replay-lens-small-") as folder:
        cache = Path(folder)
        load = os.getloadavg()[0]
        cold, cold_output = run_check(root, target, cache)
        warm, warm_output = run_check(root, target, cache)
        again, again_output = run_check(root, target, cache)
    document = json.loads(cold_output) if cold_output else {}
    return {
        "target": target,
        "output_mb": round(len(cold_output) / 1e6, 1),
        "summary": document.get("summary"),
        "cold": cold,
        "warm": warm,
        "warm_again": again,
        "warm_share_of_cold": round(min(warm["seconds"], again["seconds"]) / cold["seconds"], 4),
        "warm_cpu_share_of_cold": round(min(warm["cpu_seconds"], again["cpu_seconds"]) / cold["cpu_seconds"], 4),
        "identical_output": cold_output == warm_output == again_output,
        "load_average_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=int, default=2000, help="how many fixtures (10000: the issue's size)")
    parser.add_argument("--per-recording", type=int, default=100, help="sessions kept in one recording file")
    parser.add_argument("--out", type=Path, default=_OUT / "workspaces")
    parser.add_argument("--json", type=Path, default=_OUT / "small-fixtures.json")
    args = parser.parse_args(argv)
    print(f"generating {args.fixtures} small fixtures ...", file=sys.stderr)
    root = generate(args.fixtures, args.per_recording, args.out.resolve())
    sizes = {"fixtures_mb": size_mb(root / "fixtures"), "recordings_mb": size_mb(root / "recordings")}
    print(f"{args.fixtures} fixtures ({sizes['fixtures_mb']} MB), recordings {sizes['recordings_mb']} MB")
    rows = []
    # Alone: no recording links any turn (each is an `unverifiable` finding: a 13 MB report at 10,000);
    # with recordings: every turn links and verifies (no finding).
    for name, target in (("fixtures alone", "fixtures"), ("with their recordings", ".")):
        print(f"check {name} ...", file=sys.stderr)
        row = measure(root, target)
        rows.append(row)
        print(
            f"{name}: output {row['output_mb']} MB, load average before {row['load_average_before']:.2f}\n"
            f"  {'check --format json, whole process':<36} {'seconds':>8} {'CPU s':>7} {'RSS MB':>7} {'exit':>5}"
        )
        for run in ("cold", "warm", "warm_again"):
            figures = row[run]
            print(
                f"  {run:<36} {figures['seconds']:>8.2f} {figures['cpu_seconds']:>7.2f}"
                f" {figures['peak_rss_mb']:>7.0f} {figures['exit']:>5}"
            )
        share, cpu, same = row["warm_share_of_cold"], row["warm_cpu_share_of_cold"], row["identical_output"]
        print(f"  warm / cold: {share:.1%} (CPU time: {cpu:.1%}); output identical cold and warm: {same}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"fixtures": args.fixtures, **sizes, "runs": rows}, indent=2), encoding="utf-8")
    clean = all(row["identical_output"] for row in rows)
    clean = clean and rows[0]["cold"]["exit"] == 0 and rows[1]["cold"]["exit"] == 0
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
