"""Every card scenario end to end: the kiosk's payment service, the HTTP terminal adapter, the
sandbox terminal in its own process, and the real encrypted vault.

Each test checks what the member and the navigator care about: whether money was taken (the
terminal's own record), whether the kiosk recorded exactly that as paid, and what it says.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from kiosk.bootstrap import Core, build_core
from kiosk.domain.money import Money
from kiosk.domain.payments import AttemptResult
from kiosk.domain.staff import Role, StaffSession
from kiosk.errors import KioskError, PaymentDeclinedError, TerminalError
from kiosk.services.cache import apply_changes
from kiosk.services.members import get_account
from kiosk.services.payments import (
    CardRemovedError,
    PaymentContext,
    PaymentTaken,
    TakeCardPayment,
    take_card_payment,
)
from kiosk.settings import Settings
from sync.terminal.client import HttpTerminal
from sync.terminal.process import TerminalProcess
from sync.terminal.scenarios import Scenario
from tests.support import FakeClock

MEMBER = "M-1"


def member(member_id: str) -> dict[str, object]:
    return {"member_id": member_id, "first_name": "Rosa", "last_name": "Quintero",
            "date_of_birth": "1960-02-02", "phone": "+15055550111", "email": "r@example.org",
            "plan_id": "P-1", "aptc_cents": 0, "net_premium_cents": 300_00,
            "preferred_language": "es", "coverage_start": "2026-01-01", "status": "active"}


def invoice(member_id: str, month: str, due: str) -> dict[str, object]:
    return {"invoice_id": f"I-{member_id}-{month}", "member_id": member_id,
            "coverage_month": month, "amount_due_cents": 300_00, "amount_paid_cents": 0,
            "due_date": due, "is_binder": False, "status": "open"}


def stock(core: Core) -> None:
    changes: list[Mapping[str, Any]] = [{"kind": "member", "data": member(MEMBER)}]
    changes += [{"kind": "invoice", "data": invoice(MEMBER, month, due)}
                for month, due in (("2026-10", "2026-09-30"), ("2026-11", "2026-10-31"),
                                   ("2026-12", "2026-11-30"))]
    apply_changes(changes, next_after=len(changes), vault=core.vault)


@pytest.fixture(scope="module")
def terminal_process() -> Iterator[TerminalProcess]:
    with TerminalProcess(seed=11) as process:
        yield process


@pytest.fixture
def kiosk(settings: Settings, clock: FakeClock,
          terminal_process: TerminalProcess) -> Iterator[Core]:
    terminal = HttpTerminal(terminal_process.url, sale_id="K042", poi_id="SANDBOX-P400",
                            charge_timeout=(2.0, 10.0), lookup_timeout=(2.0, 5.0))
    core = build_core(settings, clock=clock, terminal=terminal)
    stock(core)
    yield core
    core.close()


def context(core: Core) -> PaymentContext:
    staff = StaffSession(username="nav.one", display_name="Nav One", role=Role.NAVIGATOR,
                         signed_in_at=core.clock.now())
    return PaymentContext(kiosk_id="K042", site="Test Site", staff=staff)


def pay(core: Core, cents: int, sale_reference: str) -> PaymentTaken:
    return take_card_payment(
        TakeCardPayment(member_id=MEMBER, amount=Money(cents=cents),
                        sale_reference=sale_reference),
        ctx=context(core), vault=core.vault, terminal=core.terminal, clock=core.clock)


def on_terminal(process: TerminalProcess, sale_reference: str) -> list[dict[str, Any]]:
    return [t for t in process.control.transactions() if t["sale_reference"] == sale_reference]


def attempt(core: Core, sale_reference: str) -> dict[str, Any]:
    row = core.vault.call(lambda c: c.execute(
        "SELECT * FROM card_attempts WHERE sale_reference = ?", (sale_reference,)).fetchone())
    return dict(row)


def payment_rows(core: Core) -> list[dict[str, Any]]:
    return core.vault.call(lambda c: [dict(r) for r in c.execute("SELECT * FROM payments")])


def outbox_payload(core: Core, taken: PaymentTaken) -> dict[str, Any]:
    payload = core.vault.call(lambda c: c.execute(
        "SELECT payload FROM outbox WHERE id = ?", (taken.outbox_id,)).fetchone()[0])
    body = json.loads(payload)
    assert isinstance(body, dict)
    return body


def test_an_approved_card_is_recorded_once_with_what_the_terminal_reported(
        kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.APPROVED)
    ref = str(uuid.uuid4())
    taken = pay(kiosk, 125_50, ref)
    [charged] = on_terminal(terminal_process, ref)
    assert charged["charged"] and charged["approved_cents"] == 125_50
    assert taken.amount == taken.requested == Money(cents=125_50) and not taken.partial
    [row] = payment_rows(kiosk)
    assert (row["brand"], row["last4"], row["entry_mode"]) == (
        {"mc": "mastercard"}.get(charged["brand"], charged["brand"]), charged["last4"], "chip")
    assert row["auth_code"] == charged["auth_code"] and row["card_token"].startswith("tok_")
    assert (row["amount_cents"], row["requested_cents"], row["wallet"],
            row["offline_approved"]) == (125_50, 125_50, "", 0)
    assert attempt(kiosk, ref)["result"] == AttemptResult.APPROVED
    assert outbox_payload(kiosk, taken)["method"]["last4"] == charged["last4"]


@pytest.mark.parametrize(("scenario", "reason"), [
    (Scenario.DECLINED_INSUFFICIENT_FUNDS, "insufficient_funds"),
    (Scenario.DECLINED_EXPIRED_CARD, "expired_card"),
    (Scenario.DECLINED_DO_NOT_HONOR, "do_not_honor"),
])
def test_a_decline_records_nothing_as_paid_and_says_why(
        kiosk: Core, terminal_process: TerminalProcess, scenario: Scenario, reason: str) -> None:
    terminal_process.control.set_scenario(scenario)
    ref = str(uuid.uuid4())
    with pytest.raises(PaymentDeclinedError) as info:
        pay(kiosk, 80_00, ref)
    assert info.value.code == "payment_declined" and info.value.details["reason"] == reason
    assert [t["state"] for t in on_terminal(terminal_process, ref)] == ["declined"]
    assert payment_rows(kiosk) == []
    row = attempt(kiosk, ref)
    assert (row["result"], row["decline_reason"]) == ("declined", reason)
    assert kiosk.vault.call(lambda c: c.execute("SELECT count(*) FROM outbox").fetchone()[0]) == 0


def test_a_card_pulled_out_early_takes_no_money(
        kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.CARD_REMOVED)
    ref = str(uuid.uuid4())
    with pytest.raises(CardRemovedError) as info:
        pay(kiosk, 80_00, ref)
    assert info.value.code == "card_removed"
    assert [t["charged"] for t in on_terminal(terminal_process, ref)] == [False]
    assert payment_rows(kiosk) == [] and attempt(kiosk, ref)["result"] == "card_removed"


def test_a_prepaid_card_pays_part_and_the_rest_stays_due(
        kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.PARTIAL_PREPAID,
                                          prepaid_balance_cents=120_00)
    balance_before = get_account(MEMBER, vault=kiosk.vault).balance
    ref = str(uuid.uuid4())
    taken = pay(kiosk, 300_00, ref)
    assert taken.partial and taken.approved == Money(cents=120_00)
    assert taken.requested == Money(cents=300_00) and taken.still_due == Money(cents=180_00)
    [charged] = on_terminal(terminal_process, ref)
    assert (charged["state"], charged["approved_cents"]) == ("partially_approved", 120_00)
    [row] = payment_rows(kiosk)
    assert (row["amount_cents"], row["requested_cents"]) == (120_00, 300_00)
    assert outbox_payload(kiosk, taken)["amount_cents"] == 120_00
    assert get_account(MEMBER, vault=kiosk.vault).balance == balance_before - Money(cents=120_00)


def test_an_approval_by_the_terminal_alone_is_flagged(
        kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.OFFLINE_APPROVED)
    ref = str(uuid.uuid4())
    taken = pay(kiosk, 60_00, ref)
    assert taken.offline_approved
    assert [t["offline"] for t in on_terminal(terminal_process, ref)] == [True]
    [row] = payment_rows(kiosk)
    assert row["offline_approved"] == 1 and row["amount_cents"] == 60_00
    assert outbox_payload(kiosk, taken)["method"]["offline_approved"] is True
    details = kiosk.vault.call(lambda c: [r[0] for r in c.execute(
        "SELECT detail FROM audit WHERE action = 'payment.taken'")])
    assert details == ["6000 USD, approved offline by the terminal"]


@pytest.mark.parametrize(("scenario", "wallet"), [
    (Scenario.APPLE_PAY, "apple_pay"), (Scenario.GOOGLE_PAY, "google_pay")])
def test_a_phone_wallet_is_recorded_as_such(
        kiosk: Core, terminal_process: TerminalProcess, scenario: Scenario,
        wallet: str) -> None:
    terminal_process.control.set_scenario(scenario)
    ref = str(uuid.uuid4())
    taken = pay(kiosk, 45_00, ref)
    assert taken.wallet == wallet and not taken.offline_approved
    [row] = payment_rows(kiosk)
    assert (row["wallet"], row["entry_mode"]) == (wallet, "contactless")
    assert outbox_payload(kiosk, taken)["method"]["wallet"] == wallet
    [charged] = on_terminal(terminal_process, ref)
    assert charged["last4"] == row["last4"] and charged["entry_mode"] == "Contactless"


def test_a_terminal_that_cannot_be_reached_took_no_money(
        settings: Settings, clock: FakeClock) -> None:
    with TerminalProcess() as gone:
        url = gone.url  # a port that nothing listens on once it has stopped
    terminal = HttpTerminal(url, sale_id="K042", poi_id="P", charge_timeout=(1.0, 2.0))
    core = build_core(settings, clock=clock, terminal=terminal)
    try:
        stock(core)
        ref = str(uuid.uuid4())
        with pytest.raises(TerminalError) as info:
            pay(core, 50_00, ref)
        assert info.value.code == "terminal_unavailable"
        row = attempt(core, ref)
        assert (row["result"], row["error_code"]) == ("not_started", "terminal_unavailable")
        assert payment_rows(core) == []
    finally:
        core.close()


def test_an_amount_refused_by_the_kiosk_never_reaches_the_terminal(
        kiosk: Core, terminal_process: TerminalProcess) -> None:
    before = len(terminal_process.control.transactions())
    with pytest.raises(KioskError) as info:
        pay(kiosk, 0, str(uuid.uuid4()))
    assert info.value.code == "amount_not_positive"
    assert len(terminal_process.control.transactions()) == before
