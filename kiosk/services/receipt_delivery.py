"""Receipts by email, text or mail, sent by the exchange: asked for at the counter, and the
confirmation that goes out by itself once a payment taken here is confirmed.

A request is one vault transaction: a `receipt_deliveries` row, an outbox row (kind
`receipt_delivery`, `POST /v1/receipt-deliveries`, with channel, address and language) and an
audit entry. The confirmation is queued by the delivery path (`kiosk.services.delivery`) in the
same transaction that records the payment as confirmed, on the channel the member chose for
receipts, at most once per payment; a member who never chose a channel gets none (a text or an
email nobody agreed to is not sent).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.clock import Clock, from_iso, to_iso
from kiosk.domain.account import (
    Channel,
    MessageKind,
    check_language,
    normalize_email,
    normalize_phone,
)
from kiosk.domain.staff import Role, StaffSession
from kiosk.errors import NotFoundError, ValidationError
from kiosk.outbox import OutboxItem
from kiosk.services.cache import BadChangeError
from kiosk.services.payments import PaymentContext
from kiosk.services.preferences import preferences_of
from kiosk.services.profile import AccountChange, current_profile, queue_change
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

RECEIPTS_ENDPOINT = "/v1/receipt-deliveries"
OUTBOX_KIND = "receipt_delivery"
_SYNC_STAFF = StaffSession(username="sync", display_name="Sync", role=Role.NAVIGATOR,
                           signed_in_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


class DeliveryReason(StrEnum):
    REQUESTED = "requested"  # asked for at the counter
    CONFIRMATION = "confirmation"  # sent by itself once the exchange confirmed the payment


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceipt:
    payment_id: str
    channel: Channel  # email or sms
    address: str  # the email address or phone number, as typed
    language: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptRequested:
    delivery_id: str
    payment_id: str
    channel: Channel
    address: str  # normalized: the email, or the phone in E.164
    outbox_id: int
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptDelivery:
    delivery_id: str
    payment_id: str
    channel: Channel
    address: str
    language: str
    reason: DeliveryReason
    state: str  # pending, sent, refused
    created_at: dt.datetime


def _address(channel: Channel, text: str) -> str:
    if channel is Channel.EMAIL:
        return normalize_email(text)
    if channel is Channel.SMS:
        return normalize_phone(text)
    raise ValidationError(code="channel_invalid", field="channel")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Delivery:
    payment_id: str
    member_id: str
    channel: Channel
    address: str
    language: str
    reason: DeliveryReason
    kiosk_id: str


def _queue(conn: Any, d: _Delivery, *, ctx: PaymentContext, now: dt.datetime,
           new_id: Callable[[], uuid.UUID]) -> tuple[str, OutboxItem]:
    delivery_id = str(new_id())
    conn.execute("INSERT INTO receipt_deliveries (delivery_id, member_id, payment_id, channel,"
                 " address, language, reason, created_at) VALUES (?,?,?,?,?,?,?,?)",
                 (delivery_id, d.member_id, d.payment_id, d.channel, d.address, d.language,
                  d.reason, to_iso(now)))
    item = queue_change(conn, AccountChange(
        kind=OUTBOX_KIND, endpoint=RECEIPTS_ENDPOINT, member_id=d.member_id,
        subject_id=delivery_id, action=f"receipt.{d.reason}", detail=d.channel.value,
        body={"delivery_id": delivery_id, "payment_id": d.payment_id,
              "channel": d.channel.value, "to": d.address, "language": d.language,
              "reason": d.reason.value},
        ctx=ctx, now=now, new_key=new_id))
    return delivery_id, item


def _member_of_payment(conn: Any, payment_id: str) -> str:
    row = conn.execute("SELECT member_id FROM payments WHERE payment_id = ? UNION ALL"
                       " SELECT member_id FROM exchange_payments WHERE payment_id = ? LIMIT 1",
                       (payment_id, payment_id)).fetchone()
    if row is None:
        raise NotFoundError(code="payment_unknown", payment_id=payment_id)
    return str(row[0])


def request_receipt(cmd: RequestReceipt, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                    new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> ReceiptRequested:
    """Ask the exchange to email or text the receipt of a payment (one taken here, or one in
    the member's history), in `language`. Works offline; the exchange sends it once it hears.

    Refuses (nothing written): NotFoundError `payment_unknown`; ValidationError
    `channel_invalid` (mail: print the receipt instead), `email_invalid`, `phone_invalid`,
    `language_invalid`.
    """
    address, language = _address(cmd.channel, cmd.address), check_language(cmd.language)
    now = clock.now()

    def change(conn: Any) -> ReceiptRequested:
        member_id = _member_of_payment(conn, cmd.payment_id)
        d = _Delivery(payment_id=cmd.payment_id, member_id=member_id, channel=cmd.channel,
                      address=address, language=language, reason=DeliveryReason.REQUESTED,
                      kiosk_id=ctx.kiosk_id)
        delivery_id, item = _queue(conn, d, ctx=ctx, now=now, new_id=new_id)
        return ReceiptRequested(delivery_id=delivery_id, payment_id=cmd.payment_id,
                                channel=cmd.channel, address=address, outbox_id=item.id,
                                idempotency_key=item.idempotency_key)

    return vault.write(change)


def _confirmation_target(conn: Any, member_id: str) -> tuple[Channel, str, str] | None:
    """(channel, address, language) the member chose for receipts, or None."""
    view = preferences_of(conn, member_id)
    pref = view.preferences.for_kind(MessageKind.RECEIPTS) if view.chosen else None
    if pref is None:
        return None
    shown = current_profile(conn, member_id)
    to = {Channel.EMAIL: shown.email, Channel.SMS: shown.phone,
          Channel.MAIL: shown.address.one_line() if shown.address else ""}[pref.channel]
    return (pref.channel, to, pref.language) if to else None


def queue_confirmation(conn: Any, item: OutboxItem, now: str,
                       new_key: Callable[[], uuid.UUID] = uuid.uuid4) -> str | None:
    """Inside the transaction that records payment `item` as confirmed: queue its
    confirmation on the member's chosen channel. Returns the delivery id, or None when the
    member chose no channel or one was queued already for this payment."""
    target = _confirmation_target(conn, item.member_id)
    done = conn.execute("SELECT 1 FROM receipt_deliveries WHERE payment_id = ?"
                        " AND reason = 'confirmation'", (item.subject_id,)).fetchone()
    if target is None or done is not None:
        return None
    kiosk_id = str(json.loads(item.payload).get("kiosk_id", ""))
    channel, to, language = target
    d = _Delivery(payment_id=item.subject_id, member_id=item.member_id, channel=channel,
                  address=to, language=language, reason=DeliveryReason.CONFIRMATION,
                  kiosk_id=kiosk_id)
    ctx = PaymentContext(kiosk_id=kiosk_id, site="", staff=_SYNC_STAFF)
    delivery_id, _ = _queue(conn, d, ctx=ctx, now=from_iso(now), new_id=new_key)
    return delivery_id


def deliveries_of(payment_id: str, *, vault: Vault) -> list[ReceiptDelivery]:
    """Every receipt asked of the exchange for this payment, oldest first."""
    rows = vault.call(lambda conn: conn.execute(
        "SELECT * FROM receipt_deliveries WHERE payment_id = ? ORDER BY created_at, rowid",
        (payment_id,)).fetchall())
    return [ReceiptDelivery(delivery_id=r["delivery_id"], payment_id=r["payment_id"],
                            channel=Channel(r["channel"]), address=r["address"],
                            language=r["language"], reason=DeliveryReason(r["reason"]),
                            state=r["state"], created_at=from_iso(r["created_at"]))
            for r in rows]


# -- delivery answers (registered in kiosk.services.delivery) ---------------------------------

def on_delivery_confirmed(conn: Any, item: OutboxItem, answer: Any, now: str) -> None:
    if not isinstance(answer, dict) or answer.get("delivery_id") != item.subject_id:
        raise BadChangeError(field="delivery_id")
    conn.execute("UPDATE receipt_deliveries SET state = 'sent' WHERE delivery_id = ?",
                 (item.subject_id,))


def on_delivery_refused(conn: Any, item: OutboxItem) -> None:
    conn.execute("UPDATE receipt_deliveries SET state = 'refused' WHERE delivery_id = ?",
                 (item.subject_id,))
    log.warning("the exchange refused receipt delivery %s", item.subject_id)
