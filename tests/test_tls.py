"""Verified TLS to the exchange: the real sandbox process serves HTTPS with a certificate from
the test authority. The kiosk trusts exactly the bundle its settings name: another authority's
certificate, a certificate for another host or TLS 1.1 is `tls_error` (the payment waits, safe
and unsent), the environment cannot add trust or a proxy, and plain http is only for this
machine."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from kiosk.outbox import OutboxState
from kiosk.settings import Settings, SettingsError, load_settings
from sync.bootstrap import build_sync
from sync.client import ExchangeClient, InsecureExchangeUrl
from sync.sandbox.server import SandboxProcess
from sync.worker import Connection, SyncStatus
from tests.test_sync import DEMO_TOKEN, free_port, make_core, make_worker, outbox_row, pay
from tests.tls_support import TlsFiles, make_tls_files


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_exchange(tmp_path_factory: pytest.TempPathFactory,
                 tls_files: TlsFiles) -> Iterator[SandboxProcess]:
    db = tmp_path_factory.mktemp("exchange") / "exchange.db"
    with SandboxProcess(db, port=free_port(),
                        tls=(tls_files.server_cert, tls_files.server_key)) as sandbox:
        yield sandbox


def held(sandbox: SandboxProcess, files: TlsFiles, payment_id: str) -> int:
    """How many payments with this id the exchange holds (asked over verified TLS)."""
    answer = requests.get(f"{sandbox.url}/_sandbox/ledger", timeout=5, verify=str(files.ca_bundle))
    return sum(p["payment_id"] == payment_id for p in answer.json()["payments"])


def test_the_sandbox_serves_https(tls_exchange: SandboxProcess) -> None:
    assert tls_exchange.url.startswith("https://127.0.0.1:")


def test_a_payment_goes_through_over_verified_tls(
    tls_exchange: SandboxProcess, tls_files: TlsFiles, settings: Settings
) -> None:
    core = make_core(replace(settings, kiosk_id="K-TLS-1"), tls_exchange.url)
    worker = make_worker(core, ca_bundle=tls_files.ca_bundle)
    try:
        assert worker.run_once().pulled > 200
        taken = pay(core, 4200)
        assert worker.run_once().confirmed == 1
        assert held(tls_exchange, tls_files, taken.payment_id) == 1
    finally:
        worker.stop()
        core.close()


def test_an_untrusted_certificate_keeps_the_payment_queued_until_the_right_bundle(
    tls_exchange: SandboxProcess, tls_files: TlsFiles, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = replace(settings, kiosk_id="K-TLS-2", exchange_ca_bundle=str(tls_files.other_bundle))
    core = make_core(wrong, tls_exchange.url)
    filler = make_worker(core, ca_bundle=tls_files.ca_bundle)  # members known from before
    filler.run_once()
    filler.stop()
    statuses: list[SyncStatus] = []
    worker = build_sync(core, on_status=statuses.append)  # trusts what the settings name
    try:
        taken = pay(core, 3100)
        with caplog.at_level(logging.INFO, logger="sync.worker"):
            for _ in range(3):
                result = worker.run_once()
                assert not result.online and result.sent == 0
        assert statuses[-1].connection is Connection.OFFLINE
        assert statuses[-1].reason == "tls_error"
        said = [r for r in caplog.records if "TLS" in r.getMessage()]
        assert len(said) == 1  # once per change of state, not once per probe
        row = outbox_row(core, taken)
        assert row["state"] == OutboxState.QUEUED and row["attempts"] == 0
        assert held(tls_exchange, tls_files, taken.payment_id) == 0
    finally:
        worker.stop()
        core.close()
    right = replace(wrong, exchange_ca_bundle=str(tls_files.ca_bundle))
    core = make_core(right, tls_exchange.url)
    worker = build_sync(core, on_status=statuses.append)
    try:
        assert worker.run_once().confirmed == 1
        back = statuses[-1]
        assert back.connection is Connection.ONLINE and back.reason == ""
        assert held(tls_exchange, tls_files, taken.payment_id) == 1
    finally:
        worker.stop()
        core.close()


class Trap:
    """A listening socket nobody should connect to (where hostile proxy settings point)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def trap() -> Iterator[Trap]:
    made = Trap()
    yield made
    made.sock.close()


def hostile(monkeypatch: pytest.MonkeyPatch, bundle: Path, proxy: str) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(bundle))
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def test_the_environment_cannot_add_trust(
    tls_exchange: SandboxProcess, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch,
    trap: Trap,
) -> None:
    # Every variable says "trust the test authority"; the client was told certifi's bundle.
    hostile(monkeypatch, tls_files.ca_bundle, trap.url)
    client = ExchangeClient(tls_exchange.url, device_token=DEMO_TOKEN, kiosk_id="K-ENV")
    try:
        assert client.probe() == "tls_error"
    finally:
        client.close()
    assert trap.connections() == 0


