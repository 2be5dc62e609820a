"""PostgreSQL sources that cannot be read: each a clear error or a finding, never a traceback, never a password."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig

from server.engine.sessions import StepKind, resolve
from server.engine.sessions import postgres as source
from server.engine.sessions.model import Session
from server.engine.sessions.postgres import connect, iter_steps, list_sessions
from tests.conftest import SAMPLES, run_cli
from tests.lsp.helpers import SERVER_COMMAND, SERVER_ENV, Client, make_client, start
from tests.lsp.test_sessions import plain
from tests.producers.conftest import PASSWORD, Postgres, Truth, free_port


def test_a_password_in_the_url_is_never_shown(postgres: Postgres, postgres_run: tuple[str, Truth]) -> None:
    url = postgres.url("langgraph", password=PASSWORD)
    alias = url.replace("postgresql://", "postgres://")
    for args in (
        ("sessions", url),
        ("sessions", url, "--format", "json"),
        ("steps", url, "--session-id", "react-1"),
        ("steps", alias, "--session-id", "team|alpha", "--format", "json"),
    ):
        result = run_cli(*args)
        assert result.code == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
        assert "replay:****@127.0.0.1" in result.stdout
    replayed = run_cli(
        "replay", url, "--session-id", "react-1", "--against", SAMPLES / "replay" / "write_note.ultra.json"
    )
    assert replayed.code == 1 and PASSWORD not in replayed.stdout + replayed.stderr


@pytest.mark.parametrize(
    ("make_url", "expected"),
    [
        (lambda pg: f"postgresql://replay@127.0.0.1:{free_port()}/langgraph", "cannot reach the database"),
        (lambda pg: pg.url("template1"), "no LangGraph checkpoint tables"),
        (lambda pg: pg.url("langgraph", user="outsider", password=PASSWORD), "permission denied"),
        (lambda pg: pg.url("langgraph", user="replay", password="wrong-password"), "password authentication failed"),
        (lambda pg: "postgresql://replay@127.0.0.1:notaport/langgraph", "not a valid PostgreSQL URL"),
    ],
)
def test_unreadable_databases_are_clear_errors(
    postgres: Postgres, postgres_run: tuple[str, Truth], make_url: object, expected: str
) -> None:
    postgres.psql(
        "DO $$ BEGIN CREATE ROLE outsider LOGIN PASSWORD '"
        + PASSWORD
        + "'; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    url = make_url(postgres)  # type: ignore[operator]
    listed = run_cli("sessions", url)
    assert listed.code == 0 and expected in listed.stderr, listed.stderr
    steps = run_cli("steps", url)
    assert steps.code == 1 and expected in steps.stdout, steps.stdout + steps.stderr
    assert "wrong-password" not in listed.stderr + steps.stdout and PASSWORD not in listed.stderr + steps.stdout


def test_the_listing_is_bounded(postgres_run: tuple[str, Truth], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_SESSIONS", 3)
    problems: list[Any] = []
    listed = list_sessions(Path(postgres_run[0]), problems)
    assert len(listed) == 3 and "only the first 3 threads" in problems[0].message
    assert problems[0].severity.name == "WARNING"


def test_reading_is_read_only(postgres: Postgres, postgres_run: tuple[str, Truth]) -> None:
    with connect(postgres_run[0]) as connection, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        connection.execute("DELETE FROM checkpoints")


def test_a_server_that_goes_away_mid_read_is_a_finding(postgres: Postgres, postgres_run: tuple[str, Truth]) -> None:
    info, _ = resolve(Path(postgres_run[0]), "long-1")
    sink = Session(info)
    steps = iter_steps(info, sink, full_inputs=False)
    first = next(steps)
    assert first.kind is StepKind.MODEL
    postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'replay-lens'")
    rest = list(steps)
    assert rest[-1].kind is StepKind.OPAQUE and "went away" in (rest[-1].problem or "")
    assert [f.code.name for f in sink.findings] == ["trace-error"]


@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    config=ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client, server_env=SERVER_ENV)
)
async def client(lsp_client: Client) -> AsyncIterator[None]:
    """A real language server, started without PGPASSWORD: the configured URL carries the password."""
    yield
    await lsp_client.shutdown_session()


async def request(client: Client, method: str, params: dict[str, Any]) -> Any:
    return plain(await client.protocol.send_request_async(method, params))  # type: ignore[no-untyped-call]


async def test_the_sessions_view_lists_the_configured_databases(
    client: Client, postgres: Postgres, postgres_run: tuple[str, Truth], tmp_path: Path
) -> None:
    url = postgres.url("langgraph", password=PASSWORD)
    await start(client, tmp_path, options={"databases": [url]})
    listing = await request(client, "replayLens/sessions", {})
    listed = [entry for entry in listing["sessions"] if entry["kind"] == "langgraph-postgres"]
    cli = run_cli("sessions", url, "--format", "json").json()
    assert [(s["id"], s["uri"], s["startedAt"]) for s in listed] == [
        (s["id"], s["uri"], s["startedAt"]) for s in cli["sessions"]
    ]
    assert "react-1" in [s["id"] for s in listed] and listed[0]["uri"].startswith("postgresql://replay:****@")
    page = await request(client, "replayLens/steps", {"uri": listed[0]["uri"], "sessionId": "react-1"})
    assert page == run_cli("steps", url, "--session-id", "react-1", "--format", "json").json()
    assert PASSWORD not in json.dumps(listing) + json.dumps(page)
    with pytest.raises(JsonRpcException, match=r"not in the replayLens\.databases"):
        await request(client, "replayLens/steps", {"uri": f"postgresql://replay@127.0.0.1:{free_port()}/x"})
