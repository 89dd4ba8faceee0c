"""Premium billing rules of the sandbox exchange, free of storage and HTTP: how a payment is
spread over a member's open invoices (oldest first, the rest becomes a credit) and which status
a member has given their open invoices. The demo data and the payment handler both use these
rules, so seeded members and paid-up members are classified the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class MemberStatus(StrEnum):
    """Where a member stands with their premiums."""

    BINDER_DUE = "binder_due"  # new enrollee; coverage starts only once the first bill is paid
    ACTIVE = "active"  # nothing is past due
    GRACE = "grace"  # at least one invoice is past due; coverage continues for now


class InvoiceStatus(StrEnum):
    """Whether an invoice still wants money."""

    OPEN = "open"  # some of amount_due_cents is still unpaid
    PAID = "paid"  # amount_paid_cents has reached amount_due_cents


@dataclass(frozen=True, kw_only=True)
class OpenInvoice:
    """The part of an open invoice that payment allocation needs."""

    invoice_id: str
    coverage_month: str
    due_date: date
    balance_cents: int
    is_binder: bool


@dataclass(frozen=True, kw_only=True)
class Allocation:
    """Money from one payment put towards one invoice."""

    invoice_id: str
    amount_cents: int


@dataclass(frozen=True, kw_only=True)
class Application:
    """How one payment was spread: the allocations, oldest invoice first, and the credit left."""

    allocations: tuple[Allocation, ...]
    credit_cents: int


def oldest_first(invoices: Iterable[OpenInvoice]) -> list[OpenInvoice]:
    """Order invoices by due date, then coverage month, then id, so ties break the same way."""
    return sorted(invoices, key=lambda inv: (inv.due_date, inv.coverage_month, inv.invoice_id))


def apply_payment(amount_cents: int, invoices: Iterable[OpenInvoice]) -> Application:
    """Spread `amount_cents` over `invoices`, oldest first; what no invoice takes is credit."""
    if amount_cents < 0:
        raise ValueError("a payment cannot be negative")
    left = amount_cents
    allocations: list[Allocation] = []
    for invoice in oldest_first(invoices):
        take = min(left, invoice.balance_cents)
        if take > 0:
            allocations.append(Allocation(invoice_id=invoice.invoice_id, amount_cents=take))
            left -= take
    return Application(allocations=tuple(allocations), credit_cents=left)


def member_status(open_invoices: Iterable[OpenInvoice], *, today: date) -> MemberStatus:
    """The status a member has with these invoices still open on `today`."""
    still_open = [invoice for invoice in open_invoices if invoice.balance_cents > 0]
    if any(invoice.is_binder for invoice in still_open):
        return MemberStatus.BINDER_DUE
    if any(invoice.due_date < today for invoice in still_open):
        return MemberStatus.GRACE
    return MemberStatus.ACTIVE
