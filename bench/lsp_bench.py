"""LSP benchmark: an editor-like client over stdio against `python -m server --stdio` (issue 6, item 4).

    python -m bench.lsp_bench [--turns 5000] [--hovers 200] [--edits 30] [--json bench/out/lsp.json]

On the workspace of `bench.lsp_workspace` (a ~20 MB fixture with 5,000 turns
and its recording), it measures what a user waits for:

- first diagnostics: from writing the `didOpen` of the fixture (encoded
  beforehand), right after `initialized` (an editor restoring its open tabs),
  until its first `publishDiagnostics`;
  this includes indexing the workspace (both files) and checking it;
- hover: latency of hovers on random turns, one at a time, p50 and p95;
- edit → diagnostics: a one-character edit of a turn's key until diagnostics for
  that version arrive, p50 and p95; every edit changes the diagnostics (it breaks
  a key, the next one restores it), so each one is published. The debounce is
  set to 0 through `initializationOptions`, so none of it is in the numbers.
  Beside it, the CPU time the server used meanwhile (/proc, in clock ticks of
  10 ms): what a busy machine does not stretch;
- peak RSS of the server process (`VmHWM` of /proc/<pid>/status), and the
  highest RSS sampled in each phase (open, hovers, edits) to tell which one
  makes the peak.

It starts the server twice on the same workspace, with a cache folder of its own:
first empty (a first start: every recording is read and summarized), then filled
by the first run (a restart: unchanged recordings come from the cache).

The client speaks raw JSON-RPC with Content-Length framing, like an editor, and
receives pushed diagnostics (no pull), as Neovim does. Timings are wall clock
on this machine: compare them with the targets, never assert them. With
`--profile FILE`, py-spy (`pip install py-spy`) records the server for the whole
run as collapsed stacks (`--format raw`), one line per stack and thread, one file
per run (`FILE.cold.*`, `FILE.warm.*`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.lsp_workspace import LspShape, LspWorkspace, generate

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120.0
TARGETS = {"first_diagnostics_s": 1.0, "hover_p95_ms": 20.0, "edit_p95_ms": 150.0}
HEX_FLIP = str.maketrans("0123456789abcdef", "123456789abcdef0")
STATUS = "replayLens/status"
KEY_LINE = '      "input_hash": "'
"""How a turn's key line starts in the fixture (2-space indent): hovers and edits go there."""
EDIT_COLUMN = len(KEY_LINE) + 4


@dataclass
class Published:
    at: float
    version: int | None
    count: int


