"""The visit state machine, without a screen: every step in order, and gestures out of order
refused."""

from __future__ import annotations

import pytest

from kiosk.visit import MEMBER_PAGES, Visit, VisitFlowError, VisitState


def test_a_whole_visit_in_order() -> None:
    visit = Visit()
    visit.start(has_staff=False)
    assert visit.state is VisitState.FIRST_RUN
    visit.staff_enrolled()
    visit.signed_in()
    assert visit.state is VisitState.WELCOME
    visit.language_chosen()
    visit.member_chosen("M-1")
    visit.start_payment()
    visit.payment_taken("P-1")
    assert (visit.state, visit.member_id, visit.payment_id) == (VisitState.RECEIPT, "M-1", "P-1")
    visit.finish()
    assert (visit.state, visit.member_id, visit.payment_id) == (VisitState.WELCOME, None, None)


def test_back_steps_and_tools() -> None:
    visit = Visit()
    visit.start(has_staff=True)
    visit.signed_in()
    visit.language_chosen()
    visit.open_tool(VisitState.QUEUE)
    visit.open_tool(VisitState.REPORT)
    visit.back()
    assert visit.state is VisitState.FIND_MEMBER
    visit.member_chosen("M-2")
    visit.start_payment()
    visit.back()
    assert visit.state is VisitState.MEMBER and visit.member_id == "M-2"
    visit.back()
    assert visit.state is VisitState.FIND_MEMBER and visit.member_id is None


@pytest.mark.parametrize("gesture", [
    lambda v: v.payment_taken("P"), lambda v: v.start_payment(), lambda v: v.member_chosen("M"),
    lambda v: v.open_tool(VisitState.QUEUE), lambda v: v.back(), lambda v: v.finish(),
])
def test_gestures_out_of_order_are_refused(gesture: object) -> None:
    visit = Visit()
    visit.start(has_staff=True)
    with pytest.raises(VisitFlowError):
        gesture(visit)  # type: ignore[operator]
    assert visit.state is VisitState.SIGNED_OUT


def test_a_tool_cannot_be_opened_mid_payment() -> None:
    visit = Visit()
    visit.start(has_staff=True)
    visit.signed_in()
    visit.language_chosen()
    visit.member_chosen("M")
    with pytest.raises(VisitFlowError):
        visit.open_tool(VisitState.QUEUE)
    with pytest.raises(VisitFlowError):
        visit.open_tool(VisitState.RECEIPT)


def test_sign_out_forgets_the_member_from_any_step() -> None:
    visit = Visit()
    visit.start(has_staff=True)
    visit.signed_in()
    visit.language_chosen()
    visit.member_chosen("M")
    visit.sign_out()
    assert (visit.state, visit.member_id) == (VisitState.SIGNED_OUT, None)


def test_member_pages_open_from_the_member_and_from_each_other() -> None:
    visit = Visit()
    visit.start(has_staff=True)
    visit.signed_in()
    visit.language_chosen()
    with pytest.raises(VisitFlowError):
        visit.open_member_page(VisitState.PROFILE)  # no member yet
    visit.member_chosen("M-3")
    for page in MEMBER_PAGES:
        visit.open_member_page(page)
        assert visit.state is page
    visit.back()
    assert visit.state is VisitState.MEMBER and visit.member_id == "M-3"
    with pytest.raises(VisitFlowError):
        visit.open_member_page(VisitState.QUEUE)  # a staff tool is not a member page
