"""Where a member stands with their premiums on a given day, and what keeps their coverage.

The rules, with their sources:

- One invoice per coverage month, each with a due date; paying on the due date is on time.
  Money goes to the oldest open invoice first and what no invoice takes is a credit
  (`kiosk.domain.members.allocate`).
- First (binder) payment: coverage is effectuated only once it is paid (45 CFR 155.400(e)); until
  then there is no coverage and so no grace period, however late it is.
- Members receiving advance payments of the premium tax credit (APTC) who have paid at least
  one full month get a grace period of three consecutive months (45 CFR 156.270(d)). If the
  arrears are not all paid by its end, the issuer ends coverage retroactively on the last day of
  the first grace month (156.270(g), 155.430(d)(4)); it pays claims for that month only.
- Everyone else gets the grace period of their state's rules (`BillingRules.state_grace_months`).
- Issuers may treat a small shortfall as paid (premium payment threshold, 45 CFR 155.400(g)):
  either a percentage of the month's net premium or a fixed amount short of it.

Assumptions, kept simple on purpose:

- Grace months are calendar months counted from the coverage month of the first invoice that
  went unpaid, so "month 2 of 3" means the second coverage month; the period ends on the last day
  of its final month. A grace period ends as soon as nothing past due is left unpaid; a later
  missed month starts a new one. Once a grace period has run out with arrears unpaid, later
  payments do not bring coverage back here: that is for the issuer to decide.
- Without APTC, coverage ends on the last day of the state's grace period (not retroactively).
- A paid binder is the "one full month" that makes an APTC member eligible for grace; a history
  without a binder invoice is taken as coverage already in force.
- The shortfall threshold is checked per invoice on the money oldest-first allocation gave it,
  and applies to the binder too.
- Payments are the member's full history as the kiosk knows it (confirmed and pending, without
  declined, returned or cancelled ones); `Invoice.amount_paid` and `Invoice.status` are not read.

Everything here is pure: no clock, no storage. Callers pass the day to judge.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from kiosk.domain.members import Invoice, Member, allocate
from kiosk.domain.money import Money, total

APTC_GRACE_MONTHS = 3
"""Grace months for members receiving APTC (45 CFR 156.270(d))."""

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingRules:
    """Settings of the issuer and state: grace without APTC, and the shortfall accepted.

    At most one of `shortfall_percent` (a month counts as paid at that percentage of its net
    premium, e.g. 95) and `shortfall_cents` (a month counts as paid when at most that much is
    missing, e.g. 500) may be set.
    """

    state_grace_months: int = 1
    shortfall_percent: int | None = None
    shortfall_cents: int | None = None

    def __post_init__(self) -> None:
        if self.state_grace_months < 1:
            raise ValueError("state_grace_months must be at least 1")
        if self.shortfall_percent is not None and self.shortfall_cents is not None:
            raise ValueError("set shortfall_percent or shortfall_cents, not both")
        if self.shortfall_percent is not None and not 0 < self.shortfall_percent <= 100:
            raise ValueError("shortfall_percent must be within 1..100")
        if self.shortfall_cents is not None and self.shortfall_cents < 0:
            raise ValueError("shortfall_cents cannot be negative")

    def least_accepted(self, amount_due: Money) -> Money:
        """The smallest payment on an invoice of `amount_due` that counts as paying it."""
        due = amount_due.cents
        if self.shortfall_percent is not None:
            least = -(-due * self.shortfall_percent // 100)  # rounded up: never below the rate
        elif self.shortfall_cents is not None:
            least = due - self.shortfall_cents
        else:
            least = due
        return Money(cents=max(least, 0), currency=amount_due.currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class PremiumPayment:
    """Money the member paid towards premiums, and the day it was received."""

    received_on: dt.date
    amount: Money

    def __post_init__(self) -> None:
        if self.amount.cents <= 0:
            raise ValueError("a premium payment must be above zero")


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerLine:
    """One invoice and what the payments received so far put on it."""

    invoice: Invoice
    applied: Money

    @property
    def open_amount(self) -> Money:
        return self.invoice.amount_due - self.applied

    def counts_as_paid(self, rules: BillingRules) -> bool:
        return self.applied >= rules.least_accepted(self.invoice.amount_due)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ledger:
    """Each invoice with its paid amount, oldest coverage month first, and the credit left."""

    lines: tuple[LedgerLine, ...]
    credit: Money


def ledger(invoices: list[Invoice], payments: list[PremiumPayment], as_of: dt.date) -> Ledger:
    """Apply the payments received on or before `as_of`, in date order, oldest invoice first.

    Every payment goes to the oldest open invoice, so applying them one by one in date order
    leaves the same amounts as applying their sum at once, which is what happens here.
    """
    currency = (invoices[0].amount_due if invoices else Money.zero()).currency
    received = total([p.amount for p in payments if p.received_on <= as_of], currency)
    unpaid = [replace(inv, amount_paid=Money.zero(currency)) for inv in invoices]
    allocations, credit = allocate(unpaid, received)
    applied = {a.invoice_id: a.amount for a in allocations}
    lines = tuple(
        LedgerLine(invoice=inv, applied=applied.get(inv.invoice_id, Money.zero(currency)))
        for inv in sorted(invoices, key=lambda i: (i.coverage_month, i.invoice_id))
    )
    return Ledger(lines=lines, credit=credit)


class CoverageState(StrEnum):
    CURRENT = "current"  # nothing past due is unpaid; coverage is in force
    FIRST_PAYMENT_DUE = "first_payment_due"  # binder unpaid: coverage has not started, no grace
    IN_GRACE = "in_grace"  # past due after coverage started; coverage goes on for now
    TERMINATION_PENDING = "termination_pending"  # grace over, arrears unpaid; issuer to end it
    TERMINATED = "terminated"  # the issuer has ended the coverage


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageStanding:
    """A member's standing on `as_of`.

    `to_pay` received by `pay_by` keeps the coverage (or starts it, for a binder); both are
    zero/None when nothing needs paying for that. `arrears` is what is open on invoices past
    their due date. `grace_month` of `grace_months` is set while in grace. `coverage_ends` is
    the (retroactive) last day of coverage once the grace period has run out. `paid_through` is
    the last coverage month counted as paid, oldest first.
    """

    state: CoverageState
    as_of: dt.date
    to_pay: Money
    pay_by: dt.date | None
    arrears: Money
    grace_month: int = 0
    grace_months: int = 0
    coverage_ends: dt.date | None = None
    paid_through: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Grace:
    """One grace period: the month it counts from, its length, and how coverage would end."""

    first_month: str
    months: int
    ends: dt.date
    coverage_ends: dt.date


def coverage_standing(
    member: Member,
    invoices: list[Invoice],
    payments: list[PremiumPayment],
    *,
    as_of: dt.date,
    rules: BillingRules | None = None,
    coverage_ended_on: dt.date | None = None,
) -> CoverageStanding:
    """Where `member` stands on `as_of`, counting the payments received by then.

    `coverage_ended_on` is the end date the issuer reported once it terminated the coverage;
    the kiosk cannot know that by itself, so until then a run-out grace period is only
    `termination_pending`.
    """
    rules = rules or BillingRules()
    book = ledger(invoices, payments, as_of)
    if coverage_ended_on is not None:
        return _ended(book, as_of, rules, coverage_ended_on)
    binder = _unpaid_binder(book, rules)
    if binder is not None:
        return _binder_due(book, as_of, rules, binder)
    grace = _grace_period(member, invoices, payments, as_of=as_of, rules=rules)
    if grace is None:
        return _current(book, as_of, rules)
    if as_of > grace.ends:
        return _pending(book, as_of, rules, grace)
    return _in_grace(book, as_of, rules, grace)


def grace_length(member: Member, rules: BillingRules) -> int:
    """Months of grace once coverage is in force: three with APTC, else the state's rule."""
    return APTC_GRACE_MONTHS if member.aptc.cents > 0 else rules.state_grace_months


