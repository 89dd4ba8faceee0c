"""The queue tools through real widgets against the real sandbox exchange: an offline payment
over the limit needs a supervisor's approval; the queue screen lists waiting payments in plain
words, sends them with Send now, and lets a supervisor cancel one that was never sent; the
closing report saves CSV and PDF."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pyotp
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.domain.staff import Role
from kiosk.services.auth import EnrollStaff, StaffEnrolled, enroll_staff
from kiosk.settings import DEMO_DEVICE_TOKEN, Settings
from kiosk.visit import VisitState
from sync.sandbox.server import SandboxProcess
from tests.test_sync import ledger
from tests.test_ui_flow import Kiosk, exchange, open_member, sign_in  # noqa: F401

SUPERVISOR_PASSWORD = "supervisor password for tests"


@pytest.fixture
def kiosk(exchange: SandboxProcess, settings: Settings,  # noqa: F811
          qtbot: QtBot) -> Iterator[Kiosk]:
    running = Kiosk(replace(settings, exchange_url=exchange.url, device_token=DEMO_DEVICE_TOKEN,
                            demo=True, sync_poll_seconds=0.5, offline_max_payment_cents=20_00),
                    qtbot)
    running.ctx.send_now = running.worker.send_now
    running.worker.run_once()
    yield running
    running.close()


@pytest.fixture
def supervisor(kiosk: Kiosk) -> StaffEnrolled:
    return enroll_staff(EnrollStaff(username="sup.lead", display_name="Site Lead",
                                    password=SUPERVISOR_PASSWORD, role=Role.SUPERVISOR),
                        vault=kiosk.core.vault, clock=kiosk.core.clock)


def approve(qtbot: QtBot, dialog: object, supervisor: StaffEnrolled, reason: str = "") -> None:
    qtbot.keyClicks(dialog.username, supervisor.username)  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.password, SUPERVISOR_PASSWORD)  # type: ignore[attr-defined]
    if reason:
        qtbot.keyClicks(dialog.reason, reason)  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.code, pyotp.TOTP(supervisor.totp_secret).now())  # type: ignore[attr-defined]
    qtbot.mouseClick(dialog.approve, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]


def take_offline_payment(kiosk: Kiosk, qtbot: QtBot, amount: str) -> None:
    qtbot.mouseClick(kiosk.window.member.pay, Qt.MouseButton.LeftButton)
    payment = kiosk.window.payment
    qtbot.mouseClick(payment.amount, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(payment.amount, amount)
    qtbot.mouseClick(payment.charge, Qt.MouseButton.LeftButton)


def test_offline_over_the_limit_needs_a_supervisor_then_goes_through(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess,  # noqa: F811
        supervisor: StaffEnrolled) -> None:
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100001")
    exchange.stop()
    kiosk.worker.run_once()  # the probe notices the exchange is gone
    take_offline_payment(kiosk, qtbot, "25.00")
    payment = kiosk.window.payment
    qtbot.waitUntil(payment.error.isVisible, timeout=10000)
    assert "offline" in payment.error.text() and "the amount of one payment" in payment.error.text()
    assert payment.override.isVisible()
    assert kiosk.core.terminal.charges == []  # type: ignore[attr-defined]
    qtbot.mouseClick(payment.override, Qt.MouseButton.LeftButton)
    approve(qtbot, payment.override_dialog, supervisor)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    row = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT override_by, offline FROM payments").fetchone())
    assert tuple(row) == ("sup.lead", 1)


def test_queue_lists_waiting_payments_and_send_now_delivers_them(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess) -> None:  # noqa: F811
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100001")
    exchange.stop()
    kiosk.worker.run_once()
    take_offline_payment(kiosk, qtbot, "12.00")
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    qtbot.mouseClick(kiosk.window.receipt.done, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(kiosk.window.welcome.buttons["en"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(kiosk.window.search.queue_button, Qt.MouseButton.LeftButton)
    queue = kiosk.window.queue
    qtbot.waitUntil(lambda: queue.table.rowCount() == 1, timeout=5000)
    assert queue.table.item(0, 4).text() == "Waiting: Not sent yet. (0 attempts)"
    assert "1 payment is waiting." in queue.summary.text()
    exchange.start()
    kiosk.worker.start()
    qtbot.mouseClick(queue.send_now, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: queue.table.rowCount() == 0, timeout=15000)
    assert len([p for p in ledger(exchange) if p["amount_cents"] == 1200]) == 1


def test_a_supervisor_cancels_a_never_sent_payment_from_the_queue(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess,  # noqa: F811
        supervisor: StaffEnrolled) -> None:
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100001")
    exchange.stop()
    kiosk.worker.run_once()
    take_offline_payment(kiosk, qtbot, "11.00")
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    qtbot.mouseClick(kiosk.window.receipt.done, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(kiosk.window.welcome.buttons["en"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(kiosk.window.search.queue_button, Qt.MouseButton.LeftButton)
    queue = kiosk.window.queue
    qtbot.waitUntil(lambda: queue.table.rowCount() == 1, timeout=5000)
    queue.table.selectRow(0)
    assert queue.cancel.isEnabled()
    qtbot.mouseClick(queue.cancel, Qt.MouseButton.LeftButton)
    approve(qtbot, queue._dialog, supervisor, reason="member paid twice by mistake")
    qtbot.waitUntil(lambda: queue.table.rowCount() == 0, timeout=10000)
    assert "Refund $11.00" in queue.notice.text()
    row = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT p.status, p.cancelled_by, o.state FROM payments p JOIN outbox o"
        " ON o.subject_id = p.payment_id").fetchone())
    assert tuple(row) == ("cancelled", "sup.lead", "cancelled")


def test_closing_report_saves_csv_and_pdf_once_a_supervisor_approves(
        kiosk: Kiosk, qtbot: QtBot, supervisor: StaffEnrolled) -> None:
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100001")
    take_offline_payment(kiosk, qtbot, "9.00")
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    qtbot.mouseClick(kiosk.window.receipt.done, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(kiosk.window.welcome.buttons["en"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(kiosk.window.search.report_button, Qt.MouseButton.LeftButton)
    report = kiosk.window.report
    qtbot.waitUntil(lambda: report.table.rowCount() >= 3, timeout=5000)
    texts = [report.table.item(r, c).text() for r in range(report.table.rowCount())
             for c in range(4)]
    assert "$9.00" in texts and "Navigator: demo.navigator" in texts
    folder = kiosk.core.settings.data_dir / "reports"
    qtbot.mouseClick(report.csv, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(report.step_up.isVisible, timeout=5000)
    assert not folder.exists()  # nothing leaves the vault before a supervisor approves
    approve(qtbot, report.step_up, supervisor)
    qtbot.waitUntil(lambda: "Saved as" in report.saved.text(), timeout=5000)
    qtbot.mouseClick(report.pdf, Qt.MouseButton.LeftButton)  # the same approval still holds
    qtbot.waitUntil(lambda: any(folder.glob("*.pdf")), timeout=5000)
    csv_file = next(folder.glob("*.csv"))
    assert ",9.00,USD," in csv_file.read_text()
    assert next(folder.glob("*.pdf")).read_bytes().startswith(b"%PDF")
    exports = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT actor, subject FROM audit WHERE action = 'report.exported' ORDER BY id"
    ).fetchall())
    assert [(r[0], r[1].rsplit(".", 1)[1]) for r in exports] == [("sup.lead", "csv"),
                                                                  ("sup.lead", "pdf")]
