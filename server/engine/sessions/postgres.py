"""LangGraph checkpoints in PostgreSQL (`PostgresSaver`), read by a `postgresql://` URL.

The tables differ from SQLite's: `checkpoints.checkpoint` is JSONB holding only
primitive channel values; every other channel (the message lists) is a row of
`checkpoint_blobs` per channel *version*, found through the checkpoint's
`channel_versions`; pending writes are `checkpoint_writes`. This module only
fetches rows and hands them to `langgraph.build_steps`, so both savers read the same.

Reading is read-only (one read-only repeatable-read transaction, so every page
comes from the same snapshot, and a statement timeout), paged in
SQL (checkpoints by keyset, a page at a time), and `psycopg` is imported only
when a URL is used. The password (in the URL, `PGPASSWORD` or `~/.pgpass`,
as libpq does) is never shown: every message and every listed path carries the
URL with its password masked. Failures (a wrong URL, a refused connection,
missing tables, permission denied, a server gone mid-read) are findings and
one marked step, never a traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from server.engine import findings as codes
from server.engine.findings import Severity
from server.engine.sessions import langgraph
from server.engine.sessions.model import Session, SessionInfo, Step, finding, location, unreadable_step

if TYPE_CHECKING:
    import psycopg

KIND = "langgraph-postgres"
SCHEMES = ("postgresql://", "postgres://")
PAGE = 100
"""Checkpoints fetched per query."""
MAX_SESSIONS = 10_000
"""Sessions listed from one database (the listing query is bounded); past it a warning says the list is cut."""
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT_MS = 60_000
_SKIPPED_CHANNELS = ("branch:", "__start__")
"""Channels never holding messages or `Send`s (`__pregel_tasks` names the node of each push task)."""
_real_urls: dict[str, str] = {}
"""Masked URL -> URL as given, so a listed session can be opened again without showing its password."""


class PostgresError(Exception):
    """The database cannot be read; the message is safe to show (password masked)."""


def is_url(place: str | Path) -> bool:
    return location(place).startswith(SCHEMES)


def mask(url: str) -> str:
    """The URL with its password replaced by `****` (user, host, port and database kept)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


def path_of(url: str) -> Path:
    """The path a session from `url` is listed under: the masked URL (remembered to reconnect)."""
    masked = mask(url)
    _real_urls[masked] = url
    return Path(masked)


def _real(path: Path) -> str:
    text = location(path)
    return _real_urls.get(text, text)