def _grace_period(
    member: Member,
    invoices: list[Invoice],
    payments: list[PremiumPayment],
    *,
    as_of: dt.date,
    rules: BillingRules,
) -> _Grace | None:
    """The grace period running on `as_of`, or the one that ran out before it with arrears
    unpaid; None when nothing is past due. Lateness only starts the day after a due date and
    only ends on a day money arrives, so those are the only days to look at."""
    grace: _Grace | None = None
    for day in _event_days(invoices, payments, as_of):
        if grace is not None and day > grace.ends:
            return grace
        late = _late_lines(ledger(invoices, payments, day), day, rules)
        if not late:
            grace = None
        elif grace is None:
            grace = _start_grace(member, late[0].invoice.coverage_month, rules)
    return grace


def _event_days(
    invoices: list[Invoice], payments: list[PremiumPayment], as_of: dt.date
) -> list[dt.date]:
    days = {inv.due_date + _DAY for inv in invoices} | {p.received_on for p in payments}
    return sorted(day for day in days if day <= as_of)


def _late_lines(book: Ledger, day: dt.date, rules: BillingRules) -> list[LedgerLine]:
    """Invoices past their due date on `day` and not counted as paid; none while the binder
    is unpaid, since there is no coverage to be in grace for."""
    if _unpaid_binder(book, rules) is not None:
        return []
    return [
        line
        for line in book.lines
        if line.invoice.due_date < day and not line.counts_as_paid(rules)
    ]


