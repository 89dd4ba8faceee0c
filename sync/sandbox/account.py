"""The member's account at the exchange: profile changes, communication preferences, automatic
payments, disputes and receipt deliveries, each an idempotent request like a payment (alone or
in a batch; see `idempotency.OPERATIONS`).

Functions here run inside a transaction the caller opened and never commit: the change, the
records it publishes to the feed and the answer stored under its key commit together.

A profile change names, per field, the value the kiosk showed (`from`) and the new one (`to`).
A field conflicts when the exchange's value now is neither: someone changed it meanwhile to
something else. Then nothing is applied and the answer is 422 `profile_conflict` with both
values; it is stored under the key and replayed, and the kiosk's policy makes it need a
person's attention instead of retrying it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import account_models as m
from .posting import (
    StoredAnswer,
    complete_key,
    exists,
    feed_record,
    iso_seconds,
    kiosk_seq_used,
    publish,
    save_member,
)
from .posting import rejection_answer as refusal
from .problems import PROBLEM_MEDIA_TYPE, describe_errors, encode_json, problem_body

logger = logging.getLogger(__name__)

PROFILE_PATH = "/v1/profile-changes"
PREFERENCES_PATH = "/v1/preferences"
AUTOPAYS_PATH = "/v1/autopays"
DISPUTES_PATH = "/v1/disputes"
RECEIPTS_PATH = "/v1/receipt-deliveries"

Apply = Callable[[sqlite3.Connection, Any, datetime], StoredAnswer]


def created(document: dict[str, Any]) -> StoredAnswer:
    return StoredAnswer(status_code=201, media_type="application/json",
                        body=encode_json(document))


def member_data(conn: sqlite3.Connection, member_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT data FROM members WHERE member_id = ?", (member_id,)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def _settle(conn: sqlite3.Connection, key: str, body: bytes, *, reader: TypeAdapter[Any],
            apply: Apply, kind: str, now: datetime) -> StoredAnswer:
    """Parse, refuse or apply, record the kiosk sequence of what was applied, store the
    answer under `key`."""
    try:
        change = reader.validate_json(body)
    except ValidationError as exc:
        answer = refusal("invalid_request", describe_errors(exc.errors()))
    else:
        answer = _checked(conn, change, apply, now)
        if answer.status_code == 201:
            conn.execute(
                "INSERT INTO account_changes (idempotency_key, kiosk_id, kiosk_seq, kind,"
                " member_id, received_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key, change.kiosk_id, change.kiosk_seq, kind, change.member_id,
                 iso_seconds(now)))
    complete_key(conn, key, answer, now=now)
    return answer


def _checked(conn: sqlite3.Connection, change: Any, apply: Apply,
             now: datetime) -> StoredAnswer:
    if kiosk_seq_used(conn, change.kiosk_id, change.kiosk_seq):
        return refusal("kiosk_sequence_reused", f"Kiosk {change.kiosk_id} already sent sequence "
                       f"{change.kiosk_seq} under another key.")
    if not exists(conn, "SELECT 1 FROM members WHERE member_id = ?", change.member_id):
        return refusal("unknown_member", "No member has this member_id.")
    return apply(conn, change, now)


def settler(model: Any, apply: Apply, kind: str) -> Callable[..., StoredAnswer]:
    """The `idempotency.OPERATIONS` entry for one path."""
    reader: TypeAdapter[Any] = model if isinstance(model, TypeAdapter) else TypeAdapter(model)

    def settle(conn: sqlite3.Connection, key: str, body: bytes, *, now: datetime,
               today: date) -> StoredAnswer:
        return _settle(conn, key, body, reader=reader, apply=apply, kind=kind, now=now)

    return settle


# -- profile ------------------------------------------------------------------------------------

def profile_of(member: dict[str, Any]) -> dict[str, Any]:
    return {"member_id": member["member_id"], "profile_version": member["profile_version"],
            "address": member.get("address"), "phone": member["phone"],
            "email": member["email"]}


def _value(edit: BaseModel | None, name: str) -> Any:
    value = getattr(edit, name)
    return value.model_dump() if isinstance(value, BaseModel) else value


def _conflict_answer(conflicts: list[dict[str, Any]], member: dict[str, Any]) -> StoredAnswer:
    fields = ", ".join(c["field"] for c in conflicts)
    body = {**problem_body("profile_conflict", f"Changed at the exchange meanwhile: {fields}."),
            "conflicts": conflicts, "profile": profile_of(member)}
    return StoredAnswer(status_code=422, media_type=PROBLEM_MEDIA_TYPE, body=encode_json(body))


def _apply_profile(conn: sqlite3.Connection, change: m.ProfileChange,
                   now: datetime) -> StoredAnswer:
    member = member_data(conn, change.member_id) or {}
    edits = {name: getattr(change.changes, name) for name in ("address", "phone", "email")
             if getattr(change.changes, name) is not None}
    if not edits:
        return refusal("invalid_request", "changes: name at least one field.")
    conflicts = []
    for name, edit in edits.items():
        base, new, held = _value(edit, "from_"), _value(edit, "to"), member.get(name)
        if held not in (base, new):
            conflicts.append({"field": name, "base_value": base, "kiosk_value": new,
                              "exchange_value": held})
    if conflicts:
        logger.info("profile change %s conflicts on %d field(s)", change.change_id,
                    len(conflicts))
        return _conflict_answer(conflicts, member)
    updated = {**member, **{n: _value(e, "to") for n, e in edits.items()},
               "profile_version": int(member.get("profile_version", 0)) + 1}
    save_member(conn, updated)
    return created({**profile_of(updated), "change_id": change.change_id,
                    "updated_at": iso_seconds(now)})


# -- preferences --------------------------------------------------------------------------------

def _apply_preferences(conn: sqlite3.Connection, change: m.PreferencesChange,
                       now: datetime) -> StoredAnswer:
    member = member_data(conn, change.member_id) or {}
    prefs = change.preferences.model_dump()
    prefs["reminder_days"] = sorted(set(prefs["reminder_days"]), reverse=True)
    save_member(conn, {**member, "preferences": prefs})
    return created({"change_id": change.change_id, "member_id": change.member_id,
                    "preferences": prefs, "updated_at": iso_seconds(now)})


# -- automatic payments -------------------------------------------------------------------------

_STATUS_AFTER = {"set_up": "active", "pause": "paused", "resume": "active", "cancel": "cancelled"}


def autopay_data(conn: sqlite3.Connection, autopay_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT member_id, plan_id, method_id, status, plan_changed, schedule,"
                       " updated_at FROM autopays WHERE autopay_id = ?", (autopay_id,)).fetchone()
    member_id, plan_id, method_id, status, changed, schedule, updated_at = row
    return {"autopay_id": autopay_id, "member_id": member_id, "plan_id": plan_id,
            "method_id": method_id, "status": status, "plan_changed": bool(changed),
            "schedule": json.loads(schedule), "updated_at": updated_at}


def _autopay_rejection(conn: sqlite3.Connection, c: m.AutopayChange,
                       held: tuple[Any, ...] | None) -> tuple[str, str] | None:
    if c.action == "set_up":
        if held is not None:
            return "autopay_id_reused", "This autopay_id is taken."
        if c.schedule.kind == "recurring" and exists(
                conn, "SELECT 1 FROM autopays WHERE member_id = ? AND status IN"
                " ('active', 'paused') AND json_extract(schedule, '$.kind') = 'recurring'",
                c.member_id):
            return "autopay_exists", "The member already has a recurring automatic payment."
    elif held is None or held[0] != c.member_id:
        return "unknown_autopay", "The member has no automatic payment with this autopay_id."
    if c.action in ("set_up", "change") and not exists(
            conn, "SELECT 1 FROM payment_methods WHERE method_id = ? AND member_id = ?"
            " AND status = 'active'", c.method_id, c.member_id):
        return "unknown_method", "The member has no active saved method with this method_id."
    return _plan_rejection(conn, c, held)


def _plan_rejection(conn: sqlite3.Connection, c: m.AutopayChange,
                    held: tuple[Any, ...] | None) -> tuple[str, str] | None:
    member = member_data(conn, c.member_id) or {}
    if c.action in ("set_up", "move_plan") and c.plan_id != member.get("plan_id"):
        return "plan_mismatch", "plan_id is not the member's current plan."
    if c.action not in ("set_up", "cancel") and held is not None and held[1] == "cancelled":
        return "autopay_closed", "This automatic payment was cancelled."
    return None


def _apply_autopay(conn: sqlite3.Connection, c: m.AutopayChange, now: datetime) -> StoredAnswer:
    held = conn.execute("SELECT member_id, status, plan_changed FROM autopays"
                        " WHERE autopay_id = ?", (c.autopay_id,)).fetchone()
    rejection = _autopay_rejection(conn, c, held)
    if rejection is not None:
        return refusal(*rejection)
    status = _STATUS_AFTER.get(c.action, held[1] if held else "active")
    changed = 0 if c.action in ("move_plan", "cancel", "set_up") else int(held[2])
    conn.execute(
        "INSERT INTO autopays (autopay_id, member_id, plan_id, method_id, status, plan_changed,"
        " schedule, updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (autopay_id) DO UPDATE"
        " SET plan_id = excluded.plan_id, method_id = excluded.method_id,"
        " status = excluded.status, plan_changed = excluded.plan_changed,"
        " schedule = excluded.schedule, updated_at = excluded.updated_at",
        (c.autopay_id, c.member_id, c.plan_id, c.method_id, status, changed,
         c.schedule.model_dump_json(), iso_seconds(now)))
    logger.info("automatic payment %s: %s", c.autopay_id, c.action)
    return created(autopay_data(conn, c.autopay_id))


# -- disputes -----------------------------------------------------------------------------------

_MAGIC = {"application/pdf": (b"%PDF-",), "image/jpeg": (b"\xff\xd8\xff",),
          "image/png": (b"\x89PNG\r\n\x1a\n",)}


def _decoded(upload: m.AttachmentUpload) -> bytes | None:
    """The attachment's bytes when size, hash and first bytes agree with what it says."""
    try:
        content = base64.b64decode(upload.content_base64, validate=True)
    except (binascii.Error, ValueError):
        return None
    magic = _MAGIC.get(upload.media_type)
    heic = upload.media_type == "image/heic" and content[4:8] == b"ftyp"
    ok_type = heic or (magic is not None and content.startswith(magic))
    if (len(content) != upload.size or hashlib.sha256(content).hexdigest() != upload.sha256
            or not ok_type):
        return None
    return content


