"""Saved payment methods: add a card (the terminal's token) and a bank account, change a card's
expiry, remove one, choose the default, find cards expiring before a date; refusals record
nothing; and every change reaches the real sandbox exchange through the outbox, once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests

from kiosk.bootstrap import Core
from kiosk.domain.ach import AccountType, BankAccountEntry
from kiosk.domain.payments import CardAuthorization, TerminalResult
from kiosk.errors import KioskError
from kiosk.outbox import OutboxState
from kiosk.services.methods import (
    ExchangeState,
    MethodKind,
    SaveBankAccount,
    SaveCard,
    expiring_before_next_due,
    list_methods,
    methods_expiring_before,
    remove_method,
    save_bank_account,
    save_card,
    save_card_from_payment,
    set_default_method,
    update_card_expiry,
)
from kiosk.settings import Settings
from sync.sandbox.server import SandboxProcess
from tests.test_ach import seed
from tests.test_sync import free_port, make_core, make_worker, navigator_ctx, pay

MEMBER = "M-100001"
TODAY = dt.date(2026, 11, 28)  # the fake clock's day


def card(token: str = "tok_visa_4242", last4: str = "4242") -> CardAuthorization:
    return CardAuthorization(result=TerminalResult.APPROVED, sale_reference="s-1", token=token,
                             brand="visa", last4=last4, auth_code="A1", entry_mode="chip")


def bank(account: str = "000123456789") -> BankAccountEntry:
    return BankAccountEntry(routing_number="111000025", account_number=account,
                            account_number_again=account, account_type="savings")


def add_card(core: Core, *, month: int = 12, year: int = 2030, **kwargs: Any) -> str:
    cmd = SaveCard(member_id=MEMBER, authorization=kwargs.pop("auth", card()), exp_month=month,
                   exp_year=year, **kwargs)
    return save_card(cmd, ctx=navigator_ctx(core), vault=core.vault, clock=core.clock).method_id


def add_bank(core: Core, **kwargs: Any) -> str:
    cmd = SaveBankAccount(member_id=MEMBER, account=kwargs.pop("account", bank()), **kwargs)
    return save_bank_account(cmd, ctx=navigator_ctx(core), vault=core.vault,
                             clock=core.clock).method_id


def counts(core: Core) -> tuple[int, int, int]:
    return core.vault.call(lambda c: tuple(
        c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("payment_methods", "outbox", "audit")))


def test_add_update_remove_and_choose_the_default(core: Core) -> None:
    seed(core)
    ctx, vault, clock = navigator_ctx(core), core.vault, core.clock
    card_id = add_card(core)
    bank_id = add_bank(core)

    saved = list_methods(MEMBER, vault=vault)
    assert [(m.method_id, m.is_default) for m in saved] == [(card_id, True), (bank_id, False)]
    assert saved[1].kind is MethodKind.BANK_ACCOUNT and saved[1].last4 == "6789"
    assert saved[1].account_type is AccountType.SAVINGS

    set_default_method(bank_id, ctx=ctx, vault=vault, clock=clock)
    update_card_expiry(card_id, exp_month=3, exp_year=29, ctx=ctx, vault=vault, clock=clock)
    saved = list_methods(MEMBER, vault=vault)
    assert [(m.method_id, m.is_default) for m in saved] == [(bank_id, True), (card_id, False)]
    assert saved[1].expires_on == dt.date(2029, 3, 31)

    remove_method(bank_id, ctx=ctx, vault=vault, clock=clock)
    assert [m.method_id for m in list_methods(MEMBER, vault=vault)] == [card_id]
    removed = [m for m in list_methods(MEMBER, vault=vault, include_removed=True) if m.removed]
    assert [(m.method_id, m.is_default) for m in removed] == [(bank_id, False)]
    kinds = core.vault.call(lambda c: [r[0] for r in c.execute(
        "SELECT json_extract(payload, '$.action') FROM outbox WHERE kind = 'payment_method'"
        " ORDER BY id")])
    assert kinds == ["add", "add", "set_default", "update_expiry", "remove"]


def test_cards_expiring_before_a_date_are_found(core: Core) -> None:
    seed(core)
    soon = add_card(core, month=11, year=2026, auth=card("tok_a", "1111"))
    later = add_card(core, month=1, year=2027, auth=card("tok_b", "2222"))
    add_bank(core)
    assert [m.method_id for m in methods_expiring_before(
        MEMBER, dt.date(2026, 12, 1), vault=core.vault)] == [soon]
    assert {m.method_id for m in methods_expiring_before(
        MEMBER, dt.date(2027, 2, 1), vault=core.vault)} == {soon, later}
    # The member's next due date is the end of this month: the November card is still good.
    assert expiring_before_next_due(MEMBER, vault=core.vault, today=TODAY) == []


@pytest.mark.parametrize(("action", "code"), [
    (lambda core: add_card(core, month=10, year=2026), "method_expired"),
    (lambda core: add_card(core, month=13, year=2030), "expiry_invalid"),
    (lambda core: add_card(core, auth=replace(card(), token="")), "card_token_missing"),
    (lambda core: add_card(core, auth=replace(card(), result=TerminalResult.DECLINED)),
     "card_token_missing"),
    (lambda core: add_bank(core, account=replace(bank(), account_number_again="1")),
     "account_mismatch"),
    (lambda core: add_bank(core, account=replace(bank(), routing_number="111000024")),
     "routing_invalid"),
])
def test_a_refused_change_records_nothing(core: Core, action: Any, code: str) -> None:
    seed(core)
    before = counts(core)
    with pytest.raises(KioskError) as refused:
        action(core)
    assert (refused.value.code, counts(core)) == (code, before)


def test_changes_to_unknown_removed_or_duplicate_methods_are_refused(core: Core) -> None:
    seed(core)
    ctx, vault, clock = navigator_ctx(core), core.vault, core.clock
    bank_id = add_bank(core)
    with pytest.raises(KioskError) as duplicate:
        add_bank(core)
    with pytest.raises(KioskError) as not_card:
        update_card_expiry(bank_id, exp_month=1, exp_year=2030, ctx=ctx, vault=vault,
                           clock=clock)
    remove_method(bank_id, ctx=ctx, vault=vault, clock=clock)
    before = counts(core)
    with pytest.raises(KioskError) as gone:
        set_default_method(bank_id, ctx=ctx, vault=vault, clock=clock)
    with pytest.raises(KioskError) as unknown:
        remove_method(str(uuid.uuid4()), ctx=ctx, vault=vault, clock=clock)
    assert [e.value.code for e in (duplicate, not_card, gone, unknown)] == [
        "method_duplicate", "method_not_card", "method_unknown", "method_unknown"]
    assert counts(core) == before


# -- delivery to the sandbox exchange ---------------------------------------------------------

@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("methods-exchange") / "exchange.db"
    with SandboxProcess(path, port=free_port(), members=20) as process:
        yield process


def test_every_change_reaches_the_exchange_once(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core = make_core(replace(settings, kiosk_id=f"K{uuid.uuid4().hex[:6]}"), exchange.url)
    worker = make_worker(core)
    ctx = navigator_ctx(core)
    try:
        worker.run_once()
        taken = pay(core, 2000)
        today = core.clock.now().date()
        card_id = save_card_from_payment(taken.payment_id, exp_month=today.month,
                                         exp_year=today.year + 3, ctx=ctx, vault=core.vault,
                                         clock=core.clock).method_id
        bank_id = add_bank(core, make_default=True)
        update_card_expiry(card_id, exp_month=1, exp_year=today.year + 5, ctx=ctx,
                           vault=core.vault, clock=core.clock)
        remove_method(bank_id, ctx=ctx, vault=core.vault, clock=core.clock)
        assert {m.exchange_state for m in list_methods(MEMBER, vault=core.vault)} == {
            ExchangeState.PENDING}

        result = worker.run_once()

        assert result.confirmed == 5  # the payment and four method changes
        states = core.vault.call(lambda c: {r[0] for r in c.execute(
            "SELECT state FROM outbox WHERE kind = 'payment_method'")})
        assert states == {OutboxState.CONFIRMED}
        mine = {m.method_id: m for m in list_methods(MEMBER, vault=core.vault,
                                                     include_removed=True)}
        assert {m.exchange_state for m in mine.values()} == {ExchangeState.SYNCED}
        held = {m["method_id"]: m for m in exchange_methods(exchange)}
        assert (held[card_id]["status"], held[card_id]["exp_year"]) == ("active", today.year + 5)
        assert held[card_id]["last4"] == mine[card_id].last4
        assert (held[bank_id]["status"], held[bank_id]["is_default"]) == ("removed", False)
        assert worker.run_once().sent == 0  # nothing is sent twice
    finally:
        worker.stop()
        core.close()


def exchange_methods(exchange: SandboxProcess) -> list[dict[str, Any]]:
    answer = requests.get(f"{exchange.url}/_sandbox/payment-methods",
                          params={"member_id": MEMBER}, timeout=5)
    methods: list[dict[str, Any]] = answer.json()["methods"]
    return methods
