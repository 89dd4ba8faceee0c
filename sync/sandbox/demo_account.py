"""The account side of the demo data: each plan's main copays, each member's address and the
people their plan covers, and a few months of past payments per member made anywhere (the
website, by phone, at a kiosk), some of them returned, refunded or disputed.

Deterministic like `demo_data`: everything follows from the member's number, names and dates.
All addresses are invented (street numbers on real-sounding streets, ZIP codes of the city).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# metal level -> (primary care, specialist, urgent care, generic drugs) copays in cents and the
# emergency room coinsurance after the deductible; Catastrophic pays after the deductible only.
_COPAYS = {
    "Bronze": (6000, 12000, 12000, 2500, 40),
    "Expanded Bronze": (5000, 10000, 10000, 2000, 40),
    "Silver": (4000, 8000, 7500, 1500, 30),
    "Gold": (2500, 5000, 5000, 1000, 20),
    "Platinum": (1000, 2500, 2500, 500, 10),
}
_CITIES = {
    "312": ("Chicago", "IL", "606"), "773": ("Chicago", "IL", "606"),
    "213": ("Los Angeles", "CA", "900"), "305": ("Miami", "FL", "331"),
    "713": ("Houston", "TX", "770"), "206": ("Seattle", "WA", "981"),
    "617": ("Boston", "MA", "021"), "404": ("Atlanta", "GA", "303"),
    "602": ("Phoenix", "AZ", "850"), "503": ("Portland", "OR", "972"),
}
_STREETS = ("Maple Ave", "Oak St", "Cedar Ln", "Elm St", "Lake Shore Dr", "Park Blvd",
            "Washington St", "Mission Rd", "Sunset Way", "Pine Ct")
_SPOUSES = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Rosa", "Mateo", "Linh")
_CHILDREN = ("Mia", "Leo", "Ava", "Noah", "Emma", "Luis", "Anh", "Omar")
_METHODS = (("card", "WEB"), ("ach", "PHONE"), ("card", "K-DEMO-01"), ("paypal", "WEB"))
HISTORY_MONTHS = 6


def copays(metal_level: str) -> list[dict[str, Any]]:
    """The plan's main copays, as the contract's `copays` field carries them."""
    if metal_level not in _COPAYS:
        return [{"service": s, "copay_cents": None, "coinsurance_percent": 0,
                 "after_deductible": True}
                for s in ("primary_care", "specialist", "urgent_care", "generic_drugs")]
    primary, specialist, urgent, generic, er = _COPAYS[metal_level]
    fixed = {"primary_care": primary, "specialist": specialist, "urgent_care": urgent,
             "generic_drugs": generic}
    return [*({"service": s, "copay_cents": c, "coinsurance_percent": None,
               "after_deductible": False} for s, c in fixed.items()),
            {"service": "emergency_room", "copay_cents": None, "coinsurance_percent": er,
             "after_deductible": True}]


def address(number: int, phone: str) -> dict[str, str]:
    city, state, zip3 = _CITIES.get(phone[2:5], ("Springfield", "IL", "627"))
    return {"line1": f"{100 + number % 8900} {_STREETS[number % len(_STREETS)]}",
            "line2": f"Apt {number % 40 + 1}" if number % 3 == 0 else "", "city": city,
            "state": state, "zip": f"{zip3}{number % 100:02d}"}


def covered_people(number: int, first_name: str, last_name: str) -> list[dict[str, str]]:
    people = [{"first_name": first_name, "last_name": last_name, "relationship": "self"}]
    if number % 4 == 0:
        people.append({"first_name": _SPOUSES[number % len(_SPOUSES)], "last_name": last_name,
                       "relationship": "spouse"})
    if number % 3 == 0:
        people.append({"first_name": _CHILDREN[number % len(_CHILDREN)], "last_name": last_name,
                       "relationship": "child"})
    return people


# -- past payments ------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class HistoryMember:
    """What the history of one member is made from."""

    member_id: str
    net_premium_cents: int
    coverage_start: date
    paid_by_month: dict[str, int]  # coverage month -> what its invoice shows as paid


def _month_start(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _payment(member: HistoryMember, month: date, cents: int, serial: int,
             today: date) -> dict[str, Any]:
    """A payment toward `month`, made a few days before its due date (never after today)."""
    number = int(member.member_id[2:])
    method, where = _METHODS[(number + month.month) % len(_METHODS)]
    day = min(month - timedelta(days=3 + number % 6), today - timedelta(days=1))
    received = datetime.combine(day, time(14), tzinfo=UTC)
    return {"payment_id": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                         f"demo:{member.member_id}:{month:%Y-%m}:{serial}")),
            "member_id": member.member_id, "amount_cents": cents,
            "confirmation_number": f"HCX-{received:%y%m%d}-D{number % 100000:05d}{serial}",
            "status": "confirmed", "kiosk_id": where,
            "received_at": received.strftime("%Y-%m-%dT%H:%M:%SZ"), "method": method,
            "return_code": "", "returned_at": None, "hosted_payment_id": None,
            "refunded_at": None, "refunded_cents": 0,
            "last4": f"{number % 10000:04d}" if method in ("card", "ach") else "",
            "dispute_id": ""}


def _later(payment: dict[str, Any], days: int) -> str:
    moment = datetime.fromisoformat(payment["received_at"].replace("Z", "+00:00"))
    return (moment + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _regular(member: HistoryMember, today: date) -> list[dict[str, Any]]:
    """One payment per coverage month of the last six and the next: what its invoice shows as
    paid, or, for a month older than the invoices the exchange still lists, its premium."""
    made = []
    for back in range(HISTORY_MONTHS - 1, -2, -1):
        month = _month_start(today, back)
        key = f"{month:%Y-%m}"
        listed = key in member.paid_by_month
        cents = member.paid_by_month[key] if listed else member.net_premium_cents
        due = month - timedelta(days=1)
        if month >= member.coverage_start and cents > 0 and (listed or due < today):
            made.append(_payment(member, month, cents, 0, today))
    return made


def _dispute(payment: dict[str, Any]) -> dict[str, Any]:
    dispute_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-dispute:{payment['payment_id']}"))
    at = _later(payment, 4)
    return {"dispute_id": dispute_id, "member_id": payment["member_id"],
            "reason": "wrong_amount", "amount_cents": payment["amount_cents"] // 2,
            "payment_ids": [payment["payment_id"]], "status": "under_review",
            "escalated": False,
            "messages": [{"at": at, "text": "We received your dispute. We answer within 30"
                          " days."}, {"at": _later(payment, 9),
                                      "text": "We asked your plan for the billing record."}],
            "attachments": [], "updated_at": _later(payment, 9)}


def _specials(member: HistoryMember, made: list[dict[str, Any]],
              today: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A returned debit, a refunded duplicate or a disputed payment, for some members."""
    number, extra, disputes = int(member.member_id[2:]), [], []
    if number % 7 == 3 and made:
        first = dict(made[0])
        bounced = {**_payment(member, _first_month(first), first["amount_cents"], 1, today),
                   "method": "ach", "status": "returned", "return_code": "R01"}
        bounced["returned_at"] = _later(bounced, 3)
        extra.append(bounced)
    if number % 11 == 5 and made:
        dup = _payment(member, _first_month(made[-1]), made[-1]["amount_cents"], 2, today)
        extra.append({**dup, "status": "refunded", "refunded_at": _later(dup, 5),
                      "refunded_cents": dup["amount_cents"]})
    if number % 13 == 4 and len(made) > 1:
        dispute = _dispute(made[1])
        made[1] = {**made[1], "status": "disputed", "dispute_id": dispute["dispute_id"]}
        disputes.append(dispute)
    return extra, disputes


def _first_month(payment: dict[str, Any]) -> date:
    received = date.fromisoformat(payment["received_at"][:10])
    return _month_start(received + timedelta(days=10), 0)


def history(members: list[HistoryMember], today: date) -> tuple[tuple[dict[str, Any], ...],
                                                                 tuple[dict[str, Any], ...]]:
    """(payments, disputes) of every member, oldest first per member."""
    payments: list[dict[str, Any]] = []
    disputes: list[dict[str, Any]] = []
    for member in members:
        made = _regular(member, today)
        extra, theirs = _specials(member, made, today)
        payments += sorted(made + extra, key=lambda p: (p["received_at"], p["payment_id"]))
        disputes += theirs
    return tuple(payments), tuple(disputes)
