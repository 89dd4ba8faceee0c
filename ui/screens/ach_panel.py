"""The bank-account part of the payment screen: routing and account numbers (the account
typed twice), checking or savings, and the member's in-person authorization (Nacha PPD) in
the member's language, signed on the pad or by typing their name and ticking a box."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.ach import AuthorizationCapture, BankAccountEntry
from kiosk.domain.money import Money
from kiosk.domain.staff import StaffSession
from kiosk.i18n import _, format_date, format_money, in_language
from kiosk.services.ach import AchPaymentTaken, TakeAchPayment, take_ach_payment
from kiosk.services.payments import PaymentContext
from ui.context import ScreenContext
from ui.screens.base import button, label, line_edit
from ui.widgets.signature_pad import SignaturePad


def authorization_text(*, amount: Money, account_type: str, last4: str, site: str,
                       today: dt.date, language: str) -> str:
    """The authorization the member reads and signs, in their language (Nacha PPD terms:
    the amount, the account, the date, and how to revoke it)."""
    with in_language(language):
        kind = _("checking") if account_type == "checking" else _("savings")
        return _(
            "I authorize the health insurance marketplace to debit {amount} from my {kind} "
            "account ending in {last4}, once, on or after {date}, to pay my health coverage "
            "premium. I took this decision at {site} with a navigator. I may revoke this "
            "authorization by telling the marketplace before the debit is made. If the debit "
            "is returned, the premium is still due."
        ).format(amount=format_money(amount, language), kind=kind, last4=last4,
                 date=format_date(today, language, fmt="long"), site=site)


class AchPanel(QWidget):
    sig_taken = Signal(object)
    """The bank payment is recorded (`AchPaymentTaken`)."""
    sig_failed = Signal(object)
    """It was refused; carries the error (nothing was recorded)."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.amount: Money | None = None
        self.member_id = ""
        self.override_by: StaffSession | None = None  # a supervisor's one-time approval
        self.routing, self.account, self.account_again = line_edit(), line_edit(secret=True), \
            line_edit(secret=True)
        self.checking, self.savings = QRadioButton(), QRadioButton()
        kinds = QButtonGroup(self)
        kinds.addButton(self.checking)
        kinds.addButton(self.savings)
        self.checking.setChecked(True)
        self.authorization = label("banner")
        self.pad = SignaturePad()
        self.clear_pad = button("back")
        self.cannot_sign = QCheckBox()
        self.typed_name = line_edit()
        self.typed_confirm = QCheckBox()
        self.submit = button("pay", primary=True)
        self._labels = [QLabel(), QLabel(), QLabel()]
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        form = QFormLayout()
        for lab, field in zip(self._labels, (self.routing, self.account, self.account_again),
                              strict=True):
            lab.setBuddy(field)
            form.addRow(lab, field)
        kinds = QHBoxLayout()
        kinds.addWidget(self.checking)
        kinds.addWidget(self.savings)
        kinds.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(form)
        column.addLayout(kinds)
        for widget in (self.authorization, self.pad, self.clear_pad, self.cannot_sign,
                       self.typed_name, self.typed_confirm, self.submit):
            column.addWidget(widget)
        self._on_cannot_sign_toggled(False)

    def _connect_signals(self) -> None:
        self.cannot_sign.toggled.connect(self._on_cannot_sign_toggled)
        self.clear_pad.clicked.connect(self.pad.clear)
        self.submit.clicked.connect(self._on_submit_clicked)
        for field in (self.account, self.routing):
            field.textEdited.connect(lambda _t: self._show_authorization())
        self.checking.toggled.connect(lambda _on: self._show_authorization())

    def retranslate_ui(self) -> None:
        names = (_("Routing number (9 digits)"), _("Account number"),
                 _("Account number again"))
        for lab, field, name in zip(self._labels, (self.routing, self.account,
                                                   self.account_again), names, strict=True):
            lab.setText(name)
            field.setAccessibleName(name)
        self.checking.setText(_("Checking"))
        self.checking.setAccessibleName(_("Checking account"))
        self.savings.setText(_("Savings"))
        self.savings.setAccessibleName(_("Savings account"))
        self.clear_pad.setText(_("Clear the signature"))
        self.clear_pad.setAccessibleName(_("Clear the signature"))
        self.cannot_sign.setText(_("The member cannot sign on the screen"))
        self.cannot_sign.setAccessibleName(self.cannot_sign.text())
        self.typed_name.setAccessibleName(_("Member's full name, typed as signature"))
        self.typed_name.setPlaceholderText(_("Full name"))
        self.typed_confirm.setText(_("I confirm that typing my name is my signature"))
        self.typed_confirm.setAccessibleName(self.typed_confirm.text())
        self.submit.setText(_("Submit the bank payment"))
        self.submit.setAccessibleName(_("Submit the bank payment"))
        self._show_authorization()

    def start(self, member_id: str, amount: Money | None) -> None:
        self.member_id, self.amount = member_id, amount
        for field in (self.routing, self.account, self.account_again, self.typed_name):
            field.clear()
        self.pad.clear()
        self.cannot_sign.setChecked(False)
        self.typed_confirm.setChecked(False)
        self._show_authorization()

    def set_amount(self, amount: Money | None) -> None:
        self.amount = amount
        self._show_authorization()

    def _text(self) -> str:
        core = self.ctx.core
        digits = "".join(ch for ch in self.account.text() if ch.isdigit())
        return authorization_text(
            amount=self.amount or Money.zero(), account_type=self._kind(),
            last4=digits[-4:] if len(digits) >= 4 else "····", site=core.settings.site_name,
            today=core.clock.now().date(), language=self.ctx.member_language)

    def _show_authorization(self) -> None:
        self.authorization.setText(self._text())
        self.authorization.setAccessibleName(self.authorization.text())

    def _kind(self) -> str:
        return "checking" if self.checking.isChecked() else "savings"

    def _on_cannot_sign_toggled(self, cannot: bool) -> None:
        self.pad.setVisible(not cannot)
        self.clear_pad.setVisible(not cannot)
        self.typed_name.setVisible(cannot)
        self.typed_confirm.setVisible(cannot)

    def _capture(self) -> AuthorizationCapture:
        typed = self.cannot_sign.isChecked()
        return AuthorizationCapture(
            language=self.ctx.member_language, text=self._text(),
            signature_png=b"" if typed or self.pad.is_empty() else self.pad.png_bytes(),
            typed_name=self.typed_name.text() if typed else "",
            typed_name_confirmed=typed and self.typed_confirm.isChecked())

    def _on_submit_clicked(self) -> None:
        session = self.ctx.session
        if self.amount is None or session is None:
            return
        core = self.ctx.core
        cmd = TakeAchPayment(
            member_id=self.member_id, amount=self.amount,
            account=BankAccountEntry(routing_number=self.routing.text(),
                                     account_number=self.account.text(),
                                     account_number_again=self.account_again.text(),
                                     account_type=self._kind()),
            authorization=self._capture(), override_by=self.override_by)
        self.override_by = None
        pay_ctx = PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                                 staff=session)
        self.submit.setEnabled(False)
        self.ctx.runner.run(
            lambda: take_ach_payment(cmd, ctx=pay_ctx, vault=core.vault, clock=core.clock,
                                     connectivity=core.connectivity,
                                     limits=core.settings.offline_limits),
            on_done=self._on_done, on_error=self._on_failed)

    def _on_done(self, taken: AchPaymentTaken) -> None:
        self.submit.setEnabled(True)
        self.sig_taken.emit(taken)

    def _on_failed(self, error: Exception) -> None:
        self.submit.setEnabled(True)
        self.sig_failed.emit(error)

    def field_for(self, code: str) -> QWidget:
        """The field an error code is about, so the message sits under it."""
        return {"routing_invalid": self.routing, "account_invalid": self.account,
                "account_mismatch": self.account_again,
                "authorization_missing": self.typed_name if self.cannot_sign.isChecked()
                else self.pad}.get(code, self.submit)
