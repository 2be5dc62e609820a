"""`--tcp` and `--ws`: loopback listeners that serve one client at a time, each with a server of its own.

pygls's own listeners share one protocol between every connection (a second
client received the first one's answers) and shut the whole server down when
the first connection closes. Here each connection gets a fresh server (its own
workspace, projects and log forwarding); while it is connected, another
connection is refused with a reason (a second editor cannot read or drive the
first one's workspace); when it leaves, only its server stops, and the listener
waits for the next client.

A web page can open a WebSocket to 127.0.0.1 and a `fetch` can POST to any
local port, so both listeners check who is talking:

- `--ws` accepts a handshake without an `Origin` header (editors and tools do
  not send one) or from a local tool's origin (`ORIGINS`: VS Code webviews and
  `http://127.0.0.1:*` / `http://localhost:*`); any other origin, a web page's,
  is refused with 403. With a token (`--token`, or `REPLAY_LENS_TOKEN`), the
  handshake must also carry it: `?token=…` in the URL or an
  `Authorization: Bearer …` header, else 401.
- `--tcp` refuses a connection whose first line is not an LSP header: an HTTP
  request from a browser (`POST / HTTP/1.1`) never reaches the protocol.
"""

from __future__ import annotations

import abc
import asyncio
import hmac
import logging
import re
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pygls.io_ import run_async, run_websocket
from pygls.lsp.server import LanguageServer

from server.lsp.pygls_private import set_stop_event
from server.lsp.wire import MAX_BODY_BYTES, FramedStream

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

log = logging.getLogger(__name__)


class Served(LanguageServer, abc.ABC):
    """A server of one connection (`server.lsp.server.ReplayLensServer`), stopped when its client leaves."""

    @abc.abstractmethod
    def stop_serving(self) -> None:
        """End this server's work when its client left (the process goes on)."""


ORIGINS = re.compile(r"(?:vscode-webview|vscode-file)://[^\s]*|http://(?:127\.0\.0\.1|localhost)(?::\d{1,5})?/?")
"""Origins of local tools a `--ws` handshake may come from (besides none at all)."""
_MAX_MESSAGE = MAX_BODY_BYTES
"""The largest WebSocket message, as for a stdio frame."""
_FIRST_LINE_SECONDS = 30
"""How long a TCP client may hold the one place before its first line (an editor sends `initialize` at once)."""
_LSP_HEADER = re.compile(rb"Content-(?:Length|Type):", re.IGNORECASE)


class _OneClient:
    """The client being served, if any: a second connection is refused while it is."""

    def __init__(self) -> None:
        self.busy = False

    def take(self, peer: Any, transport: str) -> bool:
        if self.busy:
            log.warning("refused a %s client from %s: another client is being served (one at a time)", transport, peer)
            return False
        self.busy = True
        log.info("%s client connected from %s", transport, peer)
        return True

    def release(self, server: Served | None, peer: Any) -> None:
        if server is not None:
            server.stop_serving()
        self.busy = False
        log.info("client %s left: waiting for the next one", peer)


def serve_tcp(make_server: Callable[[], Served], host: str, port: int) -> None:
    """Listen on `host:port` until interrupted, serving one client at a time."""
    clients = _OneClient()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not clients.take(peer, "TCP"):
            writer.close()
            return
        server: Served | None = None
        try:
            first = await asyncio.wait_for(reader.readline(), _FIRST_LINE_SECONDS)
            if not _LSP_HEADER.match(first):
                log.warning("refused a TCP client from %s: its first line is not an LSP header", peer)
                return
            server = make_server()
            server.protocol.set_writer(writer)
            set_stop_event(server, stop := threading.Event())
            await run_async(
                stop_event=stop,
                reader=FramedStream(reader, first),
                protocol=server.protocol,
                logger=log,
                error_handler=server.report_server_error,
            )
        except TimeoutError:
            log.warning("refused a TCP client from %s: it sent nothing in %d s", peer, _FIRST_LINE_SECONDS)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            log.info("TCP client %s: %s", peer, exc)
        finally:
            clients.release(server, peer)
            writer.close()

    async def listen() -> None:
        listener = await asyncio.start_server(connection, host, port)
        async with listener:
            await listener.serve_forever()

    asyncio.run(listen())


def serve_ws(make_server: Callable[[], Served], host: str, port: int, token: str | None) -> None:
    """Listen for WebSocket clients on `host:port` until interrupted, one at a time, from local origins only."""
    from websockets.asyncio.server import serve  # noqa: PLC0415  (pygls's ws extra)

    clients = _OneClient()

    def vet(connection: ServerConnection, request: Request) -> Response | None:
        origins = request.headers.get_all("Origin")
        origin = origins[0] if len(origins) == 1 else None if not origins else "several"
        if origin is not None and not ORIGINS.fullmatch(origin):
            log.warning("refused a WebSocket handshake from origin %r: not a local tool's", origin)
            return connection.respond(HTTPStatus.FORBIDDEN, "Replay Lens accepts no web page's connection.\n")
        if token is not None and not _carries(request, token):
            log.warning("refused a WebSocket handshake without the token")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Replay Lens needs its token (?token=...).\n")
        if clients.busy:
            log.warning("refused a WebSocket client: another client is being served (one at a time)")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Replay Lens is serving another client.\n")
        return None

    async def connection(websocket: ServerConnection) -> None:
        if not clients.take(websocket.remote_address, "WebSocket"):
            await websocket.close(1013, "serving another client")
            return
        server = make_server()
        try:
            set_stop_event(server, stop := threading.Event())
            await run_websocket(
                websocket=websocket,
                stop_event=stop,
                protocol=server.protocol,
                logger=log,
                error_handler=server.report_server_error,
            )
        finally:
            clients.release(server, websocket.remote_address)

    async def listen() -> None:
        async with serve(connection, host, port, process_request=vet, max_size=_MAX_MESSAGE) as listener:
            await listener.serve_forever()

    asyncio.run(listen())


def _carries(request: Request, token: str) -> bool:
    """Whether the handshake carries `token`: `?token=` in its URL, or `Authorization: Bearer`."""
    offered = parse_qs(urlsplit(request.path).query).get("token", [])
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer "):
        offered.append(bearer.removeprefix("Bearer ").strip())
    return any(hmac.compare_digest(candidate.encode(), token.encode()) for candidate in offered)