@dataclass
class Connection:
    """One JSON-RPC connection to the server process over its stdin/stdout."""

    process: asyncio.subprocess.Process
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    published: dict[str, list[Published]] = field(default_factory=dict)
    notifications: list[tuple[float, str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    next_id: int = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_frame(frame(message))

    async def send_frame(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.send({"id": self.next_id, "method": method, "params": params})
        return await asyncio.wait_for(future, TIMEOUT)

    async def notify(self, method: str, params: Any) -> None:
        await self.send({"method": method, "params": params})

    async def read_forever(self) -> None:
        reader = self.process.stdout
        assert reader is not None
        while True:
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if not line:
                return
            message = json.loads(await reader.readexactly(length))
            await self.receive(message, time.perf_counter())

    async def receive(self, message: dict[str, Any], at: float) -> None:
        method = message.get("method")
        if method is None:
            future = self.pending.pop(message["id"], None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RuntimeError(f"{message['error']}"))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:  # a request from the server: registrations, progress, refreshes
            result: Any = [{} for _ in message["params"]["items"]] if method == "workspace/configuration" else None
            await self.send({"id": message["id"], "result": result})
        elif method == "textDocument/publishDiagnostics":
            params = message["params"]
            entry = Published(at, params.get("version"), len(params["diagnostics"]))
            self.published.setdefault(params["uri"], []).append(entry)
        else:
            self.notifications.append((at, method, message.get("params")))
        self.changed.set()

    def indexed(self) -> float | None:
        """When the first `replayLens/status` saying indexing is over arrived."""
        return next(
            (at for at, method, params in self.notifications if method == STATUS and not params["indexing"]), None
        )

    def diagnostics_of(self, uri: str, version: int, after: int) -> Published | None:
        """The first diagnostics of `uri` at `version` among those published after the first `after`."""
        return next((p for p in self.published.get(uri, [])[after:] if p.version == version), None)

    async def until(self, condition: Callable[[], Any], what: str) -> Any:
        deadline = time.perf_counter() + TIMEOUT
        while not (value := condition()):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.5)
        return value


def frame(message: dict[str, Any]) -> bytes:
    """A JSON-RPC message with its Content-Length header, as it goes on the wire."""
    body = json.dumps({"jsonrpc": "2.0", **message}, ensure_ascii=False).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def cpu_s(pid: int) -> float:
    """CPU seconds a process has used (user + system, its own threads, not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p95 of 200 values is the 190th smallest, of 30 the 29th)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def memory_mb(pid: int, field: str) -> float:
    """`VmHWM` (peak resident set) or `VmRSS` (current) of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


async def sample_rss(pid: int, phase: Callable[[], str], peaks: dict[str, float]) -> None:
    """The highest resident set seen in each phase (every 20 ms), to tell which phase makes the peak."""
    while True:
        with contextlib.suppress(OSError, RuntimeError):
            rss = memory_mb(pid, "VmRSS")
            peaks[phase()] = max(peaks.get(phase(), 0.0), rss)
        await asyncio.sleep(0.02)


def capabilities() -> dict[str, Any]:
    return {
        "general": {"positionEncodings": ["utf-16"]},
        "window": {"workDoneProgress": True},
        "workspace": {"applyEdit": True, "configuration": True, "workspaceFolders": True},
        "textDocument": {
            "synchronization": {"didSave": True, "dynamicRegistration": False},
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "publishDiagnostics": {"versionSupport": True},
            "codeLens": {},
        },
    }


async def start_server(
    profile: Path | None, cache: Path
) -> tuple[asyncio.subprocess.Process, asyncio.subprocess.Process | None]:
    """The server as an editor starts it, with its cache in `cache`; with `profile`, py-spy attached to it until it
    exits (collapsed stacks)."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "server", "--stdio", "--log-level", "warning"),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "REPLAY_LENS_CACHE_DIR": str(cache)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )
    spy = None
    if profile is not None:
        command = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(process.pid), "--threads"]
        spy = await asyncio.create_subprocess_exec(*command, "--rate", "250", "--format", "raw", "-o", str(profile))
    return process, spy


class Session:
    """One benchmark run: open the fixture, hover, edit; timings in seconds or milliseconds."""

    def __init__(self, connection: Connection, workspace: LspWorkspace, seed: int) -> None:
        self.connection = connection
        self.workspace = workspace
        self.text = workspace.fixture.read_text(encoding="utf-8")
        self.lines = self.text.split("\n")
        self.key_lines = [number for number, line in enumerate(self.lines) if line.startswith(KEY_LINE)]
        self.uri = workspace.fixture.resolve().as_uri()
        self.rng = random.Random(seed)

    async def open(self) -> dict[str, Any]:
        """Initialize on the workspace, open the fixture at once; time its first diagnostics and the indexing."""
        did_open = self.did_open()
        started = time.perf_counter()
        await self.initialize({"debounceMs": 0})
        first, opened = await self.first_diagnostics(did_open)
        indexed: float = await self.connection.until(self.connection.indexed, "the end of indexing")
        return {
            "first_diagnostics_s": round(first.at - opened, 3),
            "first_diagnostics": {"version": first.version, "count": first.count},
            "indexing_s": round(indexed - started, 3),
        }

    def did_open(self) -> bytes:
        """The fixture's `didOpen`, framed: encoded before any clock starts (how long this client takes to write
        20 MB of JSON, 0.13 s in Python, is the editor's business, not the server's)."""
        document = {"uri": self.uri, "languageId": "json", "version": 1, "text": self.text}
        return frame({"method": "textDocument/didOpen", "params": {"textDocument": document}})

    async def initialize(self, options: dict[str, Any]) -> None:
        """`initialize` on the workspace with `options` as the server's initialization options, then `initialized`."""
        root = self.workspace.root.resolve().as_uri()
        await self.connection.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root,
                "workspaceFolders": [{"uri": root, "name": self.workspace.root.name}],
                "capabilities": capabilities(),
                "initializationOptions": options,
            },
        )
        await self.connection.notify("initialized", {})

    async def first_diagnostics(self, did_open: bytes) -> tuple[Published, float]:
        """Send `did_open`; the first diagnostics published for the fixture, and when it was sent."""
        opened = time.perf_counter()
        await self.connection.send_frame(did_open)
        first: Published = await self.connection.until(
            lambda: next(iter(self.connection.published.get(self.uri, [])), None), "first diagnostics"
        )
        return first, opened

    async def hovers(self, count: int) -> dict[str, Any]:
        """Hovers on the key lines of random turns, one at a time."""
        latencies = []
        for _ in range(count):
            line = self.rng.choice(self.key_lines)
            params = {"textDocument": {"uri": self.uri}, "position": {"line": line, "character": 10}}
            sent = time.perf_counter()
            result = await self.connection.request("textDocument/hover", params)
            latencies.append((time.perf_counter() - sent) * 1000)
            assert result is not None, f"no hover on line {line}"
        return {"hovers": count, **summary("hover", latencies, 2)}

    async def edits(self, count: int, after_each: Callable[[int], Awaitable[None]] | None = None) -> dict[str, Any]:
        """One-character edits of turn keys, each until the diagnostics of its version arrive.

        Odd edits break a random turn's key, even ones restore it, so every edit
        changes the diagnostics (equal diagnostics are not published again).
        `after_each` is awaited after each edit (with its number), outside the timings.
        """
        latencies, cpu = [], []
        pid = self.connection.process.pid
        broken: tuple[int, str] | None = None
        for version in range(2, count + 2):
            if broken is None:
                line = self.rng.choice(self.key_lines)
                old = self.lines[line][EDIT_COLUMN]
                broken, new = (line, old), old.translate(HEX_FLIP)
            else:
                (line, new), broken = broken, None
            where = {"line": line, "character": EDIT_COLUMN}
            change = {"range": {"start": where, "end": {**where, "character": EDIT_COLUMN + 1}}, "text": new}
            published = len(self.connection.published.get(self.uri, []))
            used = cpu_s(pid)
            sent = time.perf_counter()
            await self.connection.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": self.uri, "version": version}, "contentChanges": [change]},
            )
            arrived: Published = await self.connection.until(
                functools.partial(self.connection.diagnostics_of, self.uri, version, published),
                f"diagnostics of version {version}",
            )
            latencies.append((arrived.at - sent) * 1000)
            cpu.append((cpu_s(pid) - used) * 1000)
            if after_each is not None:
                await after_each(version - 1)
        return {"edits": count, **summary("edit", latencies, 1), **summary("edit_cpu", cpu, 0)}


