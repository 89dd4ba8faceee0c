"""Every control a person can reach on every screen has an accessible name, read through Qt's
accessibility interface the way assistive technology reads it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QAbstractItemView, QAbstractSpinBox, QComboBox, QWidget
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.main_window import MainWindow
from ui.tasks import TaskRunner


@pytest.fixture
def window(core: Core, qtbot: QtBot) -> Iterator[MainWindow]:
    runner = TaskRunner()
    built = MainWindow(ScreenContext(core=core, runner=runner), SyncBridge())
    qtbot.addWidget(built)
    built.show()
    yield built
    runner.shutdown()


def reachable(root: QWidget) -> list[QWidget]:
    return [w for w in root.findChildren(QWidget)
            if w.focusPolicy() != Qt.FocusPolicy.NoFocus and w.isEnabled()
            and w.window() is root.window() and w.isVisibleTo(root)
            and type(w).__name__ not in {"QScrollBar", "QStackedWidget"}
            and not isinstance(w.parent(), QComboBox | QAbstractSpinBox)]  # inner editors


def unnamed(root: QWidget) -> list[str]:
    missing = []
    for widget in reachable(root):
        interface = QAccessible.queryAccessibleInterface(widget)
        name = interface.text(QAccessible.Text.Name) if interface else ""
        if not name.strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    return missing


def test_every_reachable_control_on_every_screen_has_a_name(window: MainWindow) -> None:
    checked = 0
    for screen in window.screens.values():
        window.stack.setCurrentWidget(screen)
        assert unnamed(screen) == [], type(screen).__name__
        checked += len(reachable(screen))
    assert unnamed(window.header) == []
    assert checked >= 15  # the walk really found the controls


def test_the_walk_notices_an_unnamed_control(window: MainWindow) -> None:
    from PySide6.QtWidgets import QLineEdit

    stray = QLineEdit(window.sign_in)
    stray.show()
    assert unnamed(window.sign_in) == ["QLineEdit ''"]


def undersized(root: QWidget, minimum: int = 44) -> list[str]:
    """Reachable controls smaller than a fingertip (44 × 44 px)."""
    return [f"{type(w).__name__} {w.accessibleName()!r} {w.width()}x{w.height()}"
            for w in reachable(root)
            if (w.width() < minimum or w.height() < minimum)
            and not isinstance(w, QAbstractItemView)]


def test_every_reachable_control_is_at_least_44_px(window: MainWindow, qapp: object) -> None:
    window.resize(1024, 768)
    for screen in window.screens.values():
        window.stack.setCurrentWidget(screen)
        window.repaint()
        assert undersized(screen) == [], type(screen).__name__
    assert undersized(window.header) == []


def test_an_error_sits_right_under_its_field(window: MainWindow, qtbot: QtBot) -> None:
    screen = window.sign_in
    window.stack.setCurrentWidget(screen)
    rows = screen.form.rowCount()
    screen.show_error("The password is not right.", screen.password)  # then another field
    screen.show_error("The code is not right.", screen.code)
    qtbot.waitUntil(screen.error.isVisible)
    row, _role = screen.form.getWidgetPosition(screen.code)
    assert screen.form.getWidgetPosition(screen.error)[0] == row + 1
    assert screen.form.rowCount() == rows + 1  # the first message's row went with it
    assert screen.code.hasFocus()
    screen.show_error("Something else.")
    assert screen.form.indexOf(screen.error) == -1  # back in the screen's own place
    assert screen.form.rowCount() == rows


def test_every_way_to_pay_names_its_controls(window: MainWindow) -> None:
    payment = window.payment
    window.stack.setCurrentWidget(payment)
    for option in (payment.by_card, payment.by_bank, payment.by_link):
        option.setChecked(True)
        assert unnamed(payment) == [], option.text()
    payment.by_bank.setChecked(True)
    payment.bank.cannot_sign.setChecked(True)
    assert unnamed(payment) == []
