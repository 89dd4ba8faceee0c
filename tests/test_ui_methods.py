"""Every way to pay through the payment screen against the real sandbox exchange: a bank
account with a signature on the pad, a bank account with a typed name instead, and PayPal by
QR link paid "on the phone" through the sandbox's page; offline, the link is unavailable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from kiosk.settings import DEMO_DEVICE_TOKEN, Settings
from kiosk.visit import VisitState
from sync.hosted import build_hosted_links
from sync.sandbox.server import SandboxProcess
from tests.test_sync import ledger
from tests.test_ui_flow import Kiosk, exchange, open_member, sign_in  # noqa: F401


@pytest.fixture
def kiosk(exchange: SandboxProcess, settings: Settings,  # noqa: F811
          qtbot: QtBot) -> Iterator[Kiosk]:
    running = Kiosk(replace(settings, exchange_url=exchange.url, device_token=DEMO_DEVICE_TOKEN,
                            demo=True, sync_poll_seconds=0.5), qtbot)
    running.ctx.hosted_links = build_hosted_links(running.core)
    running.worker.run_once()
    yield running
    running.ctx.hosted_links.close()
    running.close()


def to_payment(kiosk: Kiosk, qtbot: QtBot, amount: str) -> None:
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "M-100001")
    qtbot.mouseClick(kiosk.window.member.pay, Qt.MouseButton.LeftButton)
    payment = kiosk.window.payment
    qtbot.mouseClick(payment.amount, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(payment.amount, amount)


def sign_on_pad(qtbot: QtBot, pad: object) -> None:
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(40, 80))
    for x in range(50, 300, 25):
        qtbot.mouseMove(pad, QPoint(x, 80 + x % 30))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(300, 90))


def test_a_bank_payment_with_a_signature(kiosk: Kiosk, qtbot: QtBot,
                                         exchange: SandboxProcess) -> None:  # noqa: F811
    to_payment(kiosk, qtbot, "60.00")
    payment = kiosk.window.payment
    qtbot.mouseClick(payment.by_bank, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    bank = payment.bank
    assert bank.isVisible() and not payment.charge.isVisible()
    assert "$60.00" in bank.authorization.text()
    qtbot.keyClicks(bank.routing, "011000015")
    qtbot.keyClicks(bank.account, "123456789")
    qtbot.keyClicks(bank.account_again, "123456789")
    assert "ending in 6789" in bank.authorization.text()
    sign_on_pad(qtbot, bank.pad)
    qtbot.mouseClick(bank.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.receipt is not None, timeout=5000)
    assert receipt.status.text().startswith("Submitted")
    assert any("Bank account ending in 6789" == v.text() for v in receipt.values)
    kiosk.worker.run_once()
    receipt.refresh()
    qtbot.waitUntil(lambda: "Confirmed" in receipt.status.text(), timeout=10000)
    stored = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT signature_png, typed_name FROM ach_authorizations").fetchone())
    assert bytes(stored["signature_png"])[:4] == b"\x89PNG" and stored["typed_name"] == ""


def test_a_bank_payment_with_a_typed_name_and_a_mismatch_first(kiosk: Kiosk,
                                                               qtbot: QtBot) -> None:
    to_payment(kiosk, qtbot, "20.00")
    payment = kiosk.window.payment
    payment.by_bank.setChecked(True)
    bank = payment.bank
    qtbot.keyClicks(bank.routing, "011000015")
    qtbot.keyClicks(bank.account, "123456789")
    qtbot.keyClicks(bank.account_again, "123456780")
    bank.cannot_sign.setChecked(True)
    qtbot.keyClicks(bank.typed_name, "José Álvarez".encode("ascii", "ignore").decode())
    bank.typed_confirm.setChecked(True)
    qtbot.mouseClick(bank.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(payment.error.isVisible, timeout=10000)
    assert "not the same" in payment.error.text()
    assert kiosk.core.vault.call(lambda c: c.execute(
        "SELECT count(*) FROM payments").fetchone()[0]) == 0  # nothing half-recorded
    bank.account_again.clear()
    qtbot.keyClicks(bank.account_again, "123456789")
    qtbot.mouseClick(bank.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    stored = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT signature_png, typed_name, typed_confirmed FROM ach_authorizations").fetchone())
    assert stored["signature_png"] is None
    assert stored["typed_name"] and stored["typed_confirmed"] == 1


def test_paypal_by_qr_link_paid_on_the_phone(kiosk: Kiosk, qtbot: QtBot,
                                             exchange: SandboxProcess) -> None:  # noqa: F811
    to_payment(kiosk, qtbot, "35.00")
    payment = kiosk.window.payment
    payment.by_link.setChecked(True)
    link = payment.link
    assert not link.unavailable.isVisible()
    qtbot.mouseClick(link.create, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: link.qr.isVisible() and bool(link.qr.url), timeout=10000)
    assert link.qr.short and "expires" in link.status.text()
    page = requests.get(link.qr.url, timeout=5)
    assert page.status_code == 200
    form = re.search(r'action="([^"]+)"', page.text)
    assert form is not None
    paid = requests.post(requests.compat.urljoin(link.qr.url, form.group(1)), timeout=5)
    assert paid.status_code in (200, 303)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=15000)
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.receipt is not None, timeout=5000)
    assert any(v.text() == "PayPal" for v in receipt.values)
    assert "Confirmed" in receipt.status.text()
    assert len([p for p in ledger(exchange) if p["amount_cents"] == 3500]) == 1


def test_paypal_is_unavailable_offline(kiosk: Kiosk, qtbot: QtBot,
                                       exchange: SandboxProcess) -> None:  # noqa: F811
    exchange.stop()
    kiosk.worker.run_once()
    to_payment(kiosk, qtbot, "35.00")
    payment = kiosk.window.payment
    payment.by_link.setChecked(True)
    assert payment.link.unavailable.isVisible()
    assert not payment.link.create.isEnabled()
    assert "connection" in payment.link.unavailable.text()


def test_saved_methods_card_from_a_receipt_and_a_bank_account(kiosk: Kiosk, qtbot: QtBot,
                                                              exchange: SandboxProcess  # noqa: F811
                                                              ) -> None:
    to_payment(kiosk, qtbot, "15.00")
    qtbot.mouseClick(kiosk.window.payment.charge, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.receipt is not None and receipt.card_row.isVisible(),
                    timeout=5000)
    qtbot.mouseClick(receipt.save_card, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "saved for next time" in receipt.saved.text(), timeout=5000)
    qtbot.mouseClick(receipt.done, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(kiosk.window.welcome.buttons["en"], Qt.MouseButton.LeftButton)
    open_member(kiosk, qtbot, "M-100001")
    qtbot.mouseClick(kiosk.window.member.page_button(VisitState.METHODS),
                     Qt.MouseButton.LeftButton)
    methods = kiosk.window.methods
    assert kiosk.window.visit.state is VisitState.METHODS
    qtbot.waitUntil(lambda: methods.table.rowCount() == 1, timeout=5000)
    assert "card ending in" in methods.table.item(0, 0).text()
    assert methods.table.item(0, 2).text() == "Yes"  # the first method is the default
    qtbot.keyClicks(methods.routing, "021000021")
    qtbot.keyClicks(methods.account, "55550000")
    qtbot.keyClicks(methods.account_again, "55550000")
    qtbot.mouseClick(methods.add_bank, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: methods.table.rowCount() == 2, timeout=5000)
    bank_row = next(r for r in range(2) if "Bank account" in methods.table.item(r, 0).text())
    methods.table.selectRow(bank_row)
    qtbot.mouseClick(methods.make_default, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Bank account" in methods.table.item(0, 0).text()
                    and methods.table.item(0, 2).text() == "Yes", timeout=5000)
    methods.table.selectRow(1)
    qtbot.mouseClick(methods.remove, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: methods.table.rowCount() == 1, timeout=5000)
    kiosk.worker.run_once()
    saved = requests.get(f"{exchange.url}/_sandbox/payment-methods", timeout=5).json()
    assert saved  # the exchange heard of the changes
    qtbot.keyClick(methods, Qt.Key.Key_Escape)
    assert kiosk.window.visit.state is VisitState.MEMBER
