"""The session commands' arguments: `replay`, `sessions`, `steps` and `record-fixture` (run by `sessions`).

Apart from `sessions` so that `check` does not import the session readers and
the replay engine, which it never runs: each command imports them when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from types import ModuleType


def _later(command: Callable[[ModuleType], Callable[[argparse.Namespace], int]]) -> Callable[[argparse.Namespace], int]:
    """The `command` of `server.cli.sessions`, imported when it runs."""

    def run(args: argparse.Namespace) -> int:
        from server.cli import sessions  # noqa: PLC0415  (see the module docstring)

        return command(sessions)(args)

    return run


_SESSION_HELP = (
    "a session: recording, fixture, Codex trace folder or rollout, CATO or LangGraph database, "
    "or a postgresql:// URL of a LangGraph PostgresSaver database"
)
_REVEAL_HELP = "show API keys, tokens and secret-named values instead of masking them"


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the session subcommands on the top-level parser."""
    replay = subparsers.add_parser(
        "replay",
        help="dry-run replay of a session against a fixture under the current rules",
        description="Replay a recorded session against a fixture without calling any model or tool. "
        "Exit 0: every call hit; 1: a miss, an exhausted key or a differing tool call; 2: usage error.",
    )
    replay.add_argument("session", type=Path, help=_SESSION_HELP)
    replay.add_argument("--against", type=Path, help="fixture to replay against (default: found from the workspace)")
    replay.add_argument("--session-id", help="which session when the file holds several")
    replay.add_argument("--format", choices=("text", "json"), default="text")
    replay.add_argument("--config", type=Path, help="config file (default: nearest replay-lens.toml or pyproject.toml)")
    replay.add_argument("--reveal-secrets", action="store_true", help=_REVEAL_HELP)
    replay.set_defaults(run=_later(lambda sessions: sessions.run_replay))

    listing = subparsers.add_parser("sessions", help="list the sessions found under a path")
    listing.add_argument("path", nargs="?", type=Path, help="file or folder (default: the current directory)")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.add_argument("--reveal-secrets", action="store_true", help=_REVEAL_HELP)
    listing.set_defaults(run=_later(lambda sessions: sessions.run_sessions))

    steps = subparsers.add_parser("steps", help="show the steps of a session, one page at a time")
    steps.add_argument("session", type=Path, help=_SESSION_HELP)
    steps.add_argument("--session-id", help="which session when the file holds several")
    steps.add_argument("--page", type=int, default=1, help="1-based page number (default: 1)")
    steps.add_argument("--page-size", type=int, default=50, help="steps per page (default: 50, at most 1000)")
    steps.add_argument("--format", choices=("text", "json"), default="text")
    steps.add_argument("--reveal-secrets", action="store_true", help=_REVEAL_HELP)
    steps.set_defaults(run=_later(lambda sessions: sessions.run_steps))

    record = subparsers.add_parser(
        "record-fixture",
        help="write a fixture from a session's model calls, keyed under the current rules",
    )
    record.add_argument("session", type=Path, help=_SESSION_HELP)
    record.add_argument("-o", "--output", type=Path, required=True, help="fixture file to create")
    record.add_argument("--recording", type=Path, help="also write the matching recording (JSONL) here")
    record.add_argument("--session-id", help="which session when the file holds several")
    record.add_argument("--force", action="store_true", help="replace existing files")
    record.add_argument("--config", type=Path, help="config file (default: nearest replay-lens.toml or pyproject.toml)")
    record.set_defaults(run=_later(lambda sessions: sessions.run_record))
