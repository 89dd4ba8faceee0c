"""Keep the local copy of members, plans and invoices in step with the exchange's changes feed.

The sync worker fetches pages of changes and hands each page here; the page and the new cursor
are stored in one transaction, so a crash never skips or half-applies a page.

Plans and members may carry the account fields of contract v1.1 (copays; address, profile
version, people covered, coverage end, plan start, preferences); an older exchange sends none
of them and the kiosk keeps their defaults. Payments are kept as the member's history, and
disputes (kind `dispute`) bring the exchange's status and messages. A member whose plan
changes while an automatic payment is tied to the old plan gets that payment flagged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.clock import from_iso
from kiosk.domain.ach import is_return_code
from kiosk.domain.members import fold_for_search, phone_digits
from kiosk.errors import KioskError
from kiosk.services import audit
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

CURSOR_KEY = "changes_cursor"


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheUpdated:
    applied: int
    cursor: int


class BadChangeError(KioskError):
    """A change from the exchange is missing fields or has the wrong types."""

    code = "bad_change"


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise BadChangeError(field=name)
    return value


def _cents(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadChangeError(field=name)
    return value


def _upsert_plan(conn: Any, d: Mapping[str, Any]) -> None:
    conn.execute(
        "INSERT INTO plans (plan_id, name, issuer, metal_level, gross_premium_cents,"
        " deductible_cents, oop_max_cents) VALUES (?,?,?,?,?,?,?)"
        " ON CONFLICT (plan_id) DO UPDATE SET name = excluded.name, issuer = excluded.issuer,"
        " metal_level = excluded.metal_level, gross_premium_cents = excluded.gross_premium_cents,"
        " deductible_cents = excluded.deductible_cents, oop_max_cents = excluded.oop_max_cents",
        (_text(d, "plan_id"), _text(d, "name"), _text(d, "issuer"), _text(d, "metal_level"),
         _cents(d, "gross_premium_cents"), _cents(d, "deductible_cents"),
         _cents(d, "oop_max_cents")),
    )
    conn.execute("UPDATE plans SET copays = ? WHERE plan_id = ?",
                 (json.dumps(_copays(d.get("copays"))), d["plan_id"]))


def _copays(value: Any) -> list[dict[str, Any]]:
    """The plan's main copays, each {service, copay_cents, coinsurance_percent,
    after_deductible}; entries that do not have that shape are left out, not refused."""
    if not isinstance(value, list):
        return []
    kept = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("service"), str):
            continue
        copay, percent = item.get("copay_cents"), item.get("coinsurance_percent")
        kept.append({"service": item["service"],
                     "copay_cents": copay if isinstance(copay, int) else None,
                     "coinsurance_percent": percent if isinstance(percent, int) else None,
                     "after_deductible": item.get("after_deductible") is True})
    return kept


_MEMBER_TEXT = ("member_id", "first_name", "last_name", "date_of_birth", "phone", "email",
                "plan_id", "preferred_language", "coverage_start", "status")


def _upsert_member(conn: Any, d: Mapping[str, Any]) -> None:
    before = conn.execute("SELECT plan_id FROM members WHERE member_id = ?",
                          (d.get("member_id"),)).fetchone()
    _upsert_member_core(conn, d)
    _store_member_account(conn, d)
    if before is not None and before["plan_id"] != d["plan_id"]:
        _flag_autopays(conn, str(d["member_id"]), new_plan=str(d["plan_id"]))


def _optional(d: Mapping[str, Any], name: str, kind: type) -> Any:
    value = d.get(name)
    return value if isinstance(value, kind) else None


def _store_member_account(conn: Any, d: Mapping[str, Any]) -> None:
    """The additive account fields; an absent one keeps the column's default."""
    address, prefs = _optional(d, "address", dict), _optional(d, "preferences", dict)
    version = d.get("profile_version")
    conn.execute(
        "UPDATE members SET address = ?, profile_version = ?, covered_people = ?,"
        " coverage_end = ?, plan_effective = ?, preferences = ? WHERE member_id = ?",
        (json.dumps(address) if address else None,
         version if isinstance(version, int) and not isinstance(version, bool) else 0,
         json.dumps(_optional(d, "covered_people", list) or []),
         _optional(d, "coverage_end", str), _optional(d, "plan_effective", str),
         json.dumps(prefs) if prefs else None, d["member_id"]))


