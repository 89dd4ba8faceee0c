"""The whole visit through real widgets with qtbot, against the real sandbox exchange:
sign in → find member → pay by card → receipt shows Pending → after sync shows Confirmed;
a declined card shows a clear message and records nothing as paid."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core, build_core
from kiosk.clock import SystemClock
from kiosk.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_USERNAME, ensure_demo_staff
from kiosk.i18n import set_language
from kiosk.settings import DEMO_DEVICE_TOKEN, Settings
from kiosk.terminal.sandbox import SandboxTerminal
from kiosk.visit import VisitState
from sync.bootstrap import build_sync
from sync.sandbox.server import SandboxProcess
from sync.worker import SyncWorker
from tests.test_sync import free_port, ledger
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.demo_terminal import InProcessDemo
from ui.main_window import MainWindow
from ui.tasks import TaskRunner

MEMBER = "M-100001"


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(db_path=tmp_path / "exchange.db", port=free_port())
    sandbox.start()
    yield sandbox
    sandbox.stop()


class Kiosk:
    """A running kiosk window with its core and sync worker, as `ui.app` builds it."""

    def __init__(self, settings: Settings, qtbot: QtBot) -> None:
        self.terminal = SandboxTerminal(rng=random.Random(5))
        self.core: Core = build_core(settings, clock=SystemClock(), terminal=self.terminal)
        ensure_demo_staff(vault=self.core.vault, clock=self.core.clock)
        self.bridge = SyncBridge()
        self.worker: SyncWorker = build_sync(self.core, on_status=self.bridge.publish)
        self.runner = TaskRunner()
        self.ctx = ScreenContext(core=self.core, runner=self.runner, nudge_sync=self.worker.nudge,
                                 demo_terminal=InProcessDemo(self.terminal))
        self.window = MainWindow(self.ctx, self.bridge)
        qtbot.addWidget(self.window)
        self.window.resize(1280, 800)
        self.window.show()

    def close(self) -> None:
        self.runner.shutdown()
        self.worker.stop()
        self.core.close()


@pytest.fixture
def kiosk(exchange: SandboxProcess, settings: Settings, qtbot: QtBot) -> Iterator[Kiosk]:
    set_language("en")
    running = Kiosk(
        replace(
            settings,
            exchange_url=exchange.url,
            device_token=DEMO_DEVICE_TOKEN,
            demo=True,
            sync_poll_seconds=0.5,
        ),
        qtbot,
    )
    running.worker.run_once()  # fill the member cache before the navigator searches
    yield running
    running.close()


def sign_in(kiosk: Kiosk, qtbot: QtBot) -> None:
    screen = kiosk.window.sign_in
    qtbot.keyClicks(screen.username, DEMO_USERNAME)
    qtbot.keyClicks(screen.password, DEMO_PASSWORD)
    qtbot.keyClicks(screen.code, pyotp.TOTP(DEMO_TOTP_SECRET).now())
    qtbot.keyClick(screen.code, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.WELCOME, timeout=10000)
    qtbot.mouseClick(kiosk.window.welcome.buttons["en"], Qt.MouseButton.LeftButton)
    assert kiosk.window.visit.state is VisitState.FIND_MEMBER


def type_text(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Type like a keyboard would, accented letters included (QTest only knows ASCII)."""
    for char in text:
        if char.isascii():
            qtbot.keyClicks(widget, char)
            continue
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier,
                                                     char))


def open_member(kiosk: Kiosk, qtbot: QtBot, query: str) -> None:
    search = kiosk.window.search
    type_text(qtbot, search.query, query)
    qtbot.waitUntil(lambda: search.results.count() >= 1, timeout=5000)
    search.results.setCurrentRow(0)
    qtbot.mouseClick(search.open_button, Qt.MouseButton.LeftButton)
    member = kiosk.window.member
    qtbot.waitUntil(lambda: member.account is not None, timeout=5000)


