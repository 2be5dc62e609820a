"""First diagnostics beside VS Code's JSON language server, in the same run (issue 17, items 3 and 6).

    python -m bench.first_open [--rounds 3] [--hovers 200] [--edits 30] [--json-edits 10]

Installs `vscode-langservers-extracted` (pinned, `VERSION`) from npm into a
cache folder outside the repository (`~/.cache/replay-lens/`, or under
`$XDG_CACHE_HOME`), like `make producers` installs Codex, then opens the 20 MB,
5,000-turn fixture of `bench.lsp_workspace` the same way in each server, one
server at a time, round after round:

- the JSON server (`vscode-json-language-server --stdio`) on the fixture alone:
  first diagnostics (it validates 500 ms after the last change on purpose,
  `validationDelayMs`), edit → diagnostics, RSS (peak at first diagnostics,
  and over the whole run: each edit makes it parse the 20 MB again);
- Replay Lens on the fixture alone (no recording: every turn unverifiable), a
  first start: first diagnostics, hover p50/p95, edit → diagnostics p50/p95,
  peak RSS;
- Replay Lens on the fixture and its recording (as `make lsp-bench`), a first
  start (empty cache) and a restart (the cache it filled).

The clock starts when the client writes the `didOpen` (encoded beforehand),
right after `initialized`, and stops at the first `publishDiagnostics` of the
fixture; beside it, the CPU time the server used meanwhile (a busy machine
stretches that part, not a deliberate wait). Reported: each measure's median
over the rounds, the ratio of first diagnostics to the JSON server's (target
≤ 0.7), hover p95 (≤ 20 ms), edit → diagnostics p95 (≤ 150 ms) and peak RSS
against the JSON server's (≤ 1.5 times).
Timings are wall clock on this machine: never asserted, and not part of `make
test` (CI needs neither npm nor this benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.lsp_bench import (
    HEX_FLIP,
    Connection,
    Published,
    Session,
    abandon,
    cpu_s,
    memory_mb,
    sample_rss,
    shut_down,
    start_server,
    summary,
)
from bench.lsp_workspace import LspShape, LspWorkspace, generate

PACKAGE = "vscode-langservers-extracted"
VERSION = "4.10.0"
TARGETS = {"ratio": 0.7, "hover_p95_ms": 20.0, "edit_p95_ms": 150.0, "rss_ratio": 1.5}


def default_prefix() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "replay-lens"


def install(prefix: Path) -> Path:
    """The pinned JSON server from npm into `prefix` (reused when already there); the path of its launcher."""
    folder = prefix / f"{PACKAGE}-{VERSION}"
    launcher = folder / "node_modules" / ".bin" / "vscode-json-language-server"
    manifest = folder / "node_modules" / PACKAGE / "package.json"
    if launcher.exists() and manifest.exists() and json.loads(manifest.read_text("utf-8"))["version"] == VERSION:
        return launcher
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to install the JSON language server (Debian: apt-get install npm)")
    folder.mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", f"{PACKAGE}@{VERSION}"]
    subprocess.run(command, check=True, stdout=sys.stderr)
    if not launcher.exists():
        raise SystemExit(f"npm installed no {launcher}")
    return launcher


def fixture_alone(workspace: LspWorkspace) -> LspWorkspace:
    """A workspace holding only the fixture (linked, not copied): no recording, as a user opening a fixture has."""
    root = workspace.root.with_name(workspace.root.name + "-fixture-alone")
    fixture = root / "fixtures" / workspace.fixture.name
    if not fixture.exists():
        fixture.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(workspace.fixture, fixture)
        except OSError:
            shutil.copyfile(workspace.fixture, fixture)
        shutil.copyfile(workspace.root / "replay-lens.toml", root / "replay-lens.toml")
    return LspWorkspace(root, fixture, root / "recordings" / "none.jsonl")


async def first_diagnostics(connection: Connection, session: Session, options: dict[str, Any]) -> tuple[float, float]:
    """Initialize on the session's workspace, open its fixture at once: seconds to its first diagnostics, and
    the CPU seconds the server used meanwhile (what a busy machine stretches; a deliberate wait costs none)."""
    did_open = session.did_open()
    await session.initialize(options)
    used = cpu_s(connection.process.pid)
    first, opened = await session.first_diagnostics(did_open)
    return float(first.at - opened), cpu_s(connection.process.pid) - used


async def unversioned_edits(session: Session, count: int) -> dict[str, Any]:
    """Edits as `Session.edits` makes them, each until the next diagnostics (the JSON server sends no version)."""
    connection, latencies = session.connection, []
    for version in range(2, count + 2):
        line = session.rng.choice(session.key_lines)
        column = len(session.lines[line]) - 3
        old = session.lines[line][column]
        session.lines[line] = session.lines[line][:column] + old.translate(HEX_FLIP) + session.lines[line][column + 1 :]
        where = {"line": line, "character": column}
        change = {"range": {"start": where, "end": {**where, "character": column + 1}}, "text": old.translate(HEX_FLIP)}
        before = len(connection.published.get(session.uri, []))
        sent = time.perf_counter()
        await connection.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": session.uri, "version": version}, "contentChanges": [change]},
        )
        published: list[Published] = await connection.until(
            functools.partial(_published_since, connection, session.uri, before), f"diagnostics of {version}"
        )
        latencies.append((published[0].at - sent) * 1000)
    return {"edits": count, **summary("edit", latencies, 1)}


def _published_since(connection: Connection, uri: str, before: int) -> list[Published]:
    return connection.published.get(uri, [])[before:]


async def run(
    process: asyncio.subprocess.Process,
    workspace: LspWorkspace,
    options: dict[str, Any],
    work: Callable[[Session], Any],
    seed: int,
) -> dict[str, Any]:
    """One server process: first diagnostics, then `work` (hovers, edits); peak RSS; shut down."""
    connection = Connection(process)
    session = Session(connection, workspace, seed)
    reader = asyncio.create_task(connection.read_forever())
    peaks: dict[str, float] = {}
    sampler = asyncio.create_task(sample_rss(process.pid, lambda: "all", peaks))
    try:
        first, cpu = await first_diagnostics(connection, session, options)
        result: dict[str, Any] = {"first_diagnostics_s": round(first, 3), "first_diagnostics_cpu_s": round(cpu, 2)}
        result["open_rss_mb"] = round(memory_mb(process.pid, "VmHWM"), 1)
        result |= await work(session)
        result["peak_rss_mb"] = round(memory_mb(process.pid, "VmHWM"), 1)
        await shut_down(connection, process)
    finally:
        await abandon(process, reader, sampler)
    return result


async def json_server(launcher: Path, workspace: LspWorkspace, edits: int, seed: int) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        str(launcher),
        "--stdio",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=1 << 20,
    )
    return await run(process, workspace, {}, lambda session: unversioned_edits(session, edits), seed)


async def replay_lens(workspace: LspWorkspace, cache: Path, hovers: int, edits: int, seed: int) -> dict[str, Any]:
    process, _ = await start_server(None, cache)

    async def work(session: Session) -> dict[str, Any]:
        return {**await session.hovers(hovers), **await session.edits(edits)}

    return await run(process, workspace, {"debounceMs": 0}, work, seed)


def median(runs: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(run[key] for run in runs)), 3)


def report(rounds: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, dict[str, float]], str]:
    """Medians over the rounds and their ratios to the JSON server's, as data and as a table."""
    medians = {
        name: {key: median(runs, key) for key in runs[0] if isinstance(runs[0][key], int | float)}
        for name, runs in rounds.items()
    }
    reference = medians["json server"]
    rounds_run = len(rounds["json server"])
    lines = [
        f"{rounds_run} rounds, medians; JSON server: {PACKAGE} {VERSION} (its validationDelayMs is 500)",
        f"{'server':<36} {'first diag.':>11} {'/ JSON':>7} {'its CPU':>8} {'hover p95':>10} {'edit p95':>9} "
        f"{'RSS: open':>10} {'/ JSON':>7} {'peak':>7} {'/ JSON':>7}",
    ]
    for name, values in medians.items():
        values["first_diagnostics_ratio"] = round(values["first_diagnostics_s"] / reference["first_diagnostics_s"], 2)
        values["open_rss_ratio"] = round(values["open_rss_mb"] / reference["open_rss_mb"], 2)
        values["rss_ratio"] = round(values["peak_rss_mb"] / reference["peak_rss_mb"], 2)
        hover = f"{values['hover_p95_ms']:.1f} ms" if "hover_p95_ms" in values else "-"
        first = f"{values['first_diagnostics_s'] * 1000:.0f} ms"
        lines.append(
            f"{name:<36} {first:>11} {values['first_diagnostics_ratio']:>7.2f} "
            f"{values['first_diagnostics_cpu_s'] * 1000:>5.0f} ms {hover:>10} "
            f"{values['edit_p95_ms']:>6.0f} ms {values['open_rss_mb']:>7.0f} MB {values['open_rss_ratio']:>7.2f} "
            f"{values['peak_rss_mb']:>4.0f} MB {values['rss_ratio']:>7.2f}"
        )
    lines += [
        f"{name:<36} edit -> diagnostics, server CPU p50 / p95: "
        f"{values['edit_cpu_p50_ms']:.0f} / {values['edit_cpu_p95_ms']:.0f} ms (clock ticks of 10 ms)"
        for name, values in medians.items()
        if "edit_cpu_p95_ms" in values
    ]
    lines.append(
        f"targets: first diagnostics <= {TARGETS['ratio']} of the JSON server's, hover p95 <= "
        f"{TARGETS['hover_p95_ms']:.0f} ms, edit -> diagnostics p95 <= {TARGETS['edit_p95_ms']:.0f} ms, "
        f"RSS <= {TARGETS['rss_ratio']} of the JSON server's (at first diagnostics, and at the peak, which for the "
        "JSON server follows its edits)"
    )
    return medians, "\n".join(lines)


