"""A session database replaced by a FIFO between discovery and its reading: a `DatabaseError`, never a wait.

Discovery reads a file's head with the regular-file-only reader, but the
database is opened again to read it; sqlite's own open of a FIFO waits forever
for a writer, and so did the WAL check's `open()` before it. `sqlite.connect`
now reads the header with that reader first and refuses anything else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

from server.engine.sessions import sqlite
from tests.conftest import SAMPLES

NOT_REGULAR = "the database cannot be read (not a regular file (a pipe, socket or device is never read))"


def test_connecting_to_a_database_swapped_for_a_fifo_is_a_database_error(tmp_path: Path) -> None:
    database = tmp_path / "audit.db"
    shutil.copy(SAMPLES / "traces" / "cato" / "audit.db", database)
    assert "audit_log" in sqlite.tables(database)  # a real database, read before it is swapped
    database.unlink()
    os.mkfifo(database)

    raised: list[BaseException] = []

    def connect() -> None:
        try:
            with sqlite.connect(database):
                pass
        except BaseException as exc:
            raised.append(exc)

    # A daemon thread: before the fix, it waited in open() for good (let through, sqlite's open waited again).
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(30)
    with contextlib.suppress(OSError):
        os.close(os.open(database, os.O_WRONLY | os.O_NONBLOCK))
    assert not thread.is_alive(), "connecting waits on the FIFO"
    assert [(type(exc), str(exc)) for exc in raised] == [(sqlite.DatabaseError, NOT_REGULAR)]
