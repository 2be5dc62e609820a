"""Whole-process figures of a replay that misses deep in a long session, beside `check` on the same file.

    python -m bench.replay_deep [--json bench/out/replay_deep.json]

One session of `REPLAY_DEEP_CALLS` calls (default 2000; each call re-sends the whole
history, so 2,000 calls make ~1.4 GB) is generated with its fixture (`bench.generate`,
the shape of `bench.depth`'s deep replay). The session replayed is that recording
with ONE early message changed (the task's first word):

- `one` (default): in the last call only, so the replay hits every call but the last,
  whose nearest recorded input is searched among every turn of the deep history;
- `all`: in every call, as an edited prompt does, so every call misses
  (`REPLAY_DEEP_MISSES=all`; quadratic for any nearest search: use fewer calls).

Figures (one process each, as CI runs them): seconds from start to exit and peak RSS
(`ru_maxrss` from `wait4`) of `check` (cold cache) on the recording and of
`replay SESSION --against FIXTURE`, with `uptime`'s load beside them. Timings are
measured, never asserted; `replay` must exit 1 (it misses) and `check` 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.depth import check, run
from bench.generate import Shape, generate

_OUT = Path("bench/out")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def changed_session(recording: Path, target: Path, *, every_call: bool) -> None:
    """`recording` with its task message's first word changed, in the last call or in every call.

    Read a line at a time: a child forked from a big process starts with its memory, which `ru_maxrss` counts."""
    with recording.open("rb") as lines:
        count = sum(1 for _ in lines)
    target.parent.mkdir(parents=True, exist_ok=True)
    with recording.open("rb") as lines, target.open("wb") as out:
        for number, line in enumerate(lines):
            written = line
            if every_call or number == count - 1:
                record = json.loads(line)
                task = record["input"][1]["data"]
                task["content"] = task["content"].replace("Task: ", "Task (edited): ", 1)
                written = json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
            out.write(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=_OUT / "workspaces")
    parser.add_argument("--json", type=Path, default=_OUT / "replay_deep.json")
    args = parser.parse_args(argv)
    calls = int(os.environ.get("REPLAY_DEEP_CALLS") or 2000)
    misses = os.environ.get("REPLAY_DEEP_MISSES") or "one"
    shape = Shape(sessions=1, calls=calls, system_size=2000, tool_output_size=40, output_size=40)
    print(f"generating one {calls}-call session ...", file=sys.stderr)
    root = generate(shape, args.out)
    recording = root / "recordings" / "session-0000.jsonl"
    fixture = root / "fixtures" / "session-0000.json"
    session = root / "sessions" / f"changed-{misses}.jsonl"
    if not session.exists():
        changed_session(recording, session, every_call=misses == "all")
    size = recording.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(prefix="replay-lens-replay-deep-") as folder:
        load_check = _load()
        checked = check(recording, Path(folder))
        load_replay = _load()
        command = [sys.executable, "-m", "server", "replay", str(session), "--against", str(fixture)]
        replayed = run([*command, "--format", "json"])
    summary = (replayed.pop("output") or {}).get("summary", {})
    checked.pop("output")
    result = {
        "calls": calls,
        "misses": misses,
        "mb": round(size, 1),
        "check": {**checked, "load": load_check},
        "replay": {**replayed, "load": load_replay},
        "replay_summary": summary,
        "time_x_check": round(replayed["seconds"] / checked["seconds"], 2),
    }
    print(f"one {calls}-call session, {result['mb']} MB, changed early message in {misses} call(s):")
    for name, label in (("check", "check (cold cache)"), ("replay", "replay --against")):
        row = result[name]
        print(f"  {label:<20} {row['seconds']:>8.2f} s {row['peak_rss_mb']:>7.0f} MB  (load {row['load']})")
    print(f"  replay / check: {result['time_x_check']:.2f}x the time; replay summary {summary}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0 if checked["exit"] == 0 and replayed["exit"] == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
