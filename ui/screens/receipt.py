"""The receipt, shown at once: Pending until the exchange confirms, then Confirmed. Printed on
the kiosk's printer (or saved as PDF when there is none), or sent by the exchange by email or
text message in the member's language."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QFormLayout, QLabel, QRadioButton, QSpinBox, QVBoxLayout, QWidget

from kiosk.domain.account import Channel, ContactProfile
from kiosk.domain.members import display_phone
from kiosk.domain.payments import PaymentStatus
from kiosk.errors import NotFoundError
from kiosk.i18n import N_, _, in_language, isolate
from kiosk.services.methods import save_card_from_payment
from kiosk.services.payments import PaymentContext
from kiosk.services.profile import contact_profile
from kiosk.services.receipt_delivery import (
    ReceiptDelivery,
    ReceiptRequested,
    RequestReceipt,
    deliveries_of,
    request_receipt,
)
from kiosk.services.receipts import Receipt, get_receipt
from ui.context import ScreenContext
from ui.printing import (
    print_html,
    receipt_html,
    receipt_notes,
    receipt_rows,
    save_pdf,
    status_text,
    system_printer,
    visit_folder,
)
from ui.screens.base import Screen, button, label, line_edit
from ui.widgets.flow import FlowLayout
from ui.widgets.responsive import SideBySide

RECEIPT_FIELDS = 9  # every row of `receipt_rows` but the status, which has its own line
DELIVERY_STATES = {"pending": N_("waiting to be sent"), "sent": N_("sent by the exchange"),
                   "refused": N_("the exchange could not send it")}


class ReceiptScreen(Screen):
    sig_done = Signal()
    """The navigator finished with this member."""
    sig_shown = Signal()
    """The receipt was (re)drawn with its current status."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.receipt: Receipt | None = None
        # The payment this screen shows; a read that finishes after Done (or for another
        # payment) is dropped, so one member's receipt never shows during the next visit.
        self.showing: str | None = None
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
        self.card_label = label()
        self.save_month, self.save_year = QSpinBox(), QSpinBox()
        self.save_month.setRange(1, 12)
        self.save_year.setRange(2024, 2060)
        self.save_year.setValue(self.ctx.core.clock.now().year + 2)
        self.print_paper, self.print_pdf = button("print"), button("receipt")
        self.done = button("done", primary=True)
        self.primary = self.done
        self.send_heading = label()
        self.by_email, self.by_text = QRadioButton(), QRadioButton()
        self.by_email.setChecked(True)
        self.send_to_label, self.send_to = QLabel(), line_edit()
        self.send_to_label.setBuddy(self.send_to)
        self.send = button("send")
        self.deliveries = label("muted")
        self.profile: ContactProfile | None = None
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        """The outcome and the actions first, so Done is in sight without scrolling; then the
        receipt beside the ways to send it (one above the other when there is no room)."""
        row = QWidget()
        actions = FlowLayout(row, spacing=16)
        for widget in (self.done, self.print_paper, self.print_pdf):
            actions.addWidget(widget)
        for widget in (self.accepted, self.status, self.notes, row, self.saved):
            self.layout_.addWidget(widget)
        self.card_row = QWidget()
        flow = FlowLayout(self.card_row)
        for widget in (self.save_month, self.save_year, self.save_card):
            flow.addWidget(widget)
        self.send_row = QWidget()
        channels = FlowLayout(self.send_row, spacing=16)
        for widget in (self.by_email, self.by_text):
            channels.addWidget(widget)
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in (self.send_heading, self.send_row, self.send_to_label, self.send_to,
                       self.send, self.deliveries, self.card_label, self.card_row):
            column.addWidget(widget)
        column.addStretch(1)
        self.layout_.addWidget(SideBySide(self.form, side))
        self.layout_.addWidget(self.error)
        self.layout_.addStretch(1)

    def _connect_signals(self) -> None:
        self.print_pdf.clicked.connect(self._on_print_pdf_clicked)
        self.print_paper.clicked.connect(self._on_print_clicked)
        self.send.clicked.connect(self._on_send_clicked)
        self.by_email.toggled.connect(lambda _checked: self._fill_address())
        self.done.clicked.connect(self.sig_done.emit)
        self.save_card.clicked.connect(self._on_save_card_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Receipt"))
        self.print_paper.setText(_("Print"))
        self.print_paper.setAccessibleName(_("Print the receipt on the kiosk's printer"))
        self.print_pdf.setText(_("Save as PDF"))
        self.print_pdf.setAccessibleName(_("Save the receipt as a PDF file"))
        self.send_heading.setText(_("Send the receipt to the member"))
        self.by_email.setText(_("By email"))
        self.by_email.setAccessibleName(_("Send the receipt by email"))
        self.by_text.setText(_("By text message"))
        self.by_text.setAccessibleName(_("Send the receipt by text message"))
        self._name_address_field()
        self.send.setText(_("Send the receipt"))
        self.send.setAccessibleName(_("Send the receipt"))
        self.card_label.setText(_("The card's expiry month and year, to save it:"))
        self.save_card.setText(_("Save this card for next time"))
        self.save_card.setAccessibleName(_("Save this card for automatic and later payments"))
        self.save_month.setAccessibleName(_("Card expiry month"))
        self.save_year.setAccessibleName(_("Card expiry year"))
        self.done.setText(_("Done — next member"))
        self.done.setAccessibleName(_("Done, next member"))
        if self.receipt is not None:
            self._render(self.receipt)

    def _name_address_field(self) -> None:
        words = _("Email address") if self.by_email.isChecked() else _("Mobile phone number")
        self.send_to_label.setText(words)
        self.send_to.setAccessibleName(words)

    def _set_actions_enabled(self, enabled: bool) -> None:
        """Print, save and send act on the receipt shown, so they wait until it is read."""
        for action in (self.print_paper, self.print_pdf, self.send):
            action.setEnabled(enabled)

    def show_payment(self, payment_id: str) -> None:
        self.receipt = None
        self.showing = payment_id
        self._set_actions_enabled(False)
        self.profile = None
        self.saved.clear()
        self.send_to.clear()
        self.deliveries.clear()
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
        self.showing = None
        self._set_actions_enabled(False)
        for widget in (*self.names, *self.values):
            widget.clear()
            widget.setAccessibleName("")
        self.status.clear()
        self.notes.clear()
        self.notes.hide()
        self.saved.clear()
        self.profile = None
        self.send_to.clear()
        self.deliveries.clear()

    def _render(self, receipt: Receipt) -> None:
        """The receipt is the member's: it is shown in the member's language."""
        if receipt.payment_id != self.showing:
            return  # read for a visit that has ended
        with in_language(self.ctx.member_language):
            self._render_receipt(receipt)
        self.sig_shown.emit()
        vault, member_id = self.ctx.core.vault, receipt.member_id

        def read() -> tuple[ContactProfile | None, list[ReceiptDelivery]]:
            try:
                profile = contact_profile(member_id, vault=vault)
            except NotFoundError:
                profile = None  # the member left the kiosk's list; type the address
            return profile, deliveries_of(receipt.payment_id, vault=vault)

        payment_id = receipt.payment_id
        self.ctx.runner.run(read, on_done=lambda got: self._on_contact_read(payment_id, got),
                            on_error=self.show_error)

    def _on_contact_read(self, payment_id: str, read: tuple[ContactProfile | None,
                                                            list[ReceiptDelivery]]) -> None:
        if payment_id != self.showing:
            return
        first_time = self.profile is None
        self.profile, deliveries = read
        if first_time and self.profile is not None:
            self.by_text.setChecked(not self.profile.email and bool(self.profile.phone))
            self._fill_address()
        self._render_deliveries(deliveries)

    def _fill_address(self) -> None:
        """The member's email or phone on file for the chosen way; the navigator may change it
        for this receipt only."""
        self._name_address_field()
        profile = self.profile
        if profile is not None:
            self.send_to.setText(profile.email if self.by_email.isChecked()
                                 else display_phone(profile.phone) if profile.phone else "")

    def _render_deliveries(self, deliveries: list[ReceiptDelivery]) -> None:
        lines = []
        for d in deliveries:
            where = isolate(display_phone(d.address) if d.channel is Channel.SMS else d.address)
            state = DELIVERY_STATES.get(d.state, DELIVERY_STATES["pending"])
            lines.append((_("Email to {address}: {state}") if d.channel is Channel.EMAIL else
                          _("Text message to {address}: {state}")).format(
                address=where, state=_(state)))
        self.deliveries.setText("\n".join(lines))
        self.deliveries.setAccessibleName(self.deliveries.text())
        self.deliveries.setVisible(bool(lines))

    def _render_receipt(self, receipt: Receipt) -> None:
        self.receipt = receipt
        self._set_actions_enabled(True)
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
        self.card_label.setVisible(self.card_row.isVisibleTo(self))
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
        self.card_label.hide()
        self.ctx.nudge_sync()
        self.saved.setText(_("The card is saved for next time."))
        self.saved.setAccessibleName(self.saved.text())

    def _on_send_clicked(self) -> None:
        receipt, session = self.receipt, self.ctx.session
        if receipt is None or session is None:
            return
        self.clear_error()
        core = self.ctx.core
        pay_ctx = PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                                 staff=session)
        cmd = RequestReceipt(payment_id=receipt.payment_id,
                             channel=Channel.EMAIL if self.by_email.isChecked() else Channel.SMS,
                             address=self.send_to.text(), language=self.ctx.member_language)
        self.send.setEnabled(False)
        self.ctx.runner.run(
            lambda: request_receipt(cmd, ctx=pay_ctx, vault=core.vault, clock=core.clock),
            on_done=self._on_sent, on_error=self._on_send_failed)

    def _on_send_failed(self, error: Exception) -> None:
        self.send.setEnabled(True)
        self.show_error(error, self.send_to)

    def _on_sent(self, sent: ReceiptRequested) -> None:
        self.send.setEnabled(True)
        self.ctx.nudge_sync()
        where = isolate(display_phone(sent.address) if sent.channel is Channel.SMS
                        else sent.address)
        self.saved.setText((_("The exchange will email the receipt to {address}, now or as "
                              "soon as the connection returns.") if sent.channel is Channel.EMAIL
                            else _("The exchange will text the receipt to {address}, now or as "
                                   "soon as the connection returns.")).format(address=where))
        self.saved.setAccessibleName(self.saved.text())
        self.ctx.narrator.say(self.saved.text())
        if self.receipt is not None:
            self.refresh()

    def _receipt_html(self) -> str:
        assert self.receipt is not None
        with in_language(self.ctx.member_language):
            return receipt_html(self.receipt, self.ctx.core.settings.timezone)

    def _on_print_clicked(self, printer: QPrinter | None = None) -> None:
        """On the kiosk's printer; without one, as a PDF, saying so."""
        if self.receipt is None:
            return
        chosen = printer or system_printer()
        if chosen is None:
            self._on_print_pdf_clicked()
            self.saved.setText(_("No printer is set up on this kiosk. {saved}").format(
                saved=self.saved.text()))
            self.saved.setAccessibleName(self.saved.text())
            return
        with in_language(self.ctx.member_language):
            title = _("Payment receipt")
        name = print_html(self._receipt_html(), title, chosen)
        self.saved.setText(_("Sent to the printer {printer}.").format(printer=isolate(name)))
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
