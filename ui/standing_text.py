"""The member screen's sentence about coverage, from the billing rules' stable codes."""

from __future__ import annotations

import datetime as dt

from kiosk.domain.billing import CoverageStanding, CoverageState, standing_notice, state_label
from kiosk.domain.money import Money
from kiosk.i18n import N_, _, format_date, format_money, format_month

_NOTICES = {
    "pay_by": N_("Pay {amount} by {date} to keep your coverage."),
    "first_payment_by": N_("Pay {amount} by {date} to start your coverage."),
    "first_payment_overdue": N_(
        "The first payment of {amount} was due on {date}. Coverage starts once it is paid."),
    "paid_through": N_("Coverage is paid through {month}."),
    "nothing_due": N_("Nothing is due now."),
    "coverage_ending": N_(
        "Coverage is ending: {amount} was not paid in the grace period. Coverage ends on "
        "{date} unless the insurer agrees otherwise."),
    "coverage_ended": N_("Coverage ended on {date}."),
}

_STATES = {
    CoverageState.CURRENT: N_("Current"),
    CoverageState.FIRST_PAYMENT_DUE: N_("First payment due"),
    CoverageState.IN_GRACE: N_("In grace month {month} of {months}"),
    CoverageState.TERMINATION_PENDING: N_("Termination pending"),
    CoverageState.TERMINATED: N_("Coverage ended"),
}


def _value(value: object) -> str:
    if isinstance(value, Money):
        return format_money(value)
    if isinstance(value, dt.date):
        return format_date(value, fmt="long")
    if isinstance(value, str) and len(value) == 7 and value[4] == "-":
        return format_month(value)
    return str(value)


def notice_text(standing: CoverageStanding) -> str:
    """"Pay $123.45 by March 23, 2027 to keep your coverage." in the current language."""
    code, data = standing_notice(standing)
    return _(_NOTICES[str(code)]).format(**{k: _value(v) for k, v in data.items()})


def state_text(standing: CoverageStanding) -> str:
    """"Current", "In grace month 2 of 3", "Termination pending"..."""
    state, data = state_label(standing)
    return _(_STATES[state]).format(**data)
