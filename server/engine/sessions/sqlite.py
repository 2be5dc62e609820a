"""Open SQLite trace databases read-only, turning every failure into a message.

Databases are opened through a `mode=ro` URI, so reading never migrates or
writes a file, with a short busy timeout so a database locked by its producer
is reported, not waited on. A database in WAL mode (LangGraph's `SqliteSaver`
writes one) needs more care, because SQLite creates `-wal`/`-shm` files beside
a WAL database even to read it, and cannot on a read-only folder:
- no `-wal` file, or an empty one: nothing is pending, so the file alone is
  the database and it is opened `immutable` (no lock, no side file);
- a `-wal` file with frames (commits not yet checkpointed, usually a writer
  still running): the database and its `-wal` are copied into a private temp
  folder and read there, so those commits are seen and nothing is created
  beside the original. A writer checkpointing during the copy can make the
  copy miss its newest commits; it is never torn (SQLite ignores WAL frames
  whose checksums do not match the copied database).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from server.engine.files import read_head

HEADER = b"SQLite format 3\x00"
SUFFIXES = (".db", ".sqlite", ".sqlite3")
BUSY_TIMEOUT_SECONDS = 0.2
_WAL_VERSION = 2
"""Header bytes 18-19 (file format write/read versions) are 2 in WAL mode."""


class DatabaseError(Exception):
    """The database cannot be read: locked, corrupt, not a database, or unreadable."""


def looks_like_database(path: Path, head: bytes) -> bool:
    return head.startswith(HEADER) or path.suffix.lower() in SUFFIXES


def _uri(path: Path, *, immutable: bool) -> str:
    return path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")


def _in_wal_mode(path: Path) -> bool:
    """Whether the database's header says WAL; `DatabaseError` for anything but a regular file, read without
    blocking (sqlite's own open of a FIFO swapped in since discovery would wait forever for a writer)."""
    try:
        head = read_head(path, 20)
    except OSError as exc:
        raise DatabaseError(f"the database cannot be read ({exc.strerror or exc})") from None
    return len(head) == 20 and head[18] == _WAL_VERSION and head[19] == _WAL_VERSION


def _pending_wal(path: Path) -> Path | None:
    wal = path.with_name(path.name + "-wal")
    try:
        return wal if wal.stat().st_size > 0 else None
    except OSError:
        return None


@contextlib.contextmanager
def connect(path: Path, *, immutable: bool = False) -> Iterator[sqlite3.Connection]:
    """A read-only connection that creates no file beside the database (see the module's docstring).

    `immutable` skips locking (for a schema peek while a writer holds a lock).
    """
    with contextlib.ExitStack() as cleanup:
        target = path
        if _in_wal_mode(path):
            wal = _pending_wal(path)
            if wal is None:
                immutable = True
            else:
                folder = Path(tempfile.mkdtemp(prefix="replay-lens-wal-"))
                cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
                target = folder / path.name
                try:
                    shutil.copyfile(path, target)
                    shutil.copyfile(wal, folder / wal.name)
                except OSError as exc:
                    raise DatabaseError(f"the database cannot be read ({exc.strerror or exc})") from None
                immutable = False
        try:
            connection = sqlite3.connect(_uri(target, immutable=immutable), uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        except sqlite3.Error as exc:
            raise DatabaseError(describe(exc)) from None
        try:
            yield connection
        finally:
            connection.close()


def reason(exc: DatabaseError | sqlite3.Error) -> str:
    """What to tell of a database that failed: `DatabaseError`s are told already, sqlite3's are described."""
    return str(exc) if isinstance(exc, DatabaseError) else describe(exc)


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
