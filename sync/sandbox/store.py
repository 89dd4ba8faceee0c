"""The sandbox exchange's own database: a plain sqlite3 file in WAL mode holding plans, members,
invoices, the payment ledger, the changes feed and idempotency keys with their stored answers.

Every public method opens its own connection and closes it before returning, so the store can
be called from any thread (the web app calls it from a thread pool). Every write runs in one
`BEGIN IMMEDIATE` transaction, which takes SQLite's write lock up front: two requests claiming
the same idempotency key are serialised, and exactly one of them inserts it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from . import posting
from .demo_data import DemoData
from .models import PaymentRequest
from .posting import StoredAnswer, stamp

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (plan_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (member_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (
    invoice_id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES members (member_id),
    coverage_month TEXT NOT NULL,
    amount_due_cents INTEGER NOT NULL,
    amount_paid_cents INTEGER NOT NULL,
    due_date TEXT NOT NULL,
    is_binder INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'paid'))
);
CREATE INDEX IF NOT EXISTS invoices_by_member ON invoices (member_id, status);
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    member_id TEXT NOT NULL REFERENCES members (member_id),
    amount_cents INTEGER NOT NULL,
    credit_cents INTEGER NOT NULL,
    applied TEXT NOT NULL,
    confirmation_number TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    kiosk_seq INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (kiosk_id, kiosk_seq)
);
-- The feed keeps one row per record, its latest version: a change moves the record to a new
-- seq (AUTOINCREMENT never reuses one), so a kiosk reading from any cursor sees every record
-- changed since, and a kiosk starting at 0 reads each record exactly once.
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    record_id TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (kind, record_id)
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    idempotency_key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('processing', 'done')),
    status_code INTEGER,
    media_type TEXT,
    body BLOB,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at);
"""


class ClaimOutcome(StrEnum):
    """What claiming an idempotency key found."""

    CLAIMED = "claimed"  # the key was new; this request now owns it and must complete it
    REPLAY = "replay"  # the key is done with the same body; answer with the stored answer
    IN_PROGRESS = "in_progress"  # same body, but the first request has not finished
    MISMATCH = "mismatch"  # the key was first used with another body


@dataclass(frozen=True, kw_only=True)
class Claim:
    """The result of claiming a key; `answer` is set for `REPLAY`."""

    outcome: ClaimOutcome
    answer: StoredAnswer | None = None


@dataclass(frozen=True, kw_only=True)
class Operation:
    """What the exchange holds for one key; `answer` is None while processing."""

    idempotency_key: str
    state: str
    answer: StoredAnswer | None


@dataclass(frozen=True, kw_only=True)
class FeedPage:
    """One page of the changes feed."""

    changes: list[dict[str, Any]]
    next_after: int
    has_more: bool


class ExchangeStore:
    """The exchange's sqlite3 file. Thread-safe: one connection per call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def initialize(self, demo: Callable[[], DemoData], *, purge_before: datetime) -> None:
        """Create the schema, seed `demo()` into an empty database and forget old keys.

        Keys still `processing` are dropped too: their request died with an earlier process,
        and since a payment and its stored answer commit together, it changed nothing.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE name = 'seeded_at'").fetchone() is None:
                _seed(conn, demo())
            purged = conn.execute(
                "DELETE FROM idempotency_keys WHERE state = 'processing' OR created_at < ?",
                (stamp(purge_before),),
            ).rowcount
        logger.info("exchange database ready at %s; %d idempotency keys purged", self.path, purged)

    def claim_key(self, key: str, fingerprint: str, *, now: datetime) -> Claim:
        """Claim `key` for a request whose body hashes to `fingerprint`, atomically."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT fingerprint, state, status_code, media_type, body"
                " FROM idempotency_keys WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO idempotency_keys (idempotency_key, fingerprint, state, created_at)"
                    " VALUES (?, ?, 'processing', ?)",
                    (key, fingerprint, stamp(now)),
                )
                return Claim(outcome=ClaimOutcome.CLAIMED)
        return _existing_claim(row, fingerprint)

    def release_key(self, key: str) -> None:
        """Forget a claimed key whose request failed before completing, so a retry can run."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE idempotency_key = ? AND state = 'processing'",
                (key,),
            )

    def complete_key(self, key: str, answer: StoredAnswer, *, now: datetime) -> None:
        """Store `answer` as the final answer for a claimed key (used for rejections)."""
        with self._write() as conn:
            posting.complete_key(conn, key, answer, now=now)

    def post_payment(
        self, key: str, payment: PaymentRequest, *, now: datetime, today: date
    ) -> StoredAnswer:
        """Apply `payment` and store its answer under the claimed `key`, in one transaction."""
        with self._write() as conn:
            return posting.post_payment(conn, key, payment, now=now, today=today)

    def changes_after(self, after: int, limit: int) -> FeedPage:
        """Up to `limit` changes with seq above `after`, ascending, read from one snapshot."""
        with self._transaction("BEGIN") as conn:
            rows = conn.execute(
                "SELECT seq, kind, record_id, data FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
            next_after = rows[-1][0] if rows else after
            more = conn.execute("SELECT 1 FROM changes WHERE seq > ? LIMIT 1", (next_after,))
            has_more = more.fetchone() is not None
        changes = [
            {"seq": seq, "kind": kind, "id": record_id, "data": json.loads(data)}
            for seq, kind, record_id, data in rows
        ]
        return FeedPage(changes=changes, next_after=next_after, has_more=has_more)

    def operation(self, key: str) -> Operation | None:
        """What the exchange holds under `key`, or None."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT state, status_code, media_type, body FROM idempotency_keys"
                " WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        state, status_code, media_type, body = row
        answer = None
        if state == "done":
            answer = StoredAnswer(status_code=status_code, media_type=media_type, body=body)
        return Operation(idempotency_key=key, state=state, answer=answer)

    def ledger(self) -> list[dict[str, Any]]:
        """Every accepted payment, in the order the exchange accepted them."""
        with closing(self._connect()) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM payments ORDER BY rowid").fetchall()
        return [{**dict(row), "applied": json.loads(row["applied"])} for row in rows]

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN IMMEDIATE")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as conn:
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _existing_claim(row: tuple[Any, ...], fingerprint: str) -> Claim:
    stored_fingerprint, state, status_code, media_type, body = row
    if stored_fingerprint != fingerprint:
        return Claim(outcome=ClaimOutcome.MISMATCH)
    if state != "done":
        return Claim(outcome=ClaimOutcome.IN_PROGRESS)
    answer = StoredAnswer(status_code=status_code, media_type=media_type, body=body)
    return Claim(outcome=ClaimOutcome.REPLAY, answer=answer)


def _seed(conn: sqlite3.Connection, demo: DemoData) -> None:
    """Insert the demo data and publish it to the feed: plans, then each member and its bills."""
    for plan in demo.plans:
        posting.save_plan(conn, plan.as_data())
    invoices_by_member: dict[str, list[dict[str, Any]]] = {}
    for invoice in demo.invoices:
        invoices_by_member.setdefault(invoice.member_id, []).append(invoice.as_data())
    for member in demo.members:
        posting.save_member(conn, member.as_data())
        for invoice_data in invoices_by_member.get(member.member_id, []):
            posting.save_invoice(conn, invoice_data)
    conn.execute("INSERT INTO meta (name, value) VALUES ('seeded_at', datetime('now'))")
    logger.info(
        "seeded %d plans, %d members, %d invoices",
        len(demo.plans),
        len(demo.members),
        len(demo.invoices),
    )
