"""Finding members in the local cache and reading one member's account.

Search works entirely from the vault, so it works the same when the exchange is unreachable.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from kiosk.domain.members import (
    Invoice,
    InvoiceStatus,
    Member,
    MemberStatus,
    Plan,
    fold_for_search,
    max_payment,
    outstanding,
    phone_digits,
)
from kiosk.domain.money import Money, total
from kiosk.domain.payments import PaymentStatus
from kiosk.errors import NotFoundError
from kiosk.store.vault import Vault

SEARCH_LIMIT = 50
_MEMBER_ID = re.compile(r"^m-?\d{1,6}$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberHit:
    """One search result: enough to tell two people of the same name apart."""

    member_id: str
    full_name: str
    date_of_birth: dt.date
    phone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingPayment:
    payment_id: str
    amount: Money
    captured_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberAccount:
    """Everything the member screen shows."""

    member: Member
    plan: Plan | None
    invoices: list[Invoice]
    pending: list[PendingPayment]
    balance: Money  # owed per the exchange, less payments taken here and not yet confirmed
    max_payment: Money


def parse_date(text: str) -> dt.date | None:
    """Read a date typed as YYYY-MM-DD or MM/DD/YYYY; None when it is not a real date."""
    text = text.strip()
    match = _ISO_DATE.match(text)
    parts = (match.group(1), match.group(2), match.group(3)) if match else None
    us = _US_DATE.match(text)
    if us:
        parts = (us.group(3), us.group(1), us.group(2))
    if parts is None:
        return None
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _hit(row: Any) -> MemberHit:
    return MemberHit(
        member_id=row["member_id"],
        full_name=f"{row['first_name']} {row['last_name']}",
        date_of_birth=dt.date.fromisoformat(row["date_of_birth"]),
        phone=row["phone"],
    )


_HIT_COLUMNS = "m.member_id, m.first_name, m.last_name, m.date_of_birth, m.phone"


def _by_name(conn: Any, query: str, limit: int) -> list[Any]:
    words = fold_for_search(query).split()
    if not words:
        return []
    long_words = [w for w in words if len(w) >= 3]
    clauses, params = [], []
    if long_words:
        # The trigram index answers substring matches of three or more characters.
        fts = " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words)
        clauses.append("m.rowid IN (SELECT rowid FROM member_names WHERE member_names MATCH ?)")
        params.append(fts)
    for word in words:
        if len(word) < 3:
            clauses.append("(m.name_folded LIKE ? OR m.name_folded LIKE ?)")
            params += [f"{word}%", f"% {word}%"]
    where = " AND ".join(clauses)
    order = "ORDER BY m.last_name, m.first_name, m.member_id"
    if len(long_words) > 1 or any(len(w) > 5 for w in long_words):
        # Two pieces, or a long one, match few members: sort those few.
        sql = f"SELECT {_HIT_COLUMNS} FROM members m WHERE {where} {order} LIMIT ?"  # nosec B608
        return list(conn.execute(sql, (*params, limit)).fetchall())
    # A short piece matches thousands: walk the names in list order (the index holds what the
    # conditions need) and stop at the limit, then read the rows found.
    walk = (f"SELECT m.rowid FROM members m INDEXED BY members_in_order WHERE {where} "  # nosec B608
            f"{order} LIMIT ?")
    found = [row[0] for row in conn.execute(walk, (*params, limit)).fetchall()]
    if not found:
        return []
    marks = ", ".join("?" * len(found))
    return list(conn.execute(
        f"SELECT {_HIT_COLUMNS} FROM members m WHERE m.rowid IN ({marks}) {order}",  # nosec B608
        found).fetchall())


def _prefix_range(prefix: str) -> tuple[str, str]:
    """The strings that start with `prefix` are exactly those in [low, high)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _by_member_id(conn: Any, digits: str, limit: int) -> list[Any]:
    # What `member_id LIKE 'M-<digits>%'` finds, as two ranges of the primary key's index
    # (LIKE ignores case, so 'm-' too): a LIKE cannot use that index and reads every row.
    upper, lower = _prefix_range(f"M-{digits}"), _prefix_range(f"m-{digits}")
    return list(conn.execute(
        f"SELECT {_HIT_COLUMNS} FROM members m WHERE (m.member_id >= ? AND m.member_id < ?)"  # nosec B608
        " OR (m.member_id >= ? AND m.member_id < ?) ORDER BY m.member_id LIMIT ?",
        (*upper, *lower, limit),
    ).fetchall())


