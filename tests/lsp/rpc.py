"""A raw JSON-RPC client over a real `python -m server --stdio` process, for the tests a typed client cannot write.

Malformed frames, invalid bodies and cancellations must reach the server byte for
byte, and the tests need the server's process id (for its memory), so this client
speaks the wire format itself. Requests the server sends (registrations,
progress, refreshes) are answered with `null`, as a minimal client would, unless
`hold` is set: then they wait for `release()`, which lets a test keep the server
waiting on its client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.lsp.helpers import SERVER_COMMAND, SERVER_ENV
from tests.lsp.zygote import server_pid

Message = dict[str, Any]
TIMEOUT = 30.0


def frame(message: Message | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class RawServer:
    """One server process; every message it sent is kept in `received`, in order."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.received: list[Message] = []
        self.stderr = bytearray()
        self.changed = asyncio.Event()
        self.hold = False
        self.held: list[Message] = []
        self._next_id = 0
        self._tasks = [asyncio.create_task(self._read_stdout()), asyncio.create_task(self._read_stderr())]

    @classmethod
    async def start(
        cls, cwd: Path | None = None, env: dict[str, str] | None = None, command: list[str] | None = None
    ) -> RawServer:
        process = await asyncio.create_subprocess_exec(
            *(command or SERVER_COMMAND),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env or SERVER_ENV,
            limit=2**26,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        """The server's process id (the process the launcher had forked, not the launcher)."""
        return server_pid(self.process.pid)

    def rss_kib(self) -> int:
        """The server's resident memory, from /proc (KiB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc")

    async def send_bytes(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def notify(self, method: str, params: Any = None) -> None:
        await self.send_bytes(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def request_frame(self, method: str, params: Any = None) -> tuple[int, bytes]:
        """A new request's id and bytes, to send later (several can go in one write)."""
        self._next_id += 1
        return self._next_id, frame({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})

    async def send_request(self, method: str, params: Any = None) -> int:
        """Send a request without waiting for its answer; returns its id."""
        identifier, data = self.request_frame(method, params)
        await self.send_bytes(data)
        return identifier

    async def request(self, method: str, params: Any = None, timeout: float = TIMEOUT) -> Message:
        """The whole response message (`result` or `error`) to a new request."""
        identifier = await self.send_request(method, params)
        return await self.response(identifier, timeout)

    async def response(self, identifier: int, timeout: float = TIMEOUT) -> Message:
        found: Message = await self.until(
            lambda: next((m for m in self.received if m.get("id") == identifier and "method" not in m), None),
            timeout,
            f"the response to request {identifier}",
        )
        return found

    async def until(self, condition: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition") -> Any:
        """Wait for `condition()` to be truthy, re-checking on every message from the server."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := condition()):
            remaining = deadline - loop.time()
            if remaining <= 0 or self.process.returncode is not None:
                tail = self.stderr[-3000:].decode("utf-8", "replace")
                raise AssertionError(f"gave up waiting for {what} (exit {self.process.returncode}); stderr:\n{tail}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))
        return value

    def notifications(self, method: str, since: int = 0) -> list[Any]:
        """The params of every `method` notification, from `received[since]` on."""
        return [m.get("params") for m in self.received[since:] if m.get("method") == method and "id" not in m]

    def diagnostics(self) -> dict[str, list[Message]]:
        """The last diagnostics published for each URI."""
        latest: dict[str, list[Message]] = {}
        for params in self.notifications("textDocument/publishDiagnostics"):
            latest[params["uri"]] = params["diagnostics"]
        return latest

    async def initialize(
        self, root: Path, options: dict[str, Any] | None = None, *, wait: bool = True, **capabilities: Any
    ) -> Message:
        """`initialize` + `initialized` on the folder `root`, then (with `wait`) wait until it is indexed."""
        params = {
            "processId": os.getpid(),
            "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "capabilities": capabilities,
            "initializationOptions": {"debounceMs": 20, **(options or {})},
        }
        reply = await self.request("initialize", params)
        await self.notify("initialized", {})
        if wait:
            await self.until(self.indexed, what="indexing")
        return reply

    def indexed(self) -> bool:
        statuses = self.notifications("replayLens/status")
        return bool(statuses) and not statuses[-1].get("indexing")

    async def release(self) -> None:
        """Answer the server's held requests, and stop holding."""
        self.hold = False
        held, self.held = self.held, []
        for message in held:
            await self.send_bytes(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))

    async def close(self) -> int:
        """Shut down politely, then make sure the process is gone; returns its exit status."""
        with contextlib.suppress(Exception):
            if self.process.returncode is None:
                await self.request("shutdown", None, timeout=10)
                await self.notify("exit")
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        for task in self._tasks:
            task.cancel()
        return self.process.returncode if self.process.returncode is not None else -1

    async def _read_stdout(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            headers: dict[str, str] = {}
            while (line := await stdout.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not line:
                return
            message = json.loads(await stdout.readexactly(int(headers["content-length"])))
            self.received.append(message)
            if "method" in message and "id" in message:  # a request of the server's: answer it
                if self.hold:
                    self.held.append(message)
                else:
                    await self.send_bytes(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))
            self.changed.set()

    async def _read_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        while chunk := await stderr.read(65536):
            self.stderr += chunk
