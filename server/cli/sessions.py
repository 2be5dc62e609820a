"""Session commands: `replay`, `sessions`, `steps` and `record-fixture`.

Exit codes: 0 clean; 1 replay diverged (a miss, an exhausted key, a tool call
that differs) or a session could not be read whole; 2 usage or config error.

Reports and listings show API keys, tokens and secret-named values masked, as
the editor does, unless `--reveal-secrets` asks for them: terminal output ends
up in CI logs and bug reports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.cli.output import configure_streams, json_text
from server.cli.report import display_path
from server.engine.config import ConfigError
from server.engine.findings import Finding, Severity
from server.engine.preview import safe
from server.engine.replay import (
    FixtureNotFoundError,
    ReplayReport,
    Status,
    ToolVerdict,
    build_fixture,
    replay_path,
    write_new,
)
from server.engine.replay.render import percent
from server.engine.secrets import mask_json, masked_cut
from server.engine.sessions import SessionNotFoundError, discover, page_steps, postgres, read_session, resolve
from server.engine.sessions.model import Step, StepPage, location
from server.engine.sessions.pages import page_json
from server.engine.workspace import load_project_config
from server.engine.writes import AlreadyExistsError, ChangedOnDiskError, NotRegularError, write_target

EXIT_CLEAN, EXIT_DIVERGED, EXIT_USAGE = 0, 1, 2


def _where(path: Path) -> str:
    """A file as the terminal shows it, or a database URL with its password masked."""
    return postgres.mask(location(path)) if postgres.is_url(path) else display_path(path)


def _missing(path: Path) -> bool:
    """Whether a session source given on the command line is absent (a database URL is checked when read)."""
    return not postgres.is_url(path) and not path.exists()


def _config_base(path: Path) -> Path:
    """Where the config search starts for a session: its file, or the current directory for a database URL."""
    return Path.cwd() if postgres.is_url(path) else path


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _emit_json(document: Any, reveal: bool) -> None:
    print(json_text(document if reveal else mask_json(document)))


# -- replay ------------------------------------------------------------------------
def run_replay(args: argparse.Namespace) -> int:
    configure_streams()
    for path in (args.session, args.against):
        if path is not None and _missing(path):
            return _error(f"no such file or directory: {path}")
    try:
        config = load_project_config(args.against or _config_base(args.session), args.config, Path.cwd())
        report = replay_path(args.session, against=args.against, session_id=args.session_id, config=config)
    except (SessionNotFoundError, FixtureNotFoundError) as exc:
        return _error(str(exc))
    except ConfigError as exc:
        return _error(f"config: {exc}")
    if args.format == "json":
        _emit_json(report.to_json(portable=True), args.reveal_secrets)
    else:
        print(render_replay(report, reveal=args.reveal_secrets))
    return EXIT_DIVERGED if report.failed else EXIT_CLEAN


def _table(rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[column]) if column in right else cell.ljust(widths[column])
            for column, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def render_replay(report: ReplayReport, *, reveal: bool = False) -> str:
    """The replay report as a terminal reads it: a table, the first divergence, then each miss's diff.

    What comes from the session (callers, tool names, reasons, diffs, messages) has its secrets masked unless
    `reveal`; paths and places do not, so a file named `secrets.jsonl:3` stays readable.
    """
    info, fixture = report.session.info, report.fixture
    lines = [
        f"Replay of {_where(info.path)} ({info.kind} {info.id}, {len(report.session.steps)} step"
        f"{'s' * (len(report.session.steps) != 1)})",
        f"against {display_path(fixture.path)} ({len(fixture.turns)} turn{'s' * (len(fixture.turns) != 1)}) "
        f"under rules {report.rules.preset} ({report.rules.fingerprint()})",
        "",
    ]
    rows = [("step", "kind", "caller / tool", "status", "turn", "detail")]
    for outcome in report.outcomes:
        step = outcome.step
        status = outcome.tool.verdict.value if outcome.tool else outcome.status.value
        who = step.name if outcome.status is Status.TOOL else (outcome.keys.caller if outcome.keys else step.caller)
        turn = "-" if outcome.turn is None else str(outcome.turn)
        detail = _clip(safe(outcome.reason, reveal=reveal), 70)
        rows.append((str(step.index), step.kind.value, safe(who or "-", reveal=reveal), status, turn, detail))
    lines += _table(rows, right=frozenset({0, 4})) if report.outcomes else ["(no model or tool calls)"]
    lines.append("")
    lines.append(f"Unused turns: {', '.join(map(str, report.unused)) or 'none'}")
    divergence = report.first_divergence
    if divergence is None:
        lines.append("First divergence: none, the replay follows the fixture to the end.")
    else:
        where = f", {divergence.step.source.describe()}" if divergence.step.source else ""
        lines.append(
            f"First divergence: step {divergence.step.index}{where}: "
            f"{divergence.tool.verdict.value if divergence.tool else divergence.status.value} - "
            f"{safe(divergence.reason, reveal=reveal)}"
        )
    for outcome in report.outcomes:
        lines.extend(_miss_details(outcome, reveal))
    problems = [finding for finding in report.session.findings if finding.severity <= Severity.WARNING]
    if problems:
        lines += ["", "Reading the session:"] + [f"  {_finding_line(finding, reveal)}" for finding in problems]
    summary = report.summary()
    lines += [
        "",
        f"Result: {summary['hits']} hit{'s' * (summary['hits'] != 1)}, {summary['legacyHits']} legacy, "
        f"{summary['misses']} miss{'es' * (summary['misses'] != 1)}, {summary['exhausted']} exhausted; "
        f"{summary['tools']} tool call{'s' * (summary['tools'] != 1)} "
        f"({summary['toolMismatches']} differ{'s' * (summary['toolMismatches'] == 1)}); "
        f"{summary['unused']} unused turn{'s' * (summary['unused'] != 1)}.",
    ]
    return "\n".join(lines)


def _miss_details(outcome: Any, reveal: bool) -> list[str]:
    step = outcome.step
    if outcome.status in (Status.MISS, Status.EXHAUSTED):
        caller = safe(str(outcome.keys.caller if outcome.keys else step.caller), reveal=reveal)
        head = f"Step {step.index} ({caller}) {outcome.status.value}: "
        nearest = outcome.nearest
        if nearest is None:
            return ["", head + safe(outcome.reason, reveal=reveal) + ". No recorded input to compare with."]
        recorded = f", recorded at {nearest.recorded_at.describe()}" if nearest.recorded_at else ""
        lines = [
            "",
            f"{head}nearest recorded input is turn {nearest.turn} ({percent(nearest.similarity)} alike{recorded})",
        ]
        lines.append(f"  {safe(nearest.note, reveal=reveal)}")
        lines += [f"  {line}" for line in safe(nearest.diff, reveal=reveal).splitlines()]
        return lines
    if outcome.tool is not None and outcome.tool.verdict is ToolVerdict.MISMATCH:
        name = safe(step.name, reveal=reveal)
        lines = ["", f"Step {step.index} ({name}) differs from the call turn {outcome.turn} asked for:"]
        return lines + [f"  {safe(difference.describe(), reveal=reveal)}" for difference in outcome.tool.differences]
    return []


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _finding_line(finding: Finding, reveal: bool) -> str:
    start = finding.range.start
    where = f"{_where(finding.path)}:{start.line + 1}:"
    return f"{where} {finding.severity.label}[{finding.code.name}] {safe(finding.message, reveal=reveal)}"


# -- sessions ----------------------------------------------------------------------
def run_sessions(args: argparse.Namespace) -> int:
    configure_streams()
    root: Path = args.path or Path.cwd()
    if _missing(root):
        return _error(f"no such file or directory: {root}")
    found = discover([root])
    reveal: bool = args.reveal_secrets
    if args.format == "json":
        _emit_json(
            {
                "sessions": [info.to_json() for info in found.sessions],
                "findings": [finding.to_json() for finding in found.findings],
            },
            reveal,
        )
        return EXIT_CLEAN
    if not found.sessions:
        print(f"No sessions under {_where(root)}.")
    else:
        rows = [("kind", "id", "started", "path", "title")]
        rows += [
            (info.kind, info.id, info.started_at or "-", _where(info.path), safe(info.title, reveal=reveal))
            for info in found.sessions
        ]
        print("\n".join(_table(rows)))
    for finding in found.findings:
        print(_finding_line(finding, reveal), file=sys.stderr)
    return EXIT_CLEAN


# -- steps -------------------------------------------------------------------------
def run_steps(args: argparse.Namespace) -> int:
    configure_streams()
    if _missing(args.session):
        return _error(f"no such file or directory: {args.session}")
    if args.page < 1 or args.page_size < 1:
        return _error("--page and --page-size start at 1")
    try:
        info, problems = resolve(args.session, args.session_id)
    except SessionNotFoundError as exc:
        return _error(str(exc))
    page = page_steps(info, args.page, args.page_size)
    page.findings[:0] = problems
    if args.format == "json":
        _emit_json(page_json(page, args.reveal_secrets), args.reveal_secrets)
    else:
        print(render_steps(page, reveal=args.reveal_secrets))
    return EXIT_DIVERGED if any(finding.severity is Severity.ERROR for finding in page.findings) else EXIT_CLEAN


def render_steps(page: StepPage, *, reveal: bool = False) -> str:
    info = page.info
    first = (page.page - 1) * page.page_size
    shown = f"steps {first}-{first + len(page.steps) - 1}" if page.steps else "no steps"
    lines = [f"{info.kind} {info.id} ({_where(info.path)}): page {page.page} of {page.pages}, {shown} of {page.total}"]
    if page.steps:
        rows: list[tuple[str, ...]] = [
            ("#", "kind", "caller / name", "model", "tokens in/out", "started", "ms", "status", "place")
        ]
        rows += [_step_row(step, reveal) for step in page.steps]
        table = _table(rows, right=frozenset({0, 6}))
        lines.append(table[0])
        for row, step in zip(table[1:], page.steps, strict=True):
            lines.append(row)
            lines.append(f"      {step.summary(100) if reveal else masked_cut(step.summary(sys.maxsize), 100)}")
    chain = page.facts.get("chain")
    if isinstance(chain, dict):
        lines.append(str(chain["statement"]))
    run = page.facts.get("run")
    if isinstance(run, dict) and "statement" in run:
        lines.append(str(run["statement"]))
    for finding in page.findings:
        lines.append(_finding_line(finding, reveal))
    return "\n".join(lines)


def _step_row(step: Step, reveal: bool) -> tuple[str, ...]:
    tokens = step.tokens
    return (
        str(step.index),
        step.kind.value,
        safe((step.name if step.kind.value != "model" else step.caller) or "-", reveal=reveal),
        safe(step.model or "-", reveal=reveal),
        f"{tokens.input if tokens.input is not None else '?'}/{tokens.output if tokens.output is not None else '?'}"
        if tokens
        else "-",
        step.started_at or "-",
        str(step.duration_ms) if step.duration_ms is not None else "-",
        step.status or ("problem" if step.problem else "-"),
        step.source.describe() if step.source else "-",
    )


# -- record-fixture ----------------------------------------------------------------
def run_record(args: argparse.Namespace) -> int:
    configure_streams()
    if _missing(args.session):
        return _error(f"no such file or directory: {args.session}")
    outputs = [path for path in (args.output, args.recording) if path is not None]
    for path in outputs:
        if not path.parent.is_dir():
            return _error(f"no such directory: {path.parent}")
        try:
            write_target(path)  # a FIFO would block the write and /dev/zero never ends: refused before any work
        except NotRegularError as exc:
            return _error(str(exc))
    try:
        info, _ = resolve(args.session, args.session_id)
        config = load_project_config(_config_base(args.session), args.config, Path.cwd())
    except SessionNotFoundError as exc:
        return _error(str(exc))
    except ConfigError as exc:
        return _error(f"config: {exc}")
    session = read_session(info)
    draft = build_fixture(session, config.rules, args.output)
    turns = draft.document["turns"]
    for index, why in draft.skipped:
        print(f"skipped step {index}: {why}", file=sys.stderr)
    if not turns:
        why = session.facts.get("not_replayable") or "no model call with an input and an AI output to record"
        return _error(f"{_where(args.session)}: {why}")
    files = [(args.output, draft.text)]
    if args.recording is not None:
        files.append((args.recording, draft.recording_text))
    try:
        write_new(files, replace=args.force)  # both or neither
    except AlreadyExistsError as exc:
        return _error(f"{exc} (use --force to replace it)")
    except ChangedOnDiskError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write: {exc}")
    also = f" and {display_path(args.recording)}" if args.recording else ""
    print(
        f"Wrote {display_path(args.output)}{also}: {len(turns)} turn{'s' * (len(turns) != 1)} "
        f"keyed under rules {config.rules.preset} ({config.rules.fingerprint()}) from {info.kind} {info.id}."
    )
    return EXIT_CLEAN
