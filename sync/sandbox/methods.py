"""`POST /v1/payment-methods`: changes to a member's saved payment methods (add, update a card's
expiry, remove, choose the default), each under its Idempotency-Key like a payment.

Functions here run inside a transaction the caller opened (see `store.ExchangeStore`) and
never commit: the change, the method's new state and the answer stored under the key commit
together. A member has at most one default method; removing the default leaves none.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from .models import METHOD_CHANGES, AddMethod, MethodChange, SetDefault, UpdateExpiry
from .posting import StoredAnswer, complete_key, exists, iso_seconds, kiosk_seq_used
from .posting import rejection_answer as refusal
from .problems import describe_errors, encode_json

logger = logging.getLogger(__name__)

PATH = "/v1/payment-methods"


def parse_change(body: bytes) -> MethodChange | StoredAnswer:
    """The change in `body`, or the 400 `invalid_request` answer to store under its key."""
    try:
        return METHOD_CHANGES.validate_json(body)
    except ValidationError as exc:
        return refusal("invalid_request", describe_errors(exc.errors()))


def post_change(
    conn: sqlite3.Connection, key: str, change: MethodChange, *, now: datetime, today: date
) -> StoredAnswer:
    """Apply or refuse `change` and store the answer under `key`; returns the answer."""
    rejection = _rejection(conn, change)
    if rejection is None:
        _apply(conn, change, now=now)
        _record_change(conn, key, change, now=now)
        answer = StoredAnswer(
            status_code=201,
            media_type="application/json",
            body=encode_json(_method_data(conn, change.method_id)),
        )
    else:
        answer = refusal(*rejection)
    complete_key(conn, key, answer, now=now)
    return answer


def methods_of(conn: sqlite3.Connection, member_id: str) -> list[dict[str, Any]]:
    """Every method the member saved, removed ones included, oldest first."""
    ids = conn.execute(
        "SELECT method_id FROM payment_methods WHERE member_id = ? ORDER BY rowid", (member_id,)
    ).fetchall()
    return [_method_data(conn, row[0]) for row in ids]


def _rejection(conn: sqlite3.Connection, change: MethodChange) -> tuple[str, str] | None:
    if kiosk_seq_used(conn, change.kiosk_id, change.kiosk_seq):
        return "kiosk_sequence_reused", (
            f"Kiosk {change.kiosk_id} already sent sequence {change.kiosk_seq} under another key."
        )
    if not exists(conn, "SELECT 1 FROM members WHERE member_id = ?", change.member_id):
        return "unknown_member", "No member has this member_id."
    row = conn.execute(
        "SELECT member_id, kind, status FROM payment_methods WHERE method_id = ?",
        (change.method_id,),
    ).fetchone()
    if isinstance(change, AddMethod):
        return None if row is None else ("method_id_reused", "This method_id is taken.")
    if row is None or row[0] != change.member_id:
        return "unknown_method", "The member has no saved method with this method_id."
    return _state_rejection(change, kind=row[1], status=row[2])


def _state_rejection(change: MethodChange, *, kind: str, status: str) -> tuple[str, str] | None:
    if isinstance(change, UpdateExpiry) and kind != "card":
        return "invalid_request", "Only a card has an expiry date."
    if isinstance(change, UpdateExpiry | SetDefault) and status == "removed":
        return "method_removed", "This method was removed."
    return None


def _apply(conn: sqlite3.Connection, change: MethodChange, *, now: datetime) -> None:
    stamp = iso_seconds(now)
    if isinstance(change, AddMethod):
        _add(conn, change, stamp)
        if change.make_default:
            _make_default(conn, change.member_id, change.method_id)
    elif isinstance(change, UpdateExpiry):
        data = _stored(conn, change.method_id)
        data.update(exp_month=change.exp_month, exp_year=change.exp_year)
        conn.execute(
            "UPDATE payment_methods SET data = ?, updated_at = ? WHERE method_id = ?",
            (json.dumps(data), stamp, change.method_id),
        )
    elif isinstance(change, SetDefault):
        _make_default(conn, change.member_id, change.method_id)
    else:
        conn.execute(
            "UPDATE payment_methods SET status = 'removed', is_default = 0, updated_at = ?"
            " WHERE method_id = ?",
            (stamp, change.method_id),
        )
    logger.info("payment method %s: %s", change.method_id, change.action)


def _add(conn: sqlite3.Connection, change: AddMethod, stamp: str) -> None:
    conn.execute(
        "INSERT INTO payment_methods (method_id, member_id, kind, data, status, is_default,"
        " updated_at) VALUES (?, ?, ?, ?, 'active', 0, ?)",
        (
            change.method_id,
            change.member_id,
            change.method.type,
            change.method.model_dump_json(),
            stamp,
        ),
    )


def _make_default(conn: sqlite3.Connection, member_id: str, method_id: str) -> None:
    conn.execute(
        "UPDATE payment_methods SET is_default = (method_id = ?) WHERE member_id = ?",
        (method_id, member_id),
    )


def _stored(conn: sqlite3.Connection, method_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT data FROM payment_methods WHERE method_id = ?", (method_id,)
    ).fetchone()
    return dict(json.loads(row[0]))


def _record_change(
    conn: sqlite3.Connection, key: str, change: MethodChange, *, now: datetime
) -> None:
    conn.execute(
        "INSERT INTO method_changes (idempotency_key, kiosk_id, kiosk_seq, method_id, action,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?)",
        (key, change.kiosk_id, change.kiosk_seq, change.method_id, change.action,
         iso_seconds(now)),
    )


def _method_data(conn: sqlite3.Connection, method_id: str) -> dict[str, Any]:
    row = conn.execute(
        "SELECT member_id, kind, data, status, is_default, updated_at FROM payment_methods"
        " WHERE method_id = ?",
        (method_id,),
    ).fetchone()
    member_id, kind, data, status, is_default, updated_at = row
    stored = json.loads(data)
    last4 = stored.get("last4") or stored.get("account_number", "")[-4:]
    return {
        "method_id": method_id,
        "member_id": member_id,
        "kind": kind,
        "status": status,
        "is_default": bool(is_default),
        "last4": last4,
        "exp_month": stored.get("exp_month"),
        "exp_year": stored.get("exp_year"),
        "updated_at": updated_at,
    }