def test_sign_in_find_pay_and_see_the_receipt_confirmed(
    kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess
) -> None:
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "jose alv")  # partial, no accent, any case
    member = kiosk.window.member
    assert member.account is not None and member.account.member.member_id == MEMBER
    assert "José" in member.heading.text()
    assert member.invoices.rowCount() >= 2
    qtbot.mouseClick(member.pay, Qt.MouseButton.LeftButton)
    payment = kiosk.window.payment
    assert kiosk.window.visit.state is VisitState.PAYING
    assert payment.pay_balance.isChecked()  # the balance is offered first
    qtbot.mouseClick(payment.amount, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(payment.amount, "42.50")  # typing an amount chooses "another amount"
    assert payment.pay_other.isChecked()
    qtbot.mouseClick(payment.charge, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT
                    or payment.error.isVisible(), timeout=10000)
    assert not payment.error.isVisible(), payment.error.text()
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.receipt is not None, timeout=5000)
    assert "Pending — not yet confirmed by the exchange" in receipt.status.text()
    assert receipt.receipt is not None and receipt.receipt.amount.cents == 4250
    texts = [value.text() for value in receipt.values]
    assert "$42.50" in texts and any("ending in" in t for t in texts)
    kiosk.worker.start()
    qtbot.waitUntil(lambda: "Confirmed" in receipt.status.text(), timeout=15000)
    assert receipt.receipt.confirmation_number in receipt.status.text()
    header = kiosk.window.header.status_text
    qtbot.waitUntil(lambda: header.text() == "Online · nothing waiting", timeout=5000)
    held = [p for p in ledger(exchange) if p["payment_id"] == receipt.receipt.payment_id]
    assert len(held) == 1
    qtbot.mouseClick(receipt.print_pdf, Qt.MouseButton.LeftButton)
    pdf = kiosk.core.settings.data_dir / "visit-tmp" / f"{receipt.receipt.receipt_number}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    qtbot.mouseClick(receipt.done, Qt.MouseButton.LeftButton)
    assert not pdf.exists()  # the member's files go with the end of the visit
    assert kiosk.window.visit.state is VisitState.WELCOME  # ready for the next member
    assert kiosk.window.search.query.text() == ""


def test_a_declined_card_says_so_and_records_nothing_as_paid(kiosk: Kiosk, qtbot: QtBot) -> None:
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, MEMBER)
    balance = kiosk.window.member.account.balance  # type: ignore[union-attr]
    qtbot.mouseClick(kiosk.window.member.pay, Qt.MouseButton.LeftButton)
    payment = kiosk.window.payment
    payment.outcome.setCurrentIndex(payment.outcome.findData("declined_insufficient_funds"))
    qtbot.mouseClick(payment.charge, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: payment.error.isVisible(), timeout=10000)
    message = payment.error.text()
    assert "declined" in message and "No money was taken" in message
    assert kiosk.window.visit.state is VisitState.PAYING
    counts = kiosk.core.vault.call(
        lambda c: c.execute(
            "SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM outbox),"
            " (SELECT result FROM card_attempts)"
        ).fetchone()
    )
    assert tuple(counts) == (0, 0, "declined")
    qtbot.mouseClick(payment.back, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: kiosk.window.member.account is not None, timeout=5000)
    assert kiosk.window.member.account.balance == balance  # type: ignore[union-attr]


def test_a_payment_works_with_the_exchange_down(
    kiosk: Kiosk, qtbot: QtBot, exchange: SandboxProcess
) -> None:
    exchange.stop()
    sign_in(kiosk, qtbot)
    open_member(kiosk, qtbot, "pérez")
    member = kiosk.window.member
    qtbot.mouseClick(member.pay, Qt.MouseButton.LeftButton)
    payment = kiosk.window.payment
    qtbot.keyClicks(payment.amount, "10")
    qtbot.keyClick(payment.amount, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: kiosk.window.visit.state is VisitState.RECEIPT, timeout=10000)
    kiosk.worker.start()
    qtbot.waitUntil(lambda: "Offline" in kiosk.window.header.status_text.text(), timeout=10000)
    assert "1 waiting" in kiosk.window.header.status_text.text()
    receipt = kiosk.window.receipt
    qtbot.waitUntil(lambda: receipt.receipt is not None, timeout=5000)
    assert "Pending" in receipt.status.text()


def test_wrong_code_keeps_the_navigator_on_sign_in_with_a_message(
    kiosk: Kiosk, qtbot: QtBot
) -> None:
    screen = kiosk.window.sign_in
    qtbot.keyClicks(screen.username, DEMO_USERNAME)
    qtbot.keyClicks(screen.password, DEMO_PASSWORD)
    qtbot.keyClicks(screen.code, "000000")
    qtbot.mouseClick(screen.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.error.isVisible(), timeout=10000)
    assert "not right" in screen.error.text()
    assert kiosk.window.visit.state is VisitState.SIGNED_OUT


def test_switching_language_retranslates_without_losing_what_was_typed(kiosk: Kiosk,
                                                                      qtbot: QtBot) -> None:
    screen = kiosk.window.sign_in
    qtbot.keyClicks(screen.username, DEMO_USERNAME)
    header = kiosk.window.header
    try:
        header.language.setCurrentIndex(header.language.findData("es"))
        assert screen.heading.text() == "Inicio de sesión del personal"
        assert screen.submit.text() == "Iniciar sesión"
        assert screen.username.text() == DEMO_USERNAME
        assert kiosk.window.search.heading.text() != "Find the member"
    finally:
        header.language.setCurrentIndex(header.language.findData("en"))
    assert screen.submit.text() == "Sign in"
