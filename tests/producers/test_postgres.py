"""PostgreSQL sources that cannot be read: each a clear error or a finding, never a traceback, never a password."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from server.engine.sessions import StepKind, resolve
from server.engine.sessions.model import Session
from server.engine.sessions.postgres import connect, iter_steps
from tests.conftest import run_cli
from tests.producers.conftest import PASSWORD, Postgres, Truth, free_port


def test_a_password_in_the_url_is_never_shown(postgres: Postgres, postgres_run: tuple[str, Truth]) -> None:
    url = postgres.url("langgraph", password=PASSWORD)
    for args in (("sessions", url), ("sessions", url, "--format", "json"), ("steps", url, "--session-id", "react-1")):
        result = run_cli(*args)
        assert result.code == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
        assert "replay:****@127.0.0.1" in result.stdout


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
