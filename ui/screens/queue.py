"""The queue: every payment waiting for the exchange or needing attention, in plain words;
payments at risk of missing their deadline first; "Send now"; a supervisor's cancellation."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
)

from kiosk.domain.staff import CANCEL_PAYMENT, StaffSession
from kiosk.i18n import N_, _, format_date, format_money, ngettext
from kiosk.outbox import OutboxState
from kiosk.services.queue import QueueEntry, at_risk, cancel_payment, queue_entries
from ui.context import ScreenContext
from ui.dialogs.step_up import StepUpDialog
from ui.errors import reason_text
from ui.screens.base import Screen, button, label

_STATE_WORDS = {
    OutboxState.QUEUED: N_("Waiting"),
    OutboxState.SENDING: N_("Sending"),
    OutboxState.NEEDS_ATTENTION: N_("Needs attention"),
    OutboxState.CONFIRMED: N_("Confirmed"),
    OutboxState.DECLINED: N_("Refused"),
    OutboxState.CANCELLED: N_("Cancelled"),
}


class QueueScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member search."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.entries: list[QueueEntry] = []
        self.at_risk_ids: set[int] = set()
        self.summary = label()
        self.notice = label("banner")
        self.notice.hide()
        self.table = QTableWidget(0, 5)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for column in range(5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column in (1, 4)
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.send_now = button("syncing", primary=True)
        self.cancel = button("problem")
        self.back = button("back")
        self.primary, self.back_button = self.send_now, self.back
        row = QHBoxLayout()
        for widget in (self.back, self.cancel):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.send_now)
        for widget in (self.summary, self.notice, self.error, self.table):
            self.layout_.addWidget(widget)
        self.layout_.addLayout(row)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.send_now.clicked.connect(self._on_send_now_clicked)
        self.cancel.clicked.connect(self._on_cancel_clicked)
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.table.currentCellChanged.connect(self._on_table_current_cell_changed)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Payments waiting for the exchange"))
        self.table.setHorizontalHeaderLabels([
            _("Receipt"), _("Member"), _("Amount"), _("Deadline"), _("State")])
        self.table.setAccessibleName(_("Payments waiting"))
        self.send_now.setText(_("Send now"))
        self.send_now.setAccessibleName(_("Send every waiting payment now"))
        self.cancel.setText(_("Cancel payment…"))
        self.cancel.setAccessibleName(_("Cancel the selected payment (supervisor)"))
        self.back.setText(_("Back"))
        self.back.setAccessibleName(_("Back to the member search"))
        self._render()

    def on_shown(self) -> None:
        self.notice.hide()
        self.refresh()
        self.send_now.setFocus()

    def refresh(self) -> None:
        """Re-read the queue off the UI thread."""
        core = self.ctx.core

        def read() -> tuple[list[QueueEntry], set[int]]:
            risky = at_risk(vault=core.vault, now=core.clock.now())
            return queue_entries(vault=core.vault), {e.outbox_id for e in risky}

        self.ctx.runner.run(read, on_done=self._on_read_done, on_error=self.show_error)

    def _on_read_done(self, result: tuple[list[QueueEntry], set[int]]) -> None:
        self.entries, self.at_risk_ids = result
        self._render()

    def _render(self) -> None:
        entries = sorted(self.entries, key=lambda e: (e.outbox_id not in self.at_risk_ids,
                                                      e.outbox_id))
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            deadline = format_date(entry.deadline) if entry.deadline else _("None")
            if entry.outbox_id in self.at_risk_ids:
                deadline = _("{date} — at risk").format(date=deadline)
            state = _("{state}: {why} ({attempts})").format(
                state=_(_STATE_WORDS[entry.state]), why=reason_text(entry.last_error),
                attempts=ngettext("{n} attempt", "{n} attempts", entry.attempts).format(
                    n=entry.attempts))
            cells = (entry.receipt_number, entry.member_name or entry.member_id,
                     format_money(entry.amount), deadline, state)
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeRowsToContents()
        waiting = sum(e.state is not OutboxState.NEEDS_ATTENTION for e in entries)
        self.summary.setText(ngettext("{n} payment is waiting.", "{n} payments are waiting.",
                                      waiting).format(n=waiting) + " " + ngettext(
            "{n} is at risk of missing its deadline.", "{n} are at risk of missing their "
            "deadline.", len(self.at_risk_ids)).format(n=len(self.at_risk_ids)))
        self.summary.setAccessibleName(self.summary.text())
        self._on_table_current_cell_changed(self.table.currentRow(), 0, 0, 0)

    def selected(self) -> QueueEntry | None:
        row = self.table.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def _on_table_current_cell_changed(self, row: int, _c: int, _pr: int, _pc: int) -> None:
        entry = self.selected()
        self.cancel.setEnabled(entry is not None and entry.cancellable)

    def _on_send_now_clicked(self) -> None:
        self.ctx.send_now()
        self._say(_("Sending now. The list updates as the exchange answers."))

    def _on_cancel_clicked(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        dialog = StepUpDialog(
            self.ctx, title=_("Cancel a payment"), purpose=CANCEL_PAYMENT, ask_reason=True,
            explanation=_("Cancel payment {receipt} of {amount}? It was never sent to the "
                          "exchange. A supervisor must approve and give a reason.").format(
                receipt=entry.receipt_number, amount=format_money(entry.amount)))
        dialog.sig_approved.connect(
            lambda session, reason: self._cancel(entry, session, reason))
        self._dialog = dialog
        dialog.open()

    def _cancel(self, entry: QueueEntry, session: StaffSession, reason: str) -> None:
        core = self.ctx.core
        self.ctx.runner.run(
            lambda: cancel_payment(entry.payment_id, reason=reason, by=session,
                                   vault=core.vault, clock=core.clock),
            on_done=lambda _none: self._on_cancelled(entry), on_error=self.show_error)

    def _on_cancelled(self, entry: QueueEntry) -> None:
        self._say(_("Payment {receipt} is cancelled. Refund {amount} to the member's card on "
                    "the card reader now.").format(receipt=entry.receipt_number,
                                                     amount=format_money(entry.amount)))
        self.refresh()

    def _say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setAccessibleName(text)
        self.notice.show()
