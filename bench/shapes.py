"""Every history shape in one run, whole-process figures beside engine time, and the cost curve.

    python -m bench.shapes [--big] [--json bench/out/shapes.json]

- depth: `check` (cold cache) on recordings of 10-, 30- and 120-call sessions
  (and 2,000 with `--big`), each beside the reference and the floor as whole
  processes (`bench.baseline`), and the engine's own time (`load_workspace` +
  `check` in a process of its own, imports excluded);
- many small fixtures: `bench.small_fixtures` (cold, warm, warm again; output
  compared byte for byte), 2,000 fixtures (10,000 with `--big`);
- `replay --against` of one deep session beside `check` on it (`bench.depth`),
  300 calls (2,000 with `--big`);
- the cost curve: 30-call sessions at 3-4 sizes, and a least-squares line
  seconds = fixed + ms/MB x MB for the engine (whole process), the reference
  and the floor: the ratio the engine can reach at any size is the ratio of the
  slopes.

Default sizes run in a few minutes on 2 cores; `--big` is the issue's sizes
(tens of minutes, GBs of disk under `bench/out`): don't run it in a loop.
Every row carries the load average taken before it: figures are ratios within
one run, and a loaded machine shows in it. Timings are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import depth, small_fixtures
from bench.generate import Shape, generate

_OUT = Path("bench/out")


def engine_time(root: Path, cache: Path) -> dict[str, float]:
    """Imports, then `load_workspace` + `check` with an empty cache folder: the engine's own seconds."""
    start = time.perf_counter()
    from server.engine.cache import SummaryCache  # noqa: PLC0415
    from server.engine.workspace import load_project_config, load_workspace  # noqa: PLC0415

    imported = time.perf_counter()
    store = SummaryCache(cache)
    try:
        load_workspace([root], load_project_config(root), store, reuse_fixtures=True).check()
    finally:
        store.close()
    return {"imports": round(imported - start, 3), "engine": round(time.perf_counter() - imported, 3)}


def engine_process(root: Path, cache_root: Path) -> dict[str, Any]:
    """`engine_time` in a process of its own (a fresh interpreter, as the CLI has), with its wall time."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=cache_root))
    figures = depth.run([sys.executable, "-m", "bench.shapes", "--engine-time", str(root), str(cache)])
    return {**(figures.pop("output") or {}), "process": figures["seconds"]}


def sized(calls: int, megabytes: float, out: Path, **sizes: int) -> tuple[Path, list[Path], float]:
    """A workspace of `calls`-call sessions holding about `megabytes` of recordings."""
    probe = generate(Shape(sessions=1, calls=calls, **sizes), out)
    per_session = sum(path.stat().st_size for path in (probe / "recordings").glob("*.jsonl"))
    sessions = max(1, math.ceil(megabytes * 1e6 / per_session))
    root = generate(Shape(sessions=sessions, calls=calls, **sizes), out)
    recordings = sorted((root / "recordings").glob("*.jsonl"))
    return root, recordings, sum(path.stat().st_size for path in recordings) / 1e6


def measure(root: Path, recordings: list[Path], size: float, cache_root: Path) -> dict[str, Any]:
    """Whole processes (check cold, reference, floor) and the engine's own time, on one workspace."""
    load = os.getloadavg()[0]
    check = depth.check(root, cache_root)
    check.pop("output")
    reference = depth.baseline("reference", recordings)
    floor = depth.baseline("floor", recordings)
    for row in (reference, floor):
        row.pop("output")
    return {
        "mb": round(size, 1),
        "load_average_before": load,
        "check": check,
        "engine": engine_process(root, cache_root),
        "reference": reference,
        "floor": floor,
        "x_reference": round(reference["seconds"] / check["seconds"], 2),
        "x_floor": round(floor["seconds"] / check["seconds"], 2),
    }


