"""The outbox: every change that must reach the exchange, queued in the same transaction as the
change itself, with an idempotency key and payload bytes fixed at that moment.

Functions here take an open vault connection and must be called inside a vault transaction
(`Vault.write`) unless they only read. Rows are never deleted; a row leaves the queue only when
the exchange has answered definitively.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.clock import from_iso, to_iso


class OutboxState(StrEnum):
    QUEUED = "queued"  # waiting for its next attempt
    SENDING = "sending"  # handed to the sync worker; outcome not yet recorded
    CONFIRMED = "confirmed"  # the exchange accepted it (first time or as a replay)
    DECLINED = "declined"  # the exchange answered definitively that it will not take it
    NEEDS_ATTENTION = "needs_attention"  # a person must look at it; never retried by itself
    CANCELLED = "cancelled"  # a supervisor cancelled it before it was ever sent


WAITING_STATES = (OutboxState.QUEUED, OutboxState.SENDING)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    id: int
    idempotency_key: str
    kiosk_seq: int
    kind: str
    member_id: str
    subject_id: str
    endpoint: str
    payload: bytes
    state: OutboxState
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSummary:
    """How much is waiting, for the header of every screen."""

    waiting: int
    needs_attention: int
    oldest_created_at: dt.datetime | None
    head_attempts: int = 0  # attempts made on the oldest waiting row (for the stall guard)


def _next_seq(conn: Any) -> int:
    row = conn.execute("SELECT value FROM kiosk_meta WHERE key = 'next_kiosk_seq'").fetchone()
    seq = int(row[0]) if row else 1
    conn.execute(
        "INSERT INTO kiosk_meta (key, value) VALUES ('next_kiosk_seq', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(seq + 1),),
    )
    return seq


def enqueue(
    conn: Any,
    *,
    kind: str,
    member_id: str,
    subject_id: str,
    endpoint: str,
    build_payload: Callable[[int], bytes],
    now: dt.datetime,
    new_key: Callable[[], uuid.UUID] = uuid.uuid4,
) -> OutboxItem:
    """Add a row to the outbox. Call inside the transaction that makes the business change.

    `build_payload(kiosk_seq)` returns the exact bytes to send; they are stored once and sent
    unchanged on every attempt.
    """
    seq = _next_seq(conn)
    key = str(new_key())
    payload = build_payload(seq)
    cursor = conn.execute(
        "INSERT INTO outbox (idempotency_key, kiosk_seq, kind, member_id, subject_id, endpoint,"
        " payload, state, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (key, seq, kind, member_id, subject_id, endpoint, payload, OutboxState.QUEUED,
         to_iso(now), to_iso(now)),
    )
    return get(conn, int(cursor.lastrowid))


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        kiosk_seq=row["kiosk_seq"],
        kind=row["kind"],
        member_id=row["member_id"],
        subject_id=row["subject_id"],
        endpoint=row["endpoint"],
        payload=bytes(row["payload"]),
        state=OutboxState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=from_iso(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=from_iso(row["created_at"]),
    )


def get(conn: Any, item_id: int) -> OutboxItem:
    row = conn.execute("SELECT * FROM outbox WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise KeyError(item_id)
    return _item(row)


def for_subject(conn: Any, subject_id: str) -> OutboxItem | None:
    row = conn.execute("SELECT * FROM outbox WHERE subject_id = ?", (subject_id,)).fetchone()
    return _item(row) if row else None


def claim_due(conn: Any, *, now: dt.datetime, limit: int) -> list[OutboxItem]:
    """Mark up to `limit` due rows as sending and return them, oldest first.

    Only the oldest waiting row of each member is eligible, so one member's changes reach the
    exchange in the order they were made. Call inside a write transaction.
    """
    rows = conn.execute(
        "SELECT o.* FROM outbox o WHERE o.state = 'queued' AND o.next_attempt_at <= ?"
        " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.member_id = o.member_id"
        "   AND p.id < o.id AND p.state IN ('queued', 'sending'))"
        " ORDER BY o.id LIMIT ?",
        (to_iso(now), limit),
    ).fetchall()
    items = [_item(row) for row in rows]
    for item in items:
        conn.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, last_sent_at = ?"
            " WHERE id = ?",
            (to_iso(now), item.id),
        )
    return [get(conn, item.id) for item in items]


def finish(
    conn: Any,
    item_id: int,
    *,
    state: OutboxState,
    now: dt.datetime,
    status: int | None,
    body: bytes | None,
    error: str = "",
) -> None:
    """Record a definitive answer: confirmed, declined or needs attention."""
    conn.execute(
        "UPDATE outbox SET state = ?, finished_at = ?, response_status = ?, response_body = ?,"
        " last_error = ? WHERE id = ?",
        (state, to_iso(now), status, body, error, item_id),
    )


def retry_later(conn: Any, item_id: int, *, at: dt.datetime, error: str) -> None:
    """Put a row back in the queue for another attempt at `at`, keeping the reason."""
    conn.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = ?, last_error = ? WHERE id = ?",
        (to_iso(at), error, item_id),
    )


def next_due_at(conn: Any) -> dt.datetime | None:
    row = conn.execute("SELECT min(next_attempt_at) FROM outbox WHERE state = 'queued'").fetchone()
    return from_iso(row[0]) if row and row[0] else None


def summary(conn: Any) -> QueueSummary:
    row = conn.execute(
        "SELECT sum(state IN ('queued', 'sending')), sum(state = 'needs_attention'),"
        " min(CASE WHEN state IN ('queued', 'sending') THEN created_at END) FROM outbox"
        " WHERE state IN ('queued', 'sending', 'needs_attention')"
    ).fetchone()
    head = conn.execute(
        "SELECT attempts FROM outbox WHERE state IN ('queued', 'sending') ORDER BY id LIMIT 1"
    ).fetchone()
    return QueueSummary(
        waiting=int(row[0] or 0),
        needs_attention=int(row[1] or 0),
        oldest_created_at=from_iso(row[2]) if row[2] else None,
        head_attempts=int(head[0]) if head else 0,
    )


def in_state(conn: Any, state: OutboxState) -> list[OutboxItem]:
    """Every row in `state`, oldest first."""
    rows = conn.execute("SELECT * FROM outbox WHERE state = ? ORDER BY id", (state,))
    return [_item(row) for row in rows]


def make_all_due(conn: Any, *, now: dt.datetime) -> int:
    """Every queued row is due now ("Send now"): the backoff wait is skipped once."""
    cursor = conn.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE state = 'queued' AND next_attempt_at > ?",
        (to_iso(now), to_iso(now)),
    )
    return int(cursor.rowcount)


UNREACHABLE_REASONS = ("connection_error", "timeout", "incomplete_answer")


def wake_unreachable(conn: Any, *, now: dt.datetime) -> int:
    """Make rows that waited only because the exchange was unreachable due at once.

    Called when the connectivity probe sees the exchange again, so a kiosk back online does not
    sit out the rest of a long backoff.
    """
    marks = ",".join("?" * len(UNREACHABLE_REASONS))
    cursor = conn.execute(
        f"UPDATE outbox SET next_attempt_at = ? WHERE state = 'queued'"  # nosec B608
        f" AND next_attempt_at > ? AND last_error IN ({marks})",
        (to_iso(now), to_iso(now), *UNREACHABLE_REASONS),
    )
    return int(cursor.rowcount)