def _start_grace(member: Member, first_month: str, rules: BillingRules) -> _Grace:
    months = grace_length(member, rules)
    ends = month_end(first_month, months - 1)
    retro = member.aptc.cents > 0
    return _Grace(
        first_month=first_month,
        months=months,
        ends=ends,
        coverage_ends=month_end(first_month, 0) if retro else ends,
    )


def _unpaid_binder(book: Ledger, rules: BillingRules) -> LedgerLine | None:
    for line in book.lines:
        if line.invoice.is_binder and not line.counts_as_paid(rules):
            return line
    return None


def _open_until(book: Ledger, last_due: dt.date) -> Money:
    """What is still open on invoices due on or before `last_due`, shortfalls included."""
    return _sum_open([line for line in book.lines if line.invoice.due_date <= last_due], book)


def _sum_open(lines: list[LedgerLine], book: Ledger) -> Money:
    return total([line.open_amount for line in lines], book.credit.currency)


def _arrears(book: Ledger, as_of: dt.date) -> Money:
    return _sum_open([line for line in book.lines if line.invoice.due_date < as_of], book)


def _paid_through(book: Ledger, rules: BillingRules) -> str | None:
    paid: str | None = None
    for line in book.lines:
        if not line.counts_as_paid(rules):
            break
        paid = line.invoice.coverage_month
    return paid


def _standing(
    book: Ledger, as_of: dt.date, rules: BillingRules, state: CoverageState
) -> CoverageStanding:
    return CoverageStanding(
        state=state,
        as_of=as_of,
        to_pay=Money.zero(book.credit.currency),
        pay_by=None,
        arrears=_arrears(book, as_of),
        paid_through=_paid_through(book, rules),
    )


def _current(book: Ledger, as_of: dt.date, rules: BillingRules) -> CoverageStanding:
    """Nothing past due: the next invoice not yet counted as paid sets what to pay and when."""
    standing = _standing(book, as_of, rules, CoverageState.CURRENT)
    upcoming = [line for line in book.lines if not line.counts_as_paid(rules)]
    if not upcoming:
        return standing
    pay_by = min(line.invoice.due_date for line in upcoming)
    return replace(standing, to_pay=_open_until(book, pay_by), pay_by=pay_by)


def _binder_due(
    book: Ledger, as_of: dt.date, rules: BillingRules, binder: LedgerLine
) -> CoverageStanding:
    pay_by = binder.invoice.due_date
    return replace(
        _standing(book, as_of, rules, CoverageState.FIRST_PAYMENT_DUE),
        to_pay=_open_until(book, pay_by),
        pay_by=pay_by,
    )


