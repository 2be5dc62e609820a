"""The tests' server command: a server forked by the zygote (tests/lsp/zygote.py), else `python -m server`.

Run with `python -S` (no site-packages: it starts in milliseconds). It hands its own
stdin, stdout and stderr to the zygote, whose fork runs the server on them; it forwards
the signals a test sends it to that process, and exits with that process's exit status
(or dies of the same signal). Without a zygote it becomes `python -m server` itself.
"""

import json
import os
import signal
import socket
import sys

ARGUMENTS = sys.argv[1:]
TALLY = os.environ.get("REPLAY_LENS_TEST_SERVER_TALLY")
"""A file to which each start appends how it ran (`zygote` or `process`): to count them, never read by a test."""


def tally(how: str) -> None:
    if TALLY:
        with open(TALLY, "a", encoding="ascii") as file:
            file.write(f"{how}\n")


def real_server() -> None:
    tally("process")
    os.execv(sys.executable, [sys.executable, "-m", "server", *ARGUMENTS])


def main() -> None:
    path = os.environ.get("REPLAY_LENS_TEST_ZYGOTE")
    if not path:
        real_server()
    zygote = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        zygote.connect(path)
    except OSError:
        real_server()
    request = {"argv": ARGUMENTS, "cwd": os.getcwd(), "env": dict(os.environ)}
    socket.send_fds(zygote, [json.dumps(request).encode()], [0, 1, 2])
    answer = zygote.recv(64)
    if not answer:  # the zygote could not fork: nothing has read the streams yet
        real_server()
    pid = int(answer)
    tally("zygote")
    record = f"{path}.{os.getpid()}"  # where the tests look up the server's process id (zygote.server_pid)
    with open(record, "w", encoding="ascii") as file:
        file.write(str(pid))
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda received, _: os.kill(pid, received))
    answer = zygote.recv(64)
    os.unlink(record)
    code = os.waitstatus_to_exitcode(int(answer)) if answer else 1
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
