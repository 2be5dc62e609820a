"""The persistent cache: recording summaries (and fixture reports, `fixture_cache`) in an embedded SQLite
database under the user's cache folder.

A summary is keyed by the sha256 of the recording's bytes and by a fingerprint
of everything that shapes it (the rules, the allowed volatile text, the summary
format and this engine's own code). A file whose path, size, mtime, ctime and inode are
unchanged leads to its content hash without being read again, as git's index
does; a file modified in the last seconds is not taken by its stat (a write in
the same clock tick would look unchanged), only by its content.

Several processes may share the database (WAL journal, busy timeout). A database
locked by another process past the short busy timeout is not used for the rest
of the run, and left as it is; one that cannot be opened or read as a database
is moved aside and built anew; a summary that does not read back as one is a
miss, and is written again. Summaries are JSON: the
cache never holds anything that would run when read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

TYPE_CHECKING = False  # true for type checkers; a warm `check` (`run_cache`) imports neither `typing` nor the readers
if TYPE_CHECKING:
    from typing import Any

    from server.engine.config import Config
    from server.engine.recording import Recording
    from server.engine.summary_records import RecordingSummary


def _warn(message: str, *args: object) -> None:
    """Log a warning about the cache, importing `logging` only then: 5 ms a warm `check` has no other use for."""
    import logging  # noqa: PLC0415

    logging.getLogger(__name__).warning(message, *args)


ENV_DIR = "REPLAY_LENS_CACHE_DIR"
"""Where the cache lives; `off` (or empty) turns it off."""
FILE_NAME = "cache-v2.sqlite3"
"""Named by its schema (the tables; v2: a file's ctime is part of its stat, v1's index took a rewrite that put
back the old size and mtime for the old content): a new summary format only misses, through the fingerprint (which
also tells the compressed summaries of earlier versions from today's plain JSON)."""
RACY_SECONDS = 2.0
"""A file modified this recently is looked up by content only (its next write may keep the same mtime)."""
CHANGE_SECONDS = 0.05
"""Likewise for a file whose inode changed this recently (longer than the kernel's clock tick): a write that puts
the old mtime back (`rsync -t`, `cp -p`) still changes the ctime, unless it comes within the same tick."""
UNUSED_DAYS = 30
BUSY_SECONDS = 1.0
"""How long a statement waits for another process's lock: longer than any write of ours takes, and once
past it the cache is off for the run (a process holding the lock for good would cost this on every query)."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS summaries (
    digest TEXT NOT NULL, fingerprint TEXT NOT NULL, summary BLOB NOT NULL, used REAL NOT NULL,
    PRIMARY KEY (digest, fingerprint)
);
CREATE TABLE IF NOT EXISTS reports (
    digest TEXT NOT NULL, fingerprint TEXT NOT NULL, report BLOB NOT NULL, used REAL NOT NULL,
    PRIMARY KEY (digest, fingerprint)
);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, signature TEXT NOT NULL, output BLOB NOT NULL, status INTEGER NOT NULL,
    used REAL NOT NULL
);
"""


def default_directory() -> Path | None:
    """`$REPLAY_LENS_CACHE_DIR`, else `$XDG_CACHE_HOME/replay-lens`, else `~/.cache/replay-lens`; None when off."""
    chosen = os.environ.get(ENV_DIR)
    if chosen is not None:
        return None if chosen.strip() in ("", "off") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "replay-lens"


@functools.cache
def engine_digest() -> str:
    """A hash of the engine's own source: a new version of the code never reads an old summary."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.relative_to(Path(__file__).parent).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def summary_fingerprint(config: Config) -> str:
    from server.engine.summary_records import FORMAT  # noqa: PLC0415  # see the imports

    allowed = [pattern.pattern for pattern in config.allow_volatile]
    parts = [FORMAT, config.rules.fingerprint(), allowed, engine_digest()]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class SummaryCache:
    """Recording summaries by content and fingerprint; every failure is a miss, never an error."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._connection: sqlite3.Connection | None = None
        self._broken = False
        self._swept = False
        self._lock = threading.RLock()
        """One connection for every thread (the server reads in worker threads), one statement at a time."""

    @classmethod
    def default(cls) -> SummaryCache | None:
        directory = default_directory()
        return None if directory is None else cls(directory)

    def load(self, path: Path, stat: os.stat_result, config: Config) -> tuple[Recording, str] | None:
        """The summary recording of `path` (whose stat is `stat`) and the sha256 of its bytes, when unchanged
        since it was summarized; else None."""
        row = self._query(
            "SELECT s.summary, f.digest FROM files f JOIN summaries s ON s.digest = f.digest "
            "WHERE f.path = ? AND f.size = ? AND f.mtime_ns = ? AND f.ctime_ns = ? AND f.inode = ? "
            "AND s.fingerprint = ?",
            (_key(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, summary_fingerprint(config)),
        )
        recording = None if row is None else self._decoded(path, row[0], config)
        return None if recording is None or row is None else (recording, str(row[1]))

    def knows(self, path: Path) -> bool:
        """True when a file was summarized at `path` before (worth hashing first: it may be touched, not changed)."""
        return self._query("SELECT 1 FROM files WHERE path = ?", (_key(path),)) is not None

    def load_digest(self, path: Path, digest: str, config: Config) -> Recording | None:
        """The summary recording of content already read (a file touched but not changed, a copy)."""
        row = self._query(
            "SELECT summary FROM summaries WHERE digest = ? AND fingerprint = ?", (digest, summary_fingerprint(config))
        )
        return None if row is None else self._decoded(path, row[0], config)

    def store(
        self, path: Path, stat: os.stat_result | None, digest: str, summary: RecordingSummary, config: Config
    ) -> None:
        """Keep the `summary` of `path`, whose bytes hash to `digest` (its stat was `stat` all through the read)."""
        if self._broken:
            return
        # Plain JSON text: zlib took as long as the encoding (16 ms of a 33 MB recording's first
        # diagnostics) and its undoing 2 ms of every warm load, for a cache 2.6 times smaller.
        blob = json.dumps(summary.to_json(), separators=(",", ":"))
        with self._writing() as connection:
            if connection is not None:
                connection.execute(
                    "INSERT OR REPLACE INTO summaries (digest, fingerprint, summary, used) VALUES (?, ?, ?, ?)",
                    (digest, summary_fingerprint(config), blob, time.time()),
                )
                _note_file(connection, path, stat, digest)

    def remember(self, path: Path, stat: os.stat_result | None, digest: str) -> None:
        """Note that `path` (unchanged through its read) holds `digest`, so the next run need not read it."""
        with self._writing() as connection:
            if connection is not None:
                _note_file(connection, path, stat, digest)

    # Fixture reports (`fixture_cache`) are kept beside the summaries, in their own table, by the same
    # content digests and the same `files` stat index.

    def entries_under(self, top: Path, fingerprint: str) -> dict[bytes, tuple[int, int, int, int, str, Any]]:
        """Every entry under `fingerprint` of a file at or under `top`, by path key, with the size, mtime, ctime,
        inode and content digest it was kept at: one query for a whole tree instead of one per file."""
        key = _key(top)
        return {
            row[0]: (row[1], row[2], row[3], row[4], row[5], row[6])
            for row in self._all(
                "SELECT f.path, f.size, f.mtime_ns, f.ctime_ns, f.inode, f.digest, r.report FROM files f "
                "JOIN reports r ON r.digest = f.digest WHERE r.fingerprint = ? "
                "AND (f.path = ? OR (f.path >= ? AND f.path < ?))",
                (fingerprint, key, key + b"/", key + b"0"),  # b"0" follows b"/": the folder's whole subtree
            )
        }

    def entry(self, digest: str, fingerprint: str) -> Any:
        """The report kept for content `digest` under `fingerprint` (JSON text), or None."""
        row = self._query("SELECT report FROM reports WHERE digest = ? AND fingerprint = ?", (digest, fingerprint))
        return None if row is None else row[0]

    def store_entries(
        self, rows: list[tuple[Path, os.stat_result | None, str, dict[str, Any]]], fingerprint: str
    ) -> None:
        """Keep each `(path, stat, digest, entry)` under `fingerprint`, all in one transaction (10,000 small
        files would otherwise cost a commit each)."""
        if self._broken or not rows:
            return
        now = time.time()
        with self._writing() as connection:
            if connection is not None:
                for path, stat, digest, entry in rows:
                    connection.execute(
                        "INSERT OR REPLACE INTO reports (digest, fingerprint, report, used) VALUES (?, ?, ?, ?)",
                        (digest, fingerprint, json.dumps(entry, separators=(",", ":")), now),
                    )
                    _note_file(connection, path, stat, digest)

    # Whole runs' output (`run_cache`): one row per run key (settings), the latest signature (files) only.

    def run_output(self, key: str, signature: str) -> tuple[str, int] | None:
        """The output and exit status kept for a run with `key` over files with `signature`, or None."""
        row = self._query("SELECT output, status FROM runs WHERE key = ? AND signature = ?", (key, signature))
        if row is None or not isinstance(row[0], bytes) or not isinstance(row[1], int):
            return None
        try:
            return row[0].decode("utf-8", "surrogatepass"), row[1]
        except UnicodeDecodeError:
            return None

    def store_run(self, key: str, signature: str, output: str, status: int) -> None:
        """Keep a run's `output` (any text: surrogates of names that are not UTF-8 kept as they are)."""
        if self._broken:
            return
        blob = output.encode("utf-8", "surrogatepass")
        with self._writing() as connection:
            if connection is not None:
                connection.execute(
                    "INSERT OR REPLACE INTO runs (key, signature, output, status, used) VALUES (?, ?, ?, ?, ?)",
                    (key, signature, blob, status, time.time()),
                )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _decoded(self, path: Path, blob: Any, config: Config) -> Recording | None:
        from server.engine.summary import from_summary  # noqa: PLC0415  # see the imports
        from server.engine.summary_records import RecordingSummary, SummaryError  # noqa: PLC0415

        try:
            return from_summary(path, RecordingSummary.from_json(path, json.loads(blob)), config)
        except (TypeError, ValueError, SummaryError) as exc:  # JSON and summary errors are ValueErrors
            _warn("cache: a summary of %s does not read back (%s): summarizing it again", path, exc)
            return None

    def _query(self, sql: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._lock:
            return self._fetch(sql, parameters)

    def _fetch(self, sql: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
        for attempt in range(2):
            connection = self._connect()
            if connection is None:
                return None
            try:
                row: tuple[Any, ...] | None = connection.execute(sql, parameters).fetchone()
                return row
            except sqlite3.OperationalError as exc:  # locked past the timeout, disk I/O: a miss this time
                self._disable(exc) if _locked(exc) else _warn("cache: %s", exc)
                return None
            except sqlite3.DatabaseError as exc:
                self._rebuild(exc) if attempt == 0 else self._disable(exc)
        return None

    def _all(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Every row of a query; none when the cache cannot be read (as `_fetch` decides)."""
        with self._lock:
            for attempt in range(2):
                connection = self._connect()
                if connection is None:
                    return []
                try:
                    return connection.execute(sql, parameters).fetchall()
                except sqlite3.OperationalError as exc:
                    self._disable(exc) if _locked(exc) else _warn("cache: %s", exc)
                    return []
                except sqlite3.DatabaseError as exc:
                    self._rebuild(exc) if attempt == 0 else self._disable(exc)
        return []

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection | None]:
        """One write transaction; a failure to write is logged and forgotten (the cache only saves time)."""
        with self._lock:
            yield from self._transaction()

    def _transaction(self) -> Iterator[sqlite3.Connection | None]:
        connection = self._connect()
        if connection is not None:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._disable(exc) if _locked(exc) else _warn("cache: not written: %s", exc)
                connection = None
        if connection is None:
            yield None
            return
        try:
            if not self._swept:  # at the first write, not at opening: a run that only reads scans no table
                self._swept = True
                for table in ("summaries", "reports", "runs"):
                    connection.execute(f"DELETE FROM {table} WHERE used < ?", (time.time() - UNUSED_DAYS * 86400,))
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            _warn("cache: not written: %s", exc)
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")

    def _connect(self) -> sqlite3.Connection | None:
        if self._broken:
            return None
        if self._connection is None:
            try:
                self._connection = self._open()
            except sqlite3.DatabaseError as exc:
                if _locked(exc):  # another process's database, not a broken one: leave it as it is
                    self._disable(exc)
                    return None
                self._rebuild(exc)
                try:
                    self._connection = self._open()
                except (sqlite3.Error, OSError) as again:
                    self._disable(again)
            except OSError as exc:
                self._disable(exc)
        return self._connection

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
        except BaseException:
            connection.close()
            raise
        return connection

    def _rebuild(self, error: Exception) -> None:
        """A database that does not read as one: set it aside (for a look) and start a new one."""
        _warn("cache: %s is not a usable database (%s): starting a new one", self.path, error)
        self.close()
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{self.path}{suffix}")
            try:
                old.replace(Path(f"{old}.broken"))
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._disable(exc)
                return

    def _disable(self, error: Exception) -> None:
        _warn("cache: off for this run: %s", error)
        self.close()
        self._broken = True


def _locked(error: sqlite3.Error) -> bool:
    """Whether `error` says another connection holds a lock (the database itself may be fine)."""
    return getattr(error, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _note_file(connection: sqlite3.Connection, path: Path, stat: os.stat_result | None, digest: str) -> None:
    """Let `path`'s stat lead to `digest`, unless it changed during the read or was written too recently to tell."""
    now = time.time()
    if stat is not None and now - stat.st_mtime > RACY_SECONDS and now - stat.st_ctime > CHANGE_SECONDS:
        connection.execute(
            "INSERT OR REPLACE INTO files (path, size, mtime_ns, ctime_ns, inode, digest) VALUES (?, ?, ?, ?, ?, ?)",
            (_key(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, digest),
        )


def _key(path: Path) -> bytes:
    """The absolute path as the bytes the file system holds: a name that is not UTF-8 (`bad\\xffname.jsonl`,
    decoded with surrogates) has no text SQLite could store, and no two names share their bytes."""
    return os.fsencode(os.path.abspath(path))
