"""The fault proxy does what each fault says, as a `requests` client sees it.

The upstream is a small HTTP/1.1 server in a thread that records every request it receives, so
a test can tell a request that never reached the server from one whose answer was lost.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import urllib3

from tests.faultproxy import Fault, FaultProxy, Trickle

ANSWER_PAD = "x" * 2000  # long enough to cut in half or trickle in many pieces


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Upstream

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _answer(self, body: bytes) -> None:
        self.server.seen.append((self.command, self.path, body))
        answer = json.dumps({"path": self.path, "pad": ANSWER_PAD}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str, bytes]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.trust_env = False
        yield client


@contextmanager
def running(proxy: FaultProxy) -> Iterator[FaultProxy]:
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def proxy(upstream: _Upstream) -> Iterator[FaultProxy]:
    with running(FaultProxy(upstream.port)) as started:
        yield started


def pay(
    session: requests.Session,
    proxy: FaultProxy,
    body: bytes = b'{"n":1}',
    timeout: tuple[float, float] = (2.0, 5.0),
) -> requests.Response:
    return session.post(
        f"{proxy.url}/v1/payments",
        data=body,
        timeout=timeout,
        headers={"Content-Type": "application/json"},
    )


def test_an_unfaulted_request_passes_through_on_a_kept_alive_connection(
    upstream: _Upstream, proxy: FaultProxy
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    try:
        conn.request("POST", "/v1/payments", body=b'{"n":1}')
        first = conn.getresponse()
        assert first.status == 201 and json.loads(first.read())["path"] == "/v1/payments"
        kept = conn.sock
        conn.request("POST", "/v1/payments", body=b'{"n":2}')
        assert conn.getresponse().status == 201
        assert conn.sock is kept is not None  # the proxy kept the connection open
    finally:
        conn.close()
    assert [body for _, _, body in upstream.seen] == [b'{"n":1}', b'{"n":2}']
    assert proxy.injected == [] and proxy.fault_count == 0


def test_a_reset_before_forwarding_never_reaches_the_server(
    upstream: _Upstream, proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.arm("POST", "/v1/payments", Fault.RESET_BEFORE)
    with pytest.raises(requests.ConnectionError):
        pay(session, proxy)
    assert upstream.seen == []
    assert pay(session, proxy).status_code == 201  # only the armed request fails
    assert proxy.injected == [("/v1/payments", Fault.RESET_BEFORE)]


def test_a_drop_after_commit_reaches_the_server_but_the_answer_is_lost(
    upstream: _Upstream, proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.arm("POST", "/v1/payments", Fault.DROP_AFTER_COMMIT)
    with pytest.raises(requests.ConnectionError):
        pay(session, proxy)
    assert [path for _, path, _ in upstream.seen] == ["/v1/payments"]


def test_a_truncated_answer_breaks_off_inside_the_body(
    upstream: _Upstream, proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.arm("POST", "/v1/payments", Fault.TRUNCATE)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        pay(session, proxy)
    assert len(upstream.seen) == 1


def test_a_truncated_answer_read_as_a_stream_raises_rather_than_returning_part(
    proxy: FaultProxy, session: requests.Session
) -> None:
    # How the kiosk's client reads: stream=True and raw.read(), which must not hand back half
    # a body as if it were the whole answer.
    proxy.arm("POST", "/v1/payments", Fault.TRUNCATE)
    answer = session.post(f"{proxy.url}/v1/payments", data=b"{}", stream=True, timeout=5)
    with answer, pytest.raises(urllib3.exceptions.HTTPError):
        answer.raw.read(1 << 20, decode_content=True)


def test_a_503_comes_from_the_proxy_with_retry_after_and_keeps_the_connection(
    upstream: _Upstream, session: requests.Session
) -> None:
    with running(FaultProxy(upstream.port, retry_after_s=7)) as proxy:
        proxy.arm("POST", "/v1/payments", Fault.UNAVAILABLE)
        refused = pay(session, proxy)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "7"
        assert refused.json()["status"] == 503
        assert upstream.seen == []
        assert pay(session, proxy).status_code == 201


def test_a_trickled_answer_arrives_whole_but_slowly(
    upstream: _Upstream, session: requests.Session
) -> None:
    slow = Trickle(piece_bytes=100, pause_s=0.02, stall_s=(0.0, 0.0))
    with running(FaultProxy(upstream.port, trickle=slow)) as proxy:
        proxy.arm("POST", "/v1/payments", Fault.TRICKLE)
        began = time.monotonic()
        answer = pay(session, proxy)
        took = time.monotonic() - began
    assert answer.status_code == 201 and answer.json()["pad"] == ANSWER_PAD
    assert took >= 20 * 0.02  # at least twenty pieces, each followed by a pause


def test_a_trickle_stall_trips_a_short_read_timeout(
    upstream: _Upstream, session: requests.Session
) -> None:
    stalling = Trickle(stall_s=(1.5, 1.5))
    with running(FaultProxy(upstream.port, trickle=stalling)) as proxy:
        proxy.arm("POST", "/v1/payments", Fault.TRICKLE)
        # A stall before the head is a ReadTimeout; inside the body requests reports a
        # ConnectionError wrapping urllib3's ReadTimeoutError.
        with pytest.raises((requests.Timeout, requests.ConnectionError)):
            pay(session, proxy, timeout=(1.0, 0.3))


def test_a_trickle_is_bounded_even_with_a_long_stall(
    upstream: _Upstream, session: requests.Session
) -> None:
    bounded = Trickle(stall_s=(30.0, 30.0), max_s=0.5)
    with running(FaultProxy(upstream.port, trickle=bounded)) as proxy:
        proxy.arm("POST", "/v1/payments", Fault.TRICKLE)
        assert pay(session, proxy, timeout=(1.0, 3.0)).json()["pad"] == ANSWER_PAD


def test_latency_delays_the_request_and_the_answer(
    upstream: _Upstream, session: requests.Session
) -> None:
    with running(FaultProxy(upstream.port, latency_s=0.1)) as proxy:
        began = time.monotonic()
        assert session.get(f"{proxy.url}/v1/health", timeout=5).status_code == 200
        assert time.monotonic() - began >= 0.2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_upstream_that_is_down_closes_the_connection_until_it_is_pointed_elsewhere(
    upstream: _Upstream, session: requests.Session
) -> None:
    with running(FaultProxy(free_port())) as proxy:
        with pytest.raises(requests.ConnectionError):
            session.get(f"{proxy.url}/v1/health", timeout=5)
        proxy.upstream_port = upstream.port
        assert session.get(f"{proxy.url}/v1/health", timeout=5).status_code == 200
        assert proxy.fault_count == 0  # a refused upstream is not an injected fault


QUICK_FAULTS = [Fault.RESET_BEFORE, Fault.DROP_AFTER_COMMIT, Fault.TRUNCATE, Fault.UNAVAILABLE]


def random_run(
    upstream: _Upstream, seed: int, requests_sent: int = 40
) -> tuple[list[tuple[str, Fault]], int]:
    """Send payments through a random-mode proxy; the faults injected and the failures seen."""
    failures = 0
    proxy = FaultProxy(upstream.port, seed=seed, fault_rate=0.3, faults=QUICK_FAULTS)
    with requests.Session() as session, running(proxy):
        for n in range(requests_sent):
            session.get(f"{proxy.url}/v1/health", timeout=5).raise_for_status()
            try:
                failures += pay(session, proxy, body=b'{"n":%d}' % n).status_code != 201
            except requests.RequestException:
                failures += 1
    return proxy.injected, failures


def test_random_mode_with_the_same_seed_injects_the_same_sequence(upstream: _Upstream) -> None:
    first, failures = random_run(upstream, seed=7)
    again, _ = random_run(upstream, seed=7)
    other, _ = random_run(upstream, seed=8)
    assert first == again and first != other
    assert 0 < len(first) < 40 and failures == len(first)  # each fault broke its request
    assert {path for path, _ in first} == {"/v1/payments"}  # the probe is never faulted
    assert {fault for _, fault in first} <= set(QUICK_FAULTS)


def test_random_mode_faults_only_the_paths_it_is_given(
    upstream: _Upstream, session: requests.Session
) -> None:
    everything = FaultProxy(upstream.port, seed=1, fault_rate=1.0, faults=[Fault.UNAVAILABLE])
    with running(everything) as proxy:
        assert session.get(f"{proxy.url}/v1/changes?after=0", timeout=5).status_code == 200
        assert session.post(f"{proxy.url}/v1/batch", data=b"{}", timeout=5).status_code == 503
        assert pay(session, proxy).status_code == 503
        assert proxy.fault_count == 2
    feed = FaultProxy(
        upstream.port, seed=1, fault_rate=1.0, faults=[Fault.UNAVAILABLE], paths=["/v1/changes"]
    )
    with running(feed) as proxy:
        assert session.get(f"{proxy.url}/v1/changes?after=0", timeout=5).status_code == 503
        assert proxy.injected == [("/v1/changes", Fault.UNAVAILABLE)]
