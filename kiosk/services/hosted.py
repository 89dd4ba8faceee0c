"""PayPal and Venmo through a hosted link, as seen from the core: whether the option is
available, the request for a link, and recording what the exchange says about one.

Hosted links are online only: the exchange makes the link and the member pays on their phone,
so there is nothing to queue. The network calls are in `sync.hosted`; this module checks the
request before it goes, remembers each link in the vault, and records a paid link as a
confirmed payment (method `paypal` or `venmo`) exactly once per link, however often it is
polled, so receipts, history, reports and the member's balance treat it like any payment.

A paid link also gets an outbox row (kind `hosted_payment`) that is finished at once with the
exchange's answer: nothing is sent, but the payment gets its receipt number from the kiosk
sequence like every other, and the queue and reports find its delivery state (confirmed).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk import outbox
from kiosk.clock import Clock, from_iso, to_iso
from kiosk.connectivity import Connectivity
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus, validate_amount
from kiosk.errors import KioskError, NotFoundError
from kiosk.outbox import OutboxState
from kiosk.services import audit, receipt_delivery
from kiosk.services.ach import NewPayment, insert_payment_row, receipt_number
from kiosk.services.cache import BadChangeError, upsert_invoice
from kiosk.services.members import get_account
from kiosk.services.payments import PaymentContext, canonical_json
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

HOSTED_ENDPOINT = "/v1/hosted-payments"
OUTBOX_KIND = "hosted_payment"
NEEDS_CONNECTION = "hosted_needs_connection"


class HostedProvider(StrEnum):
    PAYPAL = "paypal"  # PayPal checkout on the member's phone
    VENMO = "venmo"  # Venmo on the member's phone


class HostedStatus(StrEnum):
    PENDING = "pending"  # waiting for the member to pay on their phone
    PAID = "paid"  # paid; the exchange holds the payment
    EXPIRED = "expired"  # not paid in time; nothing was taken
    CANCELLED = "cancelled"  # cancelled at the kiosk; nothing was taken


class HostedNeedsConnectionError(KioskError):
    """The exchange cannot be reached, so no link can be made or checked now."""

    code = NEEDS_CONNECTION


class HostedExpiredError(KioskError):
    """The link expired unpaid: make a new one."""

    code = "hosted_expired"


class HostedNotPendingError(KioskError):
    """The link was paid or cancelled already, so it is not texted again."""

    code = "hosted_not_pending"


class HostedUnknownError(NotFoundError):
    """Neither the kiosk nor the exchange knows this link."""

    code = "hosted_unknown"


class HostedRefusedError(KioskError):
    """The exchange refused the request; `problem` holds its code (e.g. unknown_member)."""

    code = "hosted_refused"


class HostedAnswerError(BadChangeError):
    """The exchange's answer about a link does not say what the contract promises."""

    code = "hosted_answer_unreadable"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHostedLink:
    member_id: str
    amount: Money
    provider: HostedProvider
    idempotency_key: str = ""  # reuse the first attempt's key to retry; empty makes a new one


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedRequest:
    """A checked request for a link: the key and the exact bytes to send (and re-send)."""

    member_id: str
    idempotency_key: str
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedLink:
    """A link as the QR screen shows it."""

    hosted_id: str
    member_id: str
    provider: HostedProvider
    amount: Money
    status: HostedStatus
    url: str  # encode this in the QR code
    short_url: str  # show this under the QR code, and text it
    short_code: str
    created_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedPaid:
    """The payment a paid link became at the exchange."""

    payment_id: str
    confirmation_number: str
    paid_at: dt.datetime
    invoices: list[Mapping[str, Any]]  # the invoices it changed, as the exchange has them now
    coverage_months: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedUpdate:
    """What the exchange said about a link."""

    link: HostedLink
    paid: HostedPaid | None
    answer: bytes  # the answer's JSON, kept with the payment's record-only outbox row


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedPaymentRecorded:
    """The payment a paid link is recorded as at the kiosk (the same for every poll)."""

    payment_id: str
    receipt_number: str
    confirmation_number: str
    amount: Money
    provider: HostedProvider


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedOutcome:
    """Where a link stands after it was checked, and its payment once paid."""

    link: HostedLink
    payment: HostedPaymentRecorded | None = None


def unavailable_reason(connectivity: Connectivity) -> str:
    """Why PayPal and Venmo cannot be offered now ("hosted_needs_connection"), or ""."""
    return "" if connectivity.online else NEEDS_CONNECTION


