"""Members, their plans and invoices as the kiosk caches them from the exchange.

Also the rules that read them: the balance owed, how a payment is spread over invoices
(oldest first), and the most a member may pay at the counter.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from kiosk.domain.money import Money, total


class InvoiceStatus(StrEnum):
    OPEN = "open"  # something is still owed on it
    PAID = "paid"  # the exchange holds payments covering it in full


class MemberStatus(StrEnum):
    BINDER_DUE = "binder_due"  # new enrollee: coverage starts once the first payment is made
    ACTIVE = "active"  # premiums are up to date or within the normal due date
    GRACE = "grace"  # past due and inside the grace period


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    plan_id: str
    name: str
    issuer: str
    metal_level: str
    gross_premium: Money
    deductible: Money
    oop_max: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    member_id: str
    first_name: str
    last_name: str
    date_of_birth: dt.date
    phone: str
    email: str
    plan_id: str
    aptc: Money
    net_premium: Money
    preferred_language: str
    coverage_start: dt.date
    status: MemberStatus

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice:
    invoice_id: str
    member_id: str
    coverage_month: str  # YYYY-MM
    amount_due: Money
    amount_paid: Money
    due_date: dt.date
    is_binder: bool
    status: InvoiceStatus

    @property
    def open_amount(self) -> Money:
        left = self.amount_due - self.amount_paid
        return left if left.cents > 0 else Money.zero(left.currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    """The share of a payment that goes to one invoice."""

    invoice_id: str
    coverage_month: str
    amount: Money


def outstanding(invoices: list[Invoice]) -> Money:
    """What the exchange says is still owed across these invoices."""
    return total([inv.open_amount for inv in invoices])


def allocate(invoices: list[Invoice], amount: Money) -> tuple[list[Allocation], Money]:
    """Spread a payment over open invoices, oldest coverage month first.

    Returns the allocations and the credit left over. The allocations plus the credit always
    add up to `amount` exactly.
    """
    left = amount.cents
    allocations: list[Allocation] = []
    for inv in sorted(invoices, key=lambda i: (i.coverage_month, i.invoice_id)):
        share = min(left, inv.open_amount.cents)
        if share <= 0:
            continue
        allocations.append(
            Allocation(
                invoice_id=inv.invoice_id,
                coverage_month=inv.coverage_month,
                amount=Money(cents=share, currency=amount.currency),
            )
        )
        left -= share
    return allocations, Money(cents=left, currency=amount.currency)


def max_payment(balance: Money, net_premium: Money) -> Money:
    """The most the kiosk accepts in one payment: the balance plus one month paid ahead.

    Paying a month ahead is common before travel or a known short month; more than that is
    almost always a typing mistake at the counter.
    """
    owed = balance if balance.cents > 0 else Money.zero(balance.currency)
    return owed + net_premium


def fold_for_search(text: str) -> str:
    """Lower-case and strip accents so "JOSE" finds "José" and "nguyen" finds "Nguyễn"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("đ", "d")


def phone_digits(text: str) -> str:
    """The digits of a phone number, without a leading US country code."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def months_covered(invoices: list[Invoice], *, earlier: Money, amount: Money) -> list[str]:
    """Coverage months a new payment pays toward, after `earlier` pending payments took their
    share of the oldest invoices first."""
    before, _ = allocate(invoices, earlier)
    after, _ = allocate(invoices, earlier + amount)
    taken = {a.invoice_id: a.amount.cents for a in before}
    return [a.coverage_month for a in after if a.amount.cents > taken.get(a.invoice_id, 0)]


def display_phone(e164: str) -> str:
    """A US number in the form people read aloud, (312) 555-0100; others as stored."""
    digits = phone_digits(e164)
    if len(digits) != 10:
        return e164
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 → Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return min(day.replace(year=year, month=month, day=1) + dt.timedelta(days=day.day - 1),
               following - dt.timedelta(days=1))


def grace_months(member: Member, *, state_grace_months: int = 1) -> int:
    """Grace after a missed due date: none for a first (binder) payment, three months for
    members with advance premium tax credits (45 CFR 156.270(d)), else the state's rule."""
    if member.status is MemberStatus.BINDER_DUE:
        return 0
    return 3 if member.aptc.cents > 0 else state_grace_months


def payment_deadline(member: Member, invoices: list[Invoice], *, earlier: Money, amount: Money,
                     today: dt.date, state_grace_months: int = 1) -> dt.date | None:
    """The date this payment must reach the exchange by to count: the due date of the oldest
    invoice it pays, or, once that has passed, the end of the grace period."""
    months = months_covered(invoices, earlier=earlier, amount=amount)
    due = [inv for inv in invoices if inv.coverage_month in months]
    if not due:
        return None
    first = min(due, key=lambda inv: inv.coverage_month)
    if first.due_date >= today or first.is_binder:
        return first.due_date
    return add_months(first.due_date, grace_months(member, state_grace_months=state_grace_months))
