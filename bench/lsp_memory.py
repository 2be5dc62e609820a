"""What holds the language server's memory in `make lsp-bench`: resident set and tracemalloc, phase by phase.

    python -m bench.lsp_memory [--frames 6] [--top 12] [--edits 30] [--json bench/out/lsp_memory.json]

`bench.lsp_bench` says how high the server's resident set goes; this says what
holds it. It drives the same server on the same workspace (same client, same
hovers and edits, cold cache) with the server wrapped by this module
(`--serve`): `tracemalloc` traces it, and a watcher thread in it takes a
snapshot whenever the traced memory climbs past its highest so far, so the
snapshot kept for a phase is the one nearest its peak. At the end of each
phase (after `initialize`, at the first diagnostics, at the end of indexing,
after the hovers, after every edit) the client sends SIGUSR1 and the server
writes, for that phase: `VmHWM` and `VmRSS` from /proc, traced memory now and
at its peak, and the top holders (file:line, MB) both at the phase's peak and
at its end. Tracing slows the server several times and adds its own memory to
the resident set: read resident sizes from `make lsp-bench`, and shares from
here. Nothing in the server changes for this; the hook lives in this module.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.lsp_bench import Connection, Published, Session, capabilities, memory_mb, shut_down
from bench.lsp_workspace import LspShape, generate

REPO = Path(__file__).resolve().parents[1]
OUT_VARIABLE = "REPLAY_LENS_BENCH_MEMORY_OUT"
STEP = 2 << 20
"""How far traced memory must climb past its highest so far before a new peak snapshot is taken (bytes)."""


class PeakWatcher:
    """In the traced server: keeps the snapshot nearest each phase's peak, and writes a phase's report on SIGUSR1."""

    def __init__(self, out: Path, top: int) -> None:
        self.out = out
        self.top = top
        self.marked = threading.Event()
        self.marks = 0
        self._reset()

    def _reset(self) -> None:
        self.highest = 0
        self.peak: list[tuple[str, float]] = []
        self.peak_at = 0.0

    def watch(self) -> None:
        while True:
            if self.marked.wait(0.005):
                self.marked.clear()
                self._report()
                continue
            current, _ = tracemalloc.get_traced_memory()
            if current > self.highest + STEP:
                self.highest = current
                snapshot = tracemalloc.take_snapshot()
                self.peak = self._holders(snapshot)
                self.peak_at = current / 2**20
                del snapshot

    def _holders(self, snapshot: tracemalloc.Snapshot) -> list[tuple[str, float]]:
        """The biggest holders by the line that allocated them, then by module (lines below the top summed)."""
        kept = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        by_line = [
            (f"{_short(s.traceback[0].filename)}:{s.traceback[0].lineno}", s.size) for s in kept.statistics("lineno")
        ]
        by_file = [(f"{_short(s.traceback[0].filename)} (module)", s.size) for s in kept.statistics("filename")]
        return [(where, size / 2**20) for where, size in by_line[: self.top] + by_file[: self.top]]

    def _report(self) -> None:
        current, _ = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
        report = {
            "vm_hwm_mb": memory_mb(os.getpid(), "VmHWM"),
            "vm_rss_mb": memory_mb(os.getpid(), "VmRSS"),
            "traced_now_mb": current / 2**20,
            "traced_peak_mb": max(self.peak_at, current / 2**20),
            "tracemalloc_own_mb": tracemalloc.get_tracemalloc_memory() / 2**20,
            "at_peak": self.peak if self.peak_at * 2**20 > current else self._holders(snapshot),
            "at_end": self._holders(snapshot),
        }
        del snapshot
        self.marks += 1
        path = self.out / f"mark-{self.marks}.json"
        path.with_suffix(".tmp").write_text(json.dumps(report), encoding="utf-8")
        path.with_suffix(".tmp").rename(path)
        self._reset()
        self.highest = tracemalloc.get_traced_memory()[0]


def _short(filename: str) -> str:
    for prefix in (str(REPO) + os.sep, *(p + os.sep for p in sys.path if p and "site-packages" in p)):
        if filename.startswith(prefix):
            return filename[len(prefix) :]
    return filename.rsplit(os.sep, 2)[-1] if "python3" in filename else filename


def serve(frames: int, top: int) -> int:
    """The server as `python -m server --stdio` runs it, traced, with the watcher beside it."""
    tracemalloc.start(frames)
    watcher = PeakWatcher(Path(os.environ[OUT_VARIABLE]), top)
    signal.signal(signal.SIGUSR1, lambda *_: watcher.marked.set())
    threading.Thread(target=watcher.watch, name="peak watcher", daemon=True).start()
    from server.__main__ import main  # noqa: PLC0415  (imported under tracing: its modules are part of the count)

    return main(["--stdio", "--log-level", "warning"])


class Marker:
    """The client's side: end a phase in the server, wait for its report (untraced: read /proc only)."""

    def __init__(self, pid: int, out: Path, traced: bool) -> None:
        self.pid = pid
        self.out = out
        self.traced = traced
        self.phases: list[tuple[str, dict[str, Any]]] = []

    async def mark(self, phase: str) -> dict[str, Any]:
        if not self.traced:
            sizes = {"vm_hwm_mb": memory_mb(self.pid, "VmHWM"), "vm_rss_mb": memory_mb(self.pid, "VmRSS")}
            self.phases.append((phase, sizes))
            return sizes
        os.kill(self.pid, signal.SIGUSR1)
        path = self.out / f"mark-{len(self.phases) + 1}.json"
        deadline = time.perf_counter() + 300
        while not path.exists():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no memory report for {phase}")
            await asyncio.sleep(0.05)
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.phases.append((phase, report))
        return report


