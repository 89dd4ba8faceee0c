"""The member's account end to end: each change is made at the kiosk (a real vault), waits in
the outbox while the exchange cannot be reached, and is confirmed once it can (the real
sandbox exchange over HTTP on 127.0.0.1), and the exchange then holds it. Also: a profile
conflict and its resolution, reminders that follow the preferences, an automatic payment
through a plan change, a dispute with attachments, the confirmation sent after a payment is
confirmed, and the history from the feed."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests

from kiosk.bootstrap import Core
from kiosk.domain.account import (
    Address,
    AutopayStatus,
    Channel,
    ConflictChoice,
    DisputeReason,
    DisputeStatus,
    HistoryStatus,
    MessageKind,
    MessagePreference,
    Preferences,
    ProfileField,
)
from kiosk.domain.ach import BankAccountEntry
from kiosk.domain.money import Money
from kiosk.errors import KioskError
from kiosk.outbox import OutboxState
from kiosk.services import (
    autopay,
    delivery,
    disputes,
    history,
    preferences,
    profile,
    receipt_delivery,
)
from kiosk.services.members import get_account
from kiosk.services.methods import SaveBankAccount, save_bank_account
from kiosk.settings import Settings
from sync.client import DeviceSigner, ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.signing import DeviceCredential
from sync.worker import SyncWorker
from tests.test_sync import DEMO_TOKEN, free_port, make_core, make_worker, navigator_ctx, pay

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
PDF = b"%PDF-1.7\n" + b"statement " * 50


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("account-exchange") / "exchange.db"
    with SandboxProcess(path, port=free_port(), members=20) as process:
        yield process


@pytest.fixture
def core(exchange: SandboxProcess, settings: Settings) -> Iterator[Core]:
    built = make_core(replace(settings, kiosk_id=f"K{uuid.uuid4().hex[:6]}"), exchange.url)
    yield built
    built.close()


@pytest.fixture
def online(core: Core) -> Iterator[SyncWorker]:
    worker = make_worker(core)
    worker.run_once()  # fills the member cache from the feed
    yield worker
    worker.stop()


@pytest.fixture
def offline(core: Core) -> Iterator[SyncWorker]:
    """A worker whose exchange cannot be reached (nothing listens on port 9)."""
    client = ExchangeClient("http://127.0.0.1:9", device_token=DEMO_TOKEN,
                            kiosk_id=core.settings.kiosk_id, timeout=(0.5, 0.5))
    worker = SyncWorker(vault=core.vault, clock=core.clock, client=client, rng=random.Random(1))
    yield worker
    worker.stop()


def feed_record(exchange: SandboxProcess, kind: str, record_id: str) -> dict[str, Any]:
    answer = requests.get(f"{exchange.url}/v1/changes", params={"after": 0, "limit": 1000},
                          auth=DeviceSigner(DeviceCredential(kiosk_id="K042", secret=DEMO_TOKEN)),
                          timeout=5)
    found = [c["data"] for c in answer.json()["changes"]
             if c["kind"] == kind and c["id"] == record_id]
    assert found, (kind, record_id)
    return dict(found[0])


def sandbox(exchange: SandboxProcess, method: str, path: str, **kwargs: Any) -> Any:
    answer = requests.request(method, f"{exchange.url}/_sandbox{path}", timeout=5, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def queued_then_confirmed(core: Core, offline: SyncWorker, online: SyncWorker,
                          outbox_id: int) -> None:
    """Offline: the row waits. Exchange back: it is confirmed."""
    assert offline.run_once().sent == 0
    assert outbox_state(core, outbox_id) == OutboxState.QUEUED
    # What the worker does when its probe sees the exchange again (this one never lost it).
    delivery.wake_after_reconnect(vault=core.vault, clock=core.clock)
    online.run_once()
    online.run_once()
    assert outbox_state(core, outbox_id) == OutboxState.CONFIRMED


def outbox_state(core: Core, outbox_id: int) -> str:
    return str(core.vault.call(lambda c: c.execute(
        "SELECT state FROM outbox WHERE id = ?", (outbox_id,)).fetchone()[0]))


MEMBER = "M-100001"
HOME = Address(line1="742 Evergreen Terrace", city="Chicago", state="il", zip_code="60601 1234")


def test_a_profile_change_made_offline_reaches_the_exchange(
        core: Core, online: SyncWorker, offline: SyncWorker, exchange: SandboxProcess) -> None:
    ctx = navigator_ctx(core)
    before = profile.contact_profile(MEMBER, vault=core.vault)
    changed = profile.change_profile(
        profile.ProfileEdit(member_id=MEMBER, address=HOME, phone="(312) 555-0142",
                            email="Jose.Alvarez@Example.ORG"),
        ctx=ctx, vault=core.vault, clock=core.clock)
    shown = profile.contact_profile(MEMBER, vault=core.vault)
    assert shown.pending == {ProfileField.ADDRESS, ProfileField.PHONE, ProfileField.EMAIL}
    assert (shown.phone, shown.email) == ("+13125550142", "Jose.Alvarez@example.org")
    assert shown.address is not None and shown.address.zip_code == "60601-1234"

    queued_then_confirmed(core, offline, online, changed.outbox_id)

    held = feed_record(exchange, "member", MEMBER)
    assert (held["phone"], held["address"]["state"]) == ("+13125550142", "IL")
    assert held["profile_version"] == before.version + 1
    after = profile.contact_profile(MEMBER, vault=core.vault)
    assert after.pending == frozenset() and after.version == before.version + 1


def test_a_conflict_shows_both_values_and_the_choice_is_sent(
        core: Core, online: SyncWorker, exchange: SandboxProcess) -> None:
    member, ctx = "M-100003", navigator_ctx(core)
    sandbox(exchange, "POST", "/profile-edits", json={"member_id": member,
                                                      "phone": "+12135550177"})
    changed = profile.change_profile(
        profile.ProfileEdit(member_id=member, phone="2135550188", email="ana@example.net"),
        ctx=ctx, vault=core.vault, clock=core.clock)
    online.run_once()

    assert outbox_state(core, changed.outbox_id) == OutboxState.NEEDS_ATTENTION
    [conflict] = profile.profile_conflicts(member, vault=core.vault)
    [field] = conflict.conflicts
    assert (field.field, field.kiosk_value, field.exchange_value) == (
        ProfileField.PHONE, "+12135550188", "+12135550177")
    with pytest.raises(KioskError) as missing:
        profile.resolve_profile_conflict(changed.change_id, {}, ctx=ctx, vault=core.vault,
                                         clock=core.clock)
    assert missing.value.code == "conflict_choice_missing"

    resolved = profile.resolve_profile_conflict(
        changed.change_id, {ProfileField.PHONE: ConflictChoice.KIOSK}, ctx=ctx,
        vault=core.vault, clock=core.clock)
    assert resolved.new_change is not None
    assert set(resolved.new_change.fields) == {ProfileField.PHONE, ProfileField.EMAIL}
    online.run_once()

    assert outbox_state(core, resolved.new_change.outbox_id) == OutboxState.CONFIRMED
    assert outbox_state(core, changed.outbox_id) == OutboxState.DECLINED  # no longer flagged
    held = feed_record(exchange, "member", member)
    assert (held["phone"], held["email"]) == ("+12135550188", "ana@example.net")
    assert profile.profile_conflicts(member, vault=core.vault) == []


def prefs(reminders: Channel, language: str, days: tuple[int, ...]) -> Preferences:
    channels = {MessageKind.PAYMENT_REMINDERS: reminders}
    return Preferences(messages=tuple(
        MessagePreference(kind=k, channel=channels.get(k, Channel.EMAIL), language=language)
        for k in MessageKind), reminder_days=days)


def test_reminders_follow_the_preferences(core: Core, online: SyncWorker, offline: SyncWorker,
                                          exchange: SandboxProcess) -> None:
    ctx = navigator_ctx(core)
    first = preferences.set_preferences("M-100005", prefs(Channel.SMS, "vi", (7, 3, 1)),
                                        ctx=ctx, vault=core.vault, clock=core.clock)
    preferences.set_preferences("M-100002", prefs(Channel.EMAIL, "en", (5,)), ctx=ctx,
                                vault=core.vault, clock=core.clock)
    assert preferences.current_preferences("M-100005", vault=core.vault).pending
    queued_then_confirmed(core, offline, online, first.outbox_id)
    assert feed_record(exchange, "member", "M-100005")["preferences"]["reminder_days"] == [
        7, 3, 1]

    due = min(i.due_date for i in get_account("M-100005", vault=core.vault).invoices
              if i.open_amount.cents > 0 and i.due_date > dt.date.today())
    sent = {days: sandbox(exchange, "POST", "/reminders/run",
                          json={"on": (due - dt.timedelta(days)).isoformat()})["reminders"]
            for days in (7, 5, 3, 2, 1)}
    mine = {d: [r for r in s if r["member_id"] == "M-100005"
                and r["due_date"] == due.isoformat()] for d, s in sent.items()}
    assert {d for d, r in mine.items() if r} == {7, 3, 1}
    phone = profile.contact_profile("M-100005", vault=core.vault).phone
    assert {(r["channel"], r["language"], r["to_address"]) for rs in mine.values()
            for r in rs} == {("sms", "vi", phone)}
    theirs = [r for s in sent.values() for r in s if r["member_id"] == "M-100002"]
    assert {(r["days_before"], r["channel"], r["language"]) for r in theirs} <= {(5, "email",
                                                                                  "en")}
    again = sandbox(exchange, "POST", "/reminders/run",
                    json={"on": (due - dt.timedelta(3)).isoformat()})["reminders"]
    assert [r for r in again if r["member_id"] == "M-100005"] == []  # sent once


def bank_method(core: Core, member: str) -> str:
    account = BankAccountEntry(routing_number="111000025", account_number="000123456789",
                               account_number_again="000123456789", account_type="checking")
    return save_bank_account(SaveBankAccount(member_id=member, account=account),
                             ctx=navigator_ctx(core), vault=core.vault,
                             clock=core.clock).method_id


def test_an_automatic_payment_moves_to_the_new_plan_without_a_gap_or_a_second_one(
        core: Core, online: SyncWorker, offline: SyncWorker, exchange: SandboxProcess) -> None:
    member, ctx, vault, clock = "M-100004", navigator_ctx(core), core.vault, core.clock
    method = bank_method(core, member)
    set_up = autopay.set_up_autopay(
        autopay.SetUpAutopay(member_id=member, method_id=method,
                             schedule=autopay.AutopaySchedule()),
        ctx=ctx, vault=vault, clock=clock)
    queued_then_confirmed(core, offline, online, set_up.outbox_id)
    [mine] = autopay.list_autopays(member, vault=vault, today=dt.date.today())
    assert mine.next_run is not None and mine.status is AutopayStatus.ACTIVE

    effective = (dt.date.today().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    sandbox(exchange, "POST", "/plan-change", json={
        "member_id": member, "plan_id": "P-CAS-GLD-750", "effective": effective.isoformat()})
    online.run_once()
    [waiting] = autopay.autopays_needing_decision(member, vault=vault)
    assert waiting.decide_by == effective - dt.timedelta(days=1) and waiting.next_run is None
    with pytest.raises(KioskError) as second:
        autopay.set_up_autopay(autopay.SetUpAutopay(member_id=member, method_id=method,
                                                    schedule=autopay.AutopaySchedule()),
                               ctx=ctx, vault=vault, clock=clock)
    assert second.value.code == "autopay_exists"

    moved = autopay.move_autopay_to_plan(waiting.autopay_id, ctx=ctx, vault=vault, clock=clock)
    queued_then_confirmed(core, offline, online, moved.outbox_id)
    [held] = sandbox(exchange, "GET", "/autopays", params={"member_id": member})["autopays"]
    assert (held["autopay_id"], held["plan_id"], held["plan_changed"], held["status"]) == (
        set_up.autopay_id, "P-CAS-GLD-750", False, "active")
    assert autopay.autopays_needing_decision(member, vault=vault) == []


def test_a_scheduled_payment_runs_once_on_its_day(
        core: Core, online: SyncWorker, exchange: SandboxProcess) -> None:
    member, ctx = "M-100001", navigator_ctx(core)
    run_on = dt.date.today() + dt.timedelta(days=3)
    scheduled = autopay.schedule_payment(member, method_id=bank_method(core, member),
                                         run_on=run_on, amount=Money(cents=1234), ctx=ctx,
                                         vault=core.vault, clock=core.clock)
    online.run_once()
    assert outbox_state(core, scheduled.outbox_id) == OutboxState.CONFIRMED
    made = [sandbox(exchange, "POST", "/autopays/run", json={"on": run_on.isoformat()})
            for _ in range(2)]
    assert [p["credit_cents"] + sum(a["amount_cents"] for a in p["applied"])
            for p in made[0]["payments"]] == [1234]
    assert made[1]["payments"] == []  # never twice


def test_a_dispute_with_attachments_is_filed_and_followed(
        core: Core, online: SyncWorker, offline: SyncWorker, exchange: SandboxProcess) -> None:
    member, ctx = "M-100003", navigator_ctx(core)
    past = [e for e in history.payment_history(member, vault=core.vault)
            if e.status is HistoryStatus.CONFIRMED and not e.taken_here]
    payment = past[0]
    filed = disputes.file_dispute(disputes.FileDispute(
        member_id=member, payment_ids=(payment.payment_id,), reason=DisputeReason.UNAUTHORIZED,
        amount=payment.amount, description="I did not make this payment; my card was stolen.",
        attachments=(disputes.AttachmentFile(filename="statement.pdf", content=PDF),
                     disputes.AttachmentFile(filename="photo.png", content=PNG))),
        ctx=ctx, vault=core.vault, clock=core.clock)
    assert filed.bank.call_bank
    assert filed.bank.call_by == payment.paid_at.date() + dt.timedelta(days=60)
    assert history.payment_details(member, payment.payment_id,
                                   vault=core.vault).status is HistoryStatus.DISPUTED

    queued_then_confirmed(core, offline, online, filed.outbox_id)
    mine = disputes.get_dispute(filed.dispute_id, vault=core.vault)
    assert mine.status is DisputeStatus.SUBMITTED and mine.messages
    held = sandbox(exchange, "GET", f"/disputes/{filed.dispute_id}")
    assert [(f["media_type"], f["stored_bytes"]) for f in held["stored_attachments"]] == [
        ("application/pdf", len(PDF)), ("image/png", len(PNG))]

    sandbox(exchange, "POST", f"/disputes/{filed.dispute_id}/decision",
            json={"status": "resolved", "message": "We refunded the payment."})
    online.run_once()
    mine = disputes.get_dispute(filed.dispute_id, vault=core.vault)
    assert mine.status is DisputeStatus.RESOLVED
    assert mine.messages[-1].text == "We refunded the payment."
    refunded = history.payment_details(member, payment.payment_id, vault=core.vault)
    assert refunded.status is HistoryStatus.REFUNDED and refunded.refunded == payment.amount
    with pytest.raises(KioskError) as refused:
        disputes.escalate_dispute(filed.dispute_id, note="Please look again at it.", ctx=ctx,
                                  vault=core.vault, clock=core.clock)
    assert refused.value.code == "escalation_refused"


def test_a_confirmed_payment_sends_its_confirmation_on_the_chosen_channel(
        core: Core, online: SyncWorker, offline: SyncWorker, exchange: SandboxProcess) -> None:
    member, ctx = "M-100001", navigator_ctx(core)
    preferences.set_preferences(member, prefs(Channel.EMAIL, "es", (3,)), ctx=ctx,
                                vault=core.vault, clock=core.clock)
    taken = pay(core, 2500, member)
    queued_then_confirmed(core, offline, online, taken.outbox_id)

    [sent] = receipt_delivery.deliveries_of(taken.payment_id, vault=core.vault)
    assert (sent.reason, sent.channel, sent.state) == (
        receipt_delivery.DeliveryReason.CONFIRMATION, Channel.EMAIL, "sent")
    messages = [m for m in sandbox(exchange, "GET", "/messages")["messages"]
                if m["payment_id"] == taken.payment_id]
    assert [(m["kind"], m["channel"], m["language"], m["to_address"]) for m in messages] == [
        ("confirmation", "email", "es", profile.contact_profile(member, vault=core.vault).email)]
    assert "recibimos su pago de $25.00" in messages[0]["body"]

    asked = receipt_delivery.request_receipt(receipt_delivery.RequestReceipt(
        payment_id=taken.payment_id, channel=Channel.SMS, address="312 555 0100",
        language="en"), ctx=ctx, vault=core.vault, clock=core.clock)
    online.run_once()
    assert outbox_state(core, asked.outbox_id) == OutboxState.CONFIRMED
    texts = [m for m in sandbox(exchange, "GET", "/messages")["messages"]
             if m["payment_id"] == taken.payment_id and m["kind"] == "requested"]
    assert [(t["channel"], t["to_address"]) for t in texts] == [("sms", "+13125550100")]
    online.run_once()
    assert len(receipt_delivery.deliveries_of(taken.payment_id, vault=core.vault)) == 2


def test_the_history_merges_the_exchange_and_the_kiosk(
        core: Core, online: SyncWorker, offline: SyncWorker) -> None:
    taken = pay(core, 1500, "M-100003")
    offline.run_once()
    every = history.payment_history("M-100003", vault=core.vault)
    assert every[0].payment_id == taken.payment_id and every[0].status is HistoryStatus.PENDING
    elsewhere = [e for e in every if not e.taken_here]
    assert len(elsewhere) >= 4 and {e.kiosk_id for e in elsewhere} <= {"WEB", "PHONE",
                                                                        "K-DEMO-01"}
    online.run_once()
    confirmed = history.payment_details("M-100003", taken.payment_id, vault=core.vault)
    assert confirmed.status is HistoryStatus.CONFIRMED and confirmed.confirmation_number
    assert confirmed.receipt_number  # what only the kiosk knows is kept

    cards = history.payment_history("M-100003", vault=core.vault, filters=history.HistoryFilter(
        methods=frozenset({"card"}), since=dt.date.today() - dt.timedelta(days=400)))
    assert cards and {e.method for e in cards} == {"card"}
    text = history.history_csv(cards)
    assert text.splitlines()[0] == ",".join(history.CSV_COLUMNS)
    assert f"{dt.date.today().isoformat()},15.00,USD,card,confirmed" in text
