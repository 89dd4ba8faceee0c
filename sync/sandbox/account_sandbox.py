"""What the sandbox exchange does on its own side of the member's account, for the demo and the
tests: send the payment reminders due on a day per each member's preferences, run automatic
payments due on a day, change a member's plan (open enrollment), change contact details as if
the member did it on the website, and decide a dispute.

Every function takes an open connection inside a write transaction (`ExchangeStore.write_with`)
and publishes what it changes to the feed.
"""

from __future__ import annotations

import calendar
import json
import logging
import sqlite3
import uuid
from datetime import date, datetime
from typing import Any

from .account import autopay_data, dispute_data, member_data, save_dispute, set_payment_status
from .posting import LedgerEntry, accept, iso_seconds, save_member

logger = logging.getLogger(__name__)


# -- reminders ----------------------------------------------------------------------------------

def _to(member: dict[str, Any], channel: str) -> str:
    """Where a message on `channel` goes: the email, the phone, or the address on one line."""
    if channel == "email":
        return str(member.get("email") or "")
    if channel == "sms":
        return str(member.get("phone") or "")
    a = member.get("address") or {}
    parts = [a.get("line1"), a.get("line2"), a.get("city"), f"{a.get('state')} {a.get('zip')}"]
    return ", ".join(p for p in parts if p) if a else ""


def _member_reminders(conn: sqlite3.Connection, member: dict[str, Any],
                      on: date) -> list[dict[str, Any]]:
    prefs = member.get("preferences") or {}
    wanted = prefs.get("messages", {}).get("payment_reminders")
    to = _to(member, wanted["channel"]) if wanted else ""
    if not to:
        return []
    sent = []
    for invoice_id, due in conn.execute(
            "SELECT invoice_id, due_date FROM invoices WHERE member_id = ? AND status = 'open'",
            (member["member_id"],)).fetchall():
        days = (date.fromisoformat(due) - on).days
        if days not in prefs.get("reminder_days", []):
            continue
        row = {"member_id": member["member_id"], "invoice_id": invoice_id, "due_date": due,
               "days_before": days, "channel": wanted["channel"], "to_address": to,
               "language": wanted["language"], "sent_on": on.isoformat()}
        inserted = conn.execute(
            "INSERT OR IGNORE INTO reminders (member_id, invoice_id, due_date, days_before,"
            " channel, to_address, language, sent_on) VALUES (:member_id, :invoice_id,"
            " :due_date, :days_before, :channel, :to_address, :language, :sent_on)", row)
        if inserted.rowcount:
            sent.append(row)
    return sent


def send_due_reminders(conn: sqlite3.Connection, on: date) -> list[dict[str, Any]]:
    """"Send" every payment reminder due on `on`: for each member with preferences, each open
    invoice whose due date is one of their reminder days after `on`, on the channel and in the
    language they chose for payment reminders. A reminder is sent once however often this
    runs. Returns the reminders sent now."""
    members = [json.loads(r[0]) for r in conn.execute("SELECT data FROM members ORDER BY"
                                                      " member_id")]
    sent = [r for m in members if m.get("preferences") for r in _member_reminders(conn, m, on)]
    logger.info("%d reminder(s) sent for %s", len(sent), on)
    return sent