def prepare_link(cmd: RequestHostedLink, *, ctx: PaymentContext, vault: Vault,
                 connectivity: Connectivity,
                 new_key: Callable[[], uuid.UUID] = uuid.uuid4) -> HostedRequest:
    """Check a request for a link before anything is sent.

    Refuses: HostedNeedsConnectionError `hosted_needs_connection` while the exchange is
    unreachable; NotFoundError `member_unknown`; ValidationError `amount_not_positive` or
    `amount_too_high`.
    """
    if not connectivity.online:
        raise HostedNeedsConnectionError()
    account = get_account(cmd.member_id, vault=vault)
    validate_amount(cmd.amount, allowed=account.max_payment)
    body = canonical_json({
        "member_id": cmd.member_id, "amount_cents": cmd.amount.cents,
        "currency": cmd.amount.currency, "provider": cmd.provider.value,
        "kiosk_id": ctx.kiosk_id, "navigator": ctx.staff.username,
    })
    return HostedRequest(member_id=cmd.member_id,
                         idempotency_key=cmd.idempotency_key or str(new_key()), body=body)


# -- reading the exchange's answer ------------------------------------------------------------

def _field(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise HostedAnswerError(field=name)
    return value


def _link(data: Mapping[str, Any]) -> HostedLink:
    try:
        return HostedLink(
            hosted_id=_field(data, "hosted_payment_id", str),
            member_id=_field(data, "member_id", str),
            provider=HostedProvider(_field(data, "provider", str)),
            amount=Money(cents=_field(data, "amount_cents", int),
                         currency=_field(data, "currency", str)),
            status=HostedStatus(_field(data, "status", str)),
            url=_field(data, "url", str), short_url=_field(data, "short_url", str),
            short_code=_field(data, "short_code", str),
            created_at=from_iso(_field(data, "created_at", str)),
            expires_at=from_iso(_field(data, "expires_at", str)))
    except ValueError as exc:
        raise HostedAnswerError(field="link") from exc


def _paid(data: Any) -> HostedPaid:
    if not isinstance(data, Mapping):
        raise HostedAnswerError(field="payment")
    invoices = _field(data, "invoices", list)
    if not all(isinstance(inv, Mapping) for inv in invoices):
        raise HostedAnswerError(field="invoices")
    applied = {a.get("invoice_id") for a in _field(data, "applied", list)
               if isinstance(a, Mapping)}
    months = sorted({str(inv.get("coverage_month")) for inv in invoices
                     if inv.get("invoice_id") in applied})
    try:
        paid_at = from_iso(_field(data, "paid_at", str))
    except ValueError as exc:
        raise HostedAnswerError(field="paid_at") from exc
    return HostedPaid(payment_id=_field(data, "payment_id", str),
                      confirmation_number=_field(data, "confirmation_number", str),
                      paid_at=paid_at, invoices=list(invoices), coverage_months=months)


def read_answer(data: Any) -> HostedUpdate:
    """The exchange's answer about a link (create, read or cancel), checked.
    HostedAnswerError `hosted_answer_unreadable` when it is not of the contract's form."""
    if not isinstance(data, Mapping):
        raise HostedAnswerError(field="body")
    link = _link(data)
    paid = _paid(data.get("payment")) if link.status is HostedStatus.PAID else None
    return HostedUpdate(link=link, paid=paid, answer=canonical_json(dict(data)))


# -- the vault --------------------------------------------------------------------------------

def remember_link(update: HostedUpdate, *, idempotency_key: str, ctx: PaymentContext,
                  vault: Vault, clock: Clock) -> None:
    """Keep a link the exchange made, so it can be checked again after a restart."""
    link, now = update.link, to_iso(clock.now())
    vault.write(lambda conn: conn.execute(
        "INSERT INTO hosted_payments (hosted_id, idempotency_key, member_id, provider,"
        " amount_cents, currency, url, short_url, short_code, expires_at, status, created_at,"
        " updated_at, navigator, site) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (hosted_id) DO NOTHING",
        (link.hosted_id, idempotency_key, link.member_id, link.provider, link.amount.cents,
         link.amount.currency, link.url, link.short_url, link.short_code,
         to_iso(link.expires_at), link.status, to_iso(link.created_at), now,
         ctx.staff.username, ctx.site)))


def _stored_link(row: Any) -> HostedLink:
    return HostedLink(
        hosted_id=row["hosted_id"], member_id=row["member_id"],
        provider=HostedProvider(row["provider"]),
        amount=Money(cents=row["amount_cents"], currency=row["currency"]),
        status=HostedStatus(row["status"]), url=row["url"], short_url=row["short_url"],
        short_code=row["short_code"], created_at=from_iso(row["created_at"]),
        expires_at=from_iso(row["expires_at"]))


def get_link(hosted_id: str, *, vault: Vault) -> HostedLink:
    """A link this kiosk made, as last heard. HostedUnknownError `hosted_unknown` otherwise."""
    row = vault.call(lambda conn: conn.execute(
        "SELECT * FROM hosted_payments WHERE hosted_id = ?", (hosted_id,)).fetchone())
    if row is None:
        raise HostedUnknownError(hosted_id=hosted_id)
    return _stored_link(row)


def open_links(*, vault: Vault) -> list[HostedLink]:
    """Links still pending as far as the kiosk knows (check them again after a restart)."""
    rows = vault.call(lambda conn: conn.execute(
        "SELECT * FROM hosted_payments WHERE status = 'pending' ORDER BY created_at").fetchall())
    return [_stored_link(row) for row in rows]


def record_update(update: HostedUpdate, *, ctx: PaymentContext, vault: Vault,
                  clock: Clock) -> HostedOutcome:
    """Store where a link stands; a paid link becomes one confirmed payment, exactly once.

    Safe to call any number of times with the same answer, from any thread (one vault
    transaction). HostedUnknownError `hosted_unknown` for a link this kiosk never made.
    """
    now = clock.now()
    recorded = vault.write(lambda conn: _record(conn, update, ctx=ctx, now=now))
    return HostedOutcome(link=update.link, payment=recorded)


def _record(conn: Any, update: HostedUpdate, *, ctx: PaymentContext,
            now: dt.datetime) -> HostedPaymentRecorded | None:
    row = conn.execute("SELECT * FROM hosted_payments WHERE hosted_id = ?",
                       (update.link.hosted_id,)).fetchone()
    if row is None:
        raise HostedUnknownError(hosted_id=update.link.hosted_id)
    conn.execute("UPDATE hosted_payments SET status = ?, updated_at = ? WHERE hosted_id = ?",
                 (update.link.status, to_iso(now), update.link.hosted_id))
    if row["payment_id"] is not None:
        return _recorded(conn, row["payment_id"], update.link.provider)
    if update.paid is None:
        return None
    return _record_paid(conn, update, update.paid, row=row, ctx=ctx, now=now)


def _recorded(conn: Any, payment_id: str, provider: HostedProvider) -> HostedPaymentRecorded:
    p = conn.execute("SELECT * FROM payments WHERE payment_id = ?", (payment_id,)).fetchone()
    return HostedPaymentRecorded(
        payment_id=payment_id, receipt_number=p["receipt_number"],
        confirmation_number=p["confirmation_number"],
        amount=Money(cents=p["amount_cents"], currency=p["currency"]), provider=provider)


def _record_paid(conn: Any, update: HostedUpdate, paid: HostedPaid, *, row: Any,
                 ctx: PaymentContext, now: dt.datetime) -> HostedPaymentRecorded:
    link = update.link
    item = outbox.enqueue(
        conn, kind=OUTBOX_KIND, member_id=link.member_id, subject_id=paid.payment_id,
        endpoint=f"{HOSTED_ENDPOINT}/{link.hosted_id}", now=now,
        build_payload=lambda seq: canonical_json({
            "hosted_payment_id": link.hosted_id, "payment_id": paid.payment_id,
            "kiosk_id": ctx.kiosk_id, "kiosk_seq": seq}))
    # Nothing to send: the exchange already holds the payment; its answer is the record.
    outbox.finish(conn, item.id, state=OutboxState.CONFIRMED, now=now, status=200,
                  body=update.answer)
    for invoice in paid.invoices:
        upsert_invoice(conn, invoice)
    insert_payment_row(conn, NewPayment(
        payment_id=paid.payment_id, receipt_number=receipt_number(ctx.kiosk_id, item.kiosk_seq),
        member_id=link.member_id, amount=link.amount, method=link.provider.value, last4="",
        coverage_months=paid.coverage_months, navigator=row["navigator"], site=row["site"],
        captured_at=paid.paid_at, status=PaymentStatus.CONFIRMED,
        confirmation_number=paid.confirmation_number, confirmed_at=now))
    conn.execute("UPDATE hosted_payments SET payment_id = ? WHERE hosted_id = ?",
                 (paid.payment_id, link.hosted_id))
    receipt_delivery.queue_confirmation(conn, item, to_iso(now))  # on the member's channel
    audit.record(conn, at=now, actor=ctx.staff.username, action="payment.taken",
                 subject=paid.payment_id,
                 detail=f"{link.amount.cents} {link.amount.currency} {link.provider}")
    log.info("%s link %s paid; payment %s recorded", link.provider, link.hosted_id,
             paid.payment_id)
    return _recorded(conn, paid.payment_id, link.provider)
