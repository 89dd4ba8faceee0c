"""Writing records and posting payments inside a transaction the caller has opened.

Every function here takes an open sqlite3 connection already in a `BEGIN IMMEDIATE`
transaction (see `store.ExchangeStore`) and never commits: posting a payment, publishing the
changed invoices, payment and member to the feed and storing the answer under its idempotency
key all commit together or not at all.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from . import billing
from .models import PaymentRequest
from .problems import PROBLEM_MEDIA_TYPE, PROBLEMS, encode_json, problem_body

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    """A payment about to go on the ledger: from a kiosk's request or a paid hosted link."""

    payment_id: str
    member_id: str
    amount_cents: int
    kiosk_id: str
    kiosk_seq: int | None  # None for a hosted link, which no kiosk sequence covers
    method: str  # card, ach, paypal or venmo
    hosted_payment_id: str | None = None

    @classmethod
    def of(cls, payment: PaymentRequest) -> LedgerEntry:
        """The ledger entry a kiosk's payment request asks for."""
        return cls(
            payment_id=payment.payment_id,
            member_id=payment.member_id,
            amount_cents=payment.amount_cents,
            kiosk_id=payment.kiosk_id,
            kiosk_seq=payment.kiosk_seq,
            method=payment.method.type,
        )


@dataclass(frozen=True, kw_only=True)
class StoredAnswer:
    """An answer exactly as it was sent, kept under its idempotency key for replay."""

    status_code: int
    media_type: str
    body: bytes


_INVOICE_COLUMNS = (
    "invoice_id, member_id, coverage_month, amount_due_cents, amount_paid_cents, due_date,"
    " is_binder, status"
)


def stamp(moment: datetime) -> str:
    """A sortable UTC timestamp with microseconds, for the exchange's own bookkeeping."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(moment: datetime) -> str:
    """A UTC timestamp to the second, as the contract shows them: 2026-11-28T10:15:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish(conn: sqlite3.Connection, kind: str, record_id: str, data: dict[str, Any]) -> None:
    """Put the record's current version at the end of the changes feed, dropping older ones."""
    conn.execute("DELETE FROM changes WHERE kind = ? AND record_id = ?", (kind, record_id))
    conn.execute(
        "INSERT INTO changes (kind, record_id, data) VALUES (?, ?, ?)",
        (kind, record_id, json.dumps(data, ensure_ascii=False)),
    )


