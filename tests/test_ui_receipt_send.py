"""The receipt leaves the kiosk three ways: by email or text message, sent by the exchange in
the member's language (offline it waits and goes once the connection returns), on the
kiosk's printer, or as a PDF when no printer is set up."""

from __future__ import annotations

import requests
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from kiosk.i18n import set_language
from kiosk.visit import VisitState
from sync.sandbox.server import SandboxProcess
from tests.test_ui_flow import Kiosk, exchange, kiosk, open_member, sign_in  # noqa: F401

MEMBER = "M-100001"


def pay(kiosk: Kiosk, qtbot: QtBot, amount: str = "12.00") -> None:  # noqa: F811
    open_member(kiosk, qtbot, MEMBER)
    qtbot.mouseClick(kiosk.window.member.pay, Qt.MouseButton.LeftButton)
    payment = kiosk.window.payment
    qtbot.mouseClick(payment.amount, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(payment.amount, amount)
    qtbot.mouseClick(payment.charge, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.receipt is not None, timeout=10000)  # read off the UI thread
    assert receipt.print_paper.isEnabled() and receipt.send.isEnabled()


def messages(exchange: SandboxProcess) -> list[dict[str, str]]:  # noqa: F811
    answer = requests.get(f"{exchange.url}/_sandbox/messages", timeout=5)
    answer.raise_for_status()
    return list(answer.json()["messages"])


def test_an_email_receipt_in_the_members_language_waits_offline_then_goes(
        kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess) -> None:  # noqa: F811
    sign_in(kiosk, qtbot)
    kiosk.window._on_header_language_chosen("en")
    kiosk.ctx.member_language = "es"  # the member reads Spanish; the navigator English
    pay(kiosk, qtbot)
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: "@" in receipt.send_to.text(), timeout=5000)  # email on file
    assert receipt.by_email.isChecked() and receipt.send_to_label.text() == "Email address"
    exchange.stop()
    kiosk.worker.run_once()
    receipt.send_to.clear()
    qtbot.keyClicks(receipt.send_to, "member.counter@example.org")
    qtbot.mouseClick(receipt.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "waiting to be sent" in receipt.deliveries.text(), timeout=5000)
    assert "email the receipt to \u2068member.counter@example.org\u2069" in receipt.saved.text()
    exchange.start()
    kiosk.worker.run_once()
    kiosk.worker.run_once()
    receipt.refresh()
    qtbot.waitUntil(lambda: "sent by the exchange" in receipt.deliveries.text(), timeout=10000)
    sent = [m for m in messages(exchange) if m["to_address"] == "member.counter@example.org"]
    assert len(sent) == 1 and sent[0]["channel"] == "email" and sent[0]["language"] == "es"
    assert sent[0]["payment_id"] == receipt.receipt.payment_id  # type: ignore[union-attr]


def test_a_text_receipt_needs_a_real_phone_number_and_nothing_is_queued_otherwise(
        kiosk: Kiosk, qtbot: QtBot) -> None:  # noqa: F811
    sign_in(kiosk, qtbot)
    pay(kiosk, qtbot)
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.profile is not None, timeout=5000)
    qtbot.mouseClick(receipt.by_text, Qt.MouseButton.LeftButton)
    assert receipt.send_to_label.text() == "Mobile phone number"
    before = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT COUNT(*) FROM outbox").fetchone()[0])
    receipt.send_to.clear()
    qtbot.keyClicks(receipt.send_to, "555-01")
    qtbot.mouseClick(receipt.send, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(receipt.error.isVisible, timeout=5000)
    assert "phone number is not valid" in receipt.error.text()
    assert receipt.error.y() > receipt.send_to.y()  # right under the field
    after = kiosk.core.vault.call(lambda c: c.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    assert after == before and receipt.deliveries.text() == ""


def test_print_uses_the_printer_or_says_there_is_none_and_saves_a_pdf(
        kiosk: Kiosk, qtbot: QtBot, tmp_path: object) -> None:  # noqa: F811
    set_language("en")
    sign_in(kiosk, qtbot)
    pay(kiosk, qtbot)
    receipt = kiosk.window.receipt
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)  # a printer that writes a file
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    target = kiosk.core.settings.data_dir / "printed.pdf"
    printer.setOutputFileName(str(target))
    receipt._on_print_clicked(printer)
    assert target.read_bytes().startswith(b"%PDF")
    assert receipt.saved.text().startswith("Sent to the printer")
    receipt._on_print_clicked()  # offscreen there is no system printer
    assert receipt.saved.text().startswith("No printer is set up on this kiosk. Saved as ")
    saved = receipt.saved.text().rsplit("Saved as ", 1)[1]
    assert open(saved, "rb").read(4) == b"%PDF"  # noqa: PTH123


def test_a_receipt_read_that_ends_after_done_never_shows_in_the_next_visit(
        kiosk: Kiosk, qtbot: QtBot) -> None:  # noqa: F811
    set_language("en")
    sign_in(kiosk, qtbot)
    pay(kiosk, qtbot)
    receipt = kiosk.window.receipt
    receipt.refresh()  # a read after a sync pass is on its way...
    qtbot.mouseClick(receipt.done, Qt.MouseButton.LeftButton)  # ...when the visit ends
    assert kiosk.window.visit.state is VisitState.WELCOME
    runner = kiosk.ctx.runner
    qtbot.waitUntil(lambda: runner.busy == 0, timeout=10000)
    qtbot.wait(50)  # let the finished reads deliver
    assert receipt.receipt is None and receipt.showing is None
    assert all(value.text() == "" for value in receipt.values)
    assert receipt.send_to.text() == "" and not receipt.print_paper.isEnabled()