def _in_grace(book: Ledger, as_of: dt.date, rules: BillingRules, grace: _Grace) -> CoverageStanding:
    """In grace: everything due before the grace period's last day must be paid by then."""
    elapsed = _month_index(as_of.strftime("%Y-%m")) - _month_index(grace.first_month)
    return replace(
        _standing(book, as_of, rules, CoverageState.IN_GRACE),
        to_pay=_open_until(book, grace.ends - _DAY),
        pay_by=grace.ends,
        grace_month=max(elapsed + 1, 1),
        grace_months=grace.months,
    )


def _pending(book: Ledger, as_of: dt.date, rules: BillingRules, grace: _Grace) -> CoverageStanding:
    return replace(
        _standing(book, as_of, rules, CoverageState.TERMINATION_PENDING),
        grace_months=grace.months,
        coverage_ends=grace.coverage_ends,
    )


def _ended(
    book: Ledger, as_of: dt.date, rules: BillingRules, ended_on: dt.date
) -> CoverageStanding:
    return replace(_standing(book, as_of, rules, CoverageState.TERMINATED), coverage_ends=ended_on)


def month_end(coverage_month: str, months_later: int = 0) -> dt.date:
    """The last day of the coverage month `months_later` after "YYYY-MM" (leap years included)."""
    year, month0 = divmod(_month_index(coverage_month) + months_later, 12)
    return dt.date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1])


def _month_index(coverage_month: str) -> int:
    year, month = (int(part) for part in coverage_month.split("-"))
    return year * 12 + month - 1


class NoticeCode(StrEnum):
    """The one sentence the member screen shows; `ui/` turns each code into a translation."""

    PAY_BY = "pay_by"  # pay {amount} by {date} to keep your coverage
    FIRST_PAYMENT_BY = "first_payment_by"  # pay {amount} by {date} to start your coverage
    FIRST_PAYMENT_OVERDUE = "first_payment_overdue"  # first payment of {amount} was due {date}
    PAID_THROUGH = "paid_through"  # coverage is paid through {month}
    NOTHING_DUE = "nothing_due"  # nothing to pay yet
    COVERAGE_ENDING = "coverage_ending"  # grace over, {amount} unpaid; issuer to end it {date}
    COVERAGE_ENDED = "coverage_ended"  # the issuer ended the coverage on {date}


NoticeData = dict[str, Money | dt.date | str]


def standing_notice(standing: CoverageStanding) -> tuple[NoticeCode, NoticeData]:
    """The member screen's one sentence, as a stable code and the values it needs."""
    state, pay_by = standing.state, standing.pay_by
    if state is CoverageState.TERMINATED and standing.coverage_ends is not None:
        return NoticeCode.COVERAGE_ENDED, {"date": standing.coverage_ends}
    if state is CoverageState.TERMINATION_PENDING and standing.coverage_ends is not None:
        return NoticeCode.COVERAGE_ENDING, {
            "amount": standing.arrears,
            "date": standing.coverage_ends,
        }
    if pay_by is None:
        month = standing.paid_through
        return (
            (NoticeCode.PAID_THROUGH, {"month": month}) if month else (NoticeCode.NOTHING_DUE, {})
        )
    if state is CoverageState.FIRST_PAYMENT_DUE:
        code = (
            NoticeCode.FIRST_PAYMENT_OVERDUE
            if standing.as_of > pay_by
            else NoticeCode.FIRST_PAYMENT_BY
        )
        return code, {"amount": standing.to_pay, "date": pay_by}
    return NoticeCode.PAY_BY, {"amount": standing.to_pay, "date": pay_by}


def state_label(standing: CoverageStanding) -> tuple[CoverageState, dict[str, int]]:
    """The state as a code, with the grace month ("in grace month {month} of {months}")."""
    if standing.state is CoverageState.IN_GRACE:
        return standing.state, {"month": standing.grace_month, "months": standing.grace_months}
    return standing.state, {}