def reminders(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT * FROM reminders ORDER BY id")]


def messages(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT * FROM messages ORDER BY id")]


# -- plan changes and contact details -----------------------------------------------------------

def change_plan(conn: sqlite3.Connection, member_id: str, plan_id: str,
                effective: date) -> dict[str, Any] | None:
    """The member moves to another plan from `effective` (open enrollment): their automatic
    payments tied to the old plan wait for a decision (`plan_changed`). None for an unknown
    member or plan."""
    member = member_data(conn, member_id)
    plan = conn.execute("SELECT data FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
    if member is None or plan is None:
        return None
    gross = json.loads(plan[0])["gross_premium_cents"]
    updated = {**member, "plan_id": plan_id, "plan_effective": effective.isoformat(),
               "net_premium_cents": max(0, gross - member["aptc_cents"])}
    save_member(conn, updated)
    conn.execute("UPDATE autopays SET plan_changed = 1 WHERE member_id = ? AND plan_id <> ?"
                 " AND status IN ('active', 'paused')", (member_id, plan_id))
    return updated


def edit_profile(conn: sqlite3.Connection, member_id: str,
                 fields: dict[str, Any]) -> dict[str, Any] | None:
    """The member changed contact details on the website: a new profile version."""
    member = member_data(conn, member_id)
    if member is None:
        return None
    updated = {**member, **fields, "profile_version": int(member["profile_version"]) + 1}
    save_member(conn, updated)
    return updated


# -- disputes -----------------------------------------------------------------------------------

def decide_dispute(conn: sqlite3.Connection, dispute_id: str, *, status: str, message: str,
                   now: datetime) -> dict[str, Any] | None:
    """Move a dispute on (under_review, resolved, denied) with a message to the member. A
    resolved one refunds its payments; a denied one puts them back as confirmed."""
    if conn.execute("SELECT 1 FROM disputes WHERE dispute_id = ?",
                    (dispute_id,)).fetchone() is None:
        return None
    data, stamp = dispute_data(conn, dispute_id), iso_seconds(now)
    for payment_id in data["payment_ids"]:
        if status == "resolved":
            amount = conn.execute("SELECT amount_cents FROM payments WHERE payment_id = ?",
                                  (payment_id,)).fetchone()[0]
            set_payment_status(conn, payment_id, "refunded", refunded_at=stamp,
                               refunded_cents=amount)
        elif status == "denied":
            set_payment_status(conn, payment_id, "confirmed")
    data.update(status=status, updated_at=stamp,
                messages=[*data["messages"], {"at": stamp, "text": message}])
    save_dispute(conn, data)
    return data


# -- automatic payments -------------------------------------------------------------------------

def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _runs_on(schedule: dict[str, Any], open_dues: list[date], on: date) -> bool:
    if schedule["kind"] == "one_time":
        return bool(schedule["run_on"] == on.isoformat())
    if schedule["timing"] == "day_of_month":
        last = calendar.monthrange(on.year, on.month)[1]
        return on.day == min(int(schedule["day_of_month"]), last)
    return on in open_dues


def _amount(conn: sqlite3.Connection, a: dict[str, Any], member: dict[str, Any],
            on: date) -> int:
    """What a run takes: the fixed amount, or what is open and due by the end of the month;
    while a plan decision is awaited, only the old plan's months (before `plan_effective`)."""
    if a["schedule"]["amount_kind"] == "fixed" and not a["plan_changed"]:
        return int(a["schedule"]["amount_cents"])
    new_plan_from = "9999-12"
    if a["plan_changed"]:
        new_plan_from = str(member.get("plan_effective") or new_plan_from)[:7]
    rows = conn.execute(
        "SELECT sum(amount_due_cents - amount_paid_cents) FROM invoices WHERE member_id = ?"
        " AND status = 'open' AND due_date <= ? AND coverage_month < ?",
        (a["member_id"], _month_end(on).isoformat(), new_plan_from)).fetchone()
    return int(rows[0] or 0)


def _run_one(conn: sqlite3.Connection, a: dict[str, Any], on: date,
             now: datetime) -> dict[str, Any] | None:
    member = member_data(conn, a["member_id"]) or {}
    cents = _amount(conn, a, member, on)
    kind = conn.execute("SELECT kind FROM payment_methods WHERE method_id = ?",
                        (a["method_id"],)).fetchone()
    if cents <= 0 or kind is None:
        return None
    payment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"autopay:{a['autopay_id']}:{on}"))
    conn.execute("INSERT INTO autopay_runs (autopay_id, run_on, payment_id) VALUES (?, ?, ?)",
                 (a["autopay_id"], on.isoformat(), payment_id))
    entry = LedgerEntry(payment_id=payment_id, member_id=a["member_id"], amount_cents=cents,
                        kiosk_id="AUTOPAY", kiosk_seq=None,
                        method="ach" if kind[0] == "bank_account" else "card")
    return accept(conn, f"autopay:{payment_id}", entry, now=now, today=on)


def run_autopays(conn: sqlite3.Connection, on: date, now: datetime) -> list[dict[str, Any]]:
    """Run every active automatic or scheduled payment due on `on`, each at most once a day;
    a one-time payment is then `completed`. Returns the payments made."""
    made = []
    for (autopay_id,) in conn.execute("SELECT autopay_id FROM autopays WHERE status = 'active'"
                                      " ORDER BY autopay_id").fetchall():
        a = autopay_data(conn, autopay_id)
        dues = [date.fromisoformat(r[0]) for r in conn.execute(
            "SELECT due_date FROM invoices WHERE member_id = ? AND status = 'open'",
            (a["member_id"],))]
        ran = conn.execute("SELECT 1 FROM autopay_runs WHERE autopay_id = ? AND run_on = ?",
                           (autopay_id, on.isoformat())).fetchone()
        if ran or not _runs_on(a["schedule"], dues, on):
            continue
        paid = _run_one(conn, a, on, now)
        if paid is not None:
            made.append(paid)
        if a["schedule"]["kind"] == "one_time":
            conn.execute("UPDATE autopays SET status = 'completed', updated_at = ?"
                         " WHERE autopay_id = ?", (iso_seconds(now), autopay_id))
    return made