def dispute_data(conn: sqlite3.Connection, dispute_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT data FROM disputes WHERE dispute_id = ?", (dispute_id,)).fetchone()
    return dict(json.loads(row[0]))


def save_dispute(conn: sqlite3.Connection, data: dict[str, Any]) -> None:
    """Insert or replace a dispute and publish it (kind `dispute`)."""
    conn.execute("INSERT INTO disputes (dispute_id, member_id, data) VALUES (?, ?, ?)"
                 " ON CONFLICT (dispute_id) DO UPDATE SET data = excluded.data",
                 (data["dispute_id"], data["member_id"], json.dumps(data, ensure_ascii=False)))
    publish(conn, "dispute", data["dispute_id"], data)


def set_payment_status(conn: sqlite3.Connection, payment_id: str, status: str,
                       **fields: Any) -> None:
    """Change a ledger payment's status and publish its record again."""
    conn.execute("UPDATE payments SET status = ? WHERE payment_id = ?", (status, payment_id))
    record = feed_record(conn, payment_id)
    if record is not None:
        publish(conn, "payment", payment_id, {**record, "status": status, **fields})


def _dispute_rejection(conn: sqlite3.Connection, c: m.FileDispute) -> tuple[str, str] | None:
    if exists(conn, "SELECT 1 FROM disputes WHERE dispute_id = ?", c.dispute_id):
        return "dispute_id_reused", "This dispute_id is taken."
    for payment_id in c.payment_ids:
        if not exists(conn, "SELECT 1 FROM payments WHERE payment_id = ? AND member_id = ?",
                      payment_id, c.member_id):
            return "unknown_payment", "A payment_id is not one of the member's payments."
    return None


def _file_dispute(conn: sqlite3.Connection, c: m.FileDispute, now: datetime) -> StoredAnswer:
    rejection = _dispute_rejection(conn, c)
    files = [(a, _decoded(a)) for a in c.attachments]
    if rejection is None and any(content is None for _, content in files):
        rejection = ("attachment_invalid", "An attachment's size, hash or type does not hold.")
    if rejection is not None:
        return refusal(*rejection)
    for payment_id in c.payment_ids:
        set_payment_status(conn, payment_id, "disputed", dispute_id=c.dispute_id)
    stamp = iso_seconds(now)
    data = {"dispute_id": c.dispute_id, "member_id": c.member_id, "reason": c.reason,
            "amount_cents": c.amount_cents, "payment_ids": sorted(set(c.payment_ids)),
            "status": "submitted", "escalated": False,
            "messages": [{"at": stamp, "text": "We received your dispute. We answer within 30"
                          " days."}],
            "attachments": [a.model_dump(exclude={"content_base64"}) for a in c.attachments],
            "updated_at": stamp}
    save_dispute(conn, data)
    for a, content in files:
        conn.execute("INSERT INTO dispute_attachments (attachment_id, dispute_id, filename,"
                     " media_type, size, sha256, content) VALUES (?,?,?,?,?,?,?)",
                     (a.attachment_id, c.dispute_id, a.filename, a.media_type, a.size, a.sha256,
                      content))
    return created(data)


def _escalate(conn: sqlite3.Connection, c: m.EscalateDispute, now: datetime) -> StoredAnswer:
    row = conn.execute("SELECT member_id FROM disputes WHERE dispute_id = ?",
                       (c.dispute_id,)).fetchone()
    if row is None or row[0] != c.member_id:
        return refusal("unknown_dispute", "The member has no dispute with this dispute_id.")
    data = dispute_data(conn, c.dispute_id)
    if data["status"] == "resolved":
        return refusal("dispute_resolved", "The dispute was resolved for the member.")
    stamp = iso_seconds(now)
    data.update(escalated=True, status="under_review", updated_at=stamp,
                messages=[*data["messages"], {"at": stamp, "text": "A supervisor will review"
                                              " your dispute."}])
    save_dispute(conn, data)
    return created(data)


def _apply_dispute(conn: sqlite3.Connection, c: Any, now: datetime) -> StoredAnswer:
    if isinstance(c, m.FileDispute):
        return _file_dispute(conn, c, now)
    return _escalate(conn, c, now)


# -- receipts -----------------------------------------------------------------------------------

_RECEIPT_TEXT = {
    "en": "Health Connector: we received your payment of ${amount} on {day}. Confirmation"
          " {number}.",
    "es": "Health Connector: recibimos su pago de ${amount} el {day}. Confirmación {number}.",
}


def _receipt_text(language: str, payment: tuple[Any, ...]) -> str:
    amount_cents, number, received_at = payment
    template = _RECEIPT_TEXT.get(language.split("_")[0], _RECEIPT_TEXT["en"])
    return template.format(amount=f"{amount_cents / 100:,.2f}", day=received_at[:10],
                           number=number)


def _apply_receipt(conn: sqlite3.Connection, c: m.ReceiptDeliveryRequest,
                   now: datetime) -> StoredAnswer:
    payment = conn.execute("SELECT amount_cents, confirmation_number, received_at FROM payments"
                           " WHERE payment_id = ? AND member_id = ?",
                           (c.payment_id, c.member_id)).fetchone()
    if payment is None:
        return refusal("unknown_payment", "The member has no payment with this payment_id.")
    stamp = iso_seconds(now)
    conn.execute("INSERT INTO messages (member_id, kind, channel, to_address, language,"
                 " payment_id, body, sent_at) VALUES (?,?,?,?,?,?,?,?)",
                 (c.member_id, c.reason, c.channel, c.to, c.language, c.payment_id,
                  _receipt_text(c.language, tuple(payment)), stamp))
    return created({"delivery_id": c.delivery_id, "payment_id": c.payment_id,
                    "channel": c.channel, "to": c.to, "language": c.language,
                    "status": "sent", "sent_at": stamp})


OPERATIONS: dict[str, Callable[..., StoredAnswer]] = {
    PROFILE_PATH: settler(m.ProfileChange, _apply_profile, "profile_change"),
    PREFERENCES_PATH: settler(m.PreferencesChange, _apply_preferences, "preferences"),
    AUTOPAYS_PATH: settler(m.AutopayChange, _apply_autopay, "autopay"),
    DISPUTES_PATH: settler(m.DISPUTE_CHANGES, _apply_dispute, "dispute"),
    RECEIPTS_PATH: settler(m.ReceiptDeliveryRequest, _apply_receipt, "receipt_delivery"),
}
"""How each account path's body is parsed, applied and answered (see `idempotency`)."""
