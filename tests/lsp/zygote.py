"""A process that has imported the server once and forks a fresh server process for each test that asks.

Every server test starts its own `python -m server --stdio` process, and most of that
start is importing lsprotocol, pygls and the engine (about a second on a busy 2-core
machine, more than most tests take after it). This process pays it once per pytest
worker: `tests/lsp/launch.py` (the command the tests run) hands it the launcher's
stdin, stdout and stderr, its arguments, folder and environment; the zygote forks, and
the forked child runs `server.__main__.main(arguments)` on those streams. Each test
still talks to a server process of its own, started with no state but the imported
modules, and the launcher exits with that process's exit status.

Only imports are shared: the zygote never starts a thread, an event loop or a server.
A command with other arguments than the tests' server, or a test that needs the
interpreter's own start (a workspace shadowing a module, a different environment at
import time), runs `python -m server` itself (`launch.py` falls back to it whenever the
zygote is not there).

Run as `python -m tests.lsp.zygote SOCKET` (`start()` does, from a session fixture).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

ENV_SOCKET = "REPLAY_LENS_TEST_ZYGOTE"
"""The environment variable naming the zygote's socket: the launcher asks it when it is set."""

LAUNCHER = Path(__file__).with_name("launch.py")
REPO = Path(__file__).resolve().parents[2]
SOCKET = Path(tempfile.gettempdir()) / f"replay-lens-zygote-{os.getpid()}"
"""This pytest process's zygote (one per xdist worker)."""


def _preload() -> None:
    """Import what `python -m server --stdio` imports, the way `server/__main__.py` is run."""
    path = list(sys.path)
    import server.__main__  # noqa: PLC0415
    import server.lsp.server  # noqa: F401, PLC0415

    sys.path[:] = path


def _child(request: dict[str, Any], streams: list[int]) -> NoReturn:
    """The server process: the launcher's streams, folder and environment, then the server's own `main`."""
    for target, descriptor in enumerate(streams):
        os.dup2(descriptor, target)
        os.close(descriptor)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    sys.argv = ["-m", *request["argv"]]
    from server.__main__ import main  # noqa: PLC0415  (imported by _preload)

    code: int = 1
    try:
        code = main(request["argv"])
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    # What the interpreter does on its way out: join non-daemon threads, run atexit, flush.
    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()  # type: ignore[union-attr]
    os._exit(code)


def _serve_one(connection: socket.socket, listener: socket.socket) -> NoReturn:
    """A forked helper: forks the server process, tells the launcher its id, then its wait status."""
    listener.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        message, streams, _, _ = socket.recv_fds(connection, 1 << 20, 3)
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            connection.close()
            _child(request, streams)
        for descriptor in streams:
            os.close(descriptor)
        connection.sendall(b"%d" % pid)
        _, status = os.waitpid(pid, 0)
        connection.sendall(b"%d" % status)
    finally:
        os._exit(0)


def serve(path: str) -> None:
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(f"{path}.new")
    listener.listen(64)
    os.rename(f"{path}.new", path)  # the socket appears once it accepts
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the helpers are reaped as they end
    while True:
        connection, _ = listener.accept()
        if os.fork() == 0:
            _serve_one(connection, listener)
        connection.close()


def server_pid(launcher: int) -> int:
    """The id of the server process a launcher started: the launcher's own when it became `python -m server`."""
    record = Path(f"{SOCKET}.{launcher}")
    for _ in range(1000):  # polling with a deadline (10 s) for the launcher to write down the fork's id
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(record.read_text(encoding="ascii"))
        try:
            command = Path(f"/proc/{launcher}/cmdline").read_bytes()
        except FileNotFoundError:
            break
        if LAUNCHER.name.encode() not in command:
            return launcher  # it ran `python -m server` itself
        time.sleep(0.01)
    raise AssertionError(f"no server process for launcher {launcher}")


@contextlib.contextmanager
def started() -> Iterator[None]:
    """A zygote for this pytest process while the block runs; it comes up in the background (until it
    listens, the launcher runs `python -m server` itself)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.lsp.zygote", str(SOCKET)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(10)
        for leftover in [SOCKET, *SOCKET.parent.glob(f"{SOCKET.name}.*")]:  # and a killed launcher's record
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


if __name__ == "__main__":
    serve(sys.argv[1])
