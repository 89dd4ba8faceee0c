"""The disputes screen through real widgets against the real sandbox exchange: a dispute filed
online reaches the exchange with its files, a review is asked for, and the exchange's decision
and message show after the next pull; one filed offline stays pending; a charge the member did
not make says by when to call the bank; a file too large or of the wrong type, and a
description too short, are refused under their field and nothing is filed; every control is
named and nothing is cut off at any size."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import requests
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from kiosk.domain.account import DisputeReason, HistoryStatus
from kiosk.i18n import format_date
from kiosk.services.history import HistoryEntry, payment_history
from sync.sandbox.server import SandboxProcess
from tests.test_accessibility import undersized, unnamed
from tests.test_ui_flow import Kiosk, exchange, kiosk, sign_in  # noqa: F401
from ui import theme
from ui.layout_check import layout_problems
from ui.screens.disputes import DisputesScreen

ANA, NGOC = "M-100003", "M-100013"  # the exchange already looks into one of Ngọc's payments
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"statement " * 80


def open_screen(kiosk: Kiosk, qtbot: QtBot, member_id: str,  # noqa: F811
                preselect: str = "") -> DisputesScreen:
    sign_in(kiosk, qtbot)
    screen = DisputesScreen(kiosk.ctx)
    qtbot.addWidget(screen)
    screen.resize(1280, 800)
    screen.show()
    screen.show_member(member_id)
    if preselect:  # as when opened from the history's "Question a payment", before the read
        screen.preselect(preselect)
    qtbot.waitUntil(lambda: screen.payment_list.count() > 0 or screen.error.isVisible(),
                    timeout=10000)
    assert not screen.error.isVisible(), screen.error.text()
    return screen


def past_payment(screen: DisputesScreen) -> HistoryEntry:
    """A payment the exchange confirmed, made before this visit."""
    return next(e for e in screen.payments
                if e.status is HistoryStatus.CONFIRMED and not e.taken_here)


def files(tmp_path: Path, **contents: bytes) -> list[Path]:
    made = []
    for name, content in contents.items():
        path = tmp_path / name.replace("_", ".")
        path.write_bytes(content)
        made.append(path)
    return made


def add_files(qtbot: QtBot, screen: DisputesScreen, paths: list[Path]) -> None:
    screen._pick_files = lambda: paths  # type: ignore[method-assign]
    qtbot.mouseClick(screen.add_file, Qt.MouseButton.LeftButton)


def fill(qtbot: QtBot, screen: DisputesScreen, payment: HistoryEntry, reason: DisputeReason,
         description: str) -> None:
    screen.preselect(payment.payment_id)
    screen.reason.setCurrentIndex(screen.reason.findData(reason.value))
    qtbot.keyClicks(screen.description, description)


def status_cell(screen: DisputesScreen, row: int = 0) -> str:
    return screen.table.item(row, 3).text()


def sandbox(exchange: SandboxProcess, method: str, path: str, **kwargs: Any) -> Any:  # noqa: F811
    answer = requests.request(method, f"{exchange.url}/_sandbox{path}", timeout=5, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def outbox_states(kiosk: Kiosk) -> list[str]:  # noqa: F811
    return [r[0] for r in kiosk.core.vault.call(lambda c: c.execute(
        "SELECT state FROM outbox WHERE kind = 'dispute' ORDER BY id").fetchall())]


def below(screen: DisputesScreen, field: QWidget) -> bool:
    """The error line sits in the form's row right under `field`."""
    return screen.form.getWidgetPosition(screen.error)[0] == \
        screen.form.getWidgetPosition(field)[0] + 1


