"""One payment request under its Idempotency-Key, as steps that run inside a transaction the
caller has opened: check the key, claim it, parse the body, settle (post and store the answer).
A change to a saved payment method (`POST /v1/payment-methods`) and each account change
(profile, preferences, automatic payments, disputes, receipts: `account.OPERATIONS`) take the
same steps with their own parser and poster (`OPERATIONS`), so they too can come alone or in a
batch.

`POST /v1/payments` (`payments.py`) and each operation of `POST /v1/batch` (`batch.py`) take
exactly these steps in this order, so a key sent alone and later in a batch, or the other way
round, is the same request. They differ only in where the commits fall: a single payment
commits its claim first, so a second request with the key sees it `processing` (409) until the
payment commits; a batch takes every step of every operation in one transaction.

The key is claimed on the SHA-256 of the raw body bytes before the body is even parsed: a retry
must be byte-identical, so a retry with a different body is a client bug (422) whatever that
body says. Nothing here commits.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from . import account, methods, posting
from .models import PaymentRequest
from .posting import StoredAnswer, rejection_answer, stamp
from .problems import describe_errors

MAX_KEY_LENGTH = 255
RETRY_IN_PROGRESS_SECONDS = 1


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
class Outcome:
    """The answer to one payment request, and whether it is a stored answer sent again."""

    answer: StoredAnswer
    replayed: bool = False
    retry_after_seconds: int | None = None  # set on 409: when to try the same key again


def fingerprint(body: bytes) -> str:
    """The SHA-256 of the exact request bytes, which a retry must repeat."""
    return hashlib.sha256(body).hexdigest()


def key_problem(key: str | None) -> Outcome | None:
    """The refusal for a missing or oversized key (nothing is stored), or None if it is usable."""
    if not key:
        return _refusal(
            "idempotency_key_missing",
            "Send an Idempotency-Key header (a uuid4) with every payment.",
        )
    if len(key) > MAX_KEY_LENGTH:
        return _refusal(
            "invalid_request", f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters."
        )
    return None


def claim_key(conn: sqlite3.Connection, key: str, fingerprint: str, *, now: datetime) -> Claim:
    """Claim `key` for a request whose body hashes to `fingerprint`.

    Atomic because the caller holds the write lock (`BEGIN IMMEDIATE`): of two requests with
    one key, exactly one inserts it.
    """
    row = conn.execute(
        "SELECT fingerprint, state, status_code, media_type, body"
        " FROM idempotency_keys WHERE idempotency_key = ?",
        (key,),
    ).fetchone()
    if row is not None:
        return _existing_claim(row, fingerprint)
    conn.execute(
        "INSERT INTO idempotency_keys (idempotency_key, fingerprint, state, created_at)"
        " VALUES (?, ?, 'processing', ?)",
        (key, fingerprint, stamp(now)),
    )
    return Claim(outcome=ClaimOutcome.CLAIMED)


def unclaimed_outcome(claim: Claim) -> Outcome:
    """The answer to a request whose key someone else claimed: replay, 409 or 422."""
    if claim.outcome is ClaimOutcome.REPLAY and claim.answer is not None:
        return Outcome(answer=claim.answer, replayed=True)
    if claim.outcome is ClaimOutcome.IN_PROGRESS:
        return _refusal(
            "request_in_progress",
            "The first request with this key is still being processed.",
            retry_after_seconds=RETRY_IN_PROGRESS_SECONDS,
        )
    if claim.outcome is ClaimOutcome.MISMATCH:
        return _refusal(
            "idempotency_key_reused", "This Idempotency-Key was first used with a different body."
        )
    raise ValueError(f"the key was claimed by this request ({claim.outcome})")


def parse_payment(body: bytes) -> PaymentRequest | StoredAnswer:
    """The payment in `body`, or the 400 `invalid_request` answer to store under its key."""
    try:
        return PaymentRequest.model_validate_json(body)
    except ValidationError as exc:
        return rejection_answer("invalid_request", describe_errors(exc.errors()))


def settle(
    conn: sqlite3.Connection,
    key: str,
    parsed: PaymentRequest | StoredAnswer,
    *,
    now: datetime,
    today: date,
) -> StoredAnswer:
    """Post the payment of a key this request claimed, or refuse it; store the answer."""
    if isinstance(parsed, StoredAnswer):
        posting.complete_key(conn, key, parsed, now=now)
        return parsed
    return posting.post_payment(conn, key, parsed, now=now, today=today)


PAYMENTS_PATH = "/v1/payments"


def _settle_change(
    conn: sqlite3.Connection, key: str, body: bytes, *, now: datetime, today: date
) -> StoredAnswer:
    parsed = methods.parse_change(body)
    if isinstance(parsed, StoredAnswer):
        posting.complete_key(conn, key, parsed, now=now)
        return parsed
    return methods.post_change(conn, key, parsed, now=now, today=today)


def _settle_payment(
    conn: sqlite3.Connection, key: str, body: bytes, *, now: datetime, today: date
) -> StoredAnswer:
    return settle(conn, key, parse_payment(body), now=now, today=today)


OPERATIONS: dict[str, Callable[..., StoredAnswer]] = {
    PAYMENTS_PATH: _settle_payment,
    methods.PATH: _settle_change,
    **account.OPERATIONS,
}
"""How the body of a request to each idempotent path is parsed, applied and answered."""


def perform(
    conn: sqlite3.Connection,
    key: str,
    body: bytes,
    *,
    now: datetime,
    today: date,
    path: str = PAYMENTS_PATH,
) -> Outcome:
    """Every step of one idempotent request to `path`, in the caller's transaction (a batch
    operation, or a single payment-method change)."""
    refused = key_problem(key)
    if refused is not None:
        return refused
    claim = claim_key(conn, key, fingerprint(body), now=now)
    if claim.outcome is not ClaimOutcome.CLAIMED:
        return unclaimed_outcome(claim)
    answer = OPERATIONS[path](conn, key, body, now=now, today=today)
    return Outcome(answer=answer)


def _existing_claim(row: tuple[Any, ...], fingerprint: str) -> Claim:
    stored_fingerprint, state, status_code, media_type, body = row
    if stored_fingerprint != fingerprint:
        return Claim(outcome=ClaimOutcome.MISMATCH)
    if state != "done":
        return Claim(outcome=ClaimOutcome.IN_PROGRESS)
    answer = StoredAnswer(status_code=status_code, media_type=media_type, body=body)
    return Claim(outcome=ClaimOutcome.REPLAY, answer=answer)


def _refusal(code: str, detail: str, *, retry_after_seconds: int | None = None) -> Outcome:
    return Outcome(answer=rejection_answer(code, detail), retry_after_seconds=retry_after_seconds)
