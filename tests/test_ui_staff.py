"""The staff screen through real widgets: the list shows who is locked out; a supervisor's
approval adds a staff member and shows their authenticator code once; an administrator's
approval unlocks and removes accounts; a supervisor cannot remove one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyotp
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.clock import to_iso
from kiosk.domain.staff import MAX_FAILED_SIGNINS, Role
from kiosk.errors import AuthError
from kiosk.services.auth import EnrollStaff, SignIn, StaffEnrolled, enroll_staff
from kiosk.services.auth import sign_in as auth
from kiosk.services.staff_admin import list_staff
from kiosk.visit import VisitState
from tests.test_ui_flow import Kiosk, exchange, kiosk, sign_in  # noqa: F401

PASSWORD = "staff password for tests"  # pragma: allowlist secret


def enrol(kiosk: Kiosk, username: str, role: Role) -> StaffEnrolled:  # noqa: F811
    return enroll_staff(EnrollStaff(username=username, display_name=username.title(),
                                    password=PASSWORD, role=role),
                        vault=kiosk.core.vault, clock=kiosk.core.clock)


@pytest.fixture
def staff(kiosk: Kiosk, qtbot: QtBot) -> Iterator[dict[str, StaffEnrolled]]:  # noqa: F811
    people = {"sup": enrol(kiosk, "sup.lead", Role.SUPERVISOR),
              "adm": enrol(kiosk, "adm.lead", Role.ADMINISTRATOR),
              "nav": enrol(kiosk, "nav.locked", Role.NAVIGATOR)}
    # Locked as repeated failures leave it (the lockout itself is tested in test_auth, with
    # a fake clock to step through the growing waits).
    until = to_iso(kiosk.core.clock.now() + dt.timedelta(minutes=15))
    kiosk.core.vault.write(lambda conn: conn.execute(
        "UPDATE staff SET failed_signins = ?, locked_until = ? WHERE username = 'nav.locked'",
        (MAX_FAILED_SIGNINS, until)))
    with pytest.raises(AuthError) as refused:
        auth(SignIn(username="nav.locked", password=PASSWORD, code="000000"),
             vault=kiosk.core.vault, clock=kiosk.core.clock)
    assert refused.value.code == "account_locked"
    sign_in(kiosk, qtbot)
    qtbot.mouseClick(kiosk.window.search.staff_button, Qt.MouseButton.LeftButton)
    assert kiosk.window.visit.state is VisitState.STAFF
    screen = kiosk.window.staff
    qtbot.waitUntil(lambda: screen.table.rowCount() >= 4, timeout=10000)
    yield people


def approve(qtbot: QtBot, kiosk: Kiosk, who: StaffEnrolled) -> None:  # noqa: F811
    dialog = kiosk.window.staff.step_up
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    qtbot.keyClicks(dialog.username, who.username)
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.keyClicks(dialog.code, pyotp.TOTP(who.totp_secret).now())
    qtbot.mouseClick(dialog.approve, Qt.MouseButton.LeftButton)


def row_of(kiosk: Kiosk, username: str) -> int:  # noqa: F811
    return [e.username for e in kiosk.window.staff.staff].index(username)


def state_of(kiosk: Kiosk, username: str) -> str:  # noqa: F811
    return kiosk.window.staff.table.item(row_of(kiosk, username), 2).text()


def test_the_list_shows_roles_and_who_is_locked(kiosk: Kiosk,  # noqa: F811
                                                 staff: dict[str, StaffEnrolled]) -> None:
    table = kiosk.window.staff.table
    assert state_of(kiosk, "nav.locked") == "Locked"
    assert state_of(kiosk, "adm.lead") == "Active"
    assert table.item(row_of(kiosk, "adm.lead"), 1).text() == "Administrator"
    assert table.item(row_of(kiosk, "sup.lead"), 0).text() == "Sup.Lead (sup.lead)"
    assert not kiosk.window.staff.unlock.isEnabled()  # nothing chosen yet


def test_a_supervisor_approves_a_new_navigator_and_the_code_shows_once(
        kiosk: Kiosk, qtbot: QtBot, staff: dict[str, StaffEnrolled]) -> None:  # noqa: F811
    screen = kiosk.window.staff
    qtbot.keyClicks(screen.display_name, "New Navigator")
    qtbot.keyClicks(screen.username, "nav.new")
    qtbot.keyClicks(screen.password, "a long new password")
    qtbot.keyClicks(screen.password_again, "a long new passwrod")
    qtbot.mouseClick(screen.add, Qt.MouseButton.LeftButton)
    assert "not the same" in screen.error.text()  # no approval asked for a typo
    screen.password_again.clear()
    qtbot.keyClicks(screen.password_again, "a long new password")
    qtbot.mouseClick(screen.add, Qt.MouseButton.LeftButton)
    approve(qtbot, kiosk, staff["sup"])
    qtbot.waitUntil(screen.qr.isVisible, timeout=10000)
    assert "nav.new" in screen.qr_note.text() and "not shown again" in screen.qr_note.text()
    assert screen.password.text() == "" and screen.username.text() == ""
    qtbot.waitUntil(lambda: "nav.new" in [e.username for e in screen.staff], timeout=10000)
    added = next(e for e in list_staff(vault=kiosk.core.vault) if e.username == "nav.new")
    assert added.role is Role.NAVIGATOR and added.active
    qtbot.mouseClick(screen.back, Qt.MouseButton.LeftButton)
    assert kiosk.window.visit.state is VisitState.FIND_MEMBER
    qtbot.mouseClick(kiosk.window.search.staff_button, Qt.MouseButton.LeftButton)
    assert not screen.qr.isVisible()  # the code is gone once the screen is left


def test_an_administrator_unlocks_then_a_supervisor_cannot_remove(
        kiosk: Kiosk, qtbot: QtBot, staff: dict[str, StaffEnrolled]) -> None:  # noqa: F811
    screen = kiosk.window.staff
    screen.table.setCurrentCell(row_of(kiosk, "nav.locked"), 0)
    assert screen.unlock.isEnabled()
    qtbot.mouseClick(screen.unlock, Qt.MouseButton.LeftButton)
    approve(qtbot, kiosk, staff["adm"])
    qtbot.waitUntil(lambda: state_of(kiosk, "nav.locked") == "Active", timeout=10000)

    screen.table.setCurrentCell(row_of(kiosk, "nav.locked"), 0)
    qtbot.mouseClick(screen.remove, Qt.MouseButton.LeftButton)
    approve(qtbot, kiosk, staff["sup"])
    qtbot.waitUntil(screen.error.isVisible, timeout=10000)
    assert screen.error.text() == "Only an administrator can do this."
    assert next(e for e in list_staff(vault=kiosk.core.vault)
                if e.username == "nav.locked").active


def test_an_administrator_removes_an_account(kiosk: Kiosk, qtbot: QtBot,  # noqa: F811
                                             staff: dict[str, StaffEnrolled]) -> None:
    screen = kiosk.window.staff
    screen.table.setCurrentCell(row_of(kiosk, "nav.locked"), 0)
    qtbot.mouseClick(screen.remove, Qt.MouseButton.LeftButton)
    approve(qtbot, kiosk, staff["adm"])
    qtbot.waitUntil(lambda: state_of(kiosk, "nav.locked") == "Removed", timeout=10000)
    screen.table.setCurrentCell(row_of(kiosk, "nav.locked"), 0)
    assert not screen.remove.isEnabled() and not screen.unlock.isEnabled()
    with pytest.raises(AuthError):  # a removed account cannot sign in
        auth(SignIn(username="nav.locked", password=PASSWORD, code="000000"),
             vault=kiosk.core.vault, clock=kiosk.core.clock)
