"""Entry point: `python -m server check ...` (CLI) or `python -m server --stdio` (language server)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from server.cli import check, sessions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replay-lens",
        description="Replay Lens: validate LLM record/replay fixtures against the current normalization rules.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    check.add_parser(subparsers)
    sessions.add_parsers(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
