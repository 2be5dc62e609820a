"""Session commands: `replay`, `sessions`, `steps` and `record-fixture`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CLEAN, EXIT_MISS, EXIT_USAGE = 0, 1, 2


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the session subcommands on the top-level parser."""
    replay = subparsers.add_parser(
        "replay",
        help="dry-run replay of a session against a fixture under the current rules",
        description="Replay a recorded session against a fixture without calling any model. "
        "Exit 0: every call hit; 1: a miss; 2: usage error.",
    )
    replay.add_argument("session", type=Path, help="a session file or folder (recording, trace, database)")
    replay.add_argument("--against", type=Path, help="fixture to replay against (default: found from the workspace)")
    replay.add_argument("--session-id", help="which session when the file holds several")
    replay.add_argument("--format", choices=("text", "json"), default="text")
    replay.add_argument("--config", type=Path, help="config file (default: nearest replay-lens.toml or pyproject.toml)")
    replay.set_defaults(run=_pending)

    listing = subparsers.add_parser("sessions", help="list the sessions found under a path")
    listing.add_argument("path", nargs="?", type=Path, help="file or folder (default: the current directory)")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(run=_pending)

    steps = subparsers.add_parser("steps", help="show the steps of a session, one page at a time")
    steps.add_argument("session", type=Path)
    steps.add_argument("--session-id", help="which session when the file holds several")
    steps.add_argument("--page", type=int, default=1, help="1-based page number (default: 1)")
    steps.add_argument("--page-size", type=int, default=50, help="steps per page (default: 50)")
    steps.add_argument("--format", choices=("text", "json"), default="text")
    steps.set_defaults(run=_pending)

    record = subparsers.add_parser("record-fixture", help="write a fixture from a session's model calls")
    record.add_argument("session", type=Path)
    record.add_argument("-o", "--output", type=Path, required=True, help="fixture file to create")
    record.add_argument("--session-id", help="which session when the file holds several")
    record.add_argument("--force", action="store_true", help="replace an existing file")
    record.add_argument("--config", type=Path, help="config file (default: nearest replay-lens.toml or pyproject.toml)")
    record.set_defaults(run=_pending)


def _pending(args: argparse.Namespace) -> int:
    print(f"error: {args.command} is being built", file=sys.stderr)
    return EXIT_USAGE
