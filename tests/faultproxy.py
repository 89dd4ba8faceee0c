"""A fault-injecting HTTP/1.1 proxy between the kiosk and the sandbox exchange, for tests.

It runs an asyncio server on 127.0.0.1 in a background thread, forwards each request to the
upstream exchange, and can break chosen exchanges on the way: reset the connection before the
request reaches the exchange, or drop the answer after the exchange has committed (the case that
doubles payments in naive clients). Faults are armed per request path prefix, so a test says
exactly which request fails.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class Fault(StrEnum):
    RESET_BEFORE = "reset_before"  # close the kiosk's connection before forwarding
    DROP_AFTER_COMMIT = "drop_after_commit"  # forward, read the answer, then close unanswered


@dataclass
class _Plan:
    faults: deque[tuple[str, str, Fault]] = field(default_factory=deque)
    injected: list[tuple[str, Fault]] = field(default_factory=list)


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (or none); None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head + body


class FaultProxy:
    """Start with `start()`; `url` is where the kiosk should send its requests."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._plan = _Plan()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def injected(self) -> list[tuple[str, Fault]]:
        return list(self._plan.injected)

    def arm(self, method: str, path_prefix: str, fault: Fault) -> None:
        """Break the next request whose method and path match."""
        self._plan.faults.append((method, path_prefix, fault))

    def start(self) -> FaultProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            current = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not current:
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def _take_fault(self, request: bytes) -> Fault | None:
        line = request.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = line.partition(" ")
        path = rest.split(" ", 1)[0]
        for planned in list(self._plan.faults):
            if planned[0] == method and path.startswith(planned[1]):
                self._plan.faults.remove(planned)
                self._plan.injected.append((path, planned[2]))
                return planned[2]
        return None

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_w: asyncio.StreamWriter | None = None
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            while (request := await _read_message(client_r)) is not None:
                fault = self._take_fault(request)
                if fault is Fault.RESET_BEFORE:
                    return
                upstream_w.write(request)
                await upstream_w.drain()
                answer = await _read_message(upstream_r)
                if answer is None or fault is Fault.DROP_AFTER_COMMIT:
                    return
                client_w.write(answer)
                await client_w.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            return
        finally:
            client_w.close()
            if upstream_w is not None:
                upstream_w.close()
