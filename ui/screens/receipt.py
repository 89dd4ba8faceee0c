"""The receipt, shown at once: Pending until the exchange confirms, then Confirmed."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QSpinBox, QWidget

from kiosk.domain.payments import PaymentStatus
from kiosk.i18n import _, in_language
from kiosk.services.methods import save_card_from_payment
from kiosk.services.payments import PaymentContext
from kiosk.services.receipts import Receipt, get_receipt
from ui.context import ScreenContext
from ui.printing import receipt_notes, receipt_rows, save_pdf, status_text, visit_folder
from ui.screens.base import Screen, button, label
from ui.widgets.flow import FlowLayout

RECEIPT_FIELDS = 9  # every row of `receipt_rows` but the status, which has its own line


class ReceiptScreen(Screen):
    sig_done = Signal()
    """The navigator finished with this member."""
    sig_shown = Signal()
    """The receipt was (re)drawn with its current status."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.receipt: Receipt | None = None
        self.accepted = label("banner")
        self.form = QFormLayout()
        self.names: list[QLabel] = []
        self.values: list[QLabel] = []
        for _row in range(RECEIPT_FIELDS):
            name, value = QLabel(), label()
            name.setBuddy(value)
            self.names.append(name)
            self.values.append(value)
            self.form.addRow(name, value)
        self.status = label("status-pending")
        self.notes = label("banner")
        self.notes.hide()
        self.saved = label("muted")
        self.save_card = button("pay")
        self.save_month, self.save_year = QSpinBox(), QSpinBox()
        self.save_month.setRange(1, 12)
        self.save_year.setRange(2024, 2060)
        self.save_year.setValue(self.ctx.core.clock.now().year + 2)
        self.print_pdf = button("print")
        self.done = button("done", primary=True)
        self.primary = self.done
        row = QHBoxLayout()
        row.addWidget(self.print_pdf)
        row.addStretch(1)
        row.addWidget(self.done)
        self.layout_.addWidget(self.accepted)
        self.layout_.addWidget(self.status)
        self.layout_.addWidget(self.notes)
        self.layout_.addLayout(self.form)
        self.layout_.addWidget(self.saved)
        self.card_row = QWidget()
        flow = FlowLayout(self.card_row)
        for widget in (self.save_month, self.save_year, self.save_card):
            flow.addWidget(widget)
        self.layout_.addWidget(self.card_row)
        self.layout_.addWidget(self.error)
        self.layout_.addStretch(1)
        self.layout_.addLayout(row)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.print_pdf.clicked.connect(self._on_print_pdf_clicked)
        self.done.clicked.connect(self.sig_done.emit)
        self.save_card.clicked.connect(self._on_save_card_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Receipt"))
        self.print_pdf.setText(_("Print to PDF"))
        self.print_pdf.setAccessibleName(_("Print the receipt to a PDF file"))
        self.save_card.setText(_("Save this card for next time"))
        self.save_card.setAccessibleName(_("Save this card for automatic and later payments"))
        self.save_month.setAccessibleName(_("Card expiry month"))
        self.save_year.setAccessibleName(_("Card expiry year"))
        self.done.setText(_("Done — next member"))
        self.done.setAccessibleName(_("Done, next member"))
        if self.receipt is not None:
            self._render(self.receipt)

    def show_payment(self, payment_id: str) -> None:
        self.receipt = None
        self.saved.clear()
        self.clear_error()
        self.refresh(payment_id)

    def refresh(self, payment_id: str | None = None) -> None:
        """Re-read the receipt (after a sync pass) so its status is always current."""
        pid = payment_id or (self.receipt.payment_id if self.receipt else None)
        if pid is None:
            return
        vault = self.ctx.core.vault
        self.ctx.runner.run(lambda: get_receipt(pid, vault=vault), on_done=self._render,
                            on_error=self.show_error)

    def clear(self) -> None:
        self.receipt = None
        for widget in (*self.names, *self.values):
            widget.clear()
            widget.setAccessibleName("")
        self.status.clear()
        self.notes.clear()
        self.notes.hide()
        self.saved.clear()

    def _render(self, receipt: Receipt) -> None:
        """The receipt is the member's: it is shown in the member's language."""
        with in_language(self.ctx.member_language):
            self._render_receipt(receipt)
        self.sig_shown.emit()

    def _render_receipt(self, receipt: Receipt) -> None:
        self.receipt = receipt
        rows = receipt_rows(receipt, self.ctx.core.settings.timezone)[:RECEIPT_FIELDS]
        for (name, value), name_label, value_label in zip(rows, self.names, self.values,
                                                          strict=True):
            name_label.setText(name)
            value_label.setText(value)
            value_label.setAccessibleName(f"{name}: {value}")
        confirmed = receipt.status is PaymentStatus.CONFIRMED and not receipt.return_code
        self.status.setProperty("role", "status-ok" if confirmed else "status-pending")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.accepted.setText(
            _("The exchange has this payment. Give the member the receipt.") if confirmed else
            _("The payment is accepted and saved on this kiosk. It will be sent to the "
              "exchange, now or as soon as the connection returns."))
        self.accepted.setAccessibleName(self.accepted.text())
        self.status.setText(status_text(receipt))
        self.status.setAccessibleName(self.status.text())
        self.card_row.setVisible(receipt.method == "card" and bool(receipt.last4))
        notes = receipt_notes(receipt)
        self.notes.setText("\n".join(notes))
        self.notes.setAccessibleName(self.notes.text())
        self.notes.setVisible(bool(notes))

    def on_shown(self) -> None:
        self.done.setFocus()

    def _on_save_card_clicked(self) -> None:
        receipt, session = self.receipt, self.ctx.session
        if receipt is None or session is None:
            return
        core = self.ctx.core
        pay_ctx = PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                                 staff=session)
        month, year = self.save_month.value(), self.save_year.value()
        self.ctx.runner.run(
            lambda: save_card_from_payment(receipt.payment_id, exp_month=month, exp_year=year,
                                           ctx=pay_ctx, vault=core.vault, clock=core.clock),
            on_done=self._on_card_saved,
            on_error=lambda error: self.show_error(error, self.save_month))

    def _on_card_saved(self, _changed: object) -> None:
        self.card_row.hide()
        self.ctx.nudge_sync()
        self.saved.setText(_("The card is saved for next time."))
        self.saved.setAccessibleName(self.saved.text())

    def _on_print_pdf_clicked(self) -> None:
        if self.receipt is None:
            return
        settings = self.ctx.core.settings
        path = visit_folder(settings.data_dir) / f"{self.receipt.receipt_number}.pdf"
        try:
            with in_language(self.ctx.member_language):
                save_pdf(self.receipt, path, settings.timezone)
        except OSError as exc:
            self.show_error(_("The PDF could not be saved ({reason}). Check the disk has space, "
                              "then try again.").format(reason=exc.strerror or ""))
            return
        self.saved.setText(_("Saved as {path}").format(path=str(path)))
        self.saved.setAccessibleName(self.saved.text())
