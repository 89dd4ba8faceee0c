"""A tiny real HTTP server on 127.0.0.1 that answers with whatever a test scripts: the
exchange misbehaving (HTML error pages, broken JSON, wrong types, huge bodies). Health checks
always answer 200, and the changes feed is always empty, so only the delivery path is tested."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Keep the test output quiet."""

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path.startswith("/v1/changes"):
            self._reply(200, {}, b'{"changes": [], "next_after": 0, "has_more": false}')
        else:
            self._reply(200, {}, b'{"status": "ok"}')

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        script = self.server.script
        script.requests.append(("POST", self.path, body))
        self._reply(script.status, script.headers, script.body)


class _Server(ThreadingHTTPServer):
    script: Script


class ScriptedExchange:
    """Start it, point the kiosk at `url`, set `script` before each pass."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.script = Script()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def script(self) -> Script:
        return self._server.script

    def start(self) -> ScriptedExchange:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
