"""`replay-lens check`: validate fixtures against the current rules, optionally rehash them.

A run whose files and settings are those of an earlier run prints that run's output (`run_cache`) without
importing the readers: what reads and checks is `checked`, imported only when it must run."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from server.cli.output import configure_streams
from server.engine.cache import SummaryCache
from server.engine.config_files import find_config_file, project_root
from server.engine.preset_names import PRESET_NAMES
from server.engine.run_cache import run_key, walk_signature

EXIT_USAGE = 2
_SEVERITIES = ("error", "warning", "info")


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
    parser.add_argument("--preset", choices=PRESET_NAMES, help="override the rules preset")
    parser.add_argument(
        "--severity",
        choices=_SEVERITIES,
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
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if enabled:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    configure_streams()
    paths: list[Path] = args.paths or []
    missing = [path for path in paths if not path.exists()]
    if missing:
        print(f"error: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return EXIT_USAGE
    start = paths[0] if paths else Path.cwd()
    color = args.color == "always" or (args.color == "auto" and args.format == "text" and sys.stdout.isatty())
    cache = None if args.no_cache else SummaryCache.default()
    try:
        output, status = _output(args, start, paths, cache, color)
    finally:
        if cache is not None:
            cache.close()
    print(output, end="")
    return status


def _output(
    args: argparse.Namespace, start: Path, paths: list[Path], cache: SummaryCache | None, color: bool
) -> tuple[str, int]:
    """The run's output and exit status: those kept by an earlier run over the same files with the same
    settings (`run_cache`: nothing is read or parsed, not even the config), else checked and kept.
    --fix rewrites files: it always runs."""
    key = signature = told = None
    if cache is not None and not args.fix:
        # The config is told by its file (its bytes are in the signature): `load_project_config` without parsing.
        config_file = args.config or find_config_file(start.resolve())
        root = config_file.parent if config_file else project_root(start.resolve(), Path.cwd())
        told = (config_file, root)
        targets = paths or [config_file.parent if config_file else Path.cwd()]
        # Every argument the run was given (argparse's own listing of them), but the command's function.
        settings = [(name, repr(value)) for name, value in args._get_kwargs() if name != "run"]
        key = run_key([settings, color, config_file, root], targets)
        signature = walk_signature(targets, config_file)
        kept = cache.run_output(key, signature.digest)
        if kept is not None:
            return kept
    from server.engine.summary_children import started_early, usable_cores, worth_children  # noqa: PLC0415

    # Recordings enough to share out: the children start now, their start-up beside this process's imports.
    early = usable_cores() - 1 if signature is not None and worth_children(signature.jsonl_bytes) else 0
    with started_early(early):
        from server.cli.checked import checked  # noqa: PLC0415  # the readers, only when they must run

        output, status, followed = checked(args, start, paths, cache, color)
    # Kept only under the config told above: one made or removed since (a race) would key another run's output.
    if cache is not None and key is not None and signature is not None and signature.settled and followed == told:
        cache.store_run(key, signature.digest, output, status)
    return output, status