def save_plan(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """Insert or replace a plan and publish it."""
    conn.execute(
        "INSERT OR REPLACE INTO plans (plan_id, data) VALUES (?, ?)",
        (data["plan_id"], json.dumps(data, ensure_ascii=False)),
    )
    publish(conn, "plan", data["plan_id"], data)


def save_member(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """Insert or replace a member and publish them."""
    conn.execute(
        "INSERT INTO members (member_id, data) VALUES (?, ?)"
        " ON CONFLICT (member_id) DO UPDATE SET data = excluded.data",
        (data["member_id"], json.dumps(data, ensure_ascii=False)),
    )
    publish(conn, "member", data["member_id"], data)


def save_invoice(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """Insert or replace an invoice and publish it."""
    conn.execute(
        f"INSERT OR REPLACE INTO invoices ({_INVOICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            data["invoice_id"],
            data["member_id"],
            data["coverage_month"],
            data["amount_due_cents"],
            data["amount_paid_cents"],
            data["due_date"],
            int(data["is_binder"]),
            data["status"],
        ),
    )
    publish(conn, "invoice", data["invoice_id"], data)


def complete_key(
    conn: sqlite3.Connection, key: str, answer: StoredAnswer, *, now: datetime
) -> None:
    """Store the final answer for a key this request claimed."""
    updated = conn.execute(
        "UPDATE idempotency_keys SET state = 'done', status_code = ?, media_type = ?, body = ?,"
        " completed_at = ? WHERE idempotency_key = ? AND state = 'processing'",
        (answer.status_code, answer.media_type, answer.body, stamp(now), key),
    ).rowcount
    if updated != 1:
        raise RuntimeError("idempotency key was not claimed by this request")


def post_payment(
    conn: sqlite3.Connection, key: str, payment: PaymentRequest, *, now: datetime, today: date
) -> StoredAnswer:
    """Accept or reject `payment` and store the answer under `key`; returns the answer."""
    rejection = _rejection(conn, payment)
    if rejection is None:
        accepted = accept(conn, key, LedgerEntry.of(payment), now=now, today=today)
        answer = StoredAnswer(
            status_code=201, media_type="application/json", body=encode_json(accepted)
        )
    else:
        answer = rejection_answer(*rejection)
    complete_key(conn, key, answer, now=now)
    return answer


def rejection_answer(code: str, detail: str) -> StoredAnswer:
    """The problem answer for `code`, ready to store and send."""
    return StoredAnswer(
        status_code=PROBLEMS[code].status,
        media_type=PROBLEM_MEDIA_TYPE,
        body=encode_json(problem_body(code, detail)),
    )


def kiosk_seq_used(conn: sqlite3.Connection, kiosk_id: str, kiosk_seq: int) -> bool:
    """Whether a payment, a payment-method change or an account change already came with
    this kiosk sequence."""
    return exists(
        conn,
        "SELECT 1 FROM payments WHERE kiosk_id = ? AND kiosk_seq = ?"
        " UNION ALL SELECT 1 FROM method_changes WHERE kiosk_id = ? AND kiosk_seq = ?"
        " UNION ALL SELECT 1 FROM account_changes WHERE kiosk_id = ? AND kiosk_seq = ?",
        *(kiosk_id, kiosk_seq) * 3,
    )


def _rejection(conn: sqlite3.Connection, payment: PaymentRequest) -> tuple[str, str] | None:
    """Why the exchange refuses `payment`, as (code, detail), or None to accept it."""
    if kiosk_seq_used(conn, payment.kiosk_id, payment.kiosk_seq):
        return "kiosk_sequence_reused", (
            f"Kiosk {payment.kiosk_id} already sent sequence {payment.kiosk_seq} under another key."
        )
    if exists(conn, "SELECT 1 FROM payments WHERE payment_id = ?", payment.payment_id):
        return "payment_id_reused", "A payment with this payment_id was accepted under another key."
    if not exists(conn, "SELECT 1 FROM members WHERE member_id = ?", payment.member_id):
        return "unknown_member", "No member has this member_id."
    return None


def exists(conn: sqlite3.Connection, query: str, *params: object) -> bool:
    """Whether `query` finds a row."""
    return conn.execute(query, params).fetchone() is not None


def accept(
    conn: sqlite3.Connection, key: str, payment: LedgerEntry, *, now: datetime, today: date
) -> dict[str, Any]:
    """Apply the payment oldest invoice first, record it, publish every change."""
    open_invoices = {inv["invoice_id"]: inv for inv in _open_invoices(conn, payment.member_id)}
    application = billing.apply_payment(
        payment.amount_cents, [_as_open(inv) for inv in open_invoices.values()]
    )
    updated = [
        _pay_invoice(conn, open_invoices[allocation.invoice_id], allocation.amount_cents)
        for allocation in application.allocations
    ]
    payment_data = _record_payment(conn, key, payment, application, now=now)
    _refresh_member_status(conn, payment.member_id, today=today)
    logger.info(
        "payment %s accepted: %d cents over %d invoices, %d cents credit",
        payment.payment_id,
        payment.amount_cents,
        len(updated),
        application.credit_cents,
    )
    return {
        "payment_id": payment.payment_id,
        "confirmation_number": payment_data["confirmation_number"],
        "status": "confirmed",
        "applied": [
            {"invoice_id": allocation.invoice_id, "amount_cents": allocation.amount_cents}
            for allocation in application.allocations
        ],
        "credit_cents": application.credit_cents,
        "invoices": updated,
    }


def _open_invoices(conn: sqlite3.Connection, member_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE member_id = ? AND status = 'open'",  # nosec B608
        (member_id,),
    ).fetchall()
    names = [name.strip() for name in _INVOICE_COLUMNS.split(",")]
    invoices = [dict(zip(names, row, strict=True)) for row in rows]
    for invoice in invoices:
        invoice["is_binder"] = bool(invoice["is_binder"])
    return invoices


def _as_open(invoice: dict[str, Any]) -> billing.OpenInvoice:
    return billing.OpenInvoice(
        invoice_id=invoice["invoice_id"],
        coverage_month=invoice["coverage_month"],
        due_date=date.fromisoformat(invoice["due_date"]),
        balance_cents=invoice["amount_due_cents"] - invoice["amount_paid_cents"],
        is_binder=invoice["is_binder"],
    )


def _pay_invoice(conn: sqlite3.Connection, invoice: dict[str, Any], cents: int) -> dict[str, Any]:
    paid = invoice["amount_paid_cents"] + cents
    fully_paid = paid >= invoice["amount_due_cents"]
    status = billing.InvoiceStatus.PAID if fully_paid else billing.InvoiceStatus.OPEN
    updated = {**invoice, "amount_paid_cents": paid, "status": status.value}
    save_invoice(conn, updated)
    return updated


def _record_payment(
    conn: sqlite3.Connection,
    key: str,
    payment: LedgerEntry,
    application: billing.Application,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Add the payment to the ledger and publish it; returns its feed record."""
    number = conn.execute("SELECT COALESCE(MAX(rowid), 0) + 1 FROM payments").fetchone()[0]
    data = {
        "payment_id": payment.payment_id,
        "member_id": payment.member_id,
        "amount_cents": payment.amount_cents,
        "confirmation_number": f"HCX-{now:%y%m%d}-{number:06d}",
        "status": "confirmed",
        "kiosk_id": payment.kiosk_id,
        "received_at": iso_seconds(now),
        "method": payment.method,
        "return_code": "",
        "returned_at": None,
        "hosted_payment_id": payment.hosted_payment_id,
        "refunded_at": None,
        "refunded_cents": 0,
        "last4": "",
        "dispute_id": "",
    }
    applied = [
        {"invoice_id": a.invoice_id, "amount_cents": a.amount_cents}
        for a in application.allocations
    ]
    conn.execute(
        "INSERT INTO payments (payment_id, idempotency_key, member_id, amount_cents, credit_cents,"
        " applied, confirmation_number, status, kiosk_id, kiosk_seq, received_at, method,"
        " hosted_payment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            data["payment_id"],
            key,
            data["member_id"],
            data["amount_cents"],
            application.credit_cents,
            json.dumps(applied),
            data["confirmation_number"],
            data["status"],
            data["kiosk_id"],
            payment.kiosk_seq,
            data["received_at"],
            payment.method,
            payment.hosted_payment_id,
        ),
    )
    publish(conn, "payment", payment.payment_id, data)
    return data


def _refresh_member_status(conn: sqlite3.Connection, member_id: str, *, today: date) -> None:
    """Re-derive the member's status from what is still open; publish the member if it moved."""
    still_open = [_as_open(invoice) for invoice in _open_invoices(conn, member_id)]
    status = billing.member_status(still_open, today=today)
    row = conn.execute("SELECT data FROM members WHERE member_id = ?", (member_id,)).fetchone()
    member = json.loads(row[0])
    if member["status"] != status:
        save_member(conn, {**member, "status": status.value})


def feed_record(conn: sqlite3.Connection, payment_id: str) -> dict[str, Any] | None:
    """The payment's current record in the changes feed, or None when there is none."""
    row = conn.execute(
        "SELECT data FROM changes WHERE kind = 'payment' AND record_id = ?", (payment_id,)
    ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def return_payment(
    conn: sqlite3.Connection, payment_id: str, code: str, *, now: datetime, today: date
) -> dict[str, Any] | None:
    """The member's bank returned an ACH payment: undo what it paid, reopen those invoices,
    and publish the payment as `returned` with its code. None unless it is an ACH payment on
    the ledger that was not returned yet."""
    row = conn.execute(
        "SELECT applied FROM payments WHERE payment_id = ? AND method = 'ach'"
        " AND status = 'confirmed'",
        (payment_id,),
    ).fetchone()
    record = feed_record(conn, payment_id)
    if row is None or record is None:
        return None
    for allocation in json.loads(row[0]):
        _unpay_invoice(conn, allocation["invoice_id"], allocation["amount_cents"])
    returned_at = iso_seconds(now)
    conn.execute(
        "UPDATE payments SET status = 'returned', return_code = ?, returned_at = ?"
        " WHERE payment_id = ?",
        (code, returned_at, payment_id),
    )
    updated = {**record, "status": "returned", "return_code": code, "returned_at": returned_at}
    publish(conn, "payment", payment_id, updated)
    _refresh_member_status(conn, record["member_id"], today=today)
    logger.info("ACH payment %s returned with %s", payment_id, code)
    return updated


def _unpay_invoice(conn: sqlite3.Connection, invoice_id: str, cents: int) -> None:
    names = [name.strip() for name in _INVOICE_COLUMNS.split(",")]
    row = conn.execute(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE invoice_id = ?", (invoice_id,)  # nosec B608
    ).fetchone()
    invoice = dict(zip(names, row, strict=True))
    invoice["is_binder"] = bool(invoice["is_binder"])
    paid = max(0, invoice["amount_paid_cents"] - cents)
    still_paid = paid >= invoice["amount_due_cents"]
    status = billing.InvoiceStatus.PAID if still_paid else billing.InvoiceStatus.OPEN
    save_invoice(conn, {**invoice, "amount_paid_cents": paid, "status": status.value})
