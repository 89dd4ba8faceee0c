"""The sandbox exchange's own database: a plain sqlite3 file in WAL mode holding plans, members,
invoices, the payment ledger, the changes feed and idempotency keys with their stored answers,
hosted payment links and the texts sent for them, members' saved payment methods, and the
enrolled kiosks, enrollment codes, receipt-signing key and audit heads (`devices.py`).

Every public method opens its own connection and closes it before returning, so the store can
be called from any thread (the web app calls it from a thread pool). Every write runs in one
`BEGIN IMMEDIATE` transaction, which takes SQLite's write lock up front: two requests claiming
the same idempotency key are serialised, and exactly one of them inserts it. A batch is one
such transaction with a savepoint per operation.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from . import account, hosted, idempotency, methods, posting
from .demo_data import DemoData
from .idempotency import Claim, Outcome
from .models import PaymentRequest
from .posting import StoredAnswer, stamp

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

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
-- kiosk_seq is empty for a paid hosted link (PayPal, Venmo), which no kiosk sequence covers.
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
    kiosk_seq INTEGER,
    received_at TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'card',
    return_code TEXT NOT NULL DEFAULT '',
    returned_at TEXT,
    hosted_payment_id TEXT UNIQUE,
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
CREATE TABLE IF NOT EXISTS hosted_payments (
    hosted_payment_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    member_id TEXT NOT NULL REFERENCES members (member_id),
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    provider TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    navigator TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'expired', 'cancelled')),
    url TEXT NOT NULL,
    short_url TEXT NOT NULL,
    short_code TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    payment_id TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS text_messages (
    id INTEGER PRIMARY KEY,
    hosted_payment_id TEXT NOT NULL REFERENCES hosted_payments (hosted_payment_id),
    phone TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payment_methods (
    method_id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES members (member_id),
    kind TEXT NOT NULL CHECK (kind IN ('card', 'bank_account')),
    data TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
    is_default INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_changes (
    idempotency_key TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    kiosk_seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    member_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (kiosk_id, kiosk_seq)
);
CREATE TABLE IF NOT EXISTS autopays (
    autopay_id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES members (member_id),
    plan_id TEXT NOT NULL,
    method_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'cancelled', 'completed')),
    plan_changed INTEGER NOT NULL DEFAULT 0,
    schedule TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- One run of an automatic payment per day at most: the exchange never charges a day twice.
CREATE TABLE IF NOT EXISTS autopay_runs (
    autopay_id TEXT NOT NULL REFERENCES autopays (autopay_id),
    run_on TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    PRIMARY KEY (autopay_id, run_on)
);
CREATE TABLE IF NOT EXISTS disputes (
    dispute_id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES members (member_id),
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dispute_attachments (
    attachment_id TEXT PRIMARY KEY,
    dispute_id TEXT NOT NULL REFERENCES disputes (dispute_id),
    filename TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL
);
-- Messages the exchange "sent" (receipts, confirmations) and payment reminders, for tests.
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    member_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    to_address TEXT NOT NULL,
    language TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reminders (
    id INTEGER PRIMARY KEY,
    member_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    due_date TEXT NOT NULL,
    days_before INTEGER NOT NULL,
    channel TEXT NOT NULL,
    to_address TEXT NOT NULL,
    language TEXT NOT NULL,
    sent_on TEXT NOT NULL,
    UNIQUE (member_id, invoice_id, days_before)
);
-- Enrolled kiosks and the secret each signs its requests with (an HMAC needs the secret).
CREATE TABLE IF NOT EXISTS devices (
    kiosk_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
);
-- One-time enrollment codes, kept only as their SHA-256.
CREATE TABLE IF NOT EXISTS enrollment_codes (
    code_sha256 TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by TEXT
);
-- The exchange's Ed25519 keys for audit-head receipts (made once, on the first start).
CREATE TABLE IF NOT EXISTS exchange_keys (
    key_id TEXT PRIMARY KEY,
    private_key BLOB NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Every audit-trail head a kiosk reported, with the receipt it was given.
CREATE TABLE IF NOT EXISTS audit_heads (
    id INTEGER PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    kiosk_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS method_changes (
    idempotency_key TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    kiosk_seq INTEGER NOT NULL,
    method_id TEXT NOT NULL,
    action TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (kiosk_id, kiosk_seq)
);
"""
# A database made before hosted links and ACH: its ledger gains the columns they need.
_PAYMENTS_V1_COLUMNS = (
    "payment_id, idempotency_key, member_id, amount_cents, credit_cents, applied,"
    " confirmation_number, status, kiosk_id, kiosk_seq, received_at"
)


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