def _flag_autopays(conn: Any, member_id: str, *, new_plan: str) -> None:
    """Automatic payments still tied to the member's old plan wait for a decision: move to the
    new plan or cancel (kiosk.services.autopay). Until then the kiosk never sets up another."""
    flagged = conn.execute(
        "UPDATE autopays SET plan_changed = 1 WHERE member_id = ? AND plan_id <> ?"
        " AND status IN ('active', 'paused')", (member_id, new_plan)).rowcount
    if flagged:
        log.info("%d automatic payment(s) tied to an old plan now wait for a decision", flagged)


def _upsert_member_core(conn: Any, d: Mapping[str, Any]) -> None:
    values: list[str | int] = [_text(d, name) for name in _MEMBER_TEXT]
    folded = fold_for_search(f"{d['first_name']} {d['last_name']}")
    values += [_cents(d, "aptc_cents"), _cents(d, "net_premium_cents"), folded,
               phone_digits(str(d["phone"]))]
    conn.execute(
        "INSERT INTO members (member_id, first_name, last_name, date_of_birth, phone, email,"
        " plan_id, preferred_language, coverage_start, status, aptc_cents, net_premium_cents,"
        " name_folded, phone_digits) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (member_id) DO UPDATE SET first_name = excluded.first_name,"
        " last_name = excluded.last_name, date_of_birth = excluded.date_of_birth,"
        " phone = excluded.phone, email = excluded.email, plan_id = excluded.plan_id,"
        " preferred_language = excluded.preferred_language,"
        " coverage_start = excluded.coverage_start, status = excluded.status,"
        " aptc_cents = excluded.aptc_cents, net_premium_cents = excluded.net_premium_cents,"
        " name_folded = excluded.name_folded, phone_digits = excluded.phone_digits",
        values,
    )


def upsert_invoice(conn: Any, d: Mapping[str, Any]) -> None:
    """Store one invoice record as the exchange sent it. Call inside a write transaction."""
    is_binder = d.get("is_binder")
    if not isinstance(is_binder, bool):
        raise BadChangeError(field="is_binder")
    conn.execute(
        "INSERT INTO invoices (invoice_id, member_id, coverage_month, amount_due_cents,"
        " amount_paid_cents, due_date, is_binder, status) VALUES (?,?,?,?,?,?,?,?)"
        " ON CONFLICT (invoice_id) DO UPDATE SET amount_due_cents = excluded.amount_due_cents,"
        " amount_paid_cents = excluded.amount_paid_cents, due_date = excluded.due_date,"
        " is_binder = excluded.is_binder, status = excluded.status",
        (_text(d, "invoice_id"), _text(d, "member_id"), _text(d, "coverage_month"),
         _cents(d, "amount_due_cents"), _cents(d, "amount_paid_cents"), _text(d, "due_date"),
         int(is_binder), _text(d, "status")),
    )


def _apply_payment(conn: Any, d: Mapping[str, Any]) -> None:
    """Payments in the feed are the exchange's history, kept as such (`exchange_payments`);
    local payments are confirmed through the outbox answer. What the feed alone brings to a
    local payment is a return: the member's bank sent an ACH payment back (`status` returned,
    a Nacha `return_code`). It is stored on the local payment, once."""
    _store_history(conn, d)
    code = d.get("return_code") or ""
    if not code:
        return
    if not is_return_code(code) or d.get("status") != "returned":
        raise BadChangeError(field="return_code")
    payment_id, returned_at = _text(d, "payment_id"), _text(d, "returned_at")
    changed = conn.execute(
        "UPDATE payments SET return_code = ?, returned_at = ? WHERE payment_id = ?"
        " AND return_code = ''", (code, returned_at, payment_id)).rowcount
    if changed:
        audit.record(conn, at=from_iso(returned_at), actor="exchange", action="payment.returned",
                     subject=payment_id, detail=code)


