"""Kiosk mode: full screen without a frame, and closing needs a supervisor's sign-in."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core
from kiosk.domain.staff import Role
from kiosk.services.auth import EnrollStaff, StaffEnrolled, enroll_staff
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.main_window import MainWindow
from ui.tasks import TaskRunner

PASSWORD = "supervisor password here"


@pytest.fixture
def supervisor(core: Core) -> StaffEnrolled:
    return enroll_staff(EnrollStaff(username="sup.one", display_name="Lead", password=PASSWORD,
                                    role=Role.SUPERVISOR), vault=core.vault, clock=core.clock)


@pytest.fixture
def window(core: Core, qtbot: QtBot, supervisor: StaffEnrolled) -> Iterator[MainWindow]:
    runner = TaskRunner()
    built = MainWindow(ScreenContext(core=core, runner=runner), SyncBridge())
    qtbot.addWidget(built)
    built.enter_kiosk_mode()
    yield built
    built._leaving_confirmed = True  # let the test's teardown close it
    runner.shutdown()


def test_full_screen_without_a_frame(window: MainWindow) -> None:
    assert window.isFullScreen()
    assert window.windowFlags() & Qt.WindowType.FramelessWindowHint


def test_closing_needs_a_supervisor(window: MainWindow, qtbot: QtBot,
                                    supervisor: StaffEnrolled, core: Core) -> None:
    assert not window.close()  # refused; a supervisor is asked instead
    assert window.isVisible()
    dialog = window.exit_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.username, "sup.one")
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.keyClicks(dialog.code, pyotp.TOTP(supervisor.totp_secret).at(core.clock.now()))
    qtbot.mouseClick(dialog.approve, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
