"""The queue as navigators and supervisors see it: every item with its state, attempts and last
error; payments at risk of missing their deadline; and a supervisor's cancellation of a payment
that never left the kiosk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiosk.clock import Clock, from_iso, to_iso
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus
from kiosk.domain.staff import CANCEL_PAYMENT, StaffSession, approval_refusal
from kiosk.errors import AuthError, KioskError, NotFoundError
from kiosk.outbox import OutboxState
from kiosk.services import audit
from kiosk.store.vault import Vault

AT_RISK_WINDOW = dt.timedelta(days=3)
URGENT_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueEntry:
    outbox_id: int
    payment_id: str
    receipt_number: str
    member_id: str
    member_name: str
    amount: Money
    state: OutboxState
    attempts: int
    last_error: str  # a stable code; the screen turns it into words
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    deadline: dt.date | None
    navigator: str

    @property
    def cancellable(self) -> bool:
        """Only a payment that never left the kiosk may be cancelled."""
        return self.state is OutboxState.QUEUED and self.attempts == 0


class CancelRefusedError(KioskError):
    """The payment may have reached the exchange already, or is no longer waiting."""

    code = "cancel_refused"


def _entry(row: Any) -> QueueEntry:
    return QueueEntry(
        outbox_id=row["id"], payment_id=row["payment_id"], receipt_number=row["receipt_number"],
        member_id=row["member_id"],
        member_name=f"{row['first_name'] or ''} {row['last_name'] or ''}".strip(),
        amount=Money(cents=row["amount_cents"]), state=OutboxState(row["state"]),
        attempts=row["attempts"], last_error=row["last_error"],
        created_at=from_iso(row["created_at"]), next_attempt_at=from_iso(row["next_attempt_at"]),
        deadline=dt.date.fromisoformat(row["deadline"]) if row["deadline"] else None,
        navigator=row["navigator"],
    )


_ENTRY_SQL = (
    "SELECT o.id, o.state, o.attempts, o.last_error, o.created_at, o.next_attempt_at,"
    " p.payment_id, p.receipt_number, p.member_id, p.amount_cents, p.deadline, p.navigator,"
    " m.first_name, m.last_name FROM outbox o JOIN payments p ON p.payment_id = o.subject_id"
    " LEFT JOIN members m ON m.member_id = p.member_id"
)


def queue_entries(*, vault: Vault, include_finished: bool = False,
                  limit: int = 500) -> list[QueueEntry]:
    """Waiting and needs-attention items, oldest first (and finished ones when asked)."""
    where = "" if include_finished else (
        " WHERE o.state IN ('queued', 'sending', 'needs_attention')")
    rows = vault.call(lambda conn: conn.execute(
        f"{_ENTRY_SQL}{where} ORDER BY o.id LIMIT ?", (limit,)).fetchall())
    return [_entry(row) for row in rows]


def at_risk(*, vault: Vault, now: dt.datetime,
            within: dt.timedelta = AT_RISK_WINDOW) -> list[QueueEntry]:
    """Waiting payments whose deadline falls within `within` (or has passed), soonest first."""
    limit_day = (now + within).date().isoformat()
    rows = vault.call(lambda conn: conn.execute(
        f"{_ENTRY_SQL} WHERE o.state IN ('queued', 'sending') AND p.deadline IS NOT NULL"
        " AND p.deadline <= ? ORDER BY p.deadline, o.id", (limit_day,)).fetchall())
    return [_entry(row) for row in rows]


def is_urgent(entry: QueueEntry, now: dt.datetime) -> bool:
    """The deadline is within 24 hours (end of the deadline day, kiosk time)."""
    if entry.deadline is None:
        return False
    end_of_day = dt.datetime.combine(entry.deadline, dt.time(23, 59, 59), tzinfo=dt.UTC)
    return end_of_day - now <= URGENT_WINDOW


def _cancel(conn: Any, payment_id: str, reason: str, by: StaffSession,
            now: dt.datetime) -> None:
    row = conn.execute(
        "SELECT o.id, o.state, o.attempts FROM outbox o WHERE o.subject_id = ?", (payment_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(code="payment_unknown", payment_id=payment_id)
    if row["state"] != OutboxState.QUEUED or row["attempts"] != 0:
        raise CancelRefusedError(state=row["state"], attempts=row["attempts"])
    conn.execute("UPDATE outbox SET state = ?, finished_at = ?, last_error = 'cancelled'"
                 " WHERE id = ?", (OutboxState.CANCELLED, to_iso(now), row["id"]))
    conn.execute(
        "UPDATE payments SET status = ?, cancelled_by = ?, cancel_reason = ?, cancelled_at = ?"
        " WHERE payment_id = ?",
        (PaymentStatus.CANCELLED, by.username, reason, to_iso(now), payment_id))
    audit.record(conn, at=now, actor=by.username, action="payment.cancelled",
                 subject=payment_id, detail=reason[:200])


def cancel_payment(payment_id: str, *, reason: str, by: StaffSession, vault: Vault,
                   clock: Clock) -> None:
    """A supervisor cancels a queued payment that was never sent, giving a reason.

    The card was charged at the terminal, so the screen tells the supervisor to refund it
    there. Raises CancelRefusedError once any attempt was made (the exchange may hold it).
    """
    now = clock.now()
    refused = approval_refusal(by, CANCEL_PAYMENT, now)
    if refused:
        raise AuthError(code=refused)
    if len(reason.strip()) < 5:
        raise KioskError(code="cancel_reason_missing")
    vault.write(lambda conn: _cancel(conn, payment_id, reason.strip(), by, now))
