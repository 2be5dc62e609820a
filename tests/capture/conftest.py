"""The language server fixture of tests/lsp, for the editor side of the capture."""

from tests.lsp.conftest import client

__all__ = ["client"]
