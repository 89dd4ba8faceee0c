"""First run: the first staff member is enrolled as a supervisor through the screen, sees the
authenticator QR code, and sets the recovery passphrase of the kiosk's data."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core
from kiosk.store import keys
from kiosk.visit import VisitState
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


def fill(qtbot: QtBot, screen: object, values: dict[str, str]) -> None:
    for name, text in values.items():
        qtbot.keyClicks(getattr(screen, name), text)


def test_the_first_supervisor_and_the_recovery_passphrase(window: MainWindow, qtbot: QtBot,
                                                          core: Core) -> None:
    assert window.visit.state is VisitState.FIRST_RUN
    screen = window.enroll
    fill(qtbot, screen, {"display_name": "Site Lead", "username": "lead.one",
                         "password": "plum kettle orbit lantern",
                         "password_again": "plum kettle orbit lantern",
                         "recovery": "granite meadow copper whistle",
                         "recovery_again": "granite meadow copper whistle"})
    qtbot.mouseClick(screen.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(screen.qr.isVisible, timeout=15000)
    assert screen.recovery.text() == "" and screen.password.text() == ""
    stored = json.loads(keys.places(core.settings).keystore_path.read_text())
    assert stored["current"]["recovery"]["demo"] is False
    qtbot.mouseClick(screen.finish, Qt.MouseButton.LeftButton)
    assert window.visit.state is VisitState.SIGNED_OUT


def test_mismatched_or_weak_passphrases_are_refused_next_to_the_field(
        window: MainWindow, qtbot: QtBot) -> None:
    screen = window.enroll
    fill(qtbot, screen, {"display_name": "Site Lead", "username": "lead.one",
                         "password": "plum kettle orbit lantern",
                         "password_again": "plum kettle orbit lantern",
                         "recovery": "granite meadow copper whistle",
                         "recovery_again": "granite meadow copper"})
    qtbot.mouseClick(screen.submit, Qt.MouseButton.LeftButton)
    assert "recovery passphrases are not the same" in screen.error.text()
    assert screen.recovery_again.hasFocus()
    screen.recovery.setText("short")
    screen.recovery_again.setText("short")
    qtbot.mouseClick(screen.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "at least" in screen.error.text(), timeout=10000)
    assert not screen.qr.isVisible()
    assert window.visit.state is VisitState.FIRST_RUN
