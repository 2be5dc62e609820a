"""A fake OpenAI Responses API on 127.0.0.1 that answers the real Codex CLI from a script.

Codex streams `POST /v1/responses` as server-sent events; this server replays,
for each request in order, the output items of the next scripted response
(`response.created`, `response.output_item.added`/`.done` per item, text
deltas, `response.completed` with the response id and usage). It logs every
request body it received and every event it sent: that log is the ground
truth the conformance tests compare the CLI's own files with.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """The scripted responses, handed out in request order, and the log of the exchange."""

    responses: list[dict[str, Any]]
    log: list[dict[str, Any]] = field(default_factory=list)
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_response(self) -> dict[str, Any] | None:
        with self.lock:
            if self.served >= len(self.responses):
                return None
            response = self.responses[self.served]
            self.served += 1
            return response


def sse_events(response: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """The events of one streamed response, in the order the real API sends them."""
    base = {"id": response["id"], "object": "response", "model": model, "status": "in_progress", "output": []}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": base}]
    for position, item in enumerate(response["output"]):
        events.append({"type": "response.output_item.added", "output_index": position, "item": item})
        if item["type"] == "message":
            for block in item["content"]:
                events.append(
                    {
                        "type": "response.output_text.delta",
                        "item_id": item["id"],
                        "output_index": position,
                        "content_index": 0,
                        "delta": block["text"],
                    }
                )
        if item["type"] == "reasoning":
            for index, part in enumerate(item["summary"]):
                events.append(
                    {
                        "type": "response.reasoning_summary_text.delta",
                        "item_id": item["id"],
                        "output_index": position,
                        "summary_index": index,
                        "delta": part["text"],
                    }
                )
        events.append({"type": "response.output_item.done", "output_index": position, "item": item})
    completed = {**base, "status": "completed", "output": response["output"], "usage": response["usage"]}
    events.append({"type": "response.completed", "response": completed})
    return events


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

        def _record(self, body: Any, status: int, sent: Any) -> None:
            with script.lock:
                script.log.append(
                    {"method": self.command, "path": self.path, "body": body, "status": status, "sent": sent}
                )

        def _json(self, status: int, document: Any, body: Any = None) -> None:
            raw = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            self._record(body, status, document)

        def do_GET(self) -> None:
            if self.path.split("?")[0].endswith("/models"):
                self._json(200, {"object": "list", "data": [], "models": []})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            if not self.path.split("?")[0].endswith("/responses"):
                self._json(404, {"error": {"message": f"no route {self.path}"}}, body)
                return
            response = script.next_response()
            if response is None:
                self._json(500, {"error": {"message": "the script has no more responses"}}, body)
                return
            model = body.get("model", "") if isinstance(body, dict) else ""
            events = sse_events(response, model)
            stream = "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(stream)))
            self.end_headers()
            self.wfile.write(stream)
            self._record(body, 200, events)

    return Handler


def serve(script: Script) -> ThreadingHTTPServer:
    """A started server on a free loopback port (stop it with `shutdown()`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