def _store_history(conn: Any, d: Mapping[str, Any]) -> None:
    refunded = d.get("refunded_cents")
    conn.execute(
        "INSERT OR REPLACE INTO exchange_payments (payment_id, member_id, amount_cents, status,"
        " method, confirmation_number, kiosk_id, received_at, return_code, returned_at,"
        " refunded_at, refunded_cents, last4, dispute_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (_text(d, "payment_id"), _text(d, "member_id"), _cents(d, "amount_cents"),
         _text(d, "status"), _text(d, "method"), _text(d, "confirmation_number"),
         _text(d, "kiosk_id"), _text(d, "received_at"), d.get("return_code") or "",
         _optional(d, "returned_at", str), _optional(d, "refunded_at", str),
         refunded if isinstance(refunded, int) else 0, _optional(d, "last4", str) or "",
         _optional(d, "dispute_id", str) or ""))


def _apply_dispute(conn: Any, d: Mapping[str, Any]) -> None:
    """The exchange's status and messages for a dispute; one filed elsewhere is added."""
    dispute_id, messages = _text(d, "dispute_id"), d.get("messages", [])
    payment_ids = d.get("payment_ids", [])
    if not isinstance(messages, list) or not isinstance(payment_ids, list):
        raise BadChangeError(field="messages")
    updated = _text(d, "updated_at")
    conn.execute(
        "INSERT INTO disputes (dispute_id, member_id, reason, amount_cents, currency,"
        " description, status, messages, escalated, exchange_state, created_at, updated_at,"
        " navigator) VALUES (?,?,?,?,'USD','',?,?,?,'synced',?,?,'')"
        " ON CONFLICT (dispute_id) DO UPDATE SET status = excluded.status,"
        " messages = excluded.messages, updated_at = excluded.updated_at,"
        " escalated = max(disputes.escalated, excluded.escalated)",
        (dispute_id, _text(d, "member_id"), _text(d, "reason"), _cents(d, "amount_cents"),
         _text(d, "status"), json.dumps(messages), int(d.get("escalated") is True), updated,
         updated))
    conn.executemany("INSERT OR IGNORE INTO dispute_payments (dispute_id, payment_id)"
                     " VALUES (?, ?)", [(dispute_id, str(p)) for p in payment_ids])


_APPLIERS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "plan": _upsert_plan,
    "member": _upsert_member,
    "invoice": upsert_invoice,
    "payment": _apply_payment,
    "dispute": _apply_dispute,
}


def _apply_page(conn: Any, changes: list[Mapping[str, Any]], next_after: int) -> int:
    applied = 0
    for change in changes:
        kind = change.get("kind") if isinstance(change, Mapping) else None
        data = change.get("data") if isinstance(change, Mapping) else None
        applier = _APPLIERS.get(kind) if isinstance(kind, str) else None
        if applier is None or not isinstance(data, Mapping):
            raise BadChangeError(field="kind")
        applier(conn, data)
        applied += 1
    conn.execute(
        "INSERT INTO kiosk_meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (CURSOR_KEY, str(next_after)),
    )
    return applied


def apply_changes(
    changes: list[Mapping[str, Any]], *, next_after: int, vault: Vault
) -> CacheUpdated:
    """Apply one page of the changes feed and store the cursor, all or nothing.

    Raises BadChangeError (and stores nothing) when any change in the page is malformed.
    """
    applied = vault.write(lambda conn: _apply_page(conn, changes, next_after))
    return CacheUpdated(applied=applied, cursor=next_after)


def cursor(*, vault: Vault) -> int:
    """The changes-feed cursor stored with the last page applied (0 before the first pull)."""
    row = vault.call(
        lambda conn: conn.execute(
            "SELECT value FROM kiosk_meta WHERE key = ?", (CURSOR_KEY,)
        ).fetchone()
    )
    return int(row[0]) if row else 0
