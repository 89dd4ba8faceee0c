"""The member's pages through the whole window: each opens from the member screen and Back
returns to the member; from the history, "Question a payment" opens the disputes page with
that payment ticked; leaving the visit forgets what every page showed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.visit import MEMBER_PAGES, VisitState
from tests.test_ui_flow import Kiosk, exchange, kiosk, open_member, sign_in  # noqa: F401


def test_every_page_opens_from_the_member_and_back_returns(kiosk: Kiosk,  # noqa: F811
                                                          qtbot: QtBot) -> None:
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100001")
    window = kiosk.window
    assert set(window.pages) == set(MEMBER_PAGES)  # every page has its screen and its button
    for page in MEMBER_PAGES:
        qtbot.mouseClick(window.member.page_button(page), Qt.MouseButton.LeftButton)
        assert window.visit.state is page
        assert window.stack.currentWidget() is window.pages[page]
        qtbot.mouseClick(window.pages[page].back, Qt.MouseButton.LeftButton)
        assert window.visit.state is VisitState.MEMBER


def test_questioning_a_payment_in_the_history_opens_a_dispute_for_it(
        kiosk: Kiosk, qtbot: QtBot) -> None:  # noqa: F811
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100001")
    window = kiosk.window
    qtbot.mouseClick(window.member.page_button(VisitState.HISTORY), Qt.MouseButton.LeftButton)
    history = window.history
    qtbot.waitUntil(lambda: len(history.entries) > 0, timeout=10000)
    row = next(i for i, e in enumerate(history.entries) if e.status == "confirmed")
    history.table.selectRow(row)
    qtbot.waitUntil(history.question.isEnabled, timeout=5000)
    chosen = history.entries[row].payment_id
    qtbot.mouseClick(history.question, Qt.MouseButton.LeftButton)
    assert window.visit.state is VisitState.DISPUTES
    qtbot.waitUntil(lambda: window.disputes.checked_ids() == [chosen], timeout=10000)
    qtbot.mouseClick(window.disputes.back, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.member.back, Qt.MouseButton.LeftButton)
    window._forget_member()
    assert history.entries == [] and window.disputes.checked_ids() == []
