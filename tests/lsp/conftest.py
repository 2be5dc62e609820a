"""Fixtures for the language server tests: a real `python -m server --stdio` process per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig

from tests.lsp.helpers import SERVER_COMMAND, SERVER_ENV, Client, copy_samples, make_client


@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    config=ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client, server_env=SERVER_ENV)
)
async def client(lsp_client: Client) -> AsyncIterator[None]:
    """A client connected to a fresh server; each test initializes it on its own workspace."""
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A private copy of the sample workspace (tests rewrite it)."""
    return copy_samples(tmp_path / "workspace")