async def shut_down(connection: Connection, process: asyncio.subprocess.Process) -> None:
    """End the server as an editor does (`shutdown`, then `exit`), and wait for it to exit."""
    await connection.request("shutdown", None)
    await connection.notify("exit", None)
    await asyncio.wait_for(process.wait(), 30)


async def abandon(process: asyncio.subprocess.Process, *tasks: asyncio.Task[Any]) -> None:
    """Stop reading and sampling a server; kill it if it is still running (a run that failed half-way)."""
    for task in tasks:
        task.cancel()
    if process.returncode is None:
        process.kill()
        await process.wait()


def summary(name: str, latencies: list[float], digits: int) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(statistics.median(latencies), digits),
        f"{name}_p95_ms": round(percentile(latencies, 0.95), digits),
        f"{name}_max_ms": round(max(latencies), digits),
    }


async def measure(
    workspace: LspWorkspace, hovers: int, edits: int, seed: int, cache: Path, profile: Path | None = None
) -> dict[str, Any]:
    process, spy = await start_server(profile, cache)
    connection = Connection(process)
    session = Session(connection, workspace, seed)
    reader = asyncio.create_task(connection.read_forever())
    phase = ["open"]
    peaks: dict[str, float] = {}
    sampler = asyncio.create_task(sample_rss(process.pid, lambda: phase[0], peaks))
    try:
        result = await session.open()
        phase[0] = "hovers"
        result |= await session.hovers(hovers)
        phase[0] = "edits"
        result |= await session.edits(edits)
        rss, rss_end = memory_mb(process.pid, "VmHWM"), memory_mb(process.pid, "VmRSS")
        await shut_down(connection, process)
    finally:
        await abandon(process, reader, sampler)
        if spy is not None:
            await spy.wait()
    size_mb = workspace.fixture.stat().st_size / 1e6
    return {
        "fixture_mb": round(size_mb, 2),
        "recording_mb": round(workspace.recording.stat().st_size / 1e6, 2),
        "turns": len(session.key_lines),
        "debounce_ms": 0,
        **result,
        "peak_rss_mb": round(rss, 1),
        "rss_at_end_mb": round(rss_end, 1),
        "sampled_peak_rss_mb": {name: round(value, 1) for name, value in peaks.items()},
        "rss_target_mb": round(3 * size_mb + 150, 1),
    }


