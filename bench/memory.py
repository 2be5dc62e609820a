"""Memory of `check` on one huge recording: streamed line by line, it stays flat as the file grows.

    python -m bench.memory [--sizes 100,250,1000] [--whole-up-to 250] [--json bench/out/memory.json]

For each size (MB) it writes one long agent session as a recording (every call
re-sends the whole history, so the file grows with the square of the calls),
then runs `python -m server check --format json` on it as CI would: with a fresh
cache (the recording is summarized line by line) and, up to `--whole-up-to` MB,
with `--no-cache` (the whole file read, decoded and parsed at once) as the
baseline. It reports the peak RSS of each process (`ru_maxrss` from `wait4`)
and its wall time. Timings and sizes are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import Shape, message, prose

HEX = "0123456789abcdef"


def write_recording(path: Path, megabytes: int, seed: int = 5) -> int:
    """One session of calls whose inputs grow until the file holds `megabytes` MB; its number of calls."""
    rng = random.Random(seed)
    shape = Shape()
    history = [message("system", prose(rng, shape.system_size, 0)), message("human", prose(rng, 300, shape.cjk))]
    calls = 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < megabytes * 1_000_000:
            output = message("ai", prose(rng, 200, shape.cjk))
            record = {
                "caller": "lead_agent",
                "conversation_hash": "".join(rng.choice(HEX) for _ in range(64)),
                "input_hash": "".join(rng.choice(HEX) for _ in range(64)),
                "input": history,
                "output": output,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            history = [*history, output, message("tool", prose(rng, shape.tool_output_size, shape.cjk))]
            calls += 1
    return calls


def measure(recording: Path, cache: Path | None) -> dict[str, Any]:
    """Peak RSS (MB) and seconds of one `check` process on `recording`."""
    flags = [] if cache is not None else ["--no-cache"]
    env = {**os.environ, "REPLAY_LENS_CACHE_DIR": str(cache or "off")}
    command = [sys.executable, "-m", "server", "check", "--format", "json", *flags, str(recording)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    report = json.loads(process.stdout.read())
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    return {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(seconds, 2),
        "exit": os.waitstatus_to_exitcode(status),
        "findings": len(report["findings"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,250,1000", help="recording sizes in MB, comma-separated")
    parser.add_argument("--whole-up-to", type=int, default=250, help="largest size also read whole (MB)")
    parser.add_argument("--json", type=Path, default=Path("bench/out/memory.json"))
    args = parser.parse_args(argv)
    rows = []
    print(f"{'size':>8} {'calls':>6} {'streamed RSS':>13} {'seconds':>8} {'whole-read RSS':>15} {'seconds':>8}")
    with tempfile.TemporaryDirectory(prefix="replay-lens-memory-") as folder:
        for size in (int(part) for part in args.sizes.split(",")):
            recording = Path(folder) / f"session-{size}.jsonl"
            calls = write_recording(recording, size)
            megabytes = recording.stat().st_size / 1e6
            cache = Path(folder) / f"cache-{size}"
            streamed = measure(recording, cache)
            whole = measure(recording, None) if size <= args.whole_up_to else None
            if whole is not None and whole["findings"] != streamed["findings"]:
                print(f"different findings at {size} MB: {whole['findings']} whole, {streamed['findings']} streamed")
                return 1
            rows.append({"mb": round(megabytes, 1), "calls": calls, "streamed": streamed, "whole": whole})
            recording.unlink()
            shown = f"{whole['peak_rss_mb']:>12} MB {whole['seconds']:>8}" if whole else f"{'-':>15} {'-':>8}"
            print(f"{megabytes:>5.0f} MB {calls:>6} {streamed['peak_rss_mb']:>10} MB {streamed['seconds']:>8} {shown}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
