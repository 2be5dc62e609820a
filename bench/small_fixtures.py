"""Whole-process `check` on many small fixtures: cold cache, then warm, output compared byte for byte.

    python -m bench.small_fixtures [--fixtures 10000] [--json bench/out/small-fixtures.json]

The workspace: `--fixtures` fixtures of a few turns each (about 5 KB, as
`record`ed unit-test scenarios are), their sessions kept `--per-recording` to a
recording file (a test run records many scenarios into one file). Keys come
from `bench.reference`, so a clean `check` (exit 0) proves the engine's keys
identical to the reference's.

Each figure is one process (`python -m server check --format json`) timed from
start to exit with its peak RSS: cold (an empty cache folder of its own), then
warm twice on the same cache (nothing changed since the cold run). The warm
run's output must be the cold run's, byte for byte (exit 1 otherwise). The
default of 2,000 fixtures runs in seconds; `--fixtures 10000` is the size the
issue names (~49 MB of fixtures; generated once under `bench/out`).
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
from bench.generate import Shape, session_calls

_OUT = Path("bench/out")
SHAPE = Shape(calls=3, system_size=400, tool_output_size=300, output_size=450, volatile=0.0)
"""One small scenario: three calls over a short history, no volatile text (a clean run exits 0)."""


def generate(fixtures: int, per_recording: int, out: Path) -> Path:
    """Write (once) `fixtures` fixtures and their recordings, `per_recording` sessions to a recording."""
    root = out / f"small-f{fixtures}-p{per_recording}-{SHAPE.name()}"
    done = root / ".complete"
    if done.exists():
        return root
    (root / "recordings").mkdir(parents=True, exist_ok=True)
    (root / "fixtures").mkdir(parents=True, exist_ok=True)
    (root / "replay-lens.toml").write_text(
        'preset = "deerflow"\nfixtures = ["fixtures/**/*.json"]\nrecordings = ["recordings/*.jsonl"]\n',
        encoding="utf-8",
    )
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
    done.touch()
    return root


def run_check(root: Path, cache: Path) -> tuple[dict[str, Any], bytes]:
    """Seconds, peak RSS (MB) and exit code of one `check --format json` process, and its stdout."""
    env = {**os.environ, "REPLAY_LENS_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "server", "check", "--format", "json", str(root)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": os.waitstatus_to_exitcode(status),
    }, output


def size_mb(folder: Path) -> float:
    return round(sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6, 1)


def measure(root: Path) -> dict[str, Any]:
    """Cold, then warm twice, each a whole process on the same fresh cache folder."""
    with tempfile.TemporaryDirectory(prefix="replay-lens-small-") as folder:
        cache = Path(folder)
        cold, cold_output = run_check(root, cache)
        warm, warm_output = run_check(root, cache)
        again, again_output = run_check(root, cache)
    document = json.loads(cold_output) if cold_output else {}
    return {
        "fixtures_mb": size_mb(root / "fixtures"),
        "recordings_mb": size_mb(root / "recordings"),
        "summary": document.get("summary"),
        "cold": cold,
        "warm": warm,
        "warm_again": again,
        "warm_share_of_cold": round(min(warm["seconds"], again["seconds"]) / cold["seconds"], 4),
        "identical_output": cold_output == warm_output == again_output,
        "load_average": os.getloadavg()[0],
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
    row = measure(root)
    print(
        f"{args.fixtures} fixtures ({row['fixtures_mb']} MB) + recordings ({row['recordings_mb']} MB), "
        f"load average {row['load_average']:.2f}"
    )
    print(f"{'check --format json, whole process':<36} {'seconds':>8} {'RSS MB':>7} {'exit':>5}")
    for name in ("cold", "warm", "warm_again"):
        figures = row[name]
        print(f"  {name:<34} {figures['seconds']:>8.2f} {figures['peak_rss_mb']:>7.0f} {figures['exit']:>5}")
    print(f"warm / cold: {row['warm_share_of_cold']:.1%}; output identical cold and warm: {row['identical_output']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(row, indent=2), encoding="utf-8")
    clean = row["identical_output"] and all(row[name]["exit"] == 0 for name in ("cold", "warm", "warm_again"))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