def _safe(exc: BaseException, url: str) -> str:
    """A driver message without the password, on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    password = urlsplit(url).password
    if password:
        text = text.replace(password, "****")
    return text


def _reason(exc: BaseException, url: str) -> str:
    import psycopg  # noqa: PLC0415  # only when a URL is used

    where = mask(url)
    text = _safe(exc, url)
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return f"{where}: no LangGraph checkpoint tables (is this PostgresSaver's database? {text})"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return f"{where}: permission denied reading the checkpoint tables ({text})"
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return f"{where}: a query took longer than {STATEMENT_TIMEOUT_MS // 1000} s and was cancelled ({text})"
    lowered = text.lower()
    if isinstance(exc, ValueError) or ("invalid" in lowered and ("option" in lowered or "uri" in lowered)):
        return f"{where}: not a valid PostgreSQL URL ({text})"
    if isinstance(exc, psycopg.OperationalError) and "authentication failed" in text:
        return f"{where}: the server refused the credentials ({text}; set PGPASSWORD or ~/.pgpass)"
    if isinstance(exc, psycopg.OperationalError):
        return f"{where}: cannot reach the database or it went away ({text})"
    return f"{where}: the database cannot be read ({text})"


@contextlib.contextmanager
def connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    """A read-only connection (raises `PostgresError` with a safe message)."""
    import psycopg  # noqa: PLC0415  # only when a URL is used

    try:
        connection = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="replay-lens")
    except (psycopg.Error, ValueError) as exc:
        raise PostgresError(_reason(exc, url)) from None
    try:
        connection.read_only = True
        # One snapshot for the whole read: pages, blobs and writes agree even while a graph writes.
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        yield connection
    except psycopg.Error as exc:
        raise PostgresError(_reason(exc, url)) from None
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.rollback()
        connection.close()


def _pairs(connection: psycopg.Connection[Any]) -> list[tuple[str, str, str, int]]:
    """Every (thread, namespace) with its first checkpoint and count, at most `MAX_SESSIONS` of them."""
    rows = connection.execute(
        "SELECT thread_id, checkpoint_ns, MIN(checkpoint_id), COUNT(*) FROM checkpoints "
        "GROUP BY thread_id, checkpoint_ns ORDER BY thread_id, checkpoint_ns LIMIT %s",
        (MAX_SESSIONS + 1,),
    ).fetchall()
    return [(str(thread), str(namespace or ""), str(first), int(total)) for thread, namespace, first, total in rows]


def list_sessions(path: Path, problems: list[Any]) -> list[SessionInfo]:
    url = _real(path)
    path = path_of(url)
    try:
        with connect(url) as connection:
            pairs = _pairs(connection)
    except PostgresError as exc:
        problems.append(finding(codes.TRACE_ERROR, path, None, f"cannot list sessions: {exc}"))
        return [SessionInfo(KIND, path, mask(url), title=f"unreadable checkpoints: {exc}")]
    if len(pairs) > MAX_SESSIONS:
        del pairs[MAX_SESSIONS:]
        message = f"{mask(url)}: only the first {MAX_SESSIONS:,} threads and namespaces are listed"
        problems.append(finding(codes.TRACE_ERROR, path, None, message, severity=Severity.WARNING))
    return [
        langgraph.session_info(KIND, path, thread, ns, first, total, " (PostgreSQL)")
        for thread, ns, first, total in pairs
    ]


def _rows(connection: psycopg.Connection[Any], thread: str, namespace: str) -> Iterator[langgraph.Checkpoint]:
    """Checkpoints in id order, a page per query, with their channel blobs and pending writes."""
    after = ""
    blobs: dict[tuple[str, str], Any] = {}
    while True:
        page = connection.execute(
            "SELECT checkpoint_id, checkpoint, metadata FROM checkpoints "
            "WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id > %s ORDER BY checkpoint_id LIMIT %s",
            (thread, namespace, after, PAGE),
        ).fetchall()
        for checkpoint_id, state, metadata in page:
            after = str(checkpoint_id)
            yield _checkpoint(connection, thread, namespace, after, state, metadata, blobs)
        if len(page) < PAGE:
            return


def _checkpoint(
    connection: psycopg.Connection[Any],
    thread: str,
    namespace: str,
    checkpoint_id: str,
    state: Any,
    metadata: Any,
    blobs: dict[tuple[str, str], Any],
) -> langgraph.Checkpoint:
    """One checkpoint with its blob channels filled in (blobs of unchanged versions are decoded once)."""
    record = langgraph.Checkpoint(checkpoint_id, "jsonb", 0, state, langgraph.metadata_of(metadata))
    if not isinstance(state, dict):
        record.error = ValueError("the checkpoint is not a JSON object")
        return record
    versions = state.get("channel_versions")
    wanted = {
        (str(channel), str(version))
        for channel, version in (versions.items() if isinstance(versions, dict) else [])
        if not str(channel).startswith(_SKIPPED_CHANNELS)
    }
    missing = sorted(wanted - set(blobs))
    if missing:
        rows = connection.execute(
            "SELECT channel, version, type, blob FROM checkpoint_blobs "
            "WHERE thread_id = %s AND checkpoint_ns = %s AND (channel, version) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[]))",
            (thread, namespace, [c for c, _ in missing], [v for _, v in missing]),
        ).fetchall()
        for channel, version, kind, blob in rows:
            blobs[(str(channel), str(version))] = langgraph.decode_checkpoint(checkpoint_id, kind, blob)
    values = dict(state.get("channel_values") or {})
    for key in sorted(wanted):
        stored = blobs.get(key)
        if stored is None or stored.kind in ("empty", "null"):
            continue
        if stored.error is not None:
            record.error, record.kind, record.size = stored.error, stored.kind, stored.size
            return record
        values[key[0]] = stored.state
    for key in [key for key in blobs if key not in wanted]:
        del blobs[key]
    record.state = {**state, "channel_values": values}
    record.writes = [
        langgraph.decode_write(*row)
        for row in connection.execute(
            "SELECT task_id, task_path, channel, type, blob FROM checkpoint_writes "
            "WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s ORDER BY task_id, idx",
            (thread, namespace, checkpoint_id),
        )
    ]
    return record


def iter_steps(info: SessionInfo, sink: Session, *, full_inputs: bool = True) -> Iterator[Step]:
    url = _real(info.path)
    produced = 0
    try:
        with connect(url) as connection:
            pairs = connection.execute(
                "SELECT DISTINCT thread_id, checkpoint_ns FROM checkpoints WHERE thread_id = ANY(%s)",
                (langgraph.thread_candidates(info.id),),
            ).fetchall()
            thread, namespace = langgraph.split_session_id(info.id, pairs)
            namespaces = {ns for other, ns in pairs if other == thread}
            rows = _rows(connection, thread, namespace)
            for step in langgraph.build_steps(
                rows, info, sink, full_inputs=full_inputs, namespaces=namespaces, namespace=namespace
            ):
                produced += 1
                yield step
    except PostgresError as exc:
        yield unreadable_step(info, sink, str(exc), produced)