def fit(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least squares seconds = fixed + per_mb x MB over (MB, seconds) points: fixed seconds and ms per MB."""
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    return {"fixed_s": round(mean_y - slope * mean_x, 3), "ms_per_mb": round(slope * 1000, 2)}


def cost_curve(sizes: list[float], out: Path, cache_root: Path) -> dict[str, Any]:
    rows = []
    for megabytes in sizes:
        root, recordings, size = sized(30, megabytes, out)
        print(f"cost curve: 30-call sessions, {size:.1f} MB ...", file=sys.stderr)
        rows.append(measure(root, recordings, size, cache_root))
    seconds: dict[str, list[float]] = {
        "check (whole process)": [row["check"]["seconds"] for row in rows],
        "engine (in process)": [row["engine"].get("engine", math.nan) for row in rows],
        "reference": [row["reference"]["seconds"] for row in rows],
        "floor": [row["floor"]["seconds"] for row in rows],
    }
    lines = {
        name: fit([(row["mb"], each) for row, each in zip(rows, taken, strict=True)]) for name, taken in seconds.items()
    }
    check_slope = lines["check (whole process)"]["ms_per_mb"]
    limits = {
        f"x_{name}_at_any_size": round(lines[name]["ms_per_mb"] / check_slope, 2) if check_slope > 0 else None
        for name in ("reference", "floor")
    }
    return {"points": rows, "lines": lines, **limits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", action="store_true", help="the issue's sizes (tens of minutes)")
    parser.add_argument("--out", type=Path, default=_OUT / "workspaces")
    parser.add_argument("--json", type=Path, default=_OUT / "shapes.json")
    parser.add_argument("--engine-time", nargs=2, type=Path, metavar=("ROOT", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine_time:
        print(json.dumps(engine_time(*args.engine_time)))
        return 0
    out = args.out.resolve()
    depths = [10, 30, 120, 2000] if args.big else [10, 30, 120]
    megabytes = 40.0 if args.big else 10.0
    report: dict[str, Any] = {"big": args.big}
    with tempfile.TemporaryDirectory(prefix="replay-lens-shapes-") as folder:
        cache_root = Path(folder)
        report["depth"] = []
        for calls in depths:
            # 2,000 calls re-send their history 2,000 times: small messages keep one session near 600 MB.
            small = {"system_size": 2000, "tool_output_size": 40, "output_size": 40} if calls > 500 else {}
            root, recordings, size = sized(calls, megabytes, out, **small)
            print(f"depth: {calls}-call sessions, {size:.1f} MB ...", file=sys.stderr)
            report["depth"].append({"calls_per_session": calls, **measure(root, recordings, size, cache_root)})
        fixtures = 10000 if args.big else 2000
        print(f"{fixtures} small fixtures ...", file=sys.stderr)
        small_root = small_fixtures.generate(fixtures, 100, out)
        report["small_fixtures"] = {
            "fixtures": fixtures,
            "runs": [small_fixtures.measure(small_root, target) for target in ("fixtures", ".")],
        }
        report["deep_replay"] = depth.deep_replay(2000 if args.big else 300, out, cache_root)
        report["cost_curve"] = cost_curve([40, 80, 160, 320] if args.big else [5, 10, 20], out, cache_root)
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{'check, cold, whole process':<28} {'MB':>6} {'process':>8} {'engine':>7} {'imports':>8}"
        f" {'reference':>10} {'floor':>6} {'x ref':>6} {'x floor':>8} {'load':>5}"
    )
    for row in report["depth"]:
        print(
            f"{str(row['calls_per_session']) + '-call sessions':<28} {row['mb']:>6} {row['check']['seconds']:>8.2f}"
            f" {row['engine'].get('engine', float('nan')):>7.2f} {row['engine'].get('imports', float('nan')):>8.2f}"
            f" {row['reference']['seconds']:>10.2f} {row['floor']['seconds']:>6.2f} {row['x_reference']:>6.2f}"
            f" {row['x_floor']:>8.2f} {row['load_average_before']:>5.1f}"
        )
    print()
    for run in report["small_fixtures"]["runs"]:
        print(
            f"{report['small_fixtures']['fixtures']} small fixtures, target {run['target']!r}: cold"
            f" {run['cold']['seconds']:.2f} s, warm {run['warm']['seconds']:.2f} / {run['warm_again']['seconds']:.2f} s"
            f" ({run['warm_share_of_cold']:.1%}), identical output: {run['identical_output']},"
            f" load {run['load_average_before']:.1f}"
        )
    deep = report["deep_replay"]
    print(
        f"\none {deep['calls']}-call session, {deep['mb']} MB: check {deep['check']['seconds']:.2f} s"
        f" {deep['check']['peak_rss_mb']:.0f} MB, replay --against {deep['replay']['seconds']:.2f} s"
        f" {deep['replay']['peak_rss_mb']:.0f} MB ({deep['time_x_check']:.2f}x the time of check)"
    )
    curve = report["cost_curve"]
    print(
        "\ncost curve (30-call sessions, least squares over "
        + ", ".join(str(p["mb"]) for p in curve["points"])
        + " MB):"
    )
    for name, line in curve["lines"].items():
        print(f"  {name:<24} {line['fixed_s']:>6.2f} s + {line['ms_per_mb']:>7.2f} ms/MB")
    print(
        f"  at any size, check can reach {curve['x_reference_at_any_size']}x the reference"
        f" and {curve['x_floor_at_any_size']}x the floor"
    )


if __name__ == "__main__":
    sys.exit(main())
