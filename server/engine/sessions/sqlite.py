"""Open SQLite trace databases read-only, turning every failure into a message.

Databases are opened through a `mode=ro` URI, so reading never creates,
migrates or writes a file (no journal, no WAL checkpoint), with a short busy
timeout so a database locked by its producer is reported, not waited on.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

HEADER = b"SQLite format 3\x00"
SUFFIXES = (".db", ".sqlite", ".sqlite3")
BUSY_TIMEOUT_SECONDS = 0.2


class DatabaseError(Exception):
    """The database cannot be read: locked, corrupt, not a database, or unreadable."""


def looks_like_database(path: Path, head: bytes) -> bool:
    return head.startswith(HEADER) or path.suffix.lower() in SUFFIXES


def _uri(path: Path, *, immutable: bool) -> str:
    return path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def _settled_wal(path: Path) -> bool:
    """A WAL-mode database with no `-wal` file beside it: all its content is in the main file.

    A plain read-only open of it would create `-wal` and `-shm` files (and fail
    in a read-only folder), so it is read as immutable instead.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    return header[18:20] == b"\x02\x02" and not path.with_name(path.name + "-wal").exists()


@contextlib.contextmanager
def connect(path: Path, *, immutable: bool = False) -> Iterator[sqlite3.Connection]:
    """A read-only connection; `immutable` skips locking (for a schema peek while a writer holds a lock)."""
    immutable = immutable or _settled_wal(path)
    try:
        connection = sqlite3.connect(_uri(path, immutable=immutable), uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as exc:
        raise DatabaseError(describe(exc)) from None
    try:
        yield connection
    finally:
        connection.close()


def tables(path: Path) -> set[str]:
    """Names of the database's tables (raises `DatabaseError`)."""
    with connect(path, immutable=True) as connection:
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        except sqlite3.Error as exc:
            raise DatabaseError(describe(exc)) from None
    return {str(row[0]) for row in rows}


def describe(exc: sqlite3.Error) -> str:
    """A user-facing reason for a SQLite failure."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the database is locked by another process ({text}): try again when its writer is done"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"the database is corrupt or not SQLite ({text})"
    return f"the database cannot be read ({text})"
