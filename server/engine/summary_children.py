"""The child processes that summarize recordings beside this one (`summary`), and when to start them.

Starting one costs about 0.1 s (Python and the engine's imports) before it
summarizes anything. `check` knows from its walk of the files, before it has
read its config, whether the recordings are worth sharing out; `started_early`
lets it start the children then, so their start-up overlaps its own imports and
config instead of following them. This module imports only the standard
library and `regex` (whose folder the child is told), so starting them early
costs the parent nothing it would not import anyway.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import regex

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

PART_BYTES = 8 << 20
"""A file smaller than this is not worth a child process: summarized here."""
_CHILD = "import sys; sys.path[:0] = sys.argv[1:]; from server.engine.part_child import main; main()"
"""The child's program: isolated (`-I`: no environment variable, no user site, no current folder on the path)
and without `site`, it finds the engine and `regex` only in the folders it is given as arguments, where this
process found them, whatever `PYTHONPATH`, `PYTHONSAFEPATH` or working folder the parent has."""


WORKERS_ENV = "REPLAY_LENS_WORKERS"
"""How many processes summarize recordings at once (this one and its children); unset: one per core."""


def worth_children(size: int) -> bool:
    """Whether a recording of `size` bytes is big enough to be summarized by child processes."""
    return size >= PART_BYTES


def chosen_workers() -> int | None:
    """`$REPLAY_LENS_WORKERS`, how many processes summarize recordings at once, when set to a whole number ≥ 1."""
    return _workers(os.environ.get(WORKERS_ENV, "").strip())


@functools.cache
def _workers(value: str) -> int | None:
    """The worker count `value` says (None when unset); said once when it is not one."""
    if not value:
        return None
    if value.isascii() and value.isdigit() and int(value) >= 1:
        return int(value)
    log.warning("%s=%r is not a whole number of at least 1: ignored (every core is used)", WORKERS_ENV, value)
    return None


def usable_cores() -> int:
    """The processes that summarize at once: `chosen_workers()`, else the cores this process may run on (its
    CPU affinity where the system tells it)."""
    chosen = chosen_workers()
    if chosen is not None:
        return chosen
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _start_child(errors: BinaryIO) -> subprocess.Popen[bytes]:
    """A child process running the constant summarizing program (`part_child`), its stderr to `errors`.

    `subprocess` and `tempfile` are imported where a child is started: the child imports this module too (through
    `summary`), and starts sooner without them (~4 ms)."""
    import subprocess  # noqa: PLC0415

    package = Path(__file__).resolve().parents[2]  # where `server` is found: nothing of the user's folder
    found = [str(package), str(Path(regex.__file__).resolve().parents[1])]
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _CHILD, *found],
        cwd=package,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
    )


class Child:
    """A summarizing child process, given data as JSON lines: the rules once, then one task a line.

    Its stderr goes to a file (read only when it failed), so a chatty child never blocks on a full pipe
    while this process waits for its answer.
    """

    def __init__(self) -> None:
        import tempfile  # noqa: PLC0415  # see `_start_child`

        self.errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed by `close`, when the child has exited)
        try:
            self.process = _start_child(self.errors)
        except OSError:
            self.errors.close()
            raise
        self.failed = False

    @classmethod
    def spawned(cls) -> Child | None:
        """A child started, told nothing yet; None (and why, logged) when it cannot start."""
        try:
            return cls()
        except OSError as exc:
            log.warning("cannot start a process to summarize recordings: %s", exc)
            return None

    @classmethod
    def start(cls, setup: dict[str, Any]) -> Child | None:
        """A child (one `started_early` if any is left, else a new one) told the rules it summarizes with
        (`setup`, what `part_child` reads first); None when it cannot start."""
        child = _early.pop() if _early else cls.spawned()
        if child is not None:
            child.send(setup)
        return child

    def send(self, task: dict[str, Any]) -> None:
        """Write one line to the child (a child gone already is told by its answer: none)."""
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.write(json.dumps(task).encode("ascii") + b"\n")
            self.process.stdin.flush()

    def finish_tasks(self) -> None:
        """No more tasks: the child exits once it has answered those it has."""
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()

    def fileno(self) -> int:
        """Where its answers are read from, line by line (`answer`), or as they come (`decoded`)."""
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def answer(self) -> dict[str, Any] | None:
        """The child's next answer; None (and why, logged) when it has none to give."""
        assert self.process.stdout is not None
        return self.decoded(b"" if self.failed else self.process.stdout.readline())

    def decoded(self, line: bytes) -> dict[str, Any] | None:
        """An answer line of the child; None (and why, logged) when it is none."""
        with contextlib.suppress(ValueError):
            answer = json.loads(line)
            if isinstance(answer, dict):
                if "error" in answer:
                    log.warning("a summarizing process could not do its task: %s", answer["error"])
                return answer
        self.failed = True
        return None

    def ready(self) -> bool:
        """Wait until the child has started (its imports done); False when it never will."""
        return self.answer() == {"ready": True}

    def close(self, *, stop: bool = False) -> None:
        """Let the child exit once it has answered (or `stop` it now) and wait for it; say why it failed."""
        self.finish_tasks()
        if stop:
            self.process.kill()
        code = self.process.wait()
        if self.failed or (code != 0 and not stop):
            self.errors.seek(0)
            why = self.errors.read().decode(errors="replace")[-500:]
            log.warning("a summarizing process failed (exit %s): %s", code, why)
        self.errors.close()
        assert self.process.stdout is not None
        self.process.stdout.close()


_early: list[Child] = []
"""Children `started_early` and not yet taken by `Child.start`."""


@contextlib.contextmanager
def started_early(count: int) -> Iterator[None]:
    """Start `count` children now (none on Windows: see `summary.Sharing`), for `Child.start` to take
    within the block; those none took are stopped at its end."""
    if os.name == "posix":
        _early.extend(child for _ in range(count) if (child := Child.spawned()) is not None)
    try:
        yield
    finally:
        while _early:
            _early.pop().close(stop=True)
