"""The payment history screen through real widgets against the real sandbox exchange: the
member's past payments from the exchange's feed and a payment taken here while offline, shown
as pending; the filters narrow what is shown; a returned bank payment explains itself; the
payments shown are saved as CSV and PDF and printed (to a PDF where there is no printer); the
screen names every control and nothing is cut off at any size."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kiosk.clock import to_iso
from kiosk.domain.money import Money
from kiosk.i18n import format_date, format_money
from sync.sandbox.server import SandboxProcess
from tests.test_accessibility import undersized, unnamed
from tests.test_sync import ledger, pay
from tests.test_ui_flow import Kiosk, exchange, kiosk, sign_in  # noqa: F401
from ui import theme
from ui.layout_check import layout_problems
from ui.screens.history import HistoryScreen

JOSE, THU = "M-100001", "M-100005"  # Thu Hà's history has a bank payment returned (R01)


def history_of(member_id: str, exchange: SandboxProcess) -> list[dict[str, Any]]:  # noqa: F811
    """The member's payments as the exchange holds them, newest first."""
    held = [p for p in ledger(exchange) if p["member_id"] == member_id]
    return sorted(held, key=lambda p: (p["received_at"], p["payment_id"]), reverse=True)


def open_screen(kiosk: Kiosk, qtbot: QtBot, member_id: str) -> HistoryScreen:  # noqa: F811
    sign_in(kiosk, qtbot)
    screen = HistoryScreen(kiosk.ctx)
    qtbot.addWidget(screen)
    screen.resize(1280, 800)
    screen.show()
    screen.show_member(member_id)
    qtbot.waitUntil(lambda: screen.table.rowCount() > 0 or screen.error.isVisible(),
                    timeout=10000)
    assert not screen.error.isVisible(), screen.error.text()
    return screen


def cells(screen: HistoryScreen, column: int) -> list[str]:
    return [screen.table.item(r, column).text() for r in range(screen.table.rowCount())]


def apply(qtbot: QtBot, screen: HistoryScreen, count: int) -> None:
    qtbot.mouseClick(screen.apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.table.rowCount() == count, timeout=5000)


def choose(combo: Any, value: str) -> None:
    combo.setCurrentIndex(combo.findData(value))


def test_the_exchange_history_and_a_payment_taken_here_offline(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess) -> None:  # noqa: F811
    held = history_of(JOSE, exchange)
    assert len(held) >= 5  # the sandbox seeds about six months of payments
    exchange.stop()
    taken = pay(kiosk.core, 2500, JOSE)  # the exchange is down: it waits in the outbox
    screen = open_screen(kiosk, qtbot, JOSE)
    qtbot.waitUntil(lambda: screen.table.rowCount() == len(held) + 1, timeout=5000)
    assert cells(screen, 3)[0] == "Pending" and cells(screen, 1)[0] == "$25.00"
    assert cells(screen, 1)[1:] == [format_money(Money(cents=p["amount_cents"])) for p in held]
    assert cells(screen, 3)[1:] == ["Confirmed"] * len(held)
    screen.table.setCurrentCell(0, 0)
    qtbot.waitUntil(lambda: screen.shown is not None, timeout=5000)
    assert screen.shown is not None and screen.shown.payment_id == taken.payment_id
    values = [v.text() for v in screen.detail_values]
    assert any("Saved on this kiosk" in v for v in values)
    assert any(v.startswith("At this kiosk") for v in values)
    assert not screen.see_dispute.isVisible()
    with qtbot.waitSignal(screen.sig_dispute_requested, timeout=2000) as asked:
        qtbot.mouseClick(screen.question, Qt.MouseButton.LeftButton)
    assert asked.args == [taken.payment_id]
    screen.clear()  # end of the visit: nothing of the member is left
    assert screen.table.rowCount() == 0 and not screen.details.isVisible()


