"""Signed requests end to end, against the real sandbox exchange process: a signed payment
goes through; another secret, a changed body or a clock six minutes off is refused 401 with its
own code and the exchange records nothing; after enrollment with a one-time code the kiosk
signs with its own secret (kept in the vault, never printed) and the demo secret no longer
works for that kiosk id; a used code is refused."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from kiosk.bootstrap import build_core
from kiosk.clock import SystemClock
from kiosk.outbox import OutboxState
from kiosk.services import device
from kiosk.settings import Settings
from kiosk.terminal.sandbox import SandboxTerminal
from sync import policy
from sync.bootstrap import build_sync
from sync.client import ExchangeClient
from sync.enrollment import EnrollmentError, enroll_device
from sync.sandbox.server import SandboxProcess
from sync.signing import (
    MAX_SKEW_SECONDS,
    DeviceCredential,
    new_secret,
    refusal,
    signed_headers,
)
from sync.worker import Connection, SyncStatus, SyncWorker
from tests.test_sandbox_exchange import payment_body
from tests.test_sync import DEMO_TOKEN, free_port, make_core, make_worker, outbox_row, pay

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("signed-exchange") / "exchange.db"
    with SandboxProcess(path, port=free_port()) as process:
        yield process


def on_ledger(exchange: SandboxProcess, payment_id: str) -> int:
    answer = requests.get(f"{exchange.url}/_sandbox/ledger", timeout=5)
    return sum(p["payment_id"] == payment_id for p in answer.json()["payments"])


def client_for(exchange: SandboxProcess, kiosk_id: str, *, secret: str = DEMO_TOKEN,
               signing_time: Callable[[], float] = time.time) -> ExchangeClient:
    return ExchangeClient(exchange.url, device_token=secret, kiosk_id=kiosk_id,
                          timeout=(2.0, 5.0), signing_time=signing_time)


def a_payment(kiosk_id: str, seq: int = 1) -> tuple[str, bytes]:
    payment_id = str(uuid.uuid4())
    return payment_id, payment_body("M-100020", 1500, kiosk_id=kiosk_id, kiosk_seq=seq,
                                    payment_id=payment_id)


def test_a_signed_payment_goes_through_without_a_bearer_token(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core = make_core(replace(settings, kiosk_id="K-SIG-1"), exchange.url)
    worker = make_worker(core)
    try:
        worker.run_once()
        taken = pay(core, 2200)
        assert worker.run_once().confirmed == 1
        assert on_ledger(exchange, taken.payment_id) == 1
    finally:
        worker.stop()
        core.close()
    client = client_for(exchange, "K-SIG-1")
    twin = client.clone()  # the second lane of a worker signs the same way
    for lane in (client, twin):
        sent = lane.session.prepare_request(
            requests.Request("POST", f"{exchange.url}/v1/payments?x=1", data=b"{}"))
        lane.close()
        assert "Authorization" not in sent.headers
        assert sent.headers["X-Kiosk-Id"] == "K-SIG-1"
        assert DEMO_TOKEN not in json.dumps(dict(sent.headers))
        headers = {name: str(value) for name, value in sent.headers.items()}
        assert refusal(headers, secret=DEMO_TOKEN, method="POST",
                       path="/v1/payments?x=1", body=b"{}", now=time.time()) is None


def test_a_wrong_secret_is_refused_and_nothing_is_recorded(exchange: SandboxProcess) -> None:
    payment_id, body = a_payment("K-SIG-2")
    client = client_for(exchange, "K-SIG-2", secret=new_secret())
    try:
        answer = client.send(endpoint="/v1/payments", idempotency_key=str(uuid.uuid4()),
                             payload=body)
    finally:
        client.close()
    assert (answer.status, policy.problem_code(answer.body)) == (401, "signature_invalid")
    assert on_ledger(exchange, payment_id) == 0


def test_a_body_changed_after_signing_is_refused(exchange: SandboxProcess) -> None:
    signed_id, signed_body = a_payment("K-SIG-3")
    other_id, other_body = a_payment("K-SIG-3")
    credential = DeviceCredential(kiosk_id="K-SIG-3", secret=DEMO_TOKEN)
    headers = {**signed_headers(credential, method="POST", path="/v1/payments",
                                now=time.time(), body=signed_body),
               "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}

    tampered = requests.post(f"{exchange.url}/v1/payments", data=other_body, headers=headers,
                             timeout=5)

    assert (tampered.status_code, tampered.json()["code"]) == (401, "signature_invalid")
    assert on_ledger(exchange, other_id) == 0 and on_ledger(exchange, signed_id) == 0
    # The same headers with the body they were made for hold; sent again within the five
    # minutes (a replay), the idempotency key makes it the same request, not a second payment.
    for _ in range(2):
        genuine = requests.post(f"{exchange.url}/v1/payments", data=signed_body,
                                headers=headers, timeout=5)
        assert genuine.status_code == 201, genuine.text
    assert genuine.headers["Idempotent-Replayed"] == "true"
    assert on_ledger(exchange, signed_id) == 1


@pytest.mark.parametrize("offset", [-360, 360])
def test_a_clock_six_minutes_off_is_refused(exchange: SandboxProcess, offset: int) -> None:
    payment_id, body = a_payment(f"K-SIG-4{offset}")
    client = client_for(exchange, f"K-SIG-4{offset}",
                        signing_time=lambda: time.time() + offset)
    try:
        answer = client.send(endpoint="/v1/payments", idempotency_key=str(uuid.uuid4()),
                             payload=body)
    finally:
        client.close()
    assert (answer.status, policy.problem_code(answer.body)) == (401, "signature_expired")
    assert on_ledger(exchange, payment_id) == 0
    assert abs(offset) > MAX_SKEW_SECONDS


def test_a_kiosk_whose_clock_is_off_pauses_and_says_why(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core = make_core(replace(settings, kiosk_id="K-SIG-5"), exchange.url)
    make_worker(core).run_once()  # the member cache, filled while the clock was right
    statuses: list[SyncStatus] = []
    skewed = client_for(exchange, "K-SIG-5", signing_time=lambda: time.time() - 3600)
    worker = SyncWorker(vault=core.vault, clock=core.clock, client=skewed,
                        on_status=statuses.append)
    try:
        taken = pay(core, 1800)
        result = worker.run_once()
        assert [o.status for o in result.outcomes] == [401]
        assert worker.paused
        assert statuses[-1].connection is Connection.PAUSED
        assert statuses[-1].reason == "signature_expired"
        row = outbox_row(core, taken)
        assert row["state"] == OutboxState.QUEUED and row["last_error"] == "device_not_authorized"
        assert on_ledger(exchange, taken.payment_id) == 0
    finally:
        worker.stop()
        core.close()


def mint_code(exchange: SandboxProcess) -> str:
    answer = requests.post(f"{exchange.url}/_sandbox/enrollment-codes", timeout=5)
    assert answer.status_code == 201, answer.text
    code: str = answer.json()["enrollment_code"]
    return code


def run_kiosk(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def feed_status(exchange: SandboxProcess, kiosk_id: str, secret: str) -> int:
    client = client_for(exchange, kiosk_id, secret=secret)
    try:
        return client.changes(after=0, limit=1).status
    finally:
        client.close()


def test_an_enrolled_kiosk_signs_with_its_own_secret_and_the_demo_secret_stops(
    exchange: SandboxProcess, settings: Settings
) -> None:
    kiosk = replace(settings, kiosk_id="K-ENROLL-1", exchange_url=exchange.url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "settings.json").write_text(json.dumps(
        {"exchange_url": exchange.url, "kiosk_id": "K-ENROLL-1", "key_store": "file"}), "utf-8")
    core = make_core(kiosk, exchange.url)
    make_worker(core).run_once()  # before enrollment the demo secret works, as for any kiosk
    core.close()
    assert feed_status(exchange, "K-ENROLL-1", DEMO_TOKEN) == 200

    enrolled = run_kiosk(settings.data_dir, "device", "enroll", "--code", mint_code(exchange))
    status = run_kiosk(settings.data_dir, "device", "status")

    assert enrolled.returncode == 0, enrolled.stderr
    assert "Enrolled as kiosk K-ENROLL-1" in enrolled.stdout
    assert "enrolled as kiosk K-ENROLL-1" in status.stdout
    core = build_core(kiosk, clock=SystemClock(), terminal=SandboxTerminal())
    try:
        stored = device.get_credential(vault=core.vault)
        assert stored is not None and stored.kiosk_id == "K-ENROLL-1"
        for said in (enrolled.stdout, enrolled.stderr, status.stdout, status.stderr):
            assert stored.secret not in said
        assert stored.secret not in repr(stored)
        actions = core.vault.call(lambda c: [r[0] for r in c.execute(
            "SELECT action FROM audit WHERE subject = 'K-ENROLL-1'")])
        assert actions == ["device.enrolled"]
        worker = build_sync(core, on_status=lambda status: None)  # signs with the vault's
        try:
            taken = pay(core, 2500)
            assert worker.run_once().confirmed == 1
            assert on_ledger(exchange, taken.payment_id) == 1
        finally:
            worker.stop()
    finally:
        core.close()
    assert feed_status(exchange, "K-ENROLL-1", stored.secret) == 200
    assert feed_status(exchange, "K-ENROLL-1", DEMO_TOKEN) == 401
    assert feed_status(exchange, "K-NOT-ENROLLED", DEMO_TOKEN) == 200  # the sandbox's convenience
    again = run_kiosk(settings.data_dir, "device", "enroll", "--code", mint_code(exchange))
    assert again.returncode == 1 and "device_already_enrolled" in again.stderr


def test_a_used_or_unknown_code_is_refused(exchange: SandboxProcess) -> None:
    code = mint_code(exchange)
    first = enroll_device(exchange.url, "K-ENROLL-2", code, None)
    assert first.kiosk_id == "K-ENROLL-2" and first.secret
    for kiosk_id, used in (("K-ENROLL-3", code), ("K-ENROLL-3", "AAAA-BBBB-CCCC-DDDD")):
        with pytest.raises(EnrollmentError) as refused:
            enroll_device(exchange.url, kiosk_id, used, None)
        assert refused.value.code == "enrollment_refused"
    fresh = mint_code(exchange)
    with pytest.raises(EnrollmentError) as twice:
        enroll_device(exchange.url, "K-ENROLL-2", fresh, None)
    assert twice.value.code == "device_already_enrolled"
    assert enroll_device(exchange.url, "K-ENROLL-4", fresh, None).secret  # it stayed unused
    assert feed_status(exchange, "K-ENROLL-3", DEMO_TOKEN) == 200  # refused codes enrolled none


def test_without_the_demo_secret_an_unenrolled_kiosk_is_unknown(tmp_path: Path) -> None:
    with SandboxProcess(tmp_path / "exchange.db", members=10, demo_secret=False) as strict:
        client = client_for(strict, "K-STRICT")
        try:
            answer = client.changes(after=0, limit=1)
        finally:
            client.close()
        assert (answer.status, policy.problem_code(answer.body)) == (401, "device_unknown")
        credential = enroll_device(strict.url, "K-STRICT", mint_code(strict), None)
        assert feed_status(strict, "K-STRICT", credential.secret) == 200
