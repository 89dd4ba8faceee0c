"""Take a card payment: the balance or another amount, then the member uses the terminal."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QRadioButton, QVBoxLayout, QWidget

from kiosk.domain.money import Money, parse_amount
from kiosk.domain.staff import OFFLINE_OVERRIDE, StaffSession
from kiosk.errors import KioskError
from kiosk.i18n import _, format_money, in_language
from kiosk.services.members import MemberAccount
from kiosk.services.payments import OfflineLimitError, PaymentTaken, TakeCardPayment
from ui.context import ScreenContext
from ui.dialogs.step_up import StepUpDialog
from ui.screens.ach_panel import AchPanel
from ui.screens.base import Screen, button, label, line_edit, tab_chain
from ui.screens.card_reader import CardReaderPanel
from ui.screens.hosted_panel import HostedPanel
from ui.widgets.flow import FlowLayout
from ui.widgets.keypad import Keypad
from ui.widgets.responsive import SideBySide


class PaymentScreen(Screen):
    sig_payment_taken = Signal(object)
    """The payment is recorded in the vault; carries `PaymentTaken`."""
    sig_back_requested = Signal()
    """Back to the member's account without paying."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.account: MemberAccount | None = None
        self.summary = label()
        self.pay_balance = QRadioButton()
        self.pay_other = QRadioButton()
        self.choice = QButtonGroup(self)
        self.choice.addButton(self.pay_balance)
        self.choice.addButton(self.pay_other)
        self.amount = line_edit()
        self.amount.setInputMethodHints(Qt.InputMethodHint.ImhFormattedNumbersOnly)
        self.limit = label("muted")
        self.for_member = label("banner")  # the amount, in the member's own language
        self.by_card, self.by_bank, self.by_link = QRadioButton(), QRadioButton(), QRadioButton()
        self.methods = QButtonGroup(self)
        for option in (self.by_card, self.by_bank, self.by_link):
            self.methods.addButton(option)
        self.by_card.setChecked(True)
        self.reader = CardReaderPanel(ctx)
        self.outcome = self.reader.outcome  # the demo's picker, for tests and tab order
        self.bank = AchPanel(ctx)
        self.link = HostedPanel(ctx)
        self.charge = button("pay", primary=True)
        self.back = button("back")
        self.primary, self.back_button = self.charge, self.back
        self.keypad = Keypad(self.amount)
        self.override = button("problem")
        self.override.hide()
        self._override_by: StaffSession | None = None
        self._build_layout()
        self._connect_signals()
        self.retranslate_ui()
        self._show_method()

    def _build_layout(self) -> None:
        form = QVBoxLayout()
        methods = QWidget()  # the choices wrap onto more rows when the text is large
        flow = FlowLayout(methods, spacing=24)
        for option in (self.by_card, self.by_bank, self.by_link):
            flow.addWidget(option)
        for widget in (self.summary, self.pay_balance, self.pay_other, self.amount, self.limit,
                       self.for_member):
            form.addWidget(widget)
        form.addWidget(methods)
        for widget in (self.reader, self.bank, self.link):
            form.addWidget(widget)
        form.addStretch(1)
        self.layout_.addWidget(SideBySide(form, self.keypad))
        self.layout_.addWidget(self.error)
        self.layout_.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addStretch(1)
        row.addWidget(self.override)
        row.addWidget(self.charge)
        self.layout_.addLayout(row)
        tab_chain(self.pay_balance, self.pay_other, self.amount, self.by_card, self.by_bank,
                  self.by_link, self.outcome, self.reader.cancel, self.reader.check_again,
                  self.keypad.tab_stop(), self.back, self.override, self.charge)

    def _connect_signals(self) -> None:
        self.charge.clicked.connect(self._on_charge_clicked)
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.override.clicked.connect(self._on_override_clicked)
        self.pay_other.toggled.connect(self._on_pay_other_toggled)
        self.pay_balance.toggled.connect(lambda _on: self._show_for_member())
        self.amount.returnPressed.connect(self._on_charge_clicked)
        self.amount.textEdited.connect(self._on_amount_text_edited)
        self.keypad.sig_done.connect(self._on_charge_clicked)
        self.reader.sig_taken.connect(self._on_payment_done)
        self.reader.sig_failed.connect(self._on_payment_failed)
        self.reader.sig_busy.connect(self._set_busy)
        self.bank.sig_taken.connect(self._on_payment_done)
        self.bank.sig_failed.connect(self._on_bank_failed)
        self.link.sig_paid.connect(self._on_payment_done)
        self.link.sig_failed.connect(self._on_payment_failed)
        for option in (self.by_card, self.by_bank, self.by_link):
            option.toggled.connect(lambda _on: self._show_method())

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Take a payment"))
        self.pay_other.setText(_("Pay another amount"))
        self.pay_other.setAccessibleName(_("Pay another amount"))
        self.amount.setPlaceholderText(_("Amount in dollars, for example 125.50"))
        self.amount.setAccessibleName(_("Amount to pay in dollars"))
        self.keypad.retranslate_ui()
        self.reader.retranslate_ui()
        self.bank.retranslate_ui()
        self.link.retranslate_ui()
        for option, words in ((self.by_card, _("Card or phone")),
                              (self.by_bank, _("Bank account")),
                              (self.by_link, _("PayPal or Venmo"))):
            option.setText(words)
            option.setAccessibleName(_("Pay by {method}").format(method=words))
        self.charge.setText(_("Charge the card"))
        self.charge.setAccessibleName(_("Charge the card"))
        self.back.setText(_("Back"))
        self.back.setAccessibleName(_("Back to the member's account"))
        self.override.setText(_("Supervisor approval…"))
        self.override.setAccessibleName(_("Ask a supervisor to approve this offline payment"))
        if self.account is not None:
            self._render(self.account)
        else:
            self.pay_balance.setText(_("Pay the balance"))
            self.pay_balance.setAccessibleName(_("Pay the balance"))

    def start(self, account: MemberAccount) -> None:
        """Prepare for a new payment for this member."""
        self.account = account
        self.clear_error()
        self.override.hide()
        self._override_by = None
        self.amount.clear()
        self.reader.reset()
        self.by_card.setChecked(True)
        self.bank.start(account.member.member_id, None)
        self.link.start(account.member.member_id, None)
        self._set_busy(False)
        owed = account.balance.cents > 0
        self.pay_balance.setEnabled(owed)
        (self.pay_balance if owed else self.pay_other).setChecked(True)
        self._on_pay_other_toggled(not owed)
        self._render(account)
        self._show_method()

    def _render(self, account: MemberAccount) -> None:
        balance = account.balance if account.balance.cents > 0 else Money.zero()
        self.summary.setText(_("{name} · balance due {amount}").format(
            name=account.member.full_name, amount=format_money(balance)))
        self.summary.setAccessibleName(self.summary.text())
        self.pay_balance.setText(_("Pay the balance: {amount}").format(
            amount=format_money(balance)))
        self.pay_balance.setAccessibleName(self.pay_balance.text())
        self.limit.setText(_("The most that can be paid today is {amount}.").format(
            amount=format_money(account.max_payment)))
        self._show_for_member()

    def on_shown(self) -> None:
        (self.amount if self.pay_other.isChecked() else self.charge).setFocus()

    def _on_pay_other_toggled(self, checked: bool) -> None:
        if checked and not self.amount.hasFocus():
            self.amount.setFocus()
        elif not checked:
            self.amount.clear()

    def _on_amount_text_edited(self, _text: str) -> None:
        self.pay_other.setChecked(True)
        self._show_for_member()

    def _show_for_member(self) -> None:
        """Tell the member, in their language, the amount about to be charged."""
        try:
            amount = self._chosen_amount() if self.account is not None else None
        except KioskError:
            amount = None
        usable = amount if amount is not None and amount.cents > 0 else None
        self.bank.set_amount(usable)
        self.link.set_amount(usable)
        with in_language(self.ctx.member_language):
            text = (_("You are paying {amount}. Please check the amount.")
                    .format(amount=format_money(usable, self.ctx.member_language))
                    if usable is not None else "")
        self.for_member.setText(text)
        self.for_member.setAccessibleName(text)
        self.for_member.setVisible(bool(text))

    def _chosen_amount(self) -> Money:
        assert self.account is not None
        if self.pay_balance.isChecked():
            return self.account.balance
        return parse_amount(self.amount.text())

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.charge, self.back, self.amount, self.pay_balance, self.pay_other,
                       self.keypad):
            widget.setEnabled(not busy)
        if not busy:
            self.pay_balance.setEnabled(bool(self.account and self.account.balance.cents > 0))

    def _on_charge_clicked(self) -> None:
        if self.account is None or not self.charge.isEnabled() or self.ctx.session is None:
            return
        self.clear_error()
        try:
            amount = self._chosen_amount()
        except KioskError as exc:
            self.show_error(exc, self.amount)
            return
        self.reader.charge(TakeCardPayment(member_id=self.account.member.member_id,
                                           amount=amount, override_by=self._override_by))

    def _show_method(self) -> None:
        card = self.by_card.isChecked()
        self.reader.setVisible(card)
        self.charge.setVisible(card)
        self.bank.setVisible(self.by_bank.isChecked())
        self.link.setVisible(self.by_link.isChecked())
        if self.by_link.isChecked():
            self.link.refresh_availability()
        else:
            self.link.stop()
        self.primary = self.charge if card else (
            self.bank.submit if self.by_bank.isChecked() else self.link.create)

    def _on_bank_failed(self, error: Exception) -> None:
        self._override_by = None
        self.override.setVisible(isinstance(error, OfflineLimitError))
        self.show_error(error, self.bank.field_for(getattr(error, "code", "")))

    def _on_override_clicked(self) -> None:
        dialog = StepUpDialog(
            self.ctx, title=_("Approve an offline payment"), purpose=OFFLINE_OVERRIDE,
            explanation=_("The exchange cannot be reached and this payment is over the offline "
                          "limit. A supervisor may approve it once; the approval is recorded."))
        dialog.sig_approved.connect(self._on_override_approved)
        self.override_dialog = dialog
        dialog.open()

    def _on_override_approved(self, session: StaffSession, _reason: str) -> None:
        self.override.hide()
        if self.by_bank.isChecked():
            self.bank.override_by = session
            self.bank.submit.click()
            return
        self._override_by = session
        self._on_charge_clicked()

    def _on_payment_done(self, taken: PaymentTaken) -> None:
        self._override_by = None
        self.ctx.nudge_sync()
        self.sig_payment_taken.emit(taken)

    def _on_payment_failed(self, error: Exception) -> None:
        self._override_by = None
        self.override.setVisible(isinstance(error, OfflineLimitError))
        field = self.amount if getattr(error, "field", "") == "amount" else (
            self.reader.check_again if self.reader.check_again.isVisible() else self.charge)
        if field is self.amount:
            self.pay_other.setChecked(True)
        self.show_error(error, field)
