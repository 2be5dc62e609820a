"""Shared fixtures of the producer conformance tests: a private PostgreSQL server for the test session.

Debian's `postgresql` package provides the binaries (`make test` installs it
through `make postgres`); a missing install fails loudly, never skips. The
cluster lives in a temp folder, listens on 127.0.0.1 on a free port only (no
Unix socket), runs as an unprivileged user (initdb refuses root: Debian's
`postgres` user when the tests run as root), and is stopped after the session.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from tests.producers.langgraph.graphs import generate

Truth = dict[str, list[dict[str, Any]]]

SUPERUSER = "replay"
PASSWORD = "s3cret-Pw-not-for-reports"
INSTALL_HINT = "run `make postgres` (apt-get install -y postgresql) first"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder; fails the test session when there is none."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
    if not found:
        pytest.fail(f"PostgreSQL is not installed: {INSTALL_HINT}", pytrace=False)
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Postgres:
    """A running private cluster: `url(...)` builds libpq URLs to it."""

    port: int
    data: Path
    run_as: list[str]
    bin: Path

    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> None:
        subprocess.run(
            [str(self.bin / "psql"), "-v", "ON_ERROR_STOP=1", "-q", "-d", self.url(database), "-c", sql],
            env={**os.environ, "PGPASSWORD": PASSWORD},
            check=True,
            capture_output=True,
            text=True,
        )

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), *args], check=True, capture_output=True
        )


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    binaries = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="replay-lens-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    (root / "pw").write_text(PASSWORD)
    if run_as:
        shutil.chown(root / "pw", "postgres", "postgres")
    subprocess.run(
        [
            *run_as,
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={root / 'pw'}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    server = Postgres(free_port(), data, run_as, binaries)
    options = f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories=''"
    server.ctl("-o", options, "-l", str(root / "server.log"), "-w", "start")
    try:
        yield server
    finally:
        server.ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


# -- LangGraph runs, generated once per test session ------------------------------------------
@pytest.fixture(scope="session")
def pg_env(postgres: Postgres) -> Iterator[None]:
    """libpq reads the password from PGPASSWORD, in this process and in the CLI processes it starts."""
    before = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = PASSWORD
    yield
    if before is None:
        os.environ.pop("PGPASSWORD", None)
    else:
        os.environ["PGPASSWORD"] = before


@pytest.fixture(scope="session")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Truth]:
    path = tmp_path_factory.mktemp("langgraph") / "checkpoints.sqlite"
    connection = sqlite3.connect(path, check_same_thread=False)
    truth = generate(SqliteSaver(connection))
    connection.close()
    return str(path), truth


@pytest.fixture(scope="session")
def postgres_run(postgres: Postgres, pg_env: None) -> tuple[str, Truth]:
    postgres.psql("CREATE DATABASE langgraph")
    url = postgres.url("langgraph")
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        truth = generate(saver)
    return url, truth