def test_the_environment_cannot_take_trust_away_or_reroute(
    tls_exchange: SandboxProcess, tls_files: TlsFiles, settings: Settings,
    monkeypatch: pytest.MonkeyPatch, trap: Trap,
) -> None:
    hostile(monkeypatch, tls_files.other_bundle, trap.url)
    core = make_core(replace(settings, kiosk_id="K-TLS-3"), tls_exchange.url)
    worker = make_worker(core, ca_bundle=tls_files.ca_bundle)
    try:
        worker.run_once()
        taken = pay(core, 2700)
        assert worker.run_once().confirmed == 1
    finally:
        worker.stop()
        core.close()
    assert trap.connections() == 0  # no request went to the "proxy"
    monkeypatch.undo()
    assert held(tls_exchange, tls_files, taken.payment_id) == 1


@pytest.mark.parametrize("url", ["http://exchange.example", "http://10.0.0.5:8080/",
                                 "http://127.0.0.1.example.com", "ftp://127.0.0.1/"])
def test_plain_http_to_another_host_is_refused_at_construction(url: str) -> None:
    with pytest.raises(InsecureExchangeUrl, match="use https://"):
        ExchangeClient(url, device_token=DEMO_TOKEN, kiosk_id="K")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://[::1]:9", "http://localhost:9",
                                 "https://exchange.example"])
def test_this_machine_may_use_plain_http_and_anyone_https(url: str) -> None:
    ExchangeClient(url, device_token=DEMO_TOKEN, kiosk_id="K").close()


def test_the_settings_refuse_plain_http_to_another_host(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps(
        {"exchange_url": "http://exchange.example/api", "key_store": "file"}), "utf-8")
    with pytest.raises(SettingsError) as refused:
        load_settings(tmp_path, demo=False)
    assert refused.value.code == "settings_invalid"
    assert refused.value.details["field"] == "exchange_url"
    assert refused.value.details["problem"] == "plain_http_not_loopback"
    (tmp_path / "settings.json").write_text(json.dumps(
        {"exchange_url": "https://exchange.example/api", "exchange_ca_bundle": "missing.pem"}),
        "utf-8")
    with pytest.raises(SettingsError) as missing:
        load_settings(tmp_path, demo=False)
    assert missing.value.details["problem"] == "ca_bundle_missing"


class OneShotTlsServer:
    """A bare TLS server on 127.0.0.1 that answers each connection with a 200, for handshakes
    the sandbox is not configured to offer (another host's certificate, TLS 1.1)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.versions: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    self.versions.append(str(tls.version()))
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                b"Connection: close\r\n\r\nok")
            except (ssl.SSLError, OSError):
                continue

    def wait_for_handshakes(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.versions) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()


def test_a_certificate_for_another_host_is_a_tls_error(tls_files: TlsFiles) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files.other_host_cert, tls_files.other_host_key)
    server = OneShotTlsServer(context)
    client = ExchangeClient(server.url, device_token=DEMO_TOKEN, kiosk_id="K",
                            ca_bundle=tls_files.ca_bundle)
    try:
        assert client.probe() == "tls_error"  # signed by the trusted authority, wrong name
    finally:
        client.close()
        server.close()


def _tls11_only(context: ssl.SSLContext) -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 needs this to offer TLS 1.1 at all
    return context


def _openssl_speaks_tls11(server: OneShotTlsServer, ca_bundle: Path) -> bool:
    context = _tls11_only(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.load_verify_locations(str(ca_bundle))
    try:
        with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])),
                                      timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return tls.version() == "TLSv1.1"
    except (ssl.SSLError, OSError):
        return False


def test_tls_1_1_is_refused(tls_files: TlsFiles) -> None:
    context = _tls11_only(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.load_cert_chain(tls_files.server_cert, tls_files.server_key)
    server = OneShotTlsServer(context)
    client = ExchangeClient(server.url, device_token=DEMO_TOKEN, kiosk_id="K",
                            ca_bundle=tls_files.ca_bundle)
    try:
        assert client.tls_context.minimum_version is ssl.TLSVersion.TLSv1_2
        if not _openssl_speaks_tls11(server, tls_files.ca_bundle):
            pytest.skip("this OpenSSL cannot offer TLS 1.1 at all; the minimum is asserted")
        server.wait_for_handshakes(1)  # its thread records the handshake just after the client
        assert server.versions == ["TLSv1.1"]  # the server does speak 1.1 to a willing client
        assert client.probe() == "tls_error"
        assert server.versions == ["TLSv1.1"]  # and the kiosk never completed a handshake
    finally:
        client.close()
        server.close()