def table(runs: dict[str, dict[str, Any]]) -> str:
    """One row per measure, one column per run (the server's cache empty, then filled by the first run)."""
    rows: list[tuple[str, Callable[[dict[str, Any]], str], str | None]] = [
        ("first diagnostics after didOpen", lambda r: f"{r['first_diagnostics_s'] * 1000:.0f} ms", "≤ 1000 ms"),
        ("hover p50 / p95", lambda r: f"{r['hover_p50_ms']:.1f} / {r['hover_p95_ms']:.1f} ms", "p95 ≤ 20 ms"),
        ("edit → diagnostics p50 / p95", lambda r: f"{r['edit_p50_ms']:.0f} / {r['edit_p95_ms']:.0f} ms", "≤ 150 ms"),
        (
            "  its server CPU p50 / p95",
            lambda r: f"{r['edit_cpu_p50_ms']:.0f} / {r['edit_cpu_p95_ms']:.0f} ms",
            "≤ 150 ms",
        ),
        ("server peak RSS (VmHWM)", lambda r: f"{r['peak_rss_mb']:.0f} MB", None),
    ]
    checks: list[Callable[[dict[str, Any]], bool]] = [
        lambda r: r["first_diagnostics_s"] <= TARGETS["first_diagnostics_s"],
        lambda r: r["hover_p95_ms"] <= TARGETS["hover_p95_ms"],
        lambda r: r["edit_p95_ms"] <= TARGETS["edit_p95_ms"],
        lambda r: r["edit_cpu_p95_ms"] <= TARGETS["edit_p95_ms"],
        lambda r: r["peak_rss_mb"] <= r["rss_target_mb"],
    ]
    first = next(iter(runs.values()))
    width = max(len(row[0]) for row in rows)
    lines = [
        f"fixture {first['fixture_mb']} MB, {first['turns']} turns; recording {first['recording_mb']} MB; "
        f"{first['hovers']} hovers, {first['edits']} edits, debounce {first['debounce_ms']} ms; workspace indexed in "
        + ", ".join(f"{r['indexing_s']:.2f} s ({name})" for name, r in runs.items()),
        f"{'measure':<{width}}  " + "  ".join(f"{name:>18}" for name in runs) + f"  {'target':>12}  met",
    ]
    for (name, shown, target), met in zip(rows, checks, strict=True):
        values = "  ".join(f"{shown(r) + ('' if met(r) else ' ✗'):>18}" for r in runs.values())
        goal = target or f"≤ {first['rss_target_mb']:.0f} MB"
        lines.append(f"{name:<{width}}  {values}  {goal:>12}  {'yes' if all(met(r) for r in runs.values()) else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/out/lsp"), help="where generated workspaces are kept")
    parser.add_argument("--json", type=Path, default=Path("bench/out/lsp.json"))
    parser.add_argument("--hovers", type=int, default=200)
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--profile", type=Path, help="record the server with py-spy into this file (collapsed stacks)")
    parser.add_argument("--pick-seed", type=int, default=3, help="seed of the hovered and edited turns")
    defaults = LspShape()
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    shape = LspShape(**{name: getattr(args, name) for name in vars(defaults)})
    print(f"workspace {shape.name()} ...", file=sys.stderr)
    workspace = generate(shape, args.out)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="replay-lens-bench-cache-") as cache:
        for name in ("cold cache", "warm cache"):  # a first start, then a restart on the same workspace
            profile = args.profile.with_suffix(f".{name.split()[0]}{args.profile.suffix}") if args.profile else None
            runs[name] = asyncio.run(measure(workspace, args.hovers, args.edits, args.pick_seed, Path(cache), profile))
    print(table(runs))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"shape": vars(shape), "runs": runs}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
