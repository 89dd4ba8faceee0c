"""The card reader part of the payment screen: starting a charge, waiting for the member,
cancelling a charge in progress, and checking the reader again when its answer never came.

It never starts a second charge for the same attempt: "Check again" asks the terminal what
happened to the attempt it already has (`resolve_unknown_attempts`).
"""

from __future__ import annotations

import uuid

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.domain.payments import AttemptResult
from kiosk.errors import KioskError, PaymentDeclinedError
from kiosk.i18n import _
from kiosk.services.payments import (
    AttemptResolution,
    CardRemovedError,
    PaymentAbortedError,
    PaymentContext,
    PaymentTaken,
    TakeCardPayment,
    TerminalOutcomeUnknownError,
    abort_card_payment,
    resolve_unknown_attempts,
    take_card_payment,
)
from ui.context import ScreenContext
from ui.demo_terminal import LABELS
from ui.screens.base import button, label

# How an attempt ended without money being taken, as the error the screen explains.
_ENDED_WITHOUT_MONEY: dict[str, type[KioskError]] = {
    AttemptResult.DECLINED: PaymentDeclinedError,
    AttemptResult.CARD_REMOVED: CardRemovedError,
    AttemptResult.ABORTED: PaymentAbortedError,
    AttemptResult.NOT_STARTED: PaymentAbortedError,
}


class CardReaderPanel(QWidget):
    sig_taken = Signal(object)
    """A payment was recorded (`PaymentTaken`)."""
    sig_failed = Signal(object)
    """The charge did not go through; carries the error."""
    sig_busy = Signal(bool)
    """The reader is (or is no longer) waiting for the member."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.sale_reference = ""
        self.outcome_label = label("muted")
        self.outcome = QComboBox()
        demo = ctx.demo_terminal
        for code in demo.choices() if demo else []:
            self.outcome.addItem("", code)
        self.progress = label("banner")
        self.cancel = button("back")
        self.check_again = button("syncing")
        row = QHBoxLayout()
        row.addWidget(self.cancel)
        row.addWidget(self.check_again)
        row.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in (self.outcome_label, self.outcome, self.progress):
            column.addWidget(widget)
        column.addLayout(row)
        for widget in (self.outcome_label, self.outcome):
            widget.setVisible(demo is not None)
        for widget in (self.progress, self.cancel, self.check_again):
            widget.hide()
        self.cancel.clicked.connect(self._on_cancel_clicked)
        self.check_again.clicked.connect(self._on_check_again_clicked)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.outcome_label.setText(_("Demo only: how the sandbox card terminal answers"))
        self.outcome.setAccessibleName(_("Demo card outcome"))
        for index in range(self.outcome.count()):
            self.outcome.setItemText(index, _(LABELS[self.outcome.itemData(index)]))
        self.progress.setText(_("Ask the member to insert, tap or swipe their card on the "
                                "card reader. Waiting for the card reader…"))
        self.progress.setAccessibleName(self.progress.text())
        self.cancel.setText(_("Cancel the charge"))
        self.cancel.setAccessibleName(_("Cancel the charge on the card reader"))
        self.check_again.setText(_("Check the card reader again"))
        self.check_again.setAccessibleName(self.check_again.text())

    def reset(self) -> None:
        self.sale_reference = ""
        for widget in (self.progress, self.cancel, self.check_again):
            widget.hide()

    def _context(self) -> PaymentContext:
        core, session = self.ctx.core, self.ctx.session
        assert session is not None
        return PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                              staff=session)

    def charge(self, cmd: TakeCardPayment) -> None:
        """Start a charge for `cmd` (with a fresh sale reference) off the UI thread."""
        core, pay_ctx, demo = self.ctx.core, self._context(), self.ctx.demo_terminal
        self.sale_reference = str(uuid.uuid4())
        cmd = TakeCardPayment(member_id=cmd.member_id, amount=cmd.amount,
                              override_by=cmd.override_by, sale_reference=self.sale_reference)
        scenario = self.outcome.currentData() if demo else None

        def run() -> PaymentTaken:
            if demo is not None and scenario:
                demo.choose(str(scenario))
            return take_card_payment(cmd, ctx=pay_ctx, vault=core.vault, terminal=core.terminal,
                                     clock=core.clock, connectivity=core.connectivity,
                                     limits=core.settings.offline_limits)

        self._busy(True)
        self.ctx.runner.run(run, on_done=self._on_taken, on_error=self._on_failed)

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        self.outcome.setEnabled(not busy)
        if busy:
            self.check_again.hide()
        self.sig_busy.emit(busy)

    def _on_taken(self, taken: PaymentTaken) -> None:
        self._busy(False)
        self.sig_taken.emit(taken)

    def _on_failed(self, error: Exception) -> None:
        self._busy(False)
        self.check_again.setVisible(getattr(error, "code", "") == "terminal_outcome_unknown")
        self.sig_failed.emit(error)

    def _on_cancel_clicked(self) -> None:
        core, pay_ctx, sale_reference = self.ctx.core, self._context(), self.sale_reference
        self.cancel.setEnabled(False)
        self.ctx.runner.run(
            lambda: abort_card_payment(sale_reference, ctx=pay_ctx, vault=core.vault,
                                       terminal=core.terminal, clock=core.clock),
            on_done=lambda _resolution: self.cancel.setEnabled(True),
            on_error=lambda error: (self.cancel.setEnabled(True), self.sig_failed.emit(error)))

    def _on_check_again_clicked(self) -> None:
        core, pay_ctx = self.ctx.core, self._context()
        self.check_again.setEnabled(False)
        self.ctx.runner.run(
            lambda: resolve_unknown_attempts(ctx=pay_ctx, vault=core.vault,
                                             terminal=core.terminal, clock=core.clock),
            on_done=self._on_checked, on_error=self._on_check_failed)

    def _on_checked(self, resolutions: list[AttemptResolution]) -> None:
        self.check_again.setEnabled(True)
        mine = [r for r in resolutions if r.sale_reference == self.sale_reference]
        if mine and mine[0].taken is not None:
            self.check_again.hide()
            self.sig_taken.emit(mine[0].taken)
            return
        result = mine[0].result if mine else AttemptResult.UNKNOWN
        if result in _ENDED_WITHOUT_MONEY:
            self.check_again.hide()
            self.sig_failed.emit(_ENDED_WITHOUT_MONEY[result]())
        else:
            self.sig_failed.emit(TerminalOutcomeUnknownError(sale_reference=self.sale_reference))

    def _on_check_failed(self, error: Exception) -> None:
        self.check_again.setEnabled(True)
        self.sig_failed.emit(error)
