"""Logging for server mode: stderr and the client's `window/logMessage`, never stdout.

stdout carries the protocol in `--stdio` mode, so one stray write corrupts the
stream. Only the project's own loggers are forwarded to the client: pygls logs
every message it sends, and forwarding that would feed itself.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

_LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
    logging.DEBUG: types.MessageType.Log,
}


class ClientLogHandler(logging.Handler):
    """Send log records to the client as `window/logMessage`, from any thread."""

    def __init__(self, server: LanguageServer) -> None:
        super().__init__()
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        self._sending = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.loop
        if loop is None or loop.is_closed() or getattr(self._sending, "active", False):
            return
        try:
            message = self.format(record)
        except Exception:  # a broken record must not break the server
            self.handleError(record)
            return
        kind = next((kind for level, kind in _LEVELS.items() if record.levelno >= level), types.MessageType.Log)
        params = types.LogMessageParams(type=kind, message=message)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._send(params)
        else:
            loop.call_soon_threadsafe(self._send, params)

    def _send(self, params: types.LogMessageParams) -> None:
        self._sending.active = True
        try:
            self.server.window_log_message(params)
        except Exception:  # the connection may be gone during shutdown
            pass
        finally:
            self._sending.active = False


class _ChosenAnswers(logging.Filter):
    """Drop pygls's traceback of a request answered with a `JsonRpcException`: that error is the answer a feature
    chose, and `server.lsp.routes` logs every other exception once, with its method."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], JsonRpcException))


def setup_logging(level: str) -> None:
    """Send every log record to stderr at `level` (the client handler is added once a server exists)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs every message it sends at INFO: only worth it when debugging.
    logging.getLogger("pygls").setLevel(logging.INFO if root.level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_ChosenAnswers())


def attach_client_handler(server: LanguageServer, level: str) -> ClientLogHandler:
    handler = ClientLogHandler(server)
    handler.setLevel(level.upper())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("server").addHandler(handler)
    return handler