def test_filed_online_it_reaches_the_exchange_and_its_decision_shows(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess,  # noqa: F811
        tmp_path: Path) -> None:
    screen = open_screen(kiosk, qtbot, ANA)
    assert screen.none_yet.isVisible() and not screen.table.isVisible()
    payment = past_payment(screen)
    fill(qtbot, screen, payment, DisputeReason.WRONG_AMOUNT,
         "The charge was higher than my premium.")
    assert screen.checked_ids() == [payment.payment_id]
    assert screen.amount.text() == f"{payment.amount.as_decimal():.2f}"  # the total by default
    add_files(qtbot, screen, files(tmp_path, statement_pdf=PDF, photo_png=PNG))
    qtbot.waitUntil(lambda: len(screen.attachments) == 2, timeout=5000)
    shown = [w.text() for w in screen.attached.findChildren(QWidget) if hasattr(w, "text")]
    assert any(t.startswith("statement.pdf (") for t in shown)
    assert "Remove" in shown
    qtbot.mouseClick(screen.file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(screen.filed.isVisible, timeout=5000)
    assert "pending until the exchange confirms" in screen.filed.accessibleName()
    assert "Call your bank" not in screen.filed.accessibleName()  # only for a charge not made
    qtbot.waitUntil(lambda: screen.table.rowCount() == 1, timeout=5000)
    assert status_cell(screen) == "Pending" and screen.checked_ids() == []
    dispute_id = screen.disputes[0].dispute_id

    kiosk.worker.run_once()
    assert outbox_states(kiosk) == ["confirmed"]
    held = sandbox(exchange, "GET", f"/disputes/{dispute_id}")
    assert held["payment_ids"] == [payment.payment_id]
    assert [(f["media_type"], f["stored_bytes"]) for f in held["stored_attachments"]] == [
        ("application/pdf", len(PDF)), ("image/png", len(PNG))]
    screen.refresh()
    qtbot.waitUntil(lambda: status_cell(screen) == "Submitted", timeout=5000)
    assert "statement.pdf" in screen.detail.text()

    qtbot.keyClicks(screen.note, "Why?")  # too short: nothing is queued
    qtbot.mouseClick(screen.escalate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(screen.error.isVisible, timeout=5000)
    assert "at least 10 characters" in screen.error.text() and len(outbox_states(kiosk)) == 1
    screen.note.clear()
    qtbot.keyClicks(screen.note, "My statement still shows the wrong amount.")
    qtbot.mouseClick(screen.escalate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "review request waiting" in status_cell(screen), timeout=5000)
    kiosk.worker.run_once()
    assert sandbox(exchange, "GET", f"/disputes/{dispute_id}")["escalated"] is True

    sandbox(exchange, "POST", f"/disputes/{dispute_id}/decision",
            json={"status": "resolved", "message": "We refunded the difference."})
    kiosk.worker.run_once()
    screen.refresh()
    qtbot.waitUntil(lambda: status_cell(screen) == "Resolved", timeout=5000)
    assert "We refunded the difference." in screen.messages.text()
    assert not screen.escalation.isVisible()  # nothing left to review


def test_a_charge_not_made_filed_offline_stays_pending_and_says_when_to_call_the_bank(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess) -> None:  # noqa: F811
    exchange.stop()
    payment = next(e for e in payment_history(ANA, vault=kiosk.core.vault)
                   if e.status is HistoryStatus.CONFIRMED)
    screen = open_screen(kiosk, qtbot, ANA, preselect=payment.payment_id)
    assert screen.checked_ids() == [payment.payment_id]
    assert screen.amount.text() == f"{payment.amount.as_decimal():.2f}"
    screen.reason.setCurrentIndex(screen.reason.findData(DisputeReason.UNAUTHORIZED.value))
    qtbot.keyClicks(screen.description, "I never made this payment; my card was stolen.")
    qtbot.mouseClick(screen.file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(screen.filed.isVisible, timeout=5000)
    call_by = format_date(payment.paid_at.astimezone(dt.UTC).date() + dt.timedelta(days=60))
    assert f"Call your bank or card company by {call_by}" in screen.filed.accessibleName()
    qtbot.waitUntil(lambda: screen.table.rowCount() == 1, timeout=5000)
    assert screen.bank_note.isVisible() and call_by in screen.bank_note.text()
    kiosk.worker.run_once()  # the exchange cannot be reached: the dispute waits
    screen.refresh()
    qtbot.wait(300)
    assert status_cell(screen) == "Pending"
    assert outbox_states(kiosk) == ["queued"]
    assert screen.disputes[0].payment_ids == (payment.payment_id,)


def test_bad_files_and_a_short_description_are_refused_and_nothing_is_filed(
        kiosk: Kiosk, qtbot: QtBot, tmp_path: Path) -> None:  # noqa: F811
    screen = open_screen(kiosk, qtbot, ANA)
    first = past_payment(screen)
    fill(qtbot, screen, first, DisputeReason.DUPLICATE_CHARGE, "Too short")
    other = next(i for i in range(screen.payment_list.count())
                 if screen.payments[i].payment_id != first.payment_id)
    row = screen.payment_list.visualItemRect(screen.payment_list.item(other))
    screen.scroll.ensureWidgetVisible(screen.payment_list)
    qtbot.mouseClick(screen.payment_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=row.center())  # a tap on the row's words ticks it too
    assert len(screen.checked_ids()) == 2
    both = first.amount.cents + screen.payments[other].amount.cents
    assert screen.amount.text() == f"{both // 100}.{both % 100:02d}"
    big = files(tmp_path, scan_pdf=b"%PDF-1.7\n" + b"\0" * (11 * 1024 * 1024))
    add_files(qtbot, screen, big)
    qtbot.waitUntil(screen.error.isVisible, timeout=10000)
    assert "larger than 10 MB" in screen.error.text() and below(screen, screen.attached)
    assert screen.attachments == []
    add_files(qtbot, screen, files(tmp_path, notes_png=b"these are my notes, not a picture"))
    qtbot.waitUntil(lambda: "Attach a PDF, JPEG or PNG file." in screen.error.text(),
                    timeout=5000)
    assert below(screen, screen.attached) and screen.attachments == []
    qtbot.mouseClick(screen.file, Qt.MouseButton.LeftButton)  # 9 characters
    qtbot.waitUntil(lambda: "at least 10 characters" in screen.error.text(), timeout=5000)
    assert below(screen, screen.description)
    assert not screen.filed.isVisible()
    assert kiosk.core.vault.call(lambda c: c.execute(
        "SELECT count(*) FROM disputes WHERE member_id = ?", (ANA,)).fetchone()[0]) == 0
    assert outbox_states(kiosk) == []


def test_every_control_is_named_and_nothing_is_cut_off(
        kiosk: Kiosk, qtbot: QtBot, tmp_path: Path) -> None:  # noqa: F811
    screen = open_screen(kiosk, qtbot, NGOC)
    qtbot.waitUntil(lambda: screen.table.rowCount() == 1, timeout=5000)  # from the exchange
    screen.table.setCurrentCell(0, 0)
    assert "We asked your plan for the billing record." in screen.messages.text()
    assert screen.escalation.isVisible()
    fill(qtbot, screen, past_payment(screen), DisputeReason.UNAUTHORIZED,
         "I did not make this charge at all.")
    qtbot.mouseClick(screen.file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.table.rowCount() == 2, timeout=5000)
    add_files(qtbot, screen, files(tmp_path, statement_pdf=PDF, photo_with_a_long_name_png=PNG))
    qtbot.waitUntil(lambda: len(screen.attachments) == 2, timeout=5000)
    assert screen.filed.isVisible() and screen.bank_note.isVisible()
    assert unnamed(screen) == []
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        for scale in (1.0, 2.0):
            theme.apply(app, theme.Appearance(scale=scale))
            for width, height in ((1024, 768), (1280, 800), (1920, 1080)):
                screen.resize(width, height)
                app.processEvents()
                assert layout_problems(screen) == [], (width, height, scale)
                assert undersized(screen) == [], (width, height, scale)
    finally:
        theme.apply(app, theme.Appearance())
