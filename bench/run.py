"""Benchmark runner: reference, floor and replay-lens side by side on the same files, in one run.

    python -m bench.run [--sessions N --calls N ...] [--json bench/out/results.json]

- floor: read each recording, parse every line with the engine's JSON parser and
  sha256 it — nothing else; no key computation can be faster than this.
- reference: `bench.reference`, SPEC §4 with no caching, on every line.
- replay-lens engine: the real workspace load + check, in this process: cold
  (no cache), cold while filling the persistent cache, and warm (nothing
  changed since: every recording is its cached summary).
- replay-lens process: `python -m server check --format json` as CI runs it,
  cold (`--no-cache`) and warm; then with an empty cache of its own, and the
  same command run again (what a user waits for twice).

Ratios are what matter (machines are noisy): engine/floor and engine/reference
throughput. The engine's result must be clean: every turn verified against its
recording, no stale key — the fixtures were keyed by the reference, so that
proves identical keys.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import reference
from bench.generate import Shape, generate
from server.engine.cache import SummaryCache
from server.engine.checks import TurnStatus
from server.engine.workspace import load_project_config, load_workspace


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def floor(recordings: list[Path]) -> int:
    lines = 0
    for path in recordings:
        for line in path.read_bytes().splitlines():
            json.loads(line)
            hashlib.sha256(line).hexdigest()
            lines += 1
    return lines


def reference_pass(recordings: list[Path]) -> int:
    mismatches = 0
    for path in recordings:
        for line in path.read_bytes().splitlines():
            record = json.loads(line)
            if reference.keys(record["caller"], record["input"]) != (record["conversation_hash"], record["input_hash"]):
                mismatches += 1
    return mismatches


def engine(root: Path, cache: Path | None = None) -> dict[str, int]:
    config = load_project_config(root)
    store = SummaryCache(cache) if cache is not None else None
    try:
        result = load_workspace([root], config, store).check()
    finally:
        if store is not None:
            store.close()
    statuses = [report.status for fixture in result.fixtures for report in fixture.turns]
    return {
        "turns": len(statuses),
        "valid": statuses.count(TurnStatus.VALID),
        "stale": statuses.count(TurnStatus.STALE),
        "errors": sum(1 for finding in result.findings if finding.severity == 1),
    }


def whole_process(root: Path, cache: Path | None = None) -> int:
    flags = ["--no-cache"] if cache is None else []
    completed = subprocess.run(
        [sys.executable, "-m", "server", "check", "--format", "json", "--severity", "error", *flags, str(root)],
        capture_output=True,
        check=False,
        env={**os.environ, "REPLAY_LENS_CACHE_DIR": str(cache or "off")},
    )
    return completed.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--json", type=Path, default=Path("bench/out/results.json"))
    parser.add_argument("--skip-reference", action="store_true", help="skip the slow reference pass")
    defaults = Shape()
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    shape = Shape(**{name: getattr(args, name) for name in vars(defaults)})

    print(f"workspace {shape.name()} ...", file=sys.stderr)
    root = generate(shape, args.out / "workspaces")
    recordings = sorted((root / "recordings").glob("*.jsonl"))
    size = sum(path.stat().st_size for path in recordings)
    megabytes = size / 1e6

    rows: dict[str, dict[str, Any]] = {}
    seconds, lines = _timed(lambda: floor(recordings))
    rows["floor"] = {"seconds": seconds, "lines": lines}
    if not args.skip_reference:
        seconds, mismatches = _timed(lambda: reference_pass(recordings))
        rows["reference"] = {"seconds": seconds, "mismatches": mismatches}
    seconds, outcome = _timed(lambda: engine(root))
    rows["replay-lens engine (cold)"] = {"seconds": seconds, **outcome}
    with tempfile.TemporaryDirectory(prefix="replay-lens-bench-cache-") as cache_dir:
        cache = Path(cache_dir)
        seconds, filled = _timed(lambda: engine(root, cache))
        rows["engine, filling the cache"] = {"seconds": seconds, **filled}
        seconds, warm = _timed(lambda: engine(root, cache))
        rows["replay-lens engine (warm)"] = {"seconds": seconds, **warm}
        seconds, code = _timed(lambda: whole_process(root))
        rows["replay-lens process (cold)"] = {"seconds": seconds, "exit": code}
        seconds, code = _timed(lambda: whole_process(root, cache))
        rows["replay-lens process (warm)"] = {"seconds": seconds, "exit": code}
    with tempfile.TemporaryDirectory(prefix="replay-lens-bench-cache-") as cache_dir:
        # What a user waits for: the first `check` with an empty cache, then the same command again.
        seconds, code = _timed(lambda: whole_process(root, Path(cache_dir)))
        rows["process, empty cache"] = {"seconds": seconds, "exit": code}
        seconds, code = _timed(lambda: whole_process(root, Path(cache_dir)))
        rows["process, run again"] = {"seconds": seconds, "exit": code}
    same = outcome == filled == warm

    for row in rows.values():
        row["mb_per_s"] = megabytes / row["seconds"]
        row["x_floor"] = rows["floor"]["seconds"] / row["seconds"]
        if "reference" in rows:
            row["x_reference"] = rows["reference"]["seconds"] / row["seconds"]
    engine_row = rows["replay-lens engine (cold)"]
    clean = engine_row["stale"] == 0 and engine_row["valid"] == engine_row["turns"] == lines and same
    warm_share = rows["replay-lens engine (warm)"]["seconds"] / engine_row["seconds"]
    again_share = rows["process, run again"]["seconds"] / rows["process, empty cache"]["seconds"]
    report = {
        "shape": vars(shape),
        "recording_mb": megabytes,
        "calls": lines,
        "identical_keys": clean,
        "warm_share_of_cold": warm_share,
        "process_again_share_of_cold": again_share,
        "rows": rows,
    }

    print(f"{megabytes:.1f} MB of recordings, {lines} calls, identical keys to reference (cold and warm): {clean}")
    print(f"warm engine re-check: {warm_share:.1%} of the cold one")
    print(f"a process run again: {again_share:.1%} of the first one, with an empty cache")
    print(f"{'run':<28} {'seconds':>9} {'MB/s':>9} {'x floor':>8} {'x reference':>12}")
    for name, row in rows.items():
        versus_reference = f"{row['x_reference']:.1f}" if "x_reference" in row else "-"
        print(
            f"{name:<28} {row['seconds']:>9.2f} {row['mb_per_s']:>9.1f} {row['x_floor']:>8.2f} {versus_reference:>12}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