async def run(
    frames: int, top: int, hovers: int, edits: int, out: Path, traced: bool, extra_env: dict[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    workspace = generate(LspShape(), REPO / "bench/out/lsp")
    with tempfile.TemporaryDirectory(prefix="replay-lens-memory-") as scratch:
        cache, reports = Path(scratch) / "cache", Path(scratch) / "reports"
        reports.mkdir()
        command = [sys.executable, "-m", "bench.lsp_memory", "--serve", "--frames", str(frames), "--top", str(top)]
        if not traced:
            command = [sys.executable, "-m", "server", "--stdio", "--log-level", "warning"]
        env = {**os.environ, "PYTHONPATH": str(REPO), "REPLAY_LENS_CACHE_DIR": str(cache), OUT_VARIABLE: str(reports)}
        env |= extra_env
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 20
        )
        connection = Connection(process)
        session = Session(connection, workspace, seed=3)
        reader = asyncio.create_task(connection.read_forever())
        marker = Marker(process.pid, reports, traced)
        try:
            root = workspace.root.resolve().as_uri()
            document = {"uri": session.uri, "languageId": "json", "version": 1, "text": session.text}
            await connection.request(
                "initialize",
                {
                    "processId": os.getpid(),
                    "rootUri": root,
                    "workspaceFolders": [{"uri": root, "name": workspace.root.name}],
                    "capabilities": capabilities(),
                    "initializationOptions": {"debounceMs": 0},
                },
            )
            await marker.mark("initialize")
            await connection.notify("initialized", {})
            await connection.notify("textDocument/didOpen", {"textDocument": document})
            first: Published = await connection.until(
                lambda: next(iter(connection.published.get(session.uri, [])), None), "first diagnostics"
            )
            del first
            await marker.mark("first diagnostics")
            await connection.until(connection.indexed, "the end of indexing")
            await marker.mark("indexed")
            timings = await session.hovers(hovers)
            await marker.mark("hovers")

            async def after_edit(number: int) -> None:
                await marker.mark(f"edit {number}")

            timings |= await session.edits(edits, after_edit)
            await shut_down(connection, process)
        finally:
            reader.cancel()
            if process.returncode is None:
                process.kill()
                await process.wait()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"phases": marker.phases, "timings": timings}, indent=1) + "\n", encoding="utf-8")
        shown = ("hover_p50_ms", "hover_p95_ms", "edit_p50_ms", "edit_p95_ms", "edit_cpu_p50_ms", "edit_cpu_p95_ms")
        print(", ".join(f"{name} {timings[name]}" for name in shown), "(with the marks: read them beside lsp-bench's)")
        return marker.phases


def table(phases: list[tuple[str, dict[str, Any]]], top: int) -> str:
    if "traced_now_mb" not in phases[0][1]:
        rows = [f"{'phase':<18} {'VmHWM':>7} {'VmRSS':>7}"]
        return "\n".join(rows + [f"{p:<18} {r['vm_hwm_mb']:>7.1f} {r['vm_rss_mb']:>7.1f}" for p, r in phases])
    lines = [f"{'phase':<18} {'VmHWM':>7} {'VmRSS':>7} {'traced now':>11} {'traced peak':>12} {'tracemalloc':>12}"]
    for phase, r in phases:
        lines.append(
            f"{phase:<18} {r['vm_hwm_mb']:>7.0f} {r['vm_rss_mb']:>7.0f} {r['traced_now_mb']:>11.1f} "
            f"{r['traced_peak_mb']:>12.1f} {r['tracemalloc_own_mb']:>12.1f}"
        )
    highest = max(phases, key=lambda item: item[1]["traced_peak_mb"])
    for title, (phase, r) in (("highest traced peak", highest), ("at the end", phases[-1])):
        key = "at_peak" if title.startswith("highest") else "at_end"
        traced = r["traced_peak_mb" if key == "at_peak" else "traced_now_mb"]
        lines.append(f"\n{title}: {phase}, {traced:.1f} MB traced")
        lines += [f"  {size:7.1f} MB  {where}" for where, size in r[key]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, default=6, help="frames kept per allocation (tracemalloc)")
    parser.add_argument("--top", type=int, default=12, help="holders listed per phase")
    parser.add_argument("--hovers", type=int, default=200)
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--json", type=Path, default=Path("bench/out/lsp_memory.json"))
    parser.add_argument("--untraced", action="store_true", help="no tracemalloc: resident sizes by phase only")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE set for the server (an experiment)")
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.frames, args.top)
    extra = dict(item.split("=", 1) for item in args.env)
    phases = asyncio.run(run(args.frames, args.top, args.hovers, args.edits, args.json, not args.untraced, extra))
    print(table(phases, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
