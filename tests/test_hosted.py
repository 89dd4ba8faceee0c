"""PayPal and Venmo by hosted link, end to end against the real sandbox exchange: the member
"pays on the phone" by posting the sandbox's page, the kiosk records the payment exactly once
however often it checks, and expiry, cancel, texting and the offline refusal behave.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import requests

from kiosk.bootstrap import Core
from kiosk.domain.account import Channel, MessageKind, MessagePreference, Preferences
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus
from kiosk.errors import KioskError
from kiosk.services import hosted
from kiosk.services.hosted import HostedProvider, HostedStatus, RequestHostedLink
from kiosk.services.members import get_account
from kiosk.services.payments import PaymentContext
from kiosk.services.preferences import set_preferences
from kiosk.services.receipt_delivery import DeliveryReason, deliveries_of
from kiosk.services.receipts import get_receipt
from kiosk.services.reports import ReportState, site_report
from kiosk.settings import Settings
from sync.client import ExchangeClient
from sync.hosted import HostedLinks, build_hosted_links
from sync.sandbox.server import SandboxProcess
from sync.worker import SyncWorker
from tests.test_sync import DEMO_TOKEN, free_port, make_core, navigator_ctx

MEMBER = "M-100001"


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("hosted-exchange") / "exchange.db"
    with SandboxProcess(path, port=free_port(), members=20) as process:
        yield process


@dataclass
class Kiosk:
    core: Core
    worker: SyncWorker
    links: HostedLinks
    ctx: PaymentContext

    def request(self, cents: int = 4000, provider: HostedProvider = HostedProvider.PAYPAL,
                key: str = "") -> RequestHostedLink:
        return RequestHostedLink(member_id=MEMBER, amount=Money(cents=cents), provider=provider,
                                 idempotency_key=key)

    def payments(self) -> list[Any]:
        return list(self.core.vault.call(lambda c: c.execute(
            "SELECT * FROM payments ORDER BY captured_at").fetchall()))


@pytest.fixture
def kiosk(exchange: SandboxProcess, settings: Settings) -> Iterator[Kiosk]:
    core = make_core(replace(settings, kiosk_id=f"K{uuid.uuid4().hex[:6]}"), exchange.url)
    worker = connected_worker(core)
    worker.run_once()  # fills the cache and marks the exchange reachable
    links = build_hosted_links(core)
    try:
        yield Kiosk(core=core, worker=worker, links=links, ctx=navigator_ctx(core))
    finally:
        links.close()
        worker.stop()
        core.close()


def connected_worker(core: Core) -> SyncWorker:
    """A sync worker that tells the core's connectivity what its probes find."""
    client = ExchangeClient(core.settings.exchange_url, device_token=DEMO_TOKEN,
                            kiosk_id=core.settings.kiosk_id, timeout=(2.0, 5.0))
    return SyncWorker(vault=core.vault, clock=core.clock, client=client,
                      rng=random.Random(11), connectivity=core.connectivity)


def pay_on_phone(url: str) -> requests.Response:
    """What the member's phone does: open the page, press the button."""
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and '<form method="post"' in page.text
    return requests.post(page.url, timeout=5)  # the form posts back to the page


def ledger_for(exchange: SandboxProcess, hosted_id: str) -> list[dict[str, Any]]:
    payments = requests.get(f"{exchange.url}/_sandbox/ledger", timeout=5).json()["payments"]
    return [p for p in payments if p["hosted_payment_id"] == hosted_id]


def test_a_paid_link_is_recorded_once_however_often_it_is_checked(
    kiosk: Kiosk, exchange: SandboxProcess
) -> None:
    balance = get_account(MEMBER, vault=kiosk.core.vault).balance
    link = kiosk.links.create(kiosk.request(), ctx=kiosk.ctx)
    assert link.status is HostedStatus.PENDING and link.short_url.endswith(link.short_code)
    assert kiosk.links.check(link.hosted_id, ctx=kiosk.ctx).payment is None

    assert pay_on_phone(link.short_url).status_code == 200  # the short link leads to the page
    pressed_again = requests.post(link.url, timeout=5)
    assert pressed_again.status_code == 200 and "Payment complete" in pressed_again.text

    first = kiosk.links.check(link.hosted_id, ctx=kiosk.ctx)
    second = kiosk.links.check(link.hosted_id, ctx=kiosk.ctx)
    assert first.link.status is HostedStatus.PAID
    assert first.payment is not None and first.payment == second.payment
    assert len(kiosk.payments()) == 1 and len(ledger_for(exchange, link.hosted_id)) == 1
    receipt = get_receipt(first.payment.payment_id, vault=kiosk.core.vault)
    assert (receipt.method, receipt.status) == ("paypal", PaymentStatus.CONFIRMED)
    assert receipt.confirmation_number == first.payment.confirmation_number
    assert receipt.coverage_months and receipt.amount == Money(cents=4000)
    assert get_account(MEMBER, vault=kiosk.core.vault).balance == balance - Money(cents=4000)
    kiosk.worker.run_once()  # the same payment arriving through the feed changes nothing
    assert len(kiosk.payments()) == 1
    assert get_account(MEMBER, vault=kiosk.core.vault).balance == balance - Money(cents=4000)
    today = kiosk.core.clock.now().date()
    report = site_report(today - dt.timedelta(days=1), today + dt.timedelta(days=1),
                         tz="UTC", vault=kiosk.core.vault)
    assert report.by_method[("paypal", ReportState.CONFIRMED)].count == 1


