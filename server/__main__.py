"""Entry point: `python -m server check ...` (CLI) or `python -m server --stdio` (language server)."""

from __future__ import annotations

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    # `python -m server` puts the current folder first on the import path: run inside a user's
    # workspace, its `pydantic.py` or `json.py` would shadow ours. Nothing from there is imported.
    del sys.path[0]

import argparse
from collections.abc import Sequence

from server.cli import check, session_args

TYPE_CHECKING = False  # `typing` is not imported at run time: a warm `check` has no other use for it
if TYPE_CHECKING:
    from typing import NoReturn

DEFAULT_PORT = 2087
TOKEN_VARIABLE = "REPLAY_LENS_TOKEN"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replay-lens",
        description="Replay Lens: validate LLM record/replay fixtures against the current normalization rules.",
    )
    transport = parser.add_argument_group("language server (editors start it with --stdio)")
    modes = transport.add_mutually_exclusive_group()
    modes.add_argument("--stdio", action="store_true", help="serve LSP over stdin/stdout")
    modes.add_argument("--tcp", action="store_true", help="serve LSP over TCP on 127.0.0.1")
    modes.add_argument("--ws", action="store_true", help="serve LSP over WebSocket on 127.0.0.1")
    transport.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port for --tcp/--ws (default: {DEFAULT_PORT})"
    )
    transport.add_argument(
        "--token",
        default=os.environ.get(TOKEN_VARIABLE) or None,
        help=f"--ws only: a secret every WebSocket client must send (?token=... in its URL or an "
        f"'Authorization: Bearer' header); default: ${TOKEN_VARIABLE}",
    )
    transport.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="server log level, to stderr and the client's log (default: info)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    check.add_parser(subparsers)
    session_args.add_parsers(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, *, ending_process: bool = False) -> int:
    """Run the command or the server `argv` asks for; `ending_process` (the entry point's own call): a `check`
    ends the process as soon as it is done (`_end_now`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(args, "run"):
        try:
            code: int = args.run(args)
        except BrokenPipeError:  # the reader went away (`| head`): nothing more to say, and no traceback
            code = _reader_gone()
        if ending_process and args.command == "check":
            _end_now(code)
        return code
    if args.stdio or args.tcp or args.ws:
        from server.lsp.server import serve  # noqa: PLC0415  (the CLI does not pay for pygls)

        return serve("stdio" if args.stdio else "tcp" if args.tcp else "ws", args.port, args.log_level, args.token)
    parser.print_help(sys.stderr)
    return 2


def _reader_gone() -> int:
    """Standard output pointed at the null device, so what is left in its buffer is dropped quietly at exit; the
    interpreter's own status for output it could not write (120)."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    return 120


def _end_now(code: int) -> NoReturn:
    """Exit without the interpreter's teardown, whose last collection walks every object the run made (~20 ms
    after a 40 MB check: 6 % of it). `check` has closed what it opened (its cache, its children, the files it
    wrote), so only the standard streams are left to flush; one that cannot be flushed (a closed pipe) exits
    with 120, as the interpreter's own teardown does."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        code = 120
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main(ending_process=True))
