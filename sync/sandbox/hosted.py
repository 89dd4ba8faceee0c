"""Hosted payment links (PayPal, Venmo): the kiosk asks for a link, shows it as a QR code, and
the member pays on their phone; a paid link becomes a payment on the ledger and in the feed.

Functions here run inside a transaction the caller opened (see `store.ExchangeStore`) and
never commit. A link is `pending` until it is paid, cancelled, or reaches its expiry; expiry is
noticed whenever the link is read. In the sandbox the "provider" is a page this exchange serves
itself (`page_html`), with a button that completes the payment.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import sqlite3
import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from .models import HostedPaymentRequest
from .posting import (
    LedgerEntry,
    StoredAnswer,
    accept,
    complete_key,
    exists,
    iso_seconds,
    rejection_answer,
    stamp,
)
from .problems import describe_errors, encode_json

logger = logging.getLogger(__name__)

# Letters and digits without 0/O and 1/I/L, which are easy to misread.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # pragma: allowlist secret
SHORT_CODE_LENGTH = 7
_COLUMNS = (
    "hosted_payment_id, member_id, amount_cents, currency, provider, status, url, short_url,"
    " short_code, created_at, expires_at, payment_id"
)


class PayOutcome(StrEnum):
    """What pressing the button on the page did."""

    PAID = "paid"  # the payment is on the ledger now
    ALREADY_PAID = "already_paid"  # an earlier press paid it; nothing more was taken
    EXPIRED = "expired"  # too late: nothing was taken
    CANCELLED = "cancelled"  # the kiosk cancelled it: nothing was taken
    UNKNOWN = "unknown"  # no such link


def parse_request(body: bytes) -> HostedPaymentRequest | StoredAnswer:
    """The link request in `body`, or the 400 `invalid_request` answer to store."""
    try:
        return HostedPaymentRequest.model_validate_json(body)
    except ValidationError as exc:
        return rejection_answer("invalid_request", describe_errors(exc.errors()))


def create(
    conn: sqlite3.Connection,
    key: str,
    request: HostedPaymentRequest,
    *,
    base_url: str,
    now: datetime,
) -> StoredAnswer:
    """Make a link for `request` (or refuse it) and store the answer under `key`."""
    if not exists(conn, "SELECT 1 FROM members WHERE member_id = ?", request.member_id):
        answer = rejection_answer("unknown_member", "No member has this member_id.")
    else:
        hosted_id = _insert(conn, key, request, base_url=base_url, now=now)
        answer = StoredAnswer(
            status_code=201,
            media_type="application/json",
            body=encode_json(record(conn, hosted_id)),
        )
    complete_key(conn, key, answer, now=now)
    return answer


def _insert(
    conn: sqlite3.Connection,
    key: str,
    request: HostedPaymentRequest,
    *,
    base_url: str,
    now: datetime,
) -> str:
    hosted_id = str(uuid.uuid4())
    code = _free_short_code(conn)
    base = base_url.rstrip("/")
    expires = now + timedelta(seconds=request.expires_in_seconds)
    conn.execute(
        "INSERT INTO hosted_payments (hosted_payment_id, idempotency_key, member_id,"
        " amount_cents, currency, provider, kiosk_id, navigator, status, url, short_url,"
        " short_code, created_at, expires_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
        (
            hosted_id,
            key,
            request.member_id,
            request.amount_cents,
            request.currency,
            request.provider,
            request.kiosk_id,
            request.navigator,
            f"{base}/pay/{hosted_id}",
            f"{base}/p/{code}",
            code,
            iso_seconds(now),
            iso_seconds(expires),
            stamp(now),
        ),
    )
    logger.info("hosted %s link %s made, %d cents", request.provider, hosted_id,
                request.amount_cents)
    return hosted_id


def _free_short_code(conn: sqlite3.Connection) -> str:
    while True:
        code = "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))
        if not exists(conn, "SELECT 1 FROM hosted_payments WHERE short_code = ?", code):
            return code


def _row(conn: sqlite3.Connection, hosted_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM hosted_payments WHERE hosted_payment_id = ?", (hosted_id,)  # nosec B608
    ).fetchone()
    names = [name.strip() for name in _COLUMNS.split(",")]
    return None if row is None else dict(zip(names, row, strict=True))


def record(conn: sqlite3.Connection, hosted_id: str) -> dict[str, Any]:
    """The link as the contract shows it, with the payment it became once paid."""
    row = _row(conn, hosted_id)
    if row is None:
        raise KeyError(hosted_id)
    payment_id = row.pop("payment_id")
    row["payment"] = _paid(conn, payment_id) if payment_id else None
    return row


def _paid(conn: sqlite3.Connection, payment_id: str) -> dict[str, Any]:
    confirmation, received_at, applied, credit = conn.execute(
        "SELECT confirmation_number, received_at, applied, credit_cents FROM payments"
        " WHERE payment_id = ?",
        (payment_id,),
    ).fetchone()
    allocations = json.loads(applied)
    return {
        "payment_id": payment_id,
        "confirmation_number": confirmation,
        "paid_at": received_at,
        "applied": allocations,
        "credit_cents": credit,
        "invoices": [_invoice(conn, a["invoice_id"]) for a in allocations],
    }


def _invoice(conn: sqlite3.Connection, invoice_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT data FROM changes WHERE kind = 'invoice' AND record_id = ?", (invoice_id,)
    ).fetchone()
    return dict(json.loads(row[0]))


def current(conn: sqlite3.Connection, hosted_id: str, *, now: datetime) -> dict[str, Any] | None:
    """The link as it stands at `now` (a pending link past its expiry becomes `expired`)."""
    row = _row(conn, hosted_id)
    if row is None:
        return None
    if row["status"] == "pending" and iso_seconds(now) >= row["expires_at"]:
        _set_status(conn, hosted_id, "expired", now=now)
    return record(conn, hosted_id)


def _set_status(conn: sqlite3.Connection, hosted_id: str, status: str, *, now: datetime) -> None:
    conn.execute(
        "UPDATE hosted_payments SET status = ?, updated_at = ? WHERE hosted_payment_id = ?",
        (status, stamp(now), hosted_id),
    )
    logger.info("hosted link %s is %s", hosted_id, status)


def pay(conn: sqlite3.Connection, hosted_id: str, *, now: datetime, today: date) -> PayOutcome:
    """The member pressed "pay" on the page: post the payment once, if the link is pending."""
    link = current(conn, hosted_id, now=now)
    if link is None:
        return PayOutcome.UNKNOWN
    if link["status"] != "pending":
        return PayOutcome.ALREADY_PAID if link["status"] == "paid" else PayOutcome(link["status"])
    kiosk_id = conn.execute(
        "SELECT kiosk_id FROM hosted_payments WHERE hosted_payment_id = ?", (hosted_id,)
    ).fetchone()[0]
    entry = LedgerEntry(
        payment_id=str(uuid.uuid4()),
        member_id=link["member_id"],
        amount_cents=link["amount_cents"],
        kiosk_id=kiosk_id,
        kiosk_seq=None,
        method=link["provider"],
        hosted_payment_id=hosted_id,
    )
    accept(conn, f"hosted:{hosted_id}", entry, now=now, today=today)
    conn.execute(
        "UPDATE hosted_payments SET payment_id = ? WHERE hosted_payment_id = ?",
        (entry.payment_id, hosted_id),
    )
    _set_status(conn, hosted_id, "paid", now=now)
    return PayOutcome.PAID


def cancel(conn: sqlite3.Connection, hosted_id: str, *, now: datetime) -> dict[str, Any] | None:
    """Cancel a pending link; a paid, expired or cancelled one is left as it is."""
    link = current(conn, hosted_id, now=now)
    if link is not None and link["status"] == "pending":
        _set_status(conn, hosted_id, "cancelled", now=now)
        link = record(conn, hosted_id)
    return link


def text(
    conn: sqlite3.Connection, hosted_id: str, phone: str, *, now: datetime
) -> dict[str, Any]:
    """Record a text message with the short link to `phone` (the sandbox sends nothing)."""
    short_url = conn.execute(
        "SELECT short_url FROM hosted_payments WHERE hosted_payment_id = ?", (hosted_id,)
    ).fetchone()[0]
    sent_at = iso_seconds(now)
    conn.execute(
        "INSERT INTO text_messages (hosted_payment_id, phone, body, sent_at) VALUES (?, ?, ?, ?)",
        (hosted_id, phone, f"Pay your health coverage premium: {short_url}", sent_at),
    )
    return {"hosted_payment_id": hosted_id, "to_last4": phone[-4:], "sent_at": sent_at}


def expire_now(conn: sqlite3.Connection, hosted_id: str, *, now: datetime) -> bool:
    """Sandbox only: make a link reach its expiry at once. False for an unknown link."""
    cursor = conn.execute(
        "UPDATE hosted_payments SET expires_at = ? WHERE hosted_payment_id = ?",
        (iso_seconds(now), hosted_id),
    )
    return cursor.rowcount == 1


def by_short_code(conn: sqlite3.Connection, code: str) -> str | None:
    """The link with this short code, or None."""
    row = conn.execute(
        "SELECT hosted_payment_id FROM hosted_payments WHERE short_code = ?", (code.upper(),)
    ).fetchone()
    return None if row is None else str(row[0])


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body><main><h1>{title}</h1><p>{message}</p>{form}</main></body></html>
"""
_FORM = """<form method="post" action="/pay/{hosted_id}">
<button type="submit">Pay {amount} with {provider}</button></form>"""
_PROVIDERS = {"paypal": "PayPal", "venmo": "Venmo"}


def page_html(link: dict[str, Any] | None, outcome: PayOutcome | None = None) -> str:
    """The member's page: a pay button while the link is pending, otherwise where it stands."""
    if link is None:
        return _page("Link not found", "This payment link does not exist.")
    amount = f"${link['amount_cents'] // 100:,}.{link['amount_cents'] % 100:02d}"
    provider = _PROVIDERS[link["provider"]]
    if outcome is PayOutcome.PAID or link["status"] == "paid":
        number = link["payment"]["confirmation_number"] if link["payment"] else ""
        return _page("Payment complete", f"Paid {amount}. Confirmation {number}.")
    if link["status"] != "pending":
        return _page("Link no longer valid", f"This payment link is {link['status']}.")
    form = _FORM.format(
        hosted_id=html.escape(link["hosted_payment_id"]), amount=amount, provider=provider
    )
    return _page(f"Health coverage premium: {amount}", f"Pay with {provider}.", form)


def _page(title: str, message: str, form: str = "") -> str:
    return _PAGE.format(title=html.escape(title), message=html.escape(message), form=form)
