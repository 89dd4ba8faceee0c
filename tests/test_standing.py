"""The member screen's sentence and state, from the vault's invoices and pending payments."""

from __future__ import annotations

import datetime as dt

from kiosk.bootstrap import Core
from kiosk.domain.billing import CoverageState
from kiosk.i18n import set_language
from kiosk.services.members import get_account
from kiosk.services.standing import standing_of
from tests.test_queue_rules import pay, stocked  # noqa: F401
from ui.standing_text import notice_text, state_text

TODAY = dt.date(2026, 11, 28)


def test_a_member_with_a_tax_credit_behind_since_october_is_in_grace(
        stocked: Core) -> None:  # noqa: F811
    standing = standing_of(get_account("M-2", vault=stocked.vault), today=TODAY)
    assert standing.state is CoverageState.IN_GRACE
    assert (standing.grace_month, standing.grace_months) == (2, 3)
    assert state_text(standing) == "In grace month 2 of 3"
    assert notice_text(standing) == "Pay $300.00 by December 31, 2026 to keep your coverage."


def test_a_payment_taken_here_counts_at_once(stocked: Core) -> None:  # noqa: F811
    pay(stocked, "M-2", 300_00)
    standing = standing_of(get_account("M-2", vault=stocked.vault), today=TODAY)
    assert standing.state is CoverageState.CURRENT


def test_a_new_enrollee_owes_the_first_payment(stocked: Core) -> None:  # noqa: F811
    standing = standing_of(get_account("M-3", vault=stocked.vault), today=TODAY)
    assert standing.state is CoverageState.FIRST_PAYMENT_DUE
    assert notice_text(standing) == "Pay $300.00 by December 15, 2026 to start your coverage."


def test_the_sentence_is_translated(stocked: Core) -> None:  # noqa: F811
    standing = standing_of(get_account("M-1", vault=stocked.vault), today=TODAY)
    try:
        set_language("es")
        assert "$300.00" in notice_text(standing) and "Pay" not in notice_text(standing)
    finally:
        set_language("en")
