"""Billing rules: allocation, binder, grace periods, shortfall threshold and the member's standing.

The properties generate whole payment histories and check the rules at every month boundary
against a day-by-day reading of the rules (`_expected_by_day`), which shares no code with the
event-driven version in `kiosk.domain.billing` beyond the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kiosk.domain.billing import (
    BillingRules,
    CoverageStanding,
    CoverageState,
    LedgerLine,
    NoticeCode,
    PremiumPayment,
    coverage_standing,
    ledger,
    month_end,
    standing_notice,
    state_label,
)
from kiosk.domain.members import Invoice, InvoiceStatus, Member, MemberStatus
from kiosk.domain.money import Money

DAY = dt.timedelta(days=1)


def usd(cents: int) -> Money:
    return Money(cents=cents)


def member(*, aptc: bool) -> Member:
    return Member(
        member_id="M-1",
        first_name="Ana",
        last_name="Ruiz",
        date_of_birth=dt.date(1980, 5, 1),
        phone="+13125550100",
        email="ana@example.org",
        plan_id="P-1",
        aptc=usd(35000 if aptc else 0),
        net_premium=usd(10000),
        preferred_language="en",
        coverage_start=dt.date(2026, 1, 1),
        status=MemberStatus.ACTIVE,
    )


def month_after(month: str, months: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + months
    return f"{index // 12}-{index % 12 + 1:02d}"


def invoices_from(
    first: str, amounts: list[int], *, binder: bool = True, lead_days: int = 1
) -> list[Invoice]:
    """One invoice per month from `first`, each due `lead_days` before its month starts (the
    sandbox exchange uses one: the last day of the month before)."""
    result = []
    for i, cents in enumerate(amounts):
        month = month_after(first, i)
        result.append(
            Invoice(
                invoice_id=f"INV-{month}",
                member_id="M-1",
                coverage_month=month,
                amount_due=usd(cents),
                amount_paid=usd(0),
                due_date=dt.date.fromisoformat(f"{month}-01") - lead_days * DAY,
                is_binder=binder and i == 0,
                status=InvoiceStatus.OPEN,
            )
        )
    return result


def pay(day: str | dt.date, cents: int) -> PremiumPayment:
    received = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return PremiumPayment(received_on=received, amount=usd(cents))


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- Examples -----------------------------------------------------------------------------------

# Coverage from January 2028 (a leap year), $100.00 a month, binder paid on time in December.
JAN_TO_JUN = invoices_from("2028-01", [10000] * 6)
BINDER_PAID = [pay("2027-12-20", 10000)]


def standing_on(
    day: str,
    *,
    aptc: bool = True,
    payments: list[PremiumPayment] | None = None,
    rules: BillingRules | None = None,
) -> CoverageStanding:
    return coverage_standing(
        member(aptc=aptc),
        JAN_TO_JUN,
        BINDER_PAID if payments is None else payments,
        as_of=d(day),
        rules=rules,
    )


def test_paid_up_member_is_current_and_told_the_next_due_date() -> None:
    standing = standing_on("2028-01-15")
    assert standing.state is CoverageState.CURRENT
    assert standing_notice(standing) == ("pay_by", {"amount": usd(10000), "date": d("2028-01-31")})
    assert state_label(standing) == ("current", {})
    assert standing.paid_through == "2028-01"


def test_a_tolerated_shortfall_is_still_asked_for_with_the_next_payment() -> None:
    rules = BillingRules(shortfall_percent=95)
    standing = standing_on("2028-01-15", payments=[pay("2027-12-20", 9600)], rules=rules)
    assert standing.state is CoverageState.CURRENT
    assert standing_notice(standing) == ("pay_by", {"amount": usd(10400), "date": d("2028-01-31")})


def test_aptc_member_gets_three_grace_months_then_coverage_ends_after_the_first() -> None:
    assert state_label(standing_on("2028-02-01")) == ("in_grace", {"month": 1, "months": 3})
    assert state_label(standing_on("2028-03-31")) == ("in_grace", {"month": 2, "months": 3})
    in_april = standing_on("2028-04-30")
    assert state_label(in_april) == ("in_grace", {"month": 3, "months": 3})
    # February, March and April are all due before April 30; May is due on it.
    assert standing_notice(in_april) == ("pay_by", {"amount": usd(30000), "date": d("2028-04-30")})
    assert in_april.arrears == usd(30000)
    ended = standing_on("2028-05-01")
    assert ended.state is CoverageState.TERMINATION_PENDING
    assert ended.coverage_ends == d("2028-02-29")  # retroactive: the end of grace month 1
    assert standing_notice(ended) == (
        "coverage_ending",
        {"amount": usd(40000), "date": d("2028-02-29")},
    )


def test_paying_the_amount_shown_by_the_date_shown_keeps_coverage() -> None:
    payments = [*BINDER_PAID, pay("2028-04-30", 30000)]
    assert standing_on("2028-04-30", payments=payments).state is CoverageState.CURRENT
    # May, due on April 30, was not paid: that starts a new grace period, not a termination.
    assert state_label(standing_on("2028-05-01", payments=payments)) == (
        "in_grace",
        {"month": 1, "months": 3},
    )


def test_paying_part_of_the_arrears_does_not_restart_the_grace_period() -> None:
    payments = [*BINDER_PAID, pay("2028-03-10", 10000)]  # pays February; March stays unpaid
    assert state_label(standing_on("2028-03-10", payments=payments)) == (
        "in_grace",
        {"month": 2, "months": 3},
    )
    ended = standing_on("2028-05-01", payments=payments)
    assert ended.state is CoverageState.TERMINATION_PENDING
    assert ended.coverage_ends == d("2028-02-29")


def test_late_payment_after_the_grace_period_does_not_bring_coverage_back() -> None:
    payments = [*BINDER_PAID, pay("2028-05-02", 60000)]
    assert standing_on("2028-05-10", payments=payments).state is CoverageState.TERMINATION_PENDING


def test_without_aptc_the_state_grace_period_applies_and_coverage_ends_with_it() -> None:
    assert state_label(standing_on("2028-02-29", aptc=False)) == (
        "in_grace",
        {"month": 1, "months": 1},
    )
    ended = standing_on("2028-03-01", aptc=False)
    assert (ended.state, ended.coverage_ends) == (
        CoverageState.TERMINATION_PENDING,
        d("2028-02-29"),
    )
    two_months = BillingRules(state_grace_months=2)
    assert standing_on("2028-03-31", aptc=False, rules=two_months).state is CoverageState.IN_GRACE
    ended = standing_on("2028-04-01", aptc=False, rules=two_months)
    assert ended.coverage_ends == d("2028-03-31")


def test_unpaid_binder_means_no_coverage_and_never_a_grace_period() -> None:
    before = standing_on("2027-12-15", payments=[])
    assert before.state is CoverageState.FIRST_PAYMENT_DUE
    assert standing_notice(before) == (
        "first_payment_by",
        {"amount": usd(10000), "date": d("2027-12-31")},
    )
    late = standing_on("2028-03-15", payments=[])
    assert late.state is CoverageState.FIRST_PAYMENT_DUE
    assert standing_notice(late) == (
        "first_payment_overdue",
        {"amount": usd(10000), "date": d("2027-12-31")},
    )


def test_overpaying_leaves_a_credit_after_the_last_invoice() -> None:
    book = ledger(JAN_TO_JUN, [pay("2027-12-20", 65000), pay("2028-02-01", 1)], d("2028-01-31"))
    assert [line.applied.cents for line in book.lines] == [10000] * 6
    assert book.credit == usd(5000)
    standing = standing_on("2028-01-31", payments=[pay("2027-12-20", 65000)])
    assert standing_notice(standing) == ("paid_through", {"month": "2028-06"})


def test_terminated_by_the_issuer_shows_the_end_date() -> None:
    standing = coverage_standing(
        member(aptc=True),
        JAN_TO_JUN,
        BINDER_PAID,
        as_of=d("2028-05-20"),
        coverage_ended_on=d("2028-02-29"),
    )
    assert standing.state is CoverageState.TERMINATED
    assert standing_notice(standing) == ("coverage_ended", {"date": d("2028-02-29")})


def test_a_member_with_no_invoices_has_nothing_to_pay() -> None:
    standing = coverage_standing(member(aptc=False), [], [], as_of=d("2028-01-01"))
    assert standing_notice(standing) == ("nothing_due", {})


@pytest.mark.parametrize(
    ("rules", "paid", "counts"),
    [
        (BillingRules(shortfall_percent=95), 9500, True),
        (BillingRules(shortfall_percent=95), 9499, False),
        (BillingRules(shortfall_cents=500), 9500, True),
        (BillingRules(shortfall_cents=500), 9499, False),
        (BillingRules(), 9999, False),
        (BillingRules(), 10000, True),
    ],
)
def test_shortfall_threshold_boundaries(rules: BillingRules, paid: int, counts: bool) -> None:
    payments = [pay("2027-12-20", paid)]
    standing = standing_on("2028-01-10", payments=payments, rules=rules)
    expected = CoverageState.CURRENT if counts else CoverageState.FIRST_PAYMENT_DUE
    assert standing.state is expected


def test_rules_refuse_two_thresholds_or_no_grace() -> None:
    for bad in (
        {"shortfall_percent": 95, "shortfall_cents": 500},
        {"state_grace_months": 0},
        {"shortfall_percent": 0},
        {"shortfall_cents": -1},
    ):
        with pytest.raises(ValueError):
            BillingRules(**bad)


# --- Properties: ledger ---------------------------------------------------------------------------

rules_strategy = st.one_of(
    st.just(BillingRules()),
    st.builds(
        BillingRules, state_grace_months=st.integers(1, 3), shortfall_percent=st.integers(90, 100)
    ),
    st.builds(
        BillingRules, state_grace_months=st.integers(1, 3), shortfall_cents=st.integers(0, 1000)
    ),
)


@dataclass(frozen=True, kw_only=True)
class History:
    member: Member
    invoices: list[Invoice]
    payments: list[PremiumPayment]
    rules: BillingRules

    @property
    def first_day(self) -> dt.date:
        return min(inv.due_date for inv in self.invoices) - 40 * DAY

    @property
    def last_day(self) -> dt.date:
        return max(inv.due_date for inv in self.invoices) + 150 * DAY


@st.composite
def histories(draw: st.DrawFn) -> History:
    start = draw(st.integers(2024 * 12, 2027 * 12 + 11))
    first = f"{start // 12}-{start % 12 + 1:02d}"
    amounts = draw(st.lists(st.one_of(st.just(0), st.integers(1, 600_00)), min_size=1, max_size=6))
    invoices = invoices_from(
        first,
        amounts,
        binder=draw(st.booleans()),
        lead_days=draw(st.sampled_from([0, 1, 1, 1, 15])),
    )
    origin = invoices[0].due_date - 40 * DAY
    positive = [cents for cents in amounts if cents > 0] or [100]
    payments = draw(
        st.lists(
            st.builds(
                lambda offset, cents: pay(origin + offset * DAY, cents),
                st.integers(0, 30 * (len(amounts) + 5)),
                st.one_of(st.sampled_from(positive), st.integers(1, 1200_00)),
            ),
            max_size=6,
        )
    )
    return History(
        member=member(aptc=draw(st.booleans())),
        invoices=invoices,
        payments=payments,
        rules=draw(rules_strategy),
    )


@given(histories(), st.integers(0, 400))
def test_ledger_never_loses_or_invents_a_cent(history: History, offset: int) -> None:
    as_of = history.first_day + offset * DAY
    book = ledger(history.invoices, history.payments, as_of)
    received = sum(p.amount.cents for p in history.payments if p.received_on <= as_of)
    assert sum(line.applied.cents for line in book.lines) + book.credit.cents == received
    assert all(0 <= line.applied.cents <= line.invoice.amount_due.cents for line in book.lines)
    assert book.credit.cents >= 0
    if book.credit.cents:
        assert all(line.open_amount.cents == 0 for line in book.lines)


@given(histories(), st.integers(0, 400))
def test_money_reaches_an_invoice_only_after_every_older_one(history: History, offset: int) -> None:
    book = ledger(history.invoices, history.payments, history.first_day + offset * DAY)
    rules = history.rules
    for i, line in enumerate(book.lines):
        older = book.lines[:i]
        if line.applied.cents > 0:
            assert all(old.open_amount.cents == 0 for old in older)
        if line.counts_as_paid(rules) and rules.least_accepted(line.invoice.amount_due).cents:
            assert all(old.counts_as_paid(rules) for old in older)


@given(st.integers(1, 10_000_00), st.integers(1, 100))
def test_percent_threshold_is_exact_to_the_cent(due: int, percent: int) -> None:
    rules = BillingRules(shortfall_percent=percent)
    least = rules.least_accepted(usd(due)).cents
    assert least * 100 >= due * percent > (least - 1) * 100
    assert _line(due, least).counts_as_paid(rules)
    assert not _line(due, least - 1).counts_as_paid(rules)


@given(st.integers(1, 10_000_00), st.integers(0, 10_00))
def test_fixed_threshold_is_exact_to_the_cent(due: int, within: int) -> None:
    rules = BillingRules(shortfall_cents=within)
    assert _line(due, max(due - within, 0)).counts_as_paid(rules)
    if due > within:
        assert not _line(due, due - within - 1).counts_as_paid(rules)


def _line(due: int, applied: int) -> LedgerLine:
    return LedgerLine(invoice=invoices_from("2028-01", [due])[0], applied=usd(applied))


# --- Properties: grace periods at every month boundary ------------------------------------------

Expected = tuple[CoverageState, int, dt.date | None]  # state, grace month, coverage end


def _late_months(history: History, day: dt.date) -> tuple[bool, list[str]]:
    """Whether the binder is still unpaid on `day`, and the coverage months late on it."""
    lines = ledger(history.invoices, history.payments, day).lines
    unpaid = [line.invoice for line in lines if not line.counts_as_paid(history.rules)]
    if any(inv.is_binder for inv in unpaid):
        return True, []
    return False, [inv.coverage_month for inv in unpaid if inv.due_date < day]


def _grace_month(anchor: str, day: dt.date) -> int:
    year, month = (int(part) for part in anchor.split("-"))
    return max((day.year - year) * 12 + day.month - month + 1, 1)


def _expected_by_day(history: History) -> dict[dt.date, Expected]:
    """The rules read literally, one day at a time: late means past the due date and not
    counted as paid; a grace period counts calendar months from the coverage month of the first
    late invoice, lasts while anything is late, and once it runs out coverage ends (at the end
    of its first month with APTC, else at its end) whatever is paid afterwards."""
    aptc = history.member.aptc.cents > 0
    length = 3 if aptc else history.rules.state_grace_months
    anchor: str | None = None
    ended: dt.date | None = None
    expected: dict[dt.date, Expected] = {}
    day = history.first_day
    while day <= history.last_day:
        binder_unpaid, late = (False, []) if ended else _late_months(history, day)
        if anchor is not None and ended is None and _grace_month(anchor, day) > length:
            ended = month_end(anchor, 0 if aptc else length - 1)  # paid today is too late
        anchor = (anchor or late[0]) if late and ended is None else None
        if anchor is not None:
            grace_month = _grace_month(anchor, day)
            if grace_month > length:
                ended = month_end(anchor, 0 if aptc else length - 1)
            else:
                expected[day] = (CoverageState.IN_GRACE, grace_month, None)
        if ended is not None:
            expected[day] = (CoverageState.TERMINATION_PENDING, 0, ended)
        elif anchor is None:
            state = CoverageState.FIRST_PAYMENT_DUE if binder_unpaid else CoverageState.CURRENT
            expected[day] = (state, 0, None)
        day += DAY
    return expected


def _month_boundaries(history: History) -> list[dt.date]:
    day, days = history.first_day.replace(day=1) + 32 * DAY, []
    while day <= history.last_day:
        first = day.replace(day=1)
        days += [first, first - DAY]
        day = first + 32 * DAY
    return days


@settings(max_examples=60, deadline=None)
@given(histories())
def test_grace_states_follow_the_rules_at_every_month_boundary(history: History) -> None:
    expected = _expected_by_day(history)
    for day in _month_boundaries(history):
        standing = coverage_standing(
            history.member, history.invoices, history.payments, as_of=day, rules=history.rules
        )
        assert (standing.state, standing.grace_month, standing.coverage_ends) == expected[day], day
        if standing.state is CoverageState.IN_GRACE:
            assert standing.grace_months == (
                3 if history.member.aptc.cents else history.rules.state_grace_months
            )
            assert standing.arrears.cents > 0 and standing.pay_by is not None


@settings(deadline=None)
@given(
    start=st.integers(2024 * 12, 2027 * 12 + 11),
    premium=st.integers(1, 600_00),
    aptc=st.booleans(),
    rules=rules_strategy,
    short_by=st.integers(0, 600_00),
)
def test_after_a_missed_month_grace_runs_its_months_then_coverage_ends(
    start: int, premium: int, aptc: bool, rules: BillingRules, short_by: int
) -> None:
    assume(rules.least_accepted(usd(premium)).cents > 0)
    first = f"{start // 12}-{start % 12 + 1:02d}"
    invoices = invoices_from(first, [premium] * 6)
    # The binder is paid on its due date; the next month gets less than the issuer accepts.
    second = min(short_by, rules.least_accepted(usd(premium)).cents - 1)
    payments = [pay(invoices[0].due_date, premium)]
    if second > 0:
        payments.append(pay(invoices[1].due_date, second))
    length = 3 if aptc else rules.state_grace_months
    who = member(aptc=aptc)

    def on(day: dt.date) -> CoverageStanding:
        return coverage_standing(who, invoices, payments, as_of=day, rules=rules)

    assert on(invoices[0].due_date - DAY).state is CoverageState.FIRST_PAYMENT_DUE
    assert on(month_end(first)).state is CoverageState.CURRENT
    for k in range(1, length + 1):
        for day in (month_end(first, k).replace(day=1), month_end(first, k)):
            assert state_label(on(day)) == ("in_grace", {"month": k, "months": length})
    after = on(month_end(first, length) + DAY)
    assert after.state is CoverageState.TERMINATION_PENDING
    assert after.coverage_ends == month_end(first, 1 if aptc else length)


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 400), st.integers(0, 120))
def test_paying_what_the_sentence_says_by_its_date_keeps_coverage(
    history: History, offset: int, wait: int
) -> None:
    as_of = history.first_day + offset * DAY

    def on(day: dt.date, payments: list[PremiumPayment]) -> CoverageStanding:
        return coverage_standing(
            history.member, history.invoices, payments, as_of=day, rules=history.rules
        )

    standing = on(as_of, history.payments)
    if standing.pay_by is None or standing.pay_by < as_of or not standing.to_pay.cents:
        return
    paid_on = min(as_of + wait * DAY, standing.pay_by)
    payments = [*history.payments, PremiumPayment(received_on=paid_on, amount=standing.to_pay)]
    assert on(paid_on, payments).state is CoverageState.CURRENT
    next_day = on(standing.pay_by + DAY, payments).state
    if standing.state is CoverageState.IN_GRACE:
        assert next_day in (CoverageState.CURRENT, CoverageState.IN_GRACE)
    else:
        assert next_day is CoverageState.CURRENT


def test_notice_codes_are_the_ones_the_ui_translates() -> None:
    assert {code.value for code in NoticeCode} == {
        "pay_by",
        "first_payment_by",
        "first_payment_overdue",
        "paid_through",
        "nothing_due",
        "coverage_ending",
        "coverage_ended",
    }


def test_arrears_paid_the_day_after_the_grace_period_are_too_late() -> None:
    """Found by the property above: three grace months March to May; a payment on June 1
    does not bring the coverage back, which ends with March (the member had tax credits)."""
    invoices = invoices_from("2025-03", [1], binder=False, lead_days=0)
    for paid_on, state in (("2025-05-31", CoverageState.CURRENT),
                           ("2025-06-01", CoverageState.TERMINATION_PENDING)):
        standing = coverage_standing(member(aptc=True), invoices, [pay(paid_on, 1)],
                                     as_of=dt.date(2025, 6, 1), rules=BillingRules())
        assert standing.state is state, paid_on
        if state is CoverageState.TERMINATION_PENDING:
            assert standing.coverage_ends == dt.date(2025, 3, 31)