_OPERATION_FAILED = posting.rejection_answer(
    "internal_error", "The exchange failed on this operation; retry it later."
)


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
            _upgrade_ledger(conn)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE name = 'seeded_at'").fetchone() is None:
                _seed(conn, demo())
            purged = conn.execute(
                "DELETE FROM idempotency_keys WHERE state = 'processing' OR created_at < ?",
                (stamp(purge_before),),
            ).rowcount
        logger.info("exchange database ready at %s; %d idempotency keys purged", self.path, purged)

    def claim_key(self, key: str, fingerprint: str, *, now: datetime) -> Claim:
        """Claim `key` for a request whose body hashes to `fingerprint`, and commit the claim."""
        with self._write() as conn:
            return idempotency.claim_key(conn, key, fingerprint, now=now)

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

    def settle(
        self, key: str, parsed: PaymentRequest | StoredAnswer, *, now: datetime, today: date
    ) -> StoredAnswer:
        """Post or refuse the payment of the claimed `key` and store its answer, in one
        transaction (see `idempotency.settle`)."""
        with self._write() as conn:
            return idempotency.settle(conn, key, parsed, now=now, today=today)

    def perform(
        self, key: str, body: bytes, *, path: str, now: datetime, today: date
    ) -> Outcome:
        """Perform one idempotent request to `path` in one transaction (claim, apply, answer)."""
        with self._write() as conn:
            return idempotency.perform(conn, key, body, now=now, today=today, path=path)

    def perform_batch(
        self, operations: Sequence[tuple[str, bytes, str]], *, now: datetime, today: date
    ) -> list[Outcome]:
        """Perform each (key, body, path) request in order, all in one transaction.

        Each operation runs inside its own savepoint: one that fails unexpectedly is rolled
        back alone (its key stays unclaimed, so a retry can run) and answers 500, while the
        others still commit, together with their stored answers, at the end.
        """
        with self._write() as conn:
            return [
                _perform_in_savepoint(conn, key, body, path, now=now, today=today)
                for key, body, path in operations
            ]

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

    # -- hosted payment links, ACH returns, saved methods --------------------------------------

    def create_hosted(
        self, key: str, body: bytes, *, base_url: str, now: datetime
    ) -> Outcome:
        """Claim `key`, then make the link (or refuse it) and store the answer, in one
        transaction: a retry with the same key and body gets the same link."""
        with self._write() as conn:
            claim = idempotency.claim_key(conn, key, idempotency.fingerprint(body), now=now)
            if claim.outcome is not idempotency.ClaimOutcome.CLAIMED:
                return idempotency.unclaimed_outcome(claim)
            parsed = hosted.parse_request(body)
            if isinstance(parsed, StoredAnswer):
                posting.complete_key(conn, key, parsed, now=now)
                return Outcome(answer=parsed)
            return Outcome(answer=hosted.create(conn, key, parsed, base_url=base_url, now=now))

    def hosted_link(self, hosted_id: str, *, now: datetime) -> dict[str, Any] | None:
        """The link as it stands now (expired once past its expiry), or None."""
        with self._write() as conn:
            return hosted.current(conn, hosted_id, now=now)

    def pay_hosted(self, hosted_id: str, *, now: datetime, today: date) -> hosted.PayOutcome:
        """The member paid on the link's page; a link is paid at most once."""
        with self._write() as conn:
            return hosted.pay(conn, hosted_id, now=now, today=today)

    def cancel_hosted(self, hosted_id: str, *, now: datetime) -> dict[str, Any] | None:
        """Cancel a pending link; returns the link as it stands after, or None."""
        with self._write() as conn:
            return hosted.cancel(conn, hosted_id, now=now)

    def text_hosted(
        self, hosted_id: str, phone: str, *, now: datetime
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Text a pending link to `phone`: (the link, the message sent or None if it was not
        pending); (None, None) for an unknown link."""
        with self._write() as conn:
            link = hosted.current(conn, hosted_id, now=now)
            if link is None or link["status"] != "pending":
                return link, None
            return link, hosted.text(conn, hosted_id, phone, now=now)

    def expire_hosted(self, hosted_id: str, *, now: datetime) -> bool:
        """Sandbox only: a link reaches its expiry now."""
        with self._write() as conn:
            return hosted.expire_now(conn, hosted_id, now=now)

    def hosted_by_short_code(self, code: str) -> str | None:
        with closing(self._connect()) as conn:
            return hosted.by_short_code(conn, code)

    def text_messages(self) -> list[dict[str, Any]]:
        """Sandbox only: every text message the exchange "sent", oldest first."""
        with closing(self._connect()) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM text_messages ORDER BY id").fetchall()
        return [dict(row) for row in rows]

    def return_payment(
        self, payment_id: str, code: str, *, now: datetime, today: date
    ) -> dict[str, Any] | None:
        """Sandbox only: the member's bank returns an ACH payment (see `posting`)."""
        with self._write() as conn:
            return posting.return_payment(conn, payment_id, code, now=now, today=today)

    def payment_methods(self, member_id: str) -> list[dict[str, Any]]:
        """Sandbox only: the member's saved methods as the exchange holds them."""
        with closing(self._connect()) as conn:
            return methods.methods_of(conn, member_id)

    # -- the account (sync/sandbox/account_sandbox.py) ------------------------------------------

    def write_with(self, action: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `action` in one write transaction (`BEGIN IMMEDIATE ... COMMIT`)."""
        with self._write() as conn:
            return action(conn)

    def read_with(self, action: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `action` on a connection of its own, with rows as `sqlite3.Row`."""
        with closing(self._connect()) as conn:
            conn.row_factory = sqlite3.Row
            return action(conn)

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


def _perform_in_savepoint(
    conn: sqlite3.Connection, key: str, body: bytes, path: str, *, now: datetime, today: date
) -> Outcome:
    conn.execute("SAVEPOINT operation")
    try:
        outcome = idempotency.perform(conn, key, body, now=now, today=today, path=path)
    except Exception:
        logger.exception("batch operation under key %s failed; rolled back alone", key)
        conn.execute("ROLLBACK TO operation")
        outcome = Outcome(answer=_OPERATION_FAILED)
    conn.execute("RELEASE operation")
    return outcome


def _upgrade_ledger(conn: sqlite3.Connection) -> None:
    """Give a ledger made before ACH and hosted links their columns (kiosk_seq may be empty)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(payments)")}
    if "method" in columns:
        return
    conn.execute("ALTER TABLE payments RENAME TO payments_v1")
    create = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS payments") :]
    conn.execute(create[: create.index(");") + 2])
    conn.execute(
        f"INSERT INTO payments ({_PAYMENTS_V1_COLUMNS}) SELECT {_PAYMENTS_V1_COLUMNS}"  # nosec B608
        " FROM payments_v1"
    )
    conn.execute("DROP TABLE payments_v1")
    logger.info("ledger upgraded for ACH and hosted payments")


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
    for payment in demo.payments:
        _seed_payment(conn, payment)
    for dispute in demo.disputes:
        account.save_dispute(conn, dispute)
    conn.execute("INSERT INTO meta (name, value) VALUES ('seeded_at', datetime('now'))")
    logger.info(
        "seeded %d plans, %d members, %d invoices, %d past payments",
        len(demo.plans),
        len(demo.members),
        len(demo.invoices),
        len(demo.payments),
    )


def _seed_payment(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """A past payment made anywhere: on the ledger (under a key no kiosk sends) and in the feed.
    It paid what the demo invoices already show as paid, so nothing is applied again."""
    conn.execute(
        "INSERT INTO payments (payment_id, idempotency_key, member_id, amount_cents, credit_cents,"
        " applied, confirmation_number, status, kiosk_id, kiosk_seq, received_at, method,"
        " return_code, returned_at) VALUES (?, ?, ?, ?, 0, '[]', ?, ?, ?, NULL, ?, ?, ?, ?)",
        (data["payment_id"], f"demo:{data['payment_id']}", data["member_id"],
         data["amount_cents"], data["confirmation_number"], data["status"], data["kiosk_id"],
         data["received_at"], data["method"], data["return_code"], data["returned_at"]),
    )
    posting.publish(conn, "payment", data["payment_id"], data)
