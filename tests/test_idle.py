"""Time limits on a shared machine: the member gets a warning with at least 20 seconds and an
"I need more time" button that works again and again; without an answer every trace of the
member is wiped; an idle staff session locks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core
from kiosk.domain.staff import Role, StaffSession
from kiosk.services.auth import EnrollStaff, enroll_staff
from kiosk.services.cache import apply_changes
from kiosk.settings import Settings
from kiosk.visit import VisitState
from tests.support import FakeClock
from tests.test_queue_rules import invoice, member
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.main_window import MainWindow
from ui.tasks import TaskRunner


@pytest.fixture
def window(core: Core, qtbot: QtBot) -> Iterator[MainWindow]:
    apply_changes([{"kind": "member", "data": member("M-7")},
                   {"kind": "invoice", "data": invoice("M-7", "2026-12", "2026-11-30")}],
                  next_after=2, vault=core.vault)
    enroll_staff(EnrollStaff(username="nav", display_name="Nav",
                             password="a long enough password"), vault=core.vault,
                 clock=core.clock)
    runner = TaskRunner()
    ctx = ScreenContext(core=core, runner=runner)
    built = MainWindow(ctx, SyncBridge())
    qtbot.addWidget(built)
    built.show()
    built._on_sign_in_signed_in(StaffSession(username="nav", display_name="Nav",
                                             role=Role.NAVIGATOR, signed_in_at=core.clock.now()))
    built._on_welcome_language_chosen("es")
    built.search.query.setText("M-7")
    built._on_search_member_chosen("M-7")
    qtbot.waitUntil(lambda: built.member.account is not None, timeout=5000)
    yield built
    runner.shutdown()


def idle_for(window: MainWindow, clock: FakeClock, seconds: float) -> None:
    for _ in range(int(seconds)):
        clock.advance(1)
        window.idle.check()


def test_the_member_is_warned_then_wiped(window: MainWindow, clock: FakeClock,
                                         qtbot: QtBot) -> None:
    QApplication.clipboard().setText("M-7 Rosa Quintero")
    idle_for(window, clock, 89)
    assert not window.timeout_warning.isVisible()
    idle_for(window, clock, 1)
    assert window.timeout_warning.isVisible()
    assert window.timeout_warning.seconds >= 20
    assert "cleared in" in window.timeout_warning.message.text()
    idle_for(window, clock, 30)
    assert window.visit.state is VisitState.WELCOME and window.ctx.member_language == "en"
    assert window.member.account is None and window.search.query.text() == ""
    assert QApplication.clipboard().text() == ""
    assert not window.timeout_warning.isVisible()


def test_i_need_more_time_works_at_least_ten_times(window: MainWindow, clock: FakeClock,
                                                   qtbot: QtBot) -> None:
    for _ in range(12):
        idle_for(window, clock, 95)
        assert window.timeout_warning.isVisible()
        qtbot.mouseClick(window.timeout_warning.more_time, Qt.MouseButton.LeftButton)
        assert window.visit.state is VisitState.MEMBER
    assert window.idle.extensions == 12
    assert window.member.account is not None


def test_activity_keeps_the_visit_alive(window: MainWindow, clock: FakeClock,
                                        qtbot: QtBot) -> None:
    for _ in range(5):
        idle_for(window, clock, 60)
        qtbot.keyClick(window.member.pay, Qt.Key.Key_Shift)
    assert not window.timeout_warning.isVisible()
    assert window.visit.state is VisitState.MEMBER


def test_an_idle_staff_session_locks(window: MainWindow, clock: FakeClock) -> None:
    window.visit.back()
    window._show_state()
    idle_for(window, clock, 15 * 60)
    assert window.visit.state is VisitState.SIGNED_OUT
    assert window.ctx.session is None
    assert "locked" in window.sign_in.error.text()


def test_the_limits_come_from_the_settings(settings: Settings, clock: FakeClock,
                                           qtbot: QtBot) -> None:
    from dataclasses import replace

    from kiosk.bootstrap import build_core

    core = build_core(replace(settings, member_idle_seconds=30, member_warning_seconds=25,
                              staff_idle_minutes=2), clock=clock)
    runner = TaskRunner()
    try:
        built = MainWindow(ScreenContext(core=core, runner=runner), SyncBridge())
        qtbot.addWidget(built)
        assert (built.idle.member_idle_s, built.idle.warning_s, built.idle.staff_idle_s) == (
            30, 25, 120)
    finally:
        runner.shutdown()
        core.close()


def test_a_session_ends_after_its_time_even_with_activity(window: MainWindow,
                                                          clock: FakeClock) -> None:
    from dataclasses import replace

    session = window.ctx.session
    assert session is not None
    window.ctx.session = replace(session, expires_at=clock.now() + dt.timedelta(seconds=5))
    clock.advance(6)
    window.idle.check()
    assert window.visit.state is VisitState.SIGNED_OUT
    assert "session has ended" in window.sign_in.error.text()