def test_filters_narrow_the_rows_and_a_return_explains_itself(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess) -> None:  # noqa: F811
    held = history_of(THU, exchange)
    screen = open_screen(kiosk, qtbot, THU)
    assert screen.table.rowCount() == len(held)
    returned = [p for p in held if p["status"] == "returned"]
    assert len(returned) == 1
    choose(screen.status, "returned")
    apply(qtbot, screen, 1)
    assert cells(screen, 3) == ["Returned by the bank (R01)"]
    screen.table.setCurrentCell(0, 0)
    qtbot.waitUntil(lambda: screen.shown is not None, timeout=5000)
    status_line = screen.detail_values[0].text()
    assert "There was not enough money in the account." in status_line
    assert "Pay again when there is money in the account" in status_line  # the next step
    assert returned[0]["confirmation_number"] in [v.text() for v in screen.detail_values]

    choose(screen.status, "")
    choose(screen.method, "ach")
    bank = [p for p in held if p["method"] == "ach"]
    apply(qtbot, screen, len(bank))
    assert 0 < len(bank) < len(held)
    assert all(text.startswith("Bank account") for text in cells(screen, 2))

    choose(screen.method, "")
    day = QDate.fromString(held[1]["received_at"][:10], "yyyy-MM-dd")
    screen.first.setDate(day)
    screen.last.setDate(day)
    same_day = [p for p in held if p["received_at"][:10] == held[1]["received_at"][:10]]
    apply(qtbot, screen, len(same_day))
    assert cells(screen, 1) == [format_money(Money(cents=p["amount_cents"])) for p in same_day]

    screen.first.setDate(QDate(2001, 1, 1))
    screen.last.setDate(QDate(2001, 1, 31))
    apply(qtbot, screen, 0)
    assert screen.empty.isVisible() and not screen.table.isVisible()
    assert "There are no payments from" in screen.empty.text()
    assert format_date(QDate(2001, 1, 1).toPython()) in screen.empty.text()
    assert not screen.csv.isEnabled()

    screen.last.setDate(QDate(2000, 12, 31))  # before the first day: nothing is read
    qtbot.mouseClick(screen.apply, Qt.MouseButton.LeftButton)
    assert screen.error.isVisible() and "before the first day" in screen.error.text()


def test_csv_pdf_and_print(kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess  # noqa: F811
                           ) -> None:
    # A record as a careless or hostile source could publish it: cells a spreadsheet would run.
    when = to_iso(kiosk.core.clock.now() - dt.timedelta(days=1))
    kiosk.core.vault.write(lambda c: c.execute(
        "INSERT INTO exchange_payments (payment_id, member_id, amount_cents, status, method,"
        " confirmation_number, kiosk_id, received_at) VALUES (?,?,?,?,?,?,?,?)",
        ("=1+2", THU, 1234, "confirmed", '=HYPERLINK("http://example.com")', "+CONF", "@WEB",
         when)))
    screen = open_screen(kiosk, qtbot, THU)
    shown = screen.table.rowCount()
    assert shown == len(history_of(THU, exchange)) + 1
    qtbot.mouseClick(screen.csv, Qt.MouseButton.LeftButton)
    folder = kiosk.core.settings.data_dir / "visit-tmp"
    [saved] = folder.glob("payment-history-*.csv")
    assert str(saved) in screen.saved.text()
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"), newline="")))
    assert rows[0][:5] == ["date", "amount", "currency", "method", "status"]
    assert len(rows) == shown + 1
    ids = {r[-1] for r in rows[1:]}
    assert ids == {p["payment_id"] for p in history_of(THU, exchange)} | {"'=1+2"}
    assert "returned" in {r[4] for r in rows[1:]}
    assert '\'=HYPERLINK("http://example.com")' in {r[3] for r in rows[1:]}
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert not list(folder.glob("*.part"))  # written whole, then renamed

    choose(screen.method, "other")  # anything but card, bank, PayPal and Venmo
    apply(qtbot, screen, 1)
    assert cells(screen, 2) == ['Other: =HYPERLINK("http://example.com")']

    qtbot.mouseClick(screen.pdf, Qt.MouseButton.LeftButton)
    [pdf] = folder.glob("payment-history-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and str(pdf) in screen.saved.text()
    pdf.unlink()
    qtbot.mouseClick(screen.print_, Qt.MouseButton.LeftButton)  # offscreen: no printer
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "No printer is connected" in screen.saved.text() and str(pdf) in screen.saved.text()


def test_every_control_is_named_and_nothing_is_cut_off(kiosk: Kiosk,  # noqa: F811
                                                        qtbot: QtBot) -> None:
    screen = open_screen(kiosk, qtbot, THU)
    choose(screen.status, "returned")
    apply(qtbot, screen, 1)
    screen.table.setCurrentCell(0, 0)
    qtbot.waitUntil(lambda: screen.shown is not None, timeout=5000)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    assert unnamed(screen) == []
    assert screen.details.isVisible() and screen.see_dispute.isHidden()
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
