"""A fault-injecting HTTP/1.1 proxy between the kiosk and the sandbox exchange, for tests.

It runs an asyncio server on 127.0.0.1 in a background thread and forwards each request to the
upstream exchange on a fresh upstream connection, so the exchange can stop, restart or move
to another port (`upstream_port` may be changed at any time) while the kiosk keeps its
keep-alive connection to the proxy. On the way it can break chosen exchanges: reset the
connection before the exchange sees the request, reset it after the exchange committed (the
case that doubles payments in naive clients), cut the answer short, trickle it out slowly, or
answer 503 itself. Faults are either armed one at a time per path prefix (`arm`), so a test
says exactly which request fails, or drawn at random from a seeded generator (`fault_rate`),
so a campaign of many requests is reproducible. A constant `latency_s` delays every request
and every answer, for benchmarks. Bodies must carry Content-Length; chunked bodies are refused.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Fault(StrEnum):
    RESET_BEFORE = "reset_before"  # reset the kiosk's connection before forwarding
    DROP_AFTER_COMMIT = "drop_after_commit"  # forward, read the answer, then reset unanswered
    TRUNCATE = "truncate"  # forward, send the head and part of the body, then close
    TRICKLE = "trickle"  # forward, then send the answer a few bytes at a time, with a stall
    UNAVAILABLE = "unavailable"  # answer 503 with Retry-After without forwarding


ALL_FAULTS = tuple(Fault)
# Random faults hit only what changes the exchange; the probe and the feed stay clean.
FAULTED_PATHS = ("/v1/payments", "/v1/batch")


@dataclass(frozen=True, slots=True, kw_only=True)
class Trickle:
    """How slowly a trickled answer goes out.

    Pieces of `piece_bytes` leave `pause_s` apart, and once, at a random point, the answer
    stalls for a time drawn from `stall_s` (so a short client read timeout trips sometimes).
    The whole answer never takes much longer than `max_s`.
    """

    piece_bytes: int = 64
    pause_s: float = 0.01
    stall_s: tuple[float, float] = (0.0, 3.0)
    max_s: float = 5.0


@dataclass(frozen=True, slots=True)
class _Message:
    """One HTTP/1.1 request or answer, read whole."""

    head: bytes  # the start line and headers, through the blank line
    body: bytes

    @property
    def raw(self) -> bytes:
        return self.head + self.body

    @property
    def start_line(self) -> list[str]:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, sep, value = line.partition(b":")
            if sep and key.strip().lower() == name.encode():
                return value.strip().decode("latin-1")
        return None

    @property
    def closes(self) -> bool:
        """Whether the sender asked to close the connection after this message."""
        return (self.header("connection") or "").lower() == "close"


def _body_length(head: _Message) -> int:
    if head.header("transfer-encoding") is not None:
        raise ValueError("chunked bodies are not supported by the fault proxy")
    return int(head.header("content-length") or 0)


async def _read_head(reader: asyncio.StreamReader) -> _Message | None:
    """The head of the next message; None when the peer closed or sent nonsense."""
    try:
        return _Message(await reader.readuntil(b"\r\n\r\n"), b"")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None


async def _read_request(reader: asyncio.StreamReader) -> _Message | None:
    head = await _read_head(reader)
    if head is None:
        return None
    return _Message(head.head, await reader.readexactly(_body_length(head)))


async def _read_answer(reader: asyncio.StreamReader, *, method: str) -> _Message | None:
    head = await _read_head(reader)
    if head is None:
        return None
    status = int(head.start_line[1])
    bodiless = method == "HEAD" or status in (204, 304) or status < 200
    length = 0 if bodiless else _body_length(head)
    return _Message(head.head, await reader.readexactly(length))


def _unavailable(retry_after_s: int) -> bytes:
    body = (
        b'{"type":"about:blank","title":"Service Unavailable","status":503,'
        b'"code":"service_unavailable"}'
    )
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nRetry-After: {retry_after_s}\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _reset(writer: asyncio.StreamWriter) -> bool:
    """Abort the connection with a TCP reset rather than an orderly close; returns False."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


@dataclass
class _Plan:
    """Which requests fail: armed faults first, then a seeded draw. Thread-safe."""

    rng: random.Random
    rate: float
    kinds: tuple[Fault, ...]
    paths: tuple[str, ...]
    armed: deque[tuple[str, str, Fault]] = field(default_factory=deque)
    injected: list[tuple[str, Fault]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str, path: str) -> Fault | None:
        with self.lock:
            fault = self._armed(method, path) or self._drawn(path)
            if fault is not None:
                self.injected.append((path, fault))
            return fault

    def _armed(self, method: str, path: str) -> Fault | None:
        for planned in self.armed:
            if planned[0] == method and path.startswith(planned[1]):
                self.armed.remove(planned)
                return planned[2]
        return None

    def _drawn(self, path: str) -> Fault | None:
        # Only eligible requests consume draws, so the sequence of decisions depends on the
        # order of those requests alone, not on how often the kiosk probes or pulls.
        if self.rate <= 0 or not self.kinds or not path.startswith(self.paths):
            return None
        if self.rng.random() >= self.rate:
            return None
        return self.rng.choice(self.kinds)


