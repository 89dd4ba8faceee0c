"""Where a member stands with their coverage today, for the member screen's one sentence.

The billing rules (`kiosk.domain.billing`) need dated payments. The kiosk knows what the
exchange counts as paid on each invoice and the payments taken here that are not yet
confirmed; an amount the exchange shows as paid is taken as paid on the invoice's due date
(the exchange's own payment dates arrive with the payment history, issue 6).
"""

from __future__ import annotations

import datetime as dt

from kiosk.domain.billing import BillingRules, CoverageStanding, PremiumPayment, coverage_standing
from kiosk.services.members import MemberAccount


def dated_payments(account: MemberAccount, today: dt.date) -> list[PremiumPayment]:
    """The payments the rules apply: the exchange's per invoice, then the kiosk's pending."""
    payments = [PremiumPayment(received_on=min(inv.due_date, today), amount=inv.amount_paid)
                for inv in account.invoices if inv.amount_paid.cents > 0]
    payments += [PremiumPayment(received_on=min(p.captured_at.date(), today), amount=p.amount)
                 for p in account.pending if p.amount.cents > 0]
    return payments


def standing_of(account: MemberAccount, *, today: dt.date,
                rules: BillingRules | None = None) -> CoverageStanding:
    """The member's coverage state on `today`: current, first payment due, in grace month
    k of n, termination pending; what to pay and by when."""
    return coverage_standing(account.member, account.invoices, dated_payments(account, today),
                             as_of=today, rules=rules)