async def measure(args: argparse.Namespace, launcher: Path, workspace: LspWorkspace) -> dict[str, list[dict[str, Any]]]:
    alone = fixture_alone(workspace)
    rounds: dict[str, list[dict[str, Any]]] = {
        "json server": [],
        "replay lens, fixture alone": [],
        "replay lens + recording, cold cache": [],
        "replay lens + recording, warm cache": [],
    }
    for number in range(args.rounds):
        print(f"round {number + 1}/{args.rounds} ...", file=sys.stderr)
        seed = args.pick_seed + number
        rounds["json server"].append(await json_server(launcher, alone, args.json_edits, seed))
        with tempfile.TemporaryDirectory(prefix="replay-lens-bench-cache-") as cache:
            rounds["replay lens, fixture alone"].append(
                await replay_lens(alone, Path(cache), args.hovers, args.edits, seed)
            )
        with tempfile.TemporaryDirectory(prefix="replay-lens-bench-cache-") as cache:
            for name in ("cold", "warm"):
                rounds[f"replay lens + recording, {name} cache"].append(
                    await replay_lens(workspace, Path(cache), args.hovers, args.edits, seed)
                )
    return rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/out/lsp"), help="where generated workspaces are kept")
    parser.add_argument("--json", type=Path, default=Path("bench/out/first_open.json"))
    parser.add_argument("--prefix", type=Path, default=default_prefix(), help="npm installs the JSON server here")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hovers", type=int, default=200)
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--json-edits", type=int, default=10, help="edits of the JSON server (each waits 500 ms)")
    parser.add_argument("--pick-seed", type=int, default=3, help="seed of the hovered and edited turns")
    parser.add_argument("--turns", type=int, default=LspShape().turns)
    args = parser.parse_args(argv)
    launcher = install(args.prefix.expanduser().resolve())
    shape = LspShape(turns=args.turns)
    print(f"workspace {shape.name()} ...", file=sys.stderr)
    workspace = generate(shape, args.out)
    rounds = asyncio.run(measure(args, launcher, workspace))
    medians, table = report(rounds)
    print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    document = {"shape": vars(shape), "json_server": f"{PACKAGE}@{VERSION}", "medians": medians, "rounds": rounds}
    args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