def test_a_retry_with_the_same_key_gets_the_same_link(kiosk: Kiosk) -> None:
    key = str(uuid.uuid4())
    first = kiosk.links.create(kiosk.request(key=key), ctx=kiosk.ctx)
    again = kiosk.links.create(kiosk.request(key=key), ctx=kiosk.ctx)
    assert again.hosted_id == first.hosted_id
    assert [link.hosted_id for link in hosted.open_links(vault=kiosk.core.vault)] == [
        first.hosted_id]


def test_an_expired_link_takes_nothing(kiosk: Kiosk, exchange: SandboxProcess) -> None:
    link = kiosk.links.create(kiosk.request(provider=HostedProvider.VENMO), ctx=kiosk.ctx)
    requests.post(f"{exchange.url}/_sandbox/hosted-payments/{link.hosted_id}/expire",
                  timeout=5).raise_for_status()

    assert kiosk.links.check(link.hosted_id, ctx=kiosk.ctx).link.status is HostedStatus.EXPIRED
    assert requests.post(link.url, timeout=5).status_code == 410
    with pytest.raises(KioskError) as refused:
        kiosk.links.text(link.hosted_id)
    assert refused.value.code == "hosted_expired"
    assert kiosk.payments() == [] and ledger_for(exchange, link.hosted_id) == []
    assert hosted.open_links(vault=kiosk.core.vault) == []


def test_a_cancelled_link_takes_nothing_and_a_paid_one_is_not_undone(
    kiosk: Kiosk, exchange: SandboxProcess
) -> None:
    link = kiosk.links.create(kiosk.request(), ctx=kiosk.ctx)
    cancelled = kiosk.links.cancel(link.hosted_id, ctx=kiosk.ctx)
    assert (cancelled.link.status, cancelled.payment) == (HostedStatus.CANCELLED, None)
    assert requests.post(link.url, timeout=5).status_code == 410
    assert kiosk.payments() == [] and ledger_for(exchange, link.hosted_id) == []

    paid = kiosk.links.create(kiosk.request(2500), ctx=kiosk.ctx)
    pay_on_phone(paid.url)
    late = kiosk.links.cancel(paid.hosted_id, ctx=kiosk.ctx)
    assert late.link.status is HostedStatus.PAID and late.payment is not None
    assert len(kiosk.payments()) == 1


def test_the_link_is_texted_to_the_members_phone(kiosk: Kiosk, exchange: SandboxProcess) -> None:
    link = kiosk.links.create(kiosk.request(), ctx=kiosk.ctx)
    phone = get_account(MEMBER, vault=kiosk.core.vault).member.phone
    sent = kiosk.links.text(link.hosted_id)
    assert sent.to_last4 == phone[-4:]
    texts = requests.get(f"{exchange.url}/_sandbox/texts", timeout=5).json()["texts"]
    mine = [t for t in texts if t["hosted_payment_id"] == link.hosted_id]
    assert [(t["phone"], link.short_url in t["body"]) for t in mine] == [(phone, True)]
    with pytest.raises(KioskError) as refused:
        kiosk.links.text(link.hosted_id, phone="555-0100")
    assert refused.value.code == "phone_invalid"


def test_offline_the_option_is_unavailable_with_its_reason(
    kiosk: Kiosk, exchange: SandboxProcess
) -> None:
    kiosk.core.connectivity.mark(online=False, at=kiosk.core.clock.now())
    assert hosted.unavailable_reason(kiosk.core.connectivity) == "hosted_needs_connection"
    with pytest.raises(KioskError) as refused:
        kiosk.links.create(kiosk.request(), ctx=kiosk.ctx)
    assert refused.value.code == "hosted_needs_connection"
    rows = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT count(*) FROM hosted_payments").fetchone()[0])
    assert rows == 0


def test_a_paid_link_sends_the_confirmation_the_member_chose(kiosk: Kiosk,
                                                            exchange: SandboxProcess) -> None:
    chosen = Preferences(messages=tuple(
        MessagePreference(kind=kind, channel=Channel.SMS, language="es") for kind in MessageKind))
    set_preferences(MEMBER, chosen, ctx=kiosk.ctx, vault=kiosk.core.vault, clock=kiosk.core.clock)
    link = kiosk.links.create(kiosk.request(cents=2500), ctx=kiosk.ctx)
    assert pay_on_phone(link.short_url).status_code == 200
    paid = kiosk.links.check(link.hosted_id, ctx=kiosk.ctx).payment
    assert paid is not None
    sent = deliveries_of(paid.payment_id, vault=kiosk.core.vault)
    assert [(d.channel, d.language, d.reason) for d in sent] == [
        (Channel.SMS, "es", DeliveryReason.CONFIRMATION)]
    kiosk.links.check(link.hosted_id, ctx=kiosk.ctx)  # checked again: still one confirmation
    assert len(deliveries_of(paid.payment_id, vault=kiosk.core.vault)) == 1
    kiosk.worker.run_once()
    texts = requests.get(f"{exchange.url}/_sandbox/messages", timeout=5).json()["messages"]
    assert [m["channel"] for m in texts if m["payment_id"] == paid.payment_id] == ["sms"]
