"""Delivery under trouble: recovery after a crash by looking keys up before re-sending, the
stall guard, pausing on a refused credential, and bad answers that never crash the worker."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.bootstrap import Core
from kiosk.outbox import OutboxState
from kiosk.services import delivery
from kiosk.services.cache import apply_changes
from kiosk.settings import Settings
from sync.client import ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.worker import Connection, SyncStatus, SyncWorker
from tests.scripted_exchange import ScriptedExchange
from tests.test_sync import DEMO_TOKEN, free_port, ledger, make_core, pay


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(db_path=tmp_path / "exchange.db", port=free_port())
    sandbox.start()
    yield sandbox
    sandbox.stop()


def worker_for(core: Core, url: str, statuses: list[SyncStatus] | None = None) -> SyncWorker:
    client = ExchangeClient(url, device_token=DEMO_TOKEN, kiosk_id=core.settings.kiosk_id,
                            timeout=(1.0, 3.0))
    return SyncWorker(vault=core.vault, clock=core.clock, client=client, rng=random.Random(4),
                      connectivity=core.connectivity,
                      on_status=(statuses.append if statuses is not None else lambda s: None))


def state_of(core: Core, outbox_id: int) -> dict[str, object]:
    return dict(core.vault.call(lambda c: c.execute("SELECT * FROM outbox WHERE id = ?",
                                                    (outbox_id,)).fetchone()))


def test_a_row_sent_before_a_crash_is_looked_up_not_sent_again(
        exchange: SandboxProcess, settings: Settings) -> None:
    core = make_core(settings, exchange.url)
    first = worker_for(core, exchange.url)
    try:
        first.run_once()
        taken = pay(core, 3000)
        # The crashed run: it claimed the row and its request reached the exchange, then died.
        [item] = delivery.claim_due(vault=core.vault, clock=core.clock)
        sent = first._client.send(endpoint=item.endpoint, idempotency_key=item.idempotency_key,
                                  payload=item.payload)
        assert sent.status == 201
        restarted = worker_for(core, exchange.url)
        result = restarted.run_once()
        assert result.recovered == 1 and result.sent == 0
        row = state_of(core, taken.outbox_id)
        assert row["state"] == OutboxState.CONFIRMED and row["attempts"] == 1
        assert len([p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]) == 1
        restarted.stop()
    finally:
        first.stop()
        core.close()


def test_a_row_claimed_but_never_sent_is_sent_after_the_lookup(
        exchange: SandboxProcess, settings: Settings) -> None:
    core = make_core(settings, exchange.url)
    worker = worker_for(core, exchange.url)
    try:
        worker.run_once()
        taken = pay(core, 3100)
        delivery.claim_due(vault=core.vault, clock=core.clock)  # then the process died
        result = worker.run_once()
        assert result.recovered == 1 and result.confirmed == 1
        assert state_of(core, taken.outbox_id)["state"] == OutboxState.CONFIRMED
        assert len([p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]) == 1
    finally:
        worker.stop()
        core.close()


def test_rows_stay_in_sending_while_the_exchange_cannot_be_asked(
        exchange: SandboxProcess, settings: Settings) -> None:
    core = make_core(settings, exchange.url)
    worker = worker_for(core, exchange.url)
    try:
        worker.run_once()
        taken = pay(core, 3200)
        delivery.claim_due(vault=core.vault, clock=core.clock)
        exchange.stop()
        assert worker.run_once().recovered == 0
        assert state_of(core, taken.outbox_id)["state"] == OutboxState.SENDING
        exchange.start()
        assert worker.run_once().recovered == 1
        assert state_of(core, taken.outbox_id)["state"] == OutboxState.CONFIRMED
    finally:
        worker.stop()
        core.close()


def test_many_waiting_payments_go_out_in_batches(exchange: SandboxProcess,
                                                 settings: Settings) -> None:
    core = make_core(settings, exchange.url)
    worker = worker_for(core, exchange.url)
    try:
        worker.run_once()
        members = [r[0] for r in core.vault.call(lambda c: c.execute(
            "SELECT member_id FROM invoices WHERE status = 'open' GROUP BY member_id"
            " ORDER BY member_id LIMIT 30").fetchall())]
        taken = [pay(core, 100 + i, member_id=m) for i, m in enumerate(members)]
        taken += [pay(core, 200 + i, member_id=m) for i, m in enumerate(members[:5])]
        result = worker.run_once()
        # Same-member order holds: the second payment of a member waits for the first.
        assert result.confirmed == len(taken)
        assert result.requests <= 4
        held = {p["payment_id"] for p in ledger(exchange)}
        assert {t.payment_id for t in taken} <= held
    finally:
        worker.stop()
        core.close()


def test_the_stall_guard_reports_a_problem_when_the_head_does_not_move(
        exchange: SandboxProcess, settings: Settings) -> None:
    core = make_core(settings, exchange.url)
    statuses: list[SyncStatus] = []
    worker = worker_for(core, exchange.url, statuses)
    try:
        worker.run_once()
        pay(core, 1000)
        core.vault.write(lambda c: c.execute(
            "UPDATE outbox SET attempts = 6, next_attempt_at = '2999-01-01T00:00:00Z'"))
        worker.run_once()
        assert statuses[-1].connection is Connection.PROBLEM and statuses[-1].stalled
        assert statuses[-1].waiting == 1
    finally:
        worker.stop()
        core.close()


# -- bad answers ------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)

BAD_BODIES = st.one_of(
    st.binary(max_size=200),
    st.just(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    st.just(b'{"confirmation_number": 42, "invoices": "none"}'),
    st.just(b'{"results": [{"idempotency_key": "x"}]}'),
    st.just(b"x" * 5_000_000),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedExchange]:
    server = ScriptedExchange().start()
    yield server
    server.stop()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(status=st.sampled_from([200, 201, 202, 400, 409, 422, 429, 500, 502, 503, 504]),
       body=BAD_BODIES,
       retry_after=st.one_of(st.none(), st.text(max_size=12), st.integers(-5, 10**6).map(str)))
def test_bad_answers_never_crash_the_worker_and_the_item_waits_with_a_reason(
        core: Core, scripted: ScriptedExchange, status: int, body: bytes,
        retry_after: str | None) -> None:
    stock(core)
    taken = pay(core, 500, member_id="M-BAD")
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    scripted.script.status, scripted.script.headers, scripted.script.body = status, headers, body
    worker = worker_for(core, scripted.url)
    try:
        worker.run_once()
    finally:
        worker._client.close()
    row = state_of(core, taken.outbox_id)
    assert row["state"] in (OutboxState.QUEUED, OutboxState.NEEDS_ATTENTION)
    assert row["last_error"], "an item that waits must say why"
    payment = core.vault.call(lambda c: c.execute(
        "SELECT status FROM payments WHERE payment_id = ?", (taken.payment_id,)).fetchone())
    assert payment[0] != "confirmed"


def stock(core: Core) -> None:
    """One member who owes plenty, so every generated example can take a payment."""
    apply_changes([
        {"kind": "member", "data": {
            "member_id": "M-BAD", "first_name": "Ida", "last_name": "Voss",
            "date_of_birth": "1950-01-01", "phone": "+15055550199", "email": "i@example.org",
            "plan_id": "P-1", "aptc_cents": 0, "net_premium_cents": 900_000,
            "preferred_language": "en", "coverage_start": "2026-01-01", "status": "active"}},
        {"kind": "invoice", "data": {
            "invoice_id": "I-BAD", "member_id": "M-BAD", "coverage_month": "2026-11",
            "amount_due_cents": 900_000, "amount_paid_cents": 0, "due_date": "2026-11-30",
            "is_binder": False, "status": "open"}},
    ], next_after=0, vault=core.vault)
    core.vault.write(lambda c: c.execute(
        "UPDATE outbox SET state = 'needs_attention' WHERE state IN ('queued', 'sending')"))
