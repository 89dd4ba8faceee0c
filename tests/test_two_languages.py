"""Two languages in one visit: the navigator works in English while the member reads, signs and
hears their own language, taken from their preferences on the exchange when the navigator
accepts the offer: the member's display, the amount confirmation and the receipt."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.i18n import LANGUAGES, _, in_language, isolate
from kiosk.visit import VisitState
from tests.test_ui_flow import Kiosk, exchange, kiosk, open_member, sign_in  # noqa: F401

# A demo member whose preferences name each language (see sync/sandbox/demo_data.py).
MEMBERS = {"es": ("M-100001", "José"), "vi": ("M-100005", "Thu Hà")}


@pytest.mark.parametrize("language", sorted(set(MEMBERS) & set(LANGUAGES)))
def test_the_member_reads_their_language_while_the_navigator_keeps_english(
        kiosk: Kiosk, qtbot: QtBot, language: str) -> None:  # noqa: F811
    member_id, first_name = MEMBERS[language]
    sign_in(kiosk, qtbot)  # the welcome screen was answered with English
    assert kiosk.ctx.member_language == "en"
    open_member(kiosk, qtbot, member_id)
    screen = kiosk.window.member
    assert screen.language_offer.isVisible()
    assert screen.language_note.text().startswith(f"{isolate(first_name)} prefers ")
    qtbot.mouseClick(screen.use_language, Qt.MouseButton.LeftButton)
    assert kiosk.ctx.member_language == language and not screen.language_offer.isVisible()
    with in_language(language):
        welcome, receipt_word = _("Welcome"), _("Receipt number")
    assert kiosk.window.member_display.title.text() == welcome != "Welcome"
    assert screen.pay.text() == "Take a payment"  # the navigator's screens stay English
    qtbot.mouseClick(screen.pay, Qt.MouseButton.LeftButton)
    payment = kiosk.window.payment
    qtbot.mouseClick(payment.amount, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(payment.amount, "20.00")
    qtbot.mouseClick(payment.charge, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.names[0].text() != "", timeout=5000)
    assert receipt.names[0].text() == receipt_word  # the receipt is the member's
    assert receipt.done.text() == "Done — next member"  # the buttons are the navigator's
    qtbot.mouseClick(receipt.done, Qt.MouseButton.LeftButton)
    assert kiosk.ctx.member_language == "en"  # the next visit starts over


def test_no_offer_when_the_visit_already_uses_the_members_language(
        kiosk: Kiosk, qtbot: QtBot) -> None:  # noqa: F811
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100002")  # prefers English, like the visit
    assert not kiosk.window.member.language_offer.isVisible()
