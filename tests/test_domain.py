"""Domain rules: money arithmetic, invoice balance and allocation, payment validation."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain.members import (
    Invoice,
    InvoiceStatus,
    allocate,
    fold_for_search,
    max_payment,
    months_covered,
    outstanding,
)
from kiosk.domain.money import Money, parse_amount, total
from kiosk.domain.payments import validate_amount
from kiosk.errors import ValidationError


def usd(cents: int) -> Money:
    return Money(cents=cents)


def invoice(month: str, due: int, paid: int = 0) -> Invoice:
    return Invoice(
        invoice_id=f"INV-{month}",
        member_id="M-1",
        coverage_month=month,
        amount_due=usd(due),
        amount_paid=usd(paid),
        due_date=dt.date.fromisoformat(f"{month}-01"),
        is_binder=False,
        status=InvoiceStatus.PAID if paid >= due else InvoiceStatus.OPEN,
    )


def test_money_adds_and_subtracts_in_cents() -> None:
    assert usd(10) + usd(5) == usd(15)
    assert usd(10) - usd(25) == usd(-15)
    assert total([usd(1), usd(2), usd(3)]) == usd(6)
    assert total([]) == usd(0)


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(cents=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        usd(1) + Money(cents=1, currency="EUR")


@pytest.mark.parametrize(
    ("text", "cents"), [("125.50", 12550), ("$ 7", 700), ("7,5", 750), ("0.01", 1), (" 99 ", 9900)]
)
def test_amounts_typed_by_people_are_read_exactly(text: str, cents: int) -> None:
    assert parse_amount(text) == usd(cents)


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-5", "12..3", "1e3"])
def test_unreadable_amounts_are_refused_with_a_code(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_amount(text)
    assert info.value.code == "amount_unreadable"
    assert info.value.field == "amount"


def test_balance_counts_only_what_is_still_open() -> None:
    invoices = [
        invoice("2026-09", 10000, 10000),
        invoice("2026-10", 10000, 2500),
        invoice("2026-11", 10000),
    ]
    assert outstanding(invoices) == usd(17500)


def test_payment_goes_to_the_oldest_invoice_first_and_leaves_a_credit() -> None:
    invoices = [invoice("2026-11", 10000), invoice("2026-10", 10000, 4000)]
    allocations, credit = allocate(invoices, usd(20000))
    assert [(a.coverage_month, a.amount.cents) for a in allocations] == [
        ("2026-10", 6000),
        ("2026-11", 10000),
    ]
    assert credit == usd(4000)


def test_months_covered_skips_what_earlier_pending_payments_took() -> None:
    invoices = [invoice("2026-10", 10000), invoice("2026-11", 10000)]
    assert months_covered(invoices, earlier=usd(10000), amount=usd(5000)) == ["2026-11"]
    assert months_covered(invoices, earlier=usd(0), amount=usd(15000)) == ["2026-10", "2026-11"]


@given(
    st.lists(st.tuples(st.integers(0, 500_00), st.integers(0, 500_00)), max_size=8),
    st.integers(0, 5_000_00),
)
def test_allocation_never_loses_or_invents_a_cent(rows: list[tuple[int, int]], pay: int) -> None:
    invoices = [
        invoice(f"2026-{i + 1:02d}", due, min(paid, due)) for i, (due, paid) in enumerate(rows)
    ]
    allocations, credit = allocate(invoices, usd(pay))
    assert sum(a.amount.cents for a in allocations) + credit.cents == pay
    assert all(a.amount.cents > 0 for a in allocations)
    assert credit.cents >= 0


def test_validation_refuses_zero_negative_and_too_much() -> None:
    allowed = max_payment(usd(20000), usd(15000))
    assert allowed == usd(35000)
    validate_amount(usd(35000), allowed=allowed)
    for cents, code in (
        (0, "amount_not_positive"),
        (-1, "amount_not_positive"),
        (35001, "amount_too_high"),
    ):
        with pytest.raises(ValidationError) as info:
            validate_amount(usd(cents), allowed=allowed)
        assert info.value.code == code


def test_a_member_in_credit_may_still_pay_one_month_ahead() -> None:
    assert max_payment(usd(-5000), usd(12000)) == usd(12000)


def test_search_folding_ignores_case_and_accents() -> None:
    assert fold_for_search("José ÁLVAREZ") == "jose alvarez"
    assert fold_for_search("Nguyễn Đức") == "nguyen duc"
    assert fold_for_search("Zoë Müller") == "zoe muller"
