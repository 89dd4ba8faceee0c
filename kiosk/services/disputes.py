"""Disputes: file one about one or more payments, with attachments; follow its status and the
exchange's messages; ask to escalate it.

Filing is one vault transaction: the dispute, its payments, its attachments (photos or PDFs up
to 10 MiB each, checked by their first bytes and kept in the encrypted vault), an outbox row
(kind `dispute`, `POST /v1/disputes`, action `file`, the attachments inside it in base64) and
an audit entry. Escalating is one more row (action `escalate`). The exchange's status and
messages come back in its answers and in the changes feed (kind `dispute`).

For a charge the member did not make, the result says to call the bank and by when
(`kiosk.domain.account.bank_advice`: 60 days from the statement, Regulation E and Z).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.clock import Clock, from_iso, to_iso
from kiosk.domain.account import (
    MAX_ATTACHMENTS,
    OPEN_DISPUTES,
    AttachmentType,
    BankAdvice,
    DisputeReason,
    DisputeStatus,
    attachment_type,
    bank_advice,
    check_description,
    check_dispute_amount,
)
from kiosk.domain.money import Money, total
from kiosk.errors import KioskError, NotFoundError, ValidationError
from kiosk.outbox import OutboxItem
from kiosk.services.cache import BadChangeError
from kiosk.services.methods import ExchangeState
from kiosk.services.payments import PaymentContext
from kiosk.services.profile import AccountChange, member_row, queue_change, waiting_rows
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

DISPUTES_ENDPOINT = "/v1/disputes"
OUTBOX_KIND = "dispute"
MAX_FILENAME = 120


class DisputeUnknownError(NotFoundError):
    """No dispute with this id."""

    code = "dispute_unknown"


class PaymentsMissingError(ValidationError):
    """A dispute must name at least one payment."""

    code = "dispute_payments_missing"


class AlreadyDisputedError(KioskError):
    """An open dispute already covers one of these payments."""

    code = "payment_already_disputed"


class TooManyAttachmentsError(ValidationError):
    """More than five attachments."""

    code = "attachments_too_many"


class EscalationRefusedError(KioskError):
    """Already escalated, or already resolved for the member."""

    code = "escalation_refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentFile:
    filename: str  # as the member named it; only shown, never used to judge the type
    content: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FileDispute:
    member_id: str
    payment_ids: tuple[str, ...]
    reason: DisputeReason
    amount: Money
    description: str
    attachments: tuple[AttachmentFile, ...] = ()
    statement_date: dt.date | None = None  # of the bank statement showing the charge


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeChanged:
    dispute_id: str
    member_id: str
    outbox_id: int
    idempotency_key: str
    bank: BankAdvice  # for an unauthorized charge: call the bank, by this date


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeMessage:
    at: dt.datetime
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentInfo:
    attachment_id: str
    filename: str
    media_type: AttachmentType
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispute:
    dispute_id: str
    member_id: str
    reason: DisputeReason
    amount: Money
    description: str
    status: DisputeStatus
    messages: tuple[DisputeMessage, ...]  # from the exchange, oldest first
    escalated: bool
    payment_ids: tuple[str, ...]
    attachments: tuple[AttachmentInfo, ...]
    bank: BankAdvice
    exchange_state: ExchangeState
    created_at: dt.datetime


# -- reading ------------------------------------------------------------------------------------

def _messages(text: str) -> tuple[DisputeMessage, ...]:
    return tuple(DisputeMessage(at=from_iso(m["at"]), text=str(m["text"]))
                 for m in json.loads(text) if isinstance(m, dict) and "at" in m)


def _dispute(conn: Any, row: Any) -> Dispute:
    did = row["dispute_id"]
    payments = tuple(r[0] for r in conn.execute(
        "SELECT payment_id FROM dispute_payments WHERE dispute_id = ? ORDER BY payment_id",
        (did,)))
    files = tuple(AttachmentInfo(attachment_id=r["attachment_id"], filename=r["filename"],
                                 media_type=AttachmentType(r["media_type"]), size=r["size"])
                  for r in conn.execute("SELECT attachment_id, filename, media_type, size FROM"
                                        " dispute_attachments WHERE dispute_id = ? ORDER BY rowid",
                                        (did,)))
    call_by = row["bank_call_by"]
    return Dispute(
        dispute_id=did, member_id=row["member_id"], reason=DisputeReason(row["reason"]),
        amount=Money(cents=row["amount_cents"], currency=row["currency"]),
        description=row["description"], status=DisputeStatus(row["status"]),
        messages=_messages(row["messages"]), escalated=bool(row["escalated"]),
        payment_ids=payments, attachments=files,
        bank=BankAdvice(call_bank=call_by is not None,
                        call_by=dt.date.fromisoformat(call_by) if call_by else None),
        exchange_state=ExchangeState(row["exchange_state"]), created_at=from_iso(row["created_at"]))


def list_disputes(member_id: str, *, vault: Vault) -> list[Dispute]:
    """The member's disputes, newest first, with the exchange's status and messages."""
    return vault.call(lambda conn: [_dispute(conn, r) for r in conn.execute(
        "SELECT * FROM disputes WHERE member_id = ? ORDER BY created_at DESC", (member_id,))])


def _load(conn: Any, dispute_id: str) -> Any:
    row = conn.execute("SELECT * FROM disputes WHERE dispute_id = ?", (dispute_id,)).fetchone()
    if row is None:
        raise DisputeUnknownError(dispute_id=dispute_id)
    return row


def get_dispute(dispute_id: str, *, vault: Vault) -> Dispute:
    """One dispute. DisputeUnknownError `dispute_unknown`."""
    return vault.call(lambda conn: _dispute(conn, _load(conn, dispute_id)))


def attachment_content(attachment_id: str, *, vault: Vault) -> bytes:
    """The bytes of one attachment, to show it. NotFoundError `attachment_unknown`."""
    row = vault.call(lambda conn: conn.execute(
        "SELECT content FROM dispute_attachments WHERE attachment_id = ?",
        (attachment_id,)).fetchone())
    if row is None:
        raise NotFoundError(code="attachment_unknown", attachment_id=attachment_id)
    return bytes(row[0])


# -- filing -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class _Attachment:
    attachment_id: str
    filename: str
    media_type: AttachmentType
    content: bytes

    def as_payload(self) -> dict[str, Any]:
        return {"attachment_id": self.attachment_id, "filename": self.filename,
                "media_type": self.media_type.value, "size": len(self.content),
                "sha256": hashlib.sha256(self.content).hexdigest(),
                "content_base64": base64.b64encode(self.content).decode("ascii")}


def _checked_files(files: tuple[AttachmentFile, ...],
                   new_id: Callable[[], uuid.UUID]) -> list[_Attachment]:
    if len(files) > MAX_ATTACHMENTS:
        raise TooManyAttachmentsError(field="attachments", most=MAX_ATTACHMENTS)
    return [_Attachment(attachment_id=str(new_id()), filename=f.filename.strip()[:MAX_FILENAME]
                        or "attachment", media_type=attachment_type(f.content),
                        content=f.content) for f in files]


def _paid(conn: Any, member_id: str, payment_ids: tuple[str, ...]) -> tuple[Money, dt.date]:
    """What the payments came to, and the day of the earliest; `payment_unknown` for one that
    is not the member's (taken here or in the exchange's history)."""
    amounts, days = [], []
    for pid in payment_ids:
        row = conn.execute(
            "SELECT amount_cents, captured_at AS at FROM payments WHERE payment_id = ?"
            " AND member_id = ? UNION ALL SELECT amount_cents, received_at FROM"
            " exchange_payments WHERE payment_id = ? AND member_id = ? LIMIT 1",
            (pid, member_id, pid, member_id)).fetchone()
        if row is None:
            raise NotFoundError(code="payment_unknown", payment_id=pid)
        amounts.append(Money(cents=row[0]))
        days.append(from_iso(row[1]).date())
    return total(amounts), min(days)


def _not_disputed(conn: Any, payment_ids: tuple[str, ...]) -> None:
    marks = ",".join("?" * len(OPEN_DISPUTES))
    for pid in payment_ids:
        if conn.execute(
                "SELECT 1 FROM dispute_payments p JOIN disputes d USING (dispute_id)"  # nosec B608
                f" WHERE p.payment_id = ? AND d.status IN ({marks})",
                (pid, *OPEN_DISPUTES)).fetchone():
            raise AlreadyDisputedError(payment_id=pid)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Filing:
    cmd: FileDispute
    dispute_id: str
    description: str
    files: list[_Attachment]
    ctx: PaymentContext
    now: dt.datetime


def _insert(conn: Any, f: _Filing, bank: BankAdvice) -> None:
    c = f.cmd
    conn.execute(
        "INSERT INTO disputes (dispute_id, member_id, reason, amount_cents, currency,"
        " description, bank_call_by, created_at, updated_at, navigator)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        (f.dispute_id, c.member_id, c.reason.value, c.amount.cents, c.amount.currency,
         f.description, bank.call_by.isoformat() if bank.call_by else None, to_iso(f.now),
         to_iso(f.now), f.ctx.staff.username))
    conn.executemany("INSERT INTO dispute_payments (dispute_id, payment_id) VALUES (?, ?)",
                     [(f.dispute_id, pid) for pid in sorted(set(c.payment_ids))])
    conn.executemany(
        "INSERT INTO dispute_attachments (attachment_id, dispute_id, filename, media_type, size,"
        " sha256, content) VALUES (?,?,?,?,?,?,?)",
        [(a.attachment_id, f.dispute_id, a.filename, a.media_type.value, len(a.content),
          hashlib.sha256(a.content).hexdigest(), a.content) for a in f.files])


def _file(conn: Any, f: _Filing, new_id: Callable[[], uuid.UUID]) -> DisputeChanged:
    c = f.cmd
    member_row(conn, c.member_id)
    paid, first_day = _paid(conn, c.member_id, c.payment_ids)
    check_dispute_amount(c.amount, paid=paid)
    _not_disputed(conn, c.payment_ids)
    bank = bank_advice(c.reason, charged_on=first_day, statement_date=c.statement_date)
    _insert(conn, f, bank)
    body = {"action": "file", "dispute_id": f.dispute_id, "reason": c.reason.value,
            "amount_cents": c.amount.cents, "currency": c.amount.currency,
            "payment_ids": sorted(set(c.payment_ids)), "description": f.description,
            "statement_date": c.statement_date.isoformat() if c.statement_date else None,
            "attachments": [a.as_payload() for a in f.files]}
    item = queue_change(conn, AccountChange(
        kind=OUTBOX_KIND, endpoint=DISPUTES_ENDPOINT, member_id=c.member_id,
        subject_id=f.dispute_id, action="dispute.file",
        detail=f"{c.reason} {c.amount.cents}, {len(f.files)} attachment(s)", body=body,
        ctx=f.ctx, now=f.now, new_key=new_id))
    return DisputeChanged(dispute_id=f.dispute_id, member_id=c.member_id, outbox_id=item.id,
                          idempotency_key=item.idempotency_key, bank=bank)


def file_dispute(cmd: FileDispute, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                 new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> DisputeChanged:
    """File a dispute; works offline, `pending` until the exchange has it.

    Refuses (nothing written): NotFoundError `member_unknown`, `payment_unknown`;
    PaymentsMissingError `dispute_payments_missing`; ValidationError
    `dispute_description_invalid`, `dispute_amount_invalid` (above zero, at most what the
    payments came to), `attachment_empty`, `attachment_too_large`, `attachment_type_invalid`;
    TooManyAttachmentsError `attachments_too_many`; AlreadyDisputedError
    `payment_already_disputed`.
    """
    if not cmd.payment_ids:
        raise PaymentsMissingError(field="payment_ids")
    filing = _Filing(cmd=cmd, dispute_id=str(new_id()),
                     description=check_description(cmd.description, cmd.reason),
                     files=_checked_files(cmd.attachments, new_id), ctx=ctx, now=clock.now())
    return vault.write(lambda conn: _file(conn, filing, new_id))


def escalate_dispute(dispute_id: str, *, note: str, ctx: PaymentContext, vault: Vault,
                     clock: Clock,
                     new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> DisputeChanged:
    """Ask the exchange to escalate (a supervisor's review), with the member's reason.

    Refuses: DisputeUnknownError `dispute_unknown`; EscalationRefusedError
    `escalation_refused` (already escalated, or resolved for the member); ValidationError
    `dispute_description_invalid` for a note under 10 or over 2000 characters.
    """
    now = clock.now()

    def change(conn: Any) -> DisputeChanged:
        row = _load(conn, dispute_id)
        if row["escalated"] or row["status"] == DisputeStatus.RESOLVED:
            raise EscalationRefusedError(dispute_id=dispute_id, status=row["status"])
        text = check_description(note, DisputeReason(row["reason"]))
        conn.execute("UPDATE disputes SET escalated = 1, exchange_state = 'pending',"
                     " updated_at = ? WHERE dispute_id = ?", (to_iso(now), dispute_id))
        item = queue_change(conn, AccountChange(
            kind=OUTBOX_KIND, endpoint=DISPUTES_ENDPOINT, member_id=row["member_id"],
            subject_id=dispute_id, action="dispute.escalate",
            body={"action": "escalate", "dispute_id": dispute_id, "note": text},
            ctx=ctx, now=now, new_key=new_id))
        return DisputeChanged(dispute_id=dispute_id, member_id=row["member_id"],
                              outbox_id=item.id, idempotency_key=item.idempotency_key,
                              bank=_dispute(conn, row).bank)

    return vault.write(change)


# -- delivery answers (registered in kiosk.services.delivery) ---------------------------------

def on_change_confirmed(conn: Any, item: OutboxItem, answer: Any, now: str) -> None:
    """The exchange holds the dispute: its status and messages as it answered them."""
    if not isinstance(answer, dict) or answer.get("dispute_id") != item.subject_id:
        raise BadChangeError(field="dispute_id")
    status, messages = answer.get("status"), answer.get("messages")
    if status not in set(DisputeStatus) or not isinstance(messages, list):
        raise BadChangeError(field="status")
    waiting = waiting_rows(conn, OUTBOX_KIND, item.subject_id, besides=item.id)
    conn.execute("UPDATE disputes SET status = ?, messages = ?, exchange_state = ?,"
                 " updated_at = ? WHERE dispute_id = ?",
                 (status, json.dumps(messages),
                  ExchangeState.PENDING if waiting else ExchangeState.SYNCED, now,
                  item.subject_id))


def on_change_refused(conn: Any, item: OutboxItem) -> None:
    conn.execute("UPDATE disputes SET exchange_state = ? WHERE dispute_id = ?",
                 (ExchangeState.NEEDS_ATTENTION, item.subject_id))
    log.warning("the exchange refused a change to dispute %s", item.subject_id)
