"""A whole visit with the keyboard alone, the way a navigator who cannot use a pointer works:
typing, Tab, Enter and Escape, and the on-screen keypad driven by arrow keys."""

from __future__ import annotations

import pyotp
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from kiosk.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_USERNAME
from kiosk.visit import VisitState
from tests.test_ui_flow import Kiosk, exchange, kiosk  # noqa: F401
from ui.widgets.keypad import Keypad


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None
    return widget


def press(qtbot: QtBot, key: Qt.Key, times: int = 1) -> None:
    for _ in range(times):
        qtbot.keyClick(focused(), key)


def type_here(qtbot: QtBot, text: str) -> None:
    qtbot.keyClicks(focused(), text)


def test_a_whole_visit_without_a_pointer(kiosk: Kiosk, qtbot: QtBot) -> None:  # noqa: F811
    window = kiosk.window
    window.activateWindow()
    qtbot.waitUntil(lambda: focused() is window.sign_in.username)
    type_here(qtbot, DEMO_USERNAME)
    press(qtbot, Qt.Key.Key_Tab)
    assert focused() is window.sign_in.password
    type_here(qtbot, DEMO_PASSWORD)
    press(qtbot, Qt.Key.Key_Tab)
    assert focused() is window.sign_in.code
    type_here(qtbot, pyotp.TOTP(DEMO_TOTP_SECRET).now())
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.visit.state is VisitState.WELCOME, timeout=10000)
    assert focused() is window.welcome.buttons["en"]
    press(qtbot, Qt.Key.Key_Tab)  # the next language: Español
    assert focused() is window.welcome.buttons["es"]
    press(qtbot, Qt.Key.Key_Return)
    assert window.visit.state is VisitState.FIND_MEMBER and window.ctx.member_language == "es"
    assert focused() is window.search.query
    type_here(qtbot, "M-100001")
    press(qtbot, Qt.Key.Key_Return)  # a single match opens at once
    qtbot.waitUntil(lambda: window.member.account is not None, timeout=5000)
    assert focused() is window.member.pay
    press(qtbot, Qt.Key.Key_Escape)  # Escape goes back, the same on every screen
    assert window.visit.state is VisitState.FIND_MEMBER
    assert window.member.account is None  # nothing of the member is left behind
    assert focused() is window.search.query and window.search.query.selectedText() == "M-100001"
    type_here(qtbot, "M-100001")
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.member.account is not None, timeout=5000)
    press(qtbot, Qt.Key.Key_Return)  # the focused "Take a card payment"
    assert window.visit.state is VisitState.PAYING
    assert focused() is window.payment.charge
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.visit.state is VisitState.RECEIPT, timeout=10000)
    qtbot.waitUntil(lambda: window.receipt.receipt is not None, timeout=5000)
    assert focused() is window.receipt.done
    press(qtbot, Qt.Key.Key_Return)
    assert window.visit.state is VisitState.WELCOME


def test_the_keypad_works_from_arrow_keys_and_enter(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QLineEdit

    field = QLineEdit()
    pad = Keypad(field)
    qtbot.addWidget(pad)
    pad.show()
    pad.keys[(0, 0)].setFocus()
    qtbot.waitUntil(lambda: pad.keys[(0, 0)].hasFocus())
    press(qtbot, Qt.Key.Key_Right)  # 2
    press(qtbot, Qt.Key.Key_Down)  # 5
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    press(qtbot, Qt.Key.Key_Down, 2)  # 0
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    qtbot.keyClick(pad, Qt.Key.Key_7)  # digits type directly
    assert field.text() == "507"
    pad.keys[(3, 2)].click()  # delete the last digit
    assert field.text() == "50"
    done: list[bool] = []
    pad.sig_done.connect(lambda: done.append(True))
    press(qtbot, Qt.Key.Key_Down)
    assert focused() is pad.done
    qtbot.keyClick(focused(), Qt.Key.Key_Space)
    assert done == [True]


def test_tab_order_on_sign_in_follows_reading_order(kiosk: Kiosk, qtbot: QtBot) -> None:  # noqa: F811
    screen = kiosk.window.sign_in
    screen.username.setFocus()
    qtbot.waitUntil(screen.username.hasFocus)
    order = [focused()]
    for _ in range(4):
        press(qtbot, Qt.Key.Key_Tab)
        order.append(focused())
    # The keypad is one stop (its first key); the arrows move inside it.
    assert order == [screen.username, screen.password, screen.code,
                     screen.keypad.tab_stop(), screen.submit]
