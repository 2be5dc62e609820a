"""The part of `replay-lens check` that reads and checks (`check` imports it only when no run's output is kept)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

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
from server.engine.workspace import load_project_config, load_workspace
from server.engine.writes import ChangedOnDiskError, atomic_write, content_hash

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


def checked(
    args: argparse.Namespace, start: Path, paths: list[Path], cache: SummaryCache | None, color: bool
) -> tuple[str, int, tuple[Path | None, Path] | None]:
    """The output and exit status of checking `paths` (else the project of `start`) as `args` ask, and the
    config file and root they follow from when they may be kept for the next run: None when a rule ran out of
    time (a verdict of the machine's load, not of the files) or for a config error."""
    try:
        config = load_project_config(start, args.config, Path.cwd())
    except ConfigError as error:
        return (*_config_failure(error, args.format), None)
    if args.preset:
        config = _with_preset(config, args.preset)
    targets = paths or [config.root if config.path else Path.cwd()]
    # --fix rewrites fixtures from their text: a cached report has none, so every fixture is read.
    result = load_workspace(targets, config, cache, reuse_fixtures=not args.fix).check()
    fixed = 0
    if args.fix:
        fixed, failures = _fix(result)
        if fixed:
            result = load_workspace(targets, config, cache).check()
        result.problems.extend(failures)
    every = result.findings  # sorted anew at each call: once here
    findings = [f for f in every if f.severity <= SEVERITIES[args.severity]]
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
    status = EXIT_FINDINGS if any(f.severity <= Severity.WARNING for f in every) else EXIT_CLEAN
    timed = any(finding.code is codes.RULE_TIMEOUT for finding in every)
    return (
        _rendered(findings, summary, args.format, color) + "\n",
        status,
        None if timed else (config.path, config.root),
    )


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


def _config_failure(error: ConfigError, output_format: str) -> tuple[str, int]:
    if output_format == "text":
        print(f"error: config: {error}", file=sys.stderr)
        return "", EXIT_USAGE
    summary = Summary(0, 0, 0, 0, 0, 0, "-", "-", error.path)
    finding = error.to_finding()
    rendered = render_json([finding], summary) if output_format == "json" else render_sarif([finding], summary)
    return rendered + "\n", EXIT_USAGE


def _rendered(findings: list[Finding], summary: Summary, output_format: str, color: bool) -> str:
    if output_format == "json":
        return render_json(findings, summary)
    if output_format == "sarif":
        return render_sarif(findings, summary)
    return render_text(findings, summary, color=color)
