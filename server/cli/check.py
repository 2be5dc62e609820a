"""`replay-lens check`: validate fixtures against the current rules, optionally rehash them."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from server.cli.output import configure_streams
from server.cli.report import Summary, render_json, render_sarif, render_text
from server.engine import findings as codes
from server.engine.cache import SummaryCache
from server.engine.checks import CheckResult, TurnStatus
from server.engine.config import Config, ConfigError
from server.engine.findings import Finding, Severity
from server.engine.presets import PRESETS
from server.engine.rehash import apply_edits, rehash_edits
from server.engine.secrets import masked_finding
from server.engine.source import SourceText, Span
from server.engine.summary import kept_context
from server.engine.workspace import load_project_config, load_workspace, paused_gc
from server.engine.writes import ChangedOnDiskError, atomic_write, content_hash

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
_SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check fixtures and recordings against the current normalization rules",
        description="Check fixtures and recordings. "
        "Exit 0: nothing at warning or above; 1: findings; 2: usage or config error.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the current project)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--fix", action="store_true", help="rehash stale turns from their linked recordings")
    parser.add_argument("--config", type=Path, help="config file (default: nearest replay-lens.toml or pyproject.toml)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="override the rules preset")
    parser.add_argument(
        "--severity",
        choices=tuple(_SEVERITIES),
        default="info",
        help="lowest severity to show (default: info)",
    )
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="read every recording again instead of using the summaries cached by earlier runs "
        "(cache folder: $REPLAY_LENS_CACHE_DIR, else $XDG_CACHE_HOME/replay-lens or ~/.cache/replay-lens)",
    )
    parser.add_argument(
        "--reveal-secrets",
        action="store_true",
        help="show API keys, tokens and other secrets in messages (masked by default)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # One short process: the cyclic collector would walk every finding and report made (30,000 of them
    # took 1.6 s of a warm run over 10,000 fixtures), for cycles it never finds.
    with paused_gc():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    configure_streams()
    paths: list[Path] = args.paths or []
    missing = [path for path in paths if not path.exists()]
    if missing:
        print(f"error: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return EXIT_USAGE
    start = paths[0] if paths else Path.cwd()
    try:
        config = load_project_config(start, args.config, Path.cwd())
    except ConfigError as error:
        return _config_failure(error, args.format)
    if args.preset:
        config = _with_preset(config, args.preset)
    targets = paths or [config.root if config.path else Path.cwd()]
    cache = None if args.no_cache else SummaryCache.default()
    try:
        # --fix rewrites fixtures from their text: a cached report has none, so every fixture is read.
        result = load_workspace(targets, config, cache, reuse_fixtures=not args.fix).check()
        fixed = 0
        if args.fix:
            fixed, failures = _fix(result)
            if fixed:
                result = load_workspace(targets, config, cache).check()
            result.problems.extend(failures)
    finally:
        if cache is not None:
            cache.close()
    every = result.findings  # sorted anew at each call: once here
    findings = [f for f in every if f.severity <= _SEVERITIES[args.severity]]
    if not args.reveal_secrets:
        findings = _masked(findings, result)
    summary = Summary(
        fixtures=len(result.fixtures),
        recordings=len(result.recordings),
        turns=sum(len(report.turns) for report in result.fixtures),
        stale=sum(report.count(TurnStatus.STALE) for report in result.fixtures),
        unverifiable=sum(report.count(TurnStatus.UNVERIFIABLE) for report in result.fixtures),
        fixed=fixed,
        preset=config.rules.preset,
        fingerprint=config.rules.fingerprint(),
        config=config.path,
    )
    _emit(findings, summary, args.format, args.color)
    return EXIT_FINDINGS if any(f.severity <= Severity.WARNING for f in every) else EXIT_CLEAN


def _masked(findings: list[Finding], result: CheckResult) -> list[Finding]:
    """Findings with secrets masked in their messages and data, as the editor shows them."""
    sources = {report.fixture.path: report.fixture.source for report in result.fixtures}
    sources.update({report.recording.path: report.recording.source for report in result.recordings})
    recordings = {report.recording.path: report.recording for report in result.recordings}
    masked = []
    # Without a quoted `text`, masking reads only the message and data: a finding's masked form is kept by them
    # when the data's values are plain numbers (30,000 `unverifiable` findings share a handful of forms).
    seen: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[str, dict[str, Any]]] = {}
    for finding in findings:
        plain = "text" not in finding.data and all(type(value) is int for value in finding.data.values())
        key = (finding.message, tuple(finding.data.items())) if plain else None
        known = None if key is None else seen.get(key)
        if known is None:
            recording = recordings.get(finding.path)
            context = kept_context(recording, finding.span) if recording is not None else None
            known = masked_finding(finding, sources.get(finding.path), context)
            if key is not None:
                seen[key] = known
        message, data = known
        unchanged = message == finding.message and data == finding.data
        masked.append(finding if unchanged else replace(finding, message=message, data=dict(data)))
    return masked


def _with_preset(config: Config, preset: str) -> Config:
    return replace(config, rules=PRESETS[preset])


def _fix(result: CheckResult) -> tuple[int, list[Finding]]:
    """Rewrite every fixture with stale turns; return the turns rewritten and the write failures.

    A symlinked fixture is written through to its target, once however many paths lead to it.
    """
    fixed = 0
    failures: list[Finding] = []
    written: set[str] = set()
    for report in result.fixtures:
        edits = rehash_edits(report)
        if not edits:
            continue
        target = os.path.realpath(report.fixture.path)
        if target in written:
            continue
        source = report.fixture.source
        new = SourceText(apply_edits(source.text, edits), bom=source.bom)
        try:
            atomic_write(report.fixture.path, new.encode(), content_hash(source.encode()))
        except (ChangedOnDiskError, OSError) as exc:
            failures.append(
                Finding.at(codes.READ_ERROR, report.fixture.path, source, Span(0, 0), f"not rewritten: {exc}")
            )
            continue
        written.add(target)
        fixed += sum(1 for turn in report.turns if turn.rehash is not None)
    return fixed, failures


def _config_failure(error: ConfigError, output_format: str) -> int:
    if output_format == "text":
        print(f"error: config: {error}", file=sys.stderr)
    else:
        summary = Summary(0, 0, 0, 0, 0, 0, "-", "-", error.path)
        finding = error.to_finding()
        print(render_json([finding], summary) if output_format == "json" else render_sarif([finding], summary))
    return EXIT_USAGE


def _emit(findings: list[Finding], summary: Summary, output_format: str, color_mode: str) -> None:
    if output_format == "json":
        print(render_json(findings, summary))
    elif output_format == "sarif":
        print(render_sarif(findings, summary))
    else:
        color = color_mode == "always" or (color_mode == "auto" and sys.stdout.isatty())
        print(render_text(findings, summary, color=color))