def _lookup(conn: Any, query: str, limit: int) -> list[Any]:
    text = query.strip()
    folded = text.lower()
    if _MEMBER_ID.match(folded):
        return _by_member_id(conn, folded.lstrip("m-"), limit)
    date = parse_date(text)
    if date is not None:
        return list(
            conn.execute(
                f"SELECT {_HIT_COLUMNS} FROM members m WHERE m.date_of_birth = ? "  # nosec B608
                "ORDER BY m.last_name, m.first_name LIMIT ?",
                (date.isoformat(), limit),
            ).fetchall()
        )
    digits = phone_digits(text)
    if len(digits) >= 7 and len(digits) >= len(text.replace(" ", "")) // 2:
        # The ending can match anywhere, so every number is read: from the small phone index
        # (the subquery needs nothing else), not from the whole members table.
        return list(
            conn.execute(
                f"SELECT {_HIT_COLUMNS} FROM members m WHERE m.rowid IN"  # nosec B608
                " (SELECT rowid FROM members WHERE phone_digits LIKE ?)"
                " ORDER BY m.last_name, m.first_name LIMIT ?",
                (f"%{digits}", limit),
            ).fetchall()
        )
    return _by_name(conn, text, limit)


def search_members(query: str, *, vault: Vault, limit: int = SEARCH_LIMIT) -> list[MemberHit]:
    """Find members by partial name (any case, with or without accents), member ID, date of
    birth or phone number, from the local cache only."""
    if not query.strip():
        return []
    rows = vault.call(lambda conn: _lookup(conn, query, limit))
    return [_hit(row) for row in rows]


def _member(row: Any) -> Member:
    return Member(
        member_id=row["member_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        date_of_birth=dt.date.fromisoformat(row["date_of_birth"]),
        phone=row["phone"],
        email=row["email"],
        plan_id=row["plan_id"],
        aptc=Money(cents=row["aptc_cents"]),
        net_premium=Money(cents=row["net_premium_cents"]),
        preferred_language=row["preferred_language"],
        coverage_start=dt.date.fromisoformat(row["coverage_start"]),
        status=MemberStatus(row["status"]),
    )


def _plan(row: Any) -> Plan:
    return Plan(
        plan_id=row["plan_id"],
        name=row["name"],
        issuer=row["issuer"],
        metal_level=row["metal_level"],
        gross_premium=Money(cents=row["gross_premium_cents"]),
        deductible=Money(cents=row["deductible_cents"]),
        oop_max=Money(cents=row["oop_max_cents"]),
    )


def _invoice(row: Any) -> Invoice:
    return Invoice(
        invoice_id=row["invoice_id"],
        member_id=row["member_id"],
        coverage_month=row["coverage_month"],
        amount_due=Money(cents=row["amount_due_cents"]),
        amount_paid=Money(cents=row["amount_paid_cents"]),
        due_date=dt.date.fromisoformat(row["due_date"]),
        is_binder=bool(row["is_binder"]),
        status=InvoiceStatus(row["status"]),
    )


def _read_account(conn: Any, member_id: str) -> MemberAccount:
    row = conn.execute("SELECT * FROM members WHERE member_id = ?", (member_id,)).fetchone()
    if row is None:
        raise NotFoundError(code="member_unknown", member_id=member_id)
    member = _member(row)
    plan_row = conn.execute("SELECT * FROM plans WHERE plan_id = ?", (member.plan_id,)).fetchone()
    invoices = [
        _invoice(r)
        for r in conn.execute(
            "SELECT * FROM invoices WHERE member_id = ? ORDER BY coverage_month", (member_id,)
        )
    ]
    pending = [
        PendingPayment(
            payment_id=r["payment_id"],
            amount=Money(cents=r["amount_cents"]),
            captured_at=dt.datetime.fromisoformat(r["captured_at"].replace("Z", "+00:00")),
        )
        for r in conn.execute(
            "SELECT payment_id, amount_cents, captured_at FROM payments"
            " WHERE member_id = ? AND status = ? ORDER BY captured_at",
            (member_id, PaymentStatus.PENDING),
        )
    ]
    balance = outstanding(invoices) - total([p.amount for p in pending])
    return MemberAccount(
        member=member,
        plan=_plan(plan_row) if plan_row else None,
        invoices=invoices,
        pending=pending,
        balance=balance,
        max_payment=max_payment(balance, member.net_premium),
    )


def get_account(member_id: str, *, vault: Vault) -> MemberAccount:
    """The member's plan, invoices, pending payments and balance, from the local cache."""
    return vault.call(lambda conn: _read_account(conn, member_id))