class FaultProxy:
    """Start with `start()`; `url` is where the kiosk should send its requests.

    With `fault_rate` above zero, each request whose path starts with one of `paths`
    independently gets one of `faults` with that probability, decided by
    `random.Random(seed)` in the order the requests arrive.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        seed: int | None = None,
        fault_rate: float = 0.0,
        faults: Iterable[Fault] = ALL_FAULTS,
        paths: Iterable[str] = FAULTED_PATHS,
        latency_s: float = 0.0,
        retry_after_s: int = 1,
        trickle: Trickle = Trickle(),
    ) -> None:
        self.upstream_port = upstream_port  # read per request: may change while running
        self.port = 0
        self.latency_s = latency_s
        self.retry_after_s = retry_after_s
        self.trickle = trickle
        self._plan = _Plan(
            rng=random.Random(seed), rate=fault_rate, kinds=tuple(faults), paths=tuple(paths)
        )
        # Trickle timing has its own generator so it never shifts the sequence of decisions.
        self._timing = random.Random(f"trickle-{seed}") if seed is not None else random.Random()
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
        """Every fault injected so far, as (path, fault), in the order they were decided."""
        with self._plan.lock:
            return list(self._plan.injected)

    @property
    def fault_count(self) -> int:
        with self._plan.lock:
            return len(self._plan.injected)

    def arm(self, method: str, path_prefix: str, fault: Fault) -> None:
        """Break the next request whose method and path match (before any random draw)."""
        with self._plan.lock:
            self._plan.armed.append((method, path_prefix, fault))

    def start(self) -> FaultProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(10)
        return self

    def stop(self) -> None:
        """Close every connection and end the proxy's thread. Safe to call twice."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        others = [task for task in asyncio.all_tasks() if task is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_request(client_r)) is not None:
                if not await self._answer(request, client_w):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError):
            return
        except asyncio.CancelledError:
            # The proxy is stopping. End quietly: Python 3.11 logs an error for a connection
            # task that ends cancelled.
            return
        finally:
            client_w.close()

    async def _answer(self, request: _Message, client: asyncio.StreamWriter) -> bool:
        """Answer one request, faulted or not; returns whether the connection stays open."""
        method, target = request.start_line[:2]
        fault = self._plan.take(method, target.split("?", 1)[0])
        await self._delay()
        if fault is Fault.RESET_BEFORE:
            return _reset(client)
        if fault is Fault.UNAVAILABLE:
            await self._delay()
            return await self._send(client, _unavailable(self.retry_after_s), request)
        answer = await self._forward(request, method)
        if answer is None:
            return False  # the exchange is down or hung up: the kiosk sees a closed connection
        await self._delay()
        return await self._deliver(fault, answer, request, client)

    async def _delay(self) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    async def _forward(self, request: _Message, method: str) -> _Message | None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            return None
        try:
            writer.write(request.raw)
            await writer.drain()
            return await _read_answer(reader, method=method)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return None
        finally:
            writer.close()

    async def _deliver(
        self, fault: Fault | None, answer: _Message, request: _Message, client: asyncio.StreamWriter
    ) -> bool:
        if fault is Fault.DROP_AFTER_COMMIT:
            return _reset(client)
        if fault is Fault.TRUNCATE:
            return await self._truncate(client, answer)
        if fault is Fault.TRICKLE:
            await self._trickle(client, answer.raw)
            return not (request.closes or answer.closes)
        return await self._send(client, answer.raw, request, answer)

    async def _send(self, client: asyncio.StreamWriter, data: bytes, *messages: _Message) -> bool:
        client.write(data)
        await client.drain()
        return not any(message.closes for message in messages)

    async def _truncate(self, client: asyncio.StreamWriter, answer: _Message) -> bool:
        """Send the head and at most half the body, then close in order (no reset)."""
        if answer.body:
            client.write(answer.head + answer.body[: len(answer.body) // 2])
        else:
            client.write(answer.head[: len(answer.head) // 2])
        await client.drain()
        return False

    async def _trickle(self, client: asyncio.StreamWriter, data: bytes) -> None:
        plan = self.trickle
        deadline = self._loop.time() + plan.max_s
        pieces = range(0, len(data), plan.piece_bytes)
        stall_at = self._timing.choice(pieces)
        stall = self._timing.uniform(*plan.stall_s)
        for start in pieces:
            if client.is_closing():
                return  # the kiosk gave up waiting
            if start == stall_at:
                await asyncio.sleep(max(0.0, min(stall, deadline - self._loop.time())))
            if self._loop.time() >= deadline:
                client.write(data[start:])
                break
            client.write(data[start : start + plan.piece_bytes])
            await client.drain()
            await asyncio.sleep(plan.pause_s)
        await client.drain()
