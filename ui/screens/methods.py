"""The member's saved payment methods: list them, add a bank account, update a card's expiry,
make one the default, remove one; cards that expire before the next due date are flagged.
Cards are saved from a card payment's receipt (the card reader gives the token)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from kiosk.domain.ach import BankAccountEntry
from kiosk.i18n import N_, _, format_date
from kiosk.services.methods import (
    MethodKind,
    SaveBankAccount,
    SavedMethod,
    expiring_before_next_due,
    list_methods,
    remove_method,
    save_bank_account,
    set_default_method,
    update_card_expiry,
)
from kiosk.services.payments import PaymentContext
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label, line_edit
from ui.widgets.flow import flow_row

_STATES = {"pending": N_("Waiting for the exchange"), "confirmed": N_("Saved at the exchange"),
           "needs_attention": N_("Needs attention")}


class MethodsScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member's account."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.member_id = ""
        self.methods: list[SavedMethod] = []
        self.warning = label("banner")
        self.table = QTableWidget(0, 4)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.make_default, self.remove = button("done"), button("problem")
        self.exp_month, self.exp_year = QSpinBox(), QSpinBox()
        self.exp_month.setRange(1, 12)
        self.exp_year.setRange(2020, 2060)
        self.update_expiry = button("syncing")
        self.routing, self.account, self.account_again = line_edit(), line_edit(secret=True), \
            line_edit(secret=True)
        self.checking, self.savings = QRadioButton(), QRadioButton()
        kinds = QButtonGroup(self)
        kinds.addButton(self.checking)
        kinds.addButton(self.savings)
        self.checking.setChecked(True)
        self.add_bank = button("pay", primary=True)
        self.back = button("back")
        self.primary, self.back_button = self.add_bank, self.back
        self._labels = [QLabel() for _unused in range(5)]
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        expiry = QFormLayout()
        expiry.addRow(self._labels[0], self.exp_month)
        expiry.addRow(self._labels[1], self.exp_year)
        bank = QFormLayout()
        for lab, field in zip(self._labels[2:], (self.routing, self.account, self.account_again),
                              strict=True):
            lab.setBuddy(field)
            bank.addRow(lab, field)
        self._labels[0].setBuddy(self.exp_month)
        self._labels[1].setBuddy(self.exp_year)
        for widget in (self.warning, self.error, self.table,
                       flow_row(self.make_default, self.remove)):
            self.layout_.addWidget(widget)
        self.layout_.addLayout(expiry)
        self.layout_.addWidget(flow_row(self.update_expiry))
        self.layout_.addLayout(bank)
        self.layout_.addWidget(flow_row(self.checking, self.savings, self.add_bank))
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addStretch(1)
        self.layout_.addLayout(row)

    def _connect_signals(self) -> None:
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.make_default.clicked.connect(lambda: self._act(set_default_method))
        self.remove.clicked.connect(lambda: self._act(remove_method))
        self.update_expiry.clicked.connect(self._on_update_expiry_clicked)
        self.add_bank.clicked.connect(self._on_add_bank_clicked)
        self.table.currentCellChanged.connect(lambda *_args: self._enable())

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Saved payment methods"))
        self.table.setHorizontalHeaderLabels([_("Method"), _("Expires"), _("Default"),
                                              _("State")])
        self.table.setAccessibleName(_("Saved payment methods"))
        names = (_("New expiry month"), _("New expiry year"), _("Routing number (9 digits)"),
                 _("Account number"), _("Account number again"))
        for lab, field, name in zip(self._labels, (self.exp_month, self.exp_year, self.routing,
                                                   self.account, self.account_again), names,
                                    strict=True):
            lab.setText(name)
            field.setAccessibleName(name)
        for widget, words in ((self.make_default, _("Make it the default")),
                              (self.remove, _("Remove it")),
                              (self.update_expiry, _("Update the card's expiry")),
                              (self.add_bank, _("Save the bank account")),
                              (self.back, _("Back")), (self.checking, _("Checking")),
                              (self.savings, _("Savings"))):
            widget.setText(words)
            widget.setAccessibleName(words)
        self._render()

    def show_member(self, member_id: str) -> None:
        self.member_id = member_id
        for field in (self.routing, self.account, self.account_again):
            field.clear()
        self.clear_error()
        self.refresh()

    def clear(self) -> None:
        self.member_id = ""
        self.methods = []
        self._render()

    def _context(self) -> PaymentContext:
        core, session = self.ctx.core, self.ctx.session
        assert session is not None
        return PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                              staff=session)

    def refresh(self) -> None:
        core, member_id = self.ctx.core, self.member_id
        today = core.clock.now().astimezone(ZoneInfo(core.settings.timezone)).date()

        def read() -> tuple[list[SavedMethod], list[SavedMethod]]:
            return (list_methods(member_id, vault=core.vault),
                    expiring_before_next_due(member_id, vault=core.vault, today=today))

        self.ctx.runner.run(read, on_done=lambda got: self._on_read(member_id, got),
                            on_error=self.show_error)

    def _on_read(self, member_id: str,
                 result: tuple[list[SavedMethod], list[SavedMethod]]) -> None:
        if member_id != self.member_id:
            return  # read for a member the page no longer shows (or a visit that ended)
        self.methods, expiring = result
        self._render()
        self.warning.setVisible(bool(expiring))
        if expiring:
            self.warning.setText(_("A saved card expires before the next due date: {cards}. "
                                   "Update its expiry or add another method.").format(
                cards=", ".join(self._describe(m) for m in expiring)))
            self.warning.setAccessibleName(self.warning.text())

    def _describe(self, method: SavedMethod) -> str:
        if method.kind is MethodKind.CARD:
            return _("{brand} card ending in {last4}").format(brand=method.brand.title(),
                                                              last4=method.last4)
        return _("Bank account ending in {last4}").format(last4=method.last4)

    def _render(self) -> None:
        self.table.setRowCount(len(self.methods))
        for row, method in enumerate(self.methods):
            cells = (self._describe(method),
                     format_date(method.expires_on) if method.expires_on else "—",
                     _("Yes") if method.is_default else "",
                     _(_STATES.get(str(method.exchange_state), str(method.exchange_state))))
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self._enable()

    def selected(self) -> SavedMethod | None:
        row = self.table.currentRow()
        return self.methods[row] if 0 <= row < len(self.methods) else None

    def _enable(self) -> None:
        method = self.selected()
        self.make_default.setEnabled(method is not None and not method.is_default)
        self.remove.setEnabled(method is not None)
        self.update_expiry.setEnabled(method is not None and method.kind is MethodKind.CARD)

    def _act(self, action: object) -> None:
        method = self.selected()
        if method is None:
            return
        core, pay_ctx = self.ctx.core, self._context()
        self.ctx.runner.run(
            lambda: action(method.method_id, ctx=pay_ctx, vault=core.vault,  # type: ignore[operator]
                           clock=core.clock),
            on_done=lambda _changed: self._changed(), on_error=self.show_error)

    def _changed(self) -> None:
        self.ctx.nudge_sync()
        self.refresh()

    def _on_update_expiry_clicked(self) -> None:
        method = self.selected()
        if method is None:
            return
        core, pay_ctx = self.ctx.core, self._context()
        month, year = self.exp_month.value(), self.exp_year.value()
        self.ctx.runner.run(
            lambda: update_card_expiry(method.method_id, exp_month=month, exp_year=year,
                                       ctx=pay_ctx, vault=core.vault, clock=core.clock),
            on_done=lambda _changed: self._changed(),
            on_error=lambda error: self.show_error(error, self.exp_month))

    def _on_add_bank_clicked(self) -> None:
        core, pay_ctx = self.ctx.core, self._context()
        cmd = SaveBankAccount(member_id=self.member_id, account=BankAccountEntry(
            routing_number=self.routing.text(), account_number=self.account.text(),
            account_number_again=self.account_again.text(),
            account_type="checking" if self.checking.isChecked() else "savings"),
            make_default=not self.methods)
        self.ctx.runner.run(
            lambda: save_bank_account(cmd, ctx=pay_ctx, vault=core.vault, clock=core.clock),
            on_done=lambda _changed: (self._clear_bank(), self._changed()),
            on_error=self._on_add_failed)

    def _clear_bank(self) -> None:
        for field in (self.routing, self.account, self.account_again):
            field.clear()

    def _on_add_failed(self, error: Exception) -> None:
        field = {"routing_invalid": self.routing, "account_invalid": self.account,
                 "account_mismatch": self.account_again}.get(getattr(error, "code", ""))
        self.show_error(error, field)
