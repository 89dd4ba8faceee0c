"""Sync against the real sandbox exchange over HTTP on 127.0.0.1.

A payment taken offline waits in the vault and is confirmed once the exchange is up; an answer
lost after the exchange committed is retried under the same key and the exchange holds exactly
one payment; the idempotency answers each lead to the action the delivery policy promises.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from kiosk.bootstrap import Core, build_core
from kiosk.clock import SystemClock
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus
from kiosk.domain.staff import Role, StaffSession
from kiosk.outbox import OutboxState
from kiosk.outbox.outcome import Action
from kiosk.services.members import get_account
from kiosk.services.payments import PaymentContext, PaymentTaken, TakeCardPayment, take_card_payment
from kiosk.services.receipts import get_receipt
from kiosk.settings import Settings
from kiosk.terminal.sandbox import SandboxTerminal
from sync import policy
from sync.client import DeviceSigner, ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.signing import DeviceCredential, new_secret
from sync.worker import SyncWorker
from tests.faultproxy import Fault, FaultProxy

PAST_DUE_MEMBER = "M-100001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(db_path=tmp_path / "exchange.db", port=free_port())
    sandbox.start()
    yield sandbox
    sandbox.stop()


def make_core(settings: Settings, url: str) -> Core:
    return build_core(
        replace(settings, exchange_url=url, device_token=DEMO_TOKEN),
        clock=SystemClock(),
        terminal=SandboxTerminal(rng=random.Random(3)),
    )


DEMO_TOKEN = "demo-device-token-NOT-A-SECRET"


def make_worker(core: Core, *, ca_bundle: Path | None = None) -> SyncWorker:
    client = ExchangeClient(
        core.settings.exchange_url,
        device_token=DEMO_TOKEN,
        kiosk_id=core.settings.kiosk_id,
        timeout=(2.0, 5.0),
        ca_bundle=ca_bundle,
    )
    return SyncWorker(vault=core.vault, clock=core.clock, client=client, rng=random.Random(11))


def navigator_ctx(core: Core) -> PaymentContext:
    staff = StaffSession(
        username="nav.test",
        display_name="Navigator Test",
        role=Role.NAVIGATOR,
        signed_in_at=core.clock.now(),
    )
    return PaymentContext(kiosk_id=core.settings.kiosk_id, site="Test Site", staff=staff)


def pay(core: Core, cents: int, member_id: str = PAST_DUE_MEMBER) -> PaymentTaken:
    return take_card_payment(
        TakeCardPayment(member_id=member_id, amount=Money(cents=cents)),
        ctx=navigator_ctx(core),
        vault=core.vault,
        terminal=core.terminal,
        clock=core.clock,
    )


def ledger(sandbox: SandboxProcess) -> list[dict[str, object]]:
    answer = requests.get(f"{sandbox.url}/_sandbox/ledger", timeout=5)
    answer.raise_for_status()
    payments = answer.json()["payments"]
    assert isinstance(payments, list)
    return payments


def outbox_row(core: Core, taken: PaymentTaken) -> dict[str, object]:
    row = core.vault.call(
        lambda c: c.execute("SELECT * FROM outbox WHERE id = ?", (taken.outbox_id,)).fetchone()
    )
    return dict(row)


def test_offline_payment_waits_then_is_confirmed_when_the_exchange_returns(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core = make_core(settings, exchange.url)
    worker = make_worker(core)
    try:
        assert worker.run_once().pulled > 200  # the member cache is filled from the feed
        exchange.stop()
        balance_before = get_account(PAST_DUE_MEMBER, vault=core.vault).balance
        taken = pay(core, 5000)
        assert get_receipt(taken.payment_id, vault=core.vault).status is PaymentStatus.PENDING
        assert get_account(PAST_DUE_MEMBER, vault=core.vault).balance == (
            balance_before - Money(cents=5000)
        )
        offline = worker.run_once()
        assert not offline.online and offline.sent == 0
        assert outbox_row(core, taken)["state"] == OutboxState.QUEUED
        exchange.start()
        online = worker.run_once()
        assert online.confirmed == 1
        receipt = get_receipt(taken.payment_id, vault=core.vault)
        assert receipt.status is PaymentStatus.CONFIRMED
        assert receipt.confirmation_number
        held = [p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]
        assert len(held) == 1 and held[0]["amount_cents"] == 5000
        # The exchange's answer updated the invoices, so the balance stays right.
        assert get_account(PAST_DUE_MEMBER, vault=core.vault).balance == (
            balance_before - Money(cents=5000)
        )
    finally:
        worker.stop()
        core.close()


def test_lost_answer_is_retried_with_the_same_key_and_the_exchange_holds_one(
    exchange: SandboxProcess, settings: Settings
) -> None:
    proxy = FaultProxy(exchange.port).start()
    core = make_core(settings, proxy.url)
    worker = make_worker(core)
    try:
        worker.run_once()
        taken = pay(core, 7000)
        proxy.arm("POST", "/v1/payments", Fault.DROP_AFTER_COMMIT)
        first = worker.run_once()
        assert first.confirmed == 0
        assert [o.action for o in first.outcomes] == [Action.RETRY]
        assert len([p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]) == 1
        make_due(core)
        second = worker.run_once()
        assert second.confirmed == 1
        row = outbox_row(core, taken)
        assert row["attempts"] == 2 and row["idempotency_key"] == taken.idempotency_key
        assert len([p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]) == 1
        assert proxy.injected == [("/v1/payments", Fault.DROP_AFTER_COMMIT)]
    finally:
        worker.stop()
        core.close()
        proxy.stop()


def test_a_reset_before_the_exchange_sees_the_request_is_sent_again(
    exchange: SandboxProcess, settings: Settings
) -> None:
    proxy = FaultProxy(exchange.port).start()
    core = make_core(settings, proxy.url)
    worker = make_worker(core)
    try:
        worker.run_once()
        taken = pay(core, 2500)
        proxy.arm("POST", "/v1/payments", Fault.RESET_BEFORE)
        assert worker.run_once().confirmed == 0
        assert not [p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]
        make_due(core)
        assert worker.run_once().confirmed == 1
        assert len([p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]) == 1
    finally:
        worker.stop()
        core.close()
        proxy.stop()


def make_due(core: Core) -> None:
    """Skip the backoff wait: every queued row is due now."""
    core.vault.write(
        lambda c: c.execute(
            "UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00Z' WHERE state = 'queued'"
        )
    )


def _stored(core: Core, taken: PaymentTaken) -> tuple[str, bytes]:
    row = outbox_row(core, taken)
    return str(row["idempotency_key"]), bytes(row["payload"])  # type: ignore[arg-type]


def classify_now(answer: object) -> Action:
    outcome = policy.classify(
        answer,
        attempts=1,  # type: ignore[arg-type]
        now=dt.datetime.now(dt.UTC),
        rng=random.Random(1),
    )
    return outcome.action


def test_idempotency_answers_map_to_the_promised_actions(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core = make_core(settings, exchange.url)
    worker = make_worker(core)
    client = ExchangeClient(exchange.url, device_token=DEMO_TOKEN, kiosk_id="K042")
    try:
        worker.run_once()
        taken = pay(core, 1000)
        key, payload = _stored(core, taken)
        # No key at all: 400, a bug to look at.
        bare = client.session.post(
            f"{exchange.url}/v1/payments",
            data=payload,
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        assert bare.status_code == 400 and bare.json()["code"] == "idempotency_key_missing"
        # First delivery: 201, confirmed.
        first = client.send(endpoint="/v1/payments", idempotency_key=key, payload=payload)
        assert first.status == 201 and classify_now(first) is Action.CONFIRM
        # The same key and bytes again: the stored answer, replayed and marked.
        again = client.send(endpoint="/v1/payments", idempotency_key=key, payload=payload)
        assert again.status == 201 and again.body == first.body
        assert again.headers.get("idempotent-replayed") == "true"
        assert classify_now(again) is Action.CONFIRM
        # The same key with other bytes: 422, needs attention, never re-keyed.
        body = json.loads(payload)
        body["amount_cents"] += 1
        changed = client.send(
            endpoint="/v1/payments", idempotency_key=key, payload=json.dumps(body).encode()
        )
        assert changed.status == 422 and classify_now(changed) is Action.NEEDS_ATTENTION
        assert policy.problem_code(changed.body) == "idempotency_key_reused"
        assert len([p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]) == 1
    finally:
        client.close()
        worker.stop()
        core.close()


def test_a_request_still_in_progress_answers_409_and_is_retried(
    exchange: SandboxProcess, settings: Settings
) -> None:
    import threading

    core = make_core(settings, exchange.url)
    worker = make_worker(core)
    try:
        worker.run_once()
        taken = pay(core, 1500)
        key, payload = _stored(core, taken)
        requests.post(
            f"{exchange.url}/_sandbox/faults", json={"payment_delay_ms": 1500}, timeout=5
        ).raise_for_status()
        slow_client = ExchangeClient(exchange.url, device_token=DEMO_TOKEN, kiosk_id="K042")
        slow = threading.Thread(
            target=slow_client.send,
            kwargs={"endpoint": "/v1/payments", "idempotency_key": key, "payload": payload},
        )
        slow.start()
        try:
            import time

            time.sleep(0.5)
            result = worker.run_once()
        finally:
            slow.join()
            slow_client.close()
        assert [o.status for o in result.outcomes] == [409]
        assert [o.action for o in result.outcomes] == [Action.RETRY]
        assert outbox_row(core, taken)["state"] == OutboxState.QUEUED
        requests.post(
            f"{exchange.url}/_sandbox/faults", json={"payment_delay_ms": 0}, timeout=5
        ).raise_for_status()
        make_due(core)
        assert worker.run_once().confirmed == 1
        assert len([p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]) == 1
    finally:
        worker.stop()
        core.close()


def test_a_refused_credential_pauses_the_queue(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core = make_core(settings, exchange.url)
    worker = make_worker(core)
    try:
        worker.run_once()
        taken = pay(core, 1200)
        # The exchange no longer knows the secret the kiosk signs with (a revoked device).
        revoked = DeviceCredential(kiosk_id=core.settings.kiosk_id, secret=new_secret())
        worker._client.session.auth = DeviceSigner(revoked)
        result = worker.run_once()
        assert [o.action for o in result.outcomes] == [Action.PAUSE]
        assert outbox_row(core, taken)["state"] == OutboxState.QUEUED
        assert worker.paused
        assert worker.run_once().sent == 0  # paused: nothing more is sent
    finally:
        worker.stop()
        core.close()
