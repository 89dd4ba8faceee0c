"""The member's account: plan, invoices (month, amount, due date, paid or not) and balance."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from kiosk.domain.members import InvoiceStatus, display_phone
from kiosk.i18n import (
    LANGUAGES,
    _,
    format_date,
    format_money,
    format_month,
    isolate,
    kiosk_language,
    language_name,
    line_start,
    ngettext,
)
from kiosk.services.members import MemberAccount, get_account
from kiosk.services.standing import standing_of
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label
from ui.standing_text import notice_text, state_text
from ui.widgets.flow import FlowLayout


class MemberScreen(Screen):
    sig_pay_requested = Signal(object)
    """The navigator chose to take a payment; carries the `MemberAccount`."""
    sig_back_requested = Signal()
    """Back to the search."""
    sig_page_requested = Signal(object)
    """One of the member's own pages (a `VisitState` in MEMBER_PAGES): history, methods..."""
    sig_member_language_chosen = Signal(str)
    """The navigator switched the member's language to the one in the member's preferences."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.account: MemberAccount | None = None
        self.identity = label()
        self.plan = label()
        self.balance = label("heading")
        self.standing = label("banner")  # "Pay $123.45 by March 23 to keep your coverage."
        self.coverage_state = label("muted")
        self.pending = label("banner")
        self.pending.hide()
        self.language_offer = QWidget()  # "Minh prefers Tiếng Việt. [Use Tiếng Việt for ...]"
        self.language_note = label()
        self.use_language = button("language")
        offer = FlowLayout(self.language_offer, spacing=16)
        for widget in (self.language_note, self.use_language):
            offer.addWidget(widget)
        self.language_offer.hide()
        self.offered_language = ""
        self.invoices = QTableWidget(0, 4)
        self.invoices.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.invoices.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.invoices.verticalHeader().hide()
        self.invoices.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.pay = button("pay", primary=True)
        self.back = button("back")
        self.primary, self.back_button = self.pay, self.back
        row = QWidget()  # the actions wrap onto more rows when the text is large
        flow = FlowLayout(row, spacing=16)
        for widget in (self.back, self.pay):
            flow.addWidget(widget)
        self.pages_heading = label()
        self.pages_row = QWidget()
        self._pages = FlowLayout(self.pages_row, spacing=16)
        self.page_buttons: dict[object, tuple[QPushButton, str]] = {}
        for widget in (self.identity, self.language_offer, self.plan, self.coverage_state,
                       self.standing, self.balance, self.pending, row, self.error,
                       self.invoices, self.pages_heading, self.pages_row):
            self.layout_.addWidget(widget)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.pay.clicked.connect(self._on_pay_clicked)
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.use_language.clicked.connect(self._on_use_language_clicked)

    def retranslate_ui(self) -> None:
        self.invoices.setHorizontalHeaderLabels(
            [_("Coverage month"), _("Amount due"), _("Due date"), _("Status")])
        self.invoices.setAccessibleName(_("Invoices"))
        self.pay.setText(_("Take a payment"))
        self.pay.setAccessibleName(_("Take a payment"))
        self.pages_heading.setText(_("More for this member"))
        for page_button, words in self.page_buttons.values():
            page_button.setText(_(words))
            page_button.setAccessibleName(_(words))
        self.back.setText(_("Back to search"))
        self.back.setAccessibleName(_("Back to search"))
        if self.account is not None:
            self._render(self.account)
        else:
            self.heading.setText(_("Member"))

    def add_page(self, page: object, icon_meaning: str, words: str) -> QPushButton:
        """A button that opens one of the member's pages; `words` is marked with N_()."""
        page_button = button(icon_meaning)
        page_button.clicked.connect(lambda: self.sig_page_requested.emit(page))
        self.page_buttons[page] = (page_button, words)
        self._pages.addWidget(page_button)
        page_button.setText(_(words))
        page_button.setAccessibleName(_(words))
        return page_button

    def page_button(self, page: object) -> QPushButton:
        return self.page_buttons[page][0]

    def load(self, member_id: str) -> None:
        """Read the member's account off the UI thread and show it."""
        self.clear_error()
        vault = self.ctx.core.vault
        self.ctx.runner.run(lambda: get_account(member_id, vault=vault),
                            on_done=self._render, on_error=self.show_error)

    def clear(self) -> None:
        """Forget the member (end of visit)."""
        self.account = None
        self.invoices.setRowCount(0)
        for widget in (self.identity, self.plan, self.balance, self.pending, self.standing,
                       self.coverage_state):
            widget.clear()

    def _render(self, account: MemberAccount) -> None:
        self.account = account
        member = account.member
        self.heading.setText(line_start(member.full_name))
        self.identity.setText(_("Member ID {member_id} · born {birth} · {phone}").format(
            member_id=isolate(member.member_id), birth=format_date(member.date_of_birth),
            phone=isolate(display_phone(member.phone))))
        plan = account.plan
        self.plan.setText(
            _("Plan: {plan} ({metal}) from {issuer}. Monthly premium you pay: {net}.").format(
                plan=plan.name, metal=plan.metal_level, issuer=plan.issuer,
                net=format_money(member.net_premium))
            if plan else _("Plan details are not yet in this kiosk.")
        )
        self.balance.setText(_("Balance due: {amount}").format(
            amount=format_money(max(account.balance, account.balance.zero()))))
        self._render_pending(account)
        self._render_language_offer(account)
        self._render_invoices(account)
        self._render_standing(account)
        for widget in (self.identity, self.plan, self.balance, self.standing,
                       self.coverage_state):
            widget.setAccessibleName(widget.text())
        self.pay.setFocus()

    def _render_language_offer(self, account: MemberAccount) -> None:
        """Offer the language the member's preferences name, when the visit uses another."""
        preferred = kiosk_language(account.member.preferred_language)
        offered = (preferred if preferred in LANGUAGES
                   and preferred != self.ctx.member_language else "")
        self.offered_language = offered or ""
        self.language_offer.setVisible(bool(offered))
        if offered:
            name = language_name(offered)
            self.language_note.setText(_("{name} prefers {language}.").format(
                name=isolate(account.member.first_name), language=isolate(name)))
            self.language_note.setAccessibleName(self.language_note.text())
            words = _("Use {language} for the member").format(language=name)
            self.use_language.setText(words)
            self.use_language.setAccessibleName(words)

    def _on_use_language_clicked(self) -> None:
        if self.offered_language:
            self.sig_member_language_chosen.emit(self.offered_language)
            self.language_offer.hide()

    def _render_standing(self, account: MemberAccount) -> None:
        settings = self.ctx.core.settings
        today = self.ctx.core.clock.now().astimezone(ZoneInfo(settings.timezone)).date()
        standing = standing_of(account, today=today)
        self.standing.setText(notice_text(standing))
        self.coverage_state.setText(_("Coverage: {state}").format(state=state_text(standing)))

    def _render_pending(self, account: MemberAccount) -> None:
        count = len(account.pending)
        self.pending.setVisible(count > 0)
        if count:
            self.pending.setText(ngettext(
                "{n} payment taken here is waiting to be confirmed by the exchange; "
                "it is already counted in the balance.",
                "{n} payments taken here are waiting to be confirmed by the exchange; "
                "they are already counted in the balance.", count).format(n=count))
            self.pending.setAccessibleName(self.pending.text())

    def _render_invoices(self, account: MemberAccount) -> None:
        self.invoices.setRowCount(len(account.invoices))
        for row, inv in enumerate(account.invoices):
            paid = inv.status is InvoiceStatus.PAID
            status = _("Paid") if paid else _("Unpaid")
            if inv.is_binder and not paid:
                status = _("Unpaid — first payment")
            cells = (format_month(inv.coverage_month), format_money(inv.amount_due),
                     format_date(inv.due_date), status)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter | (
                    Qt.AlignmentFlag.AlignRight if col == 1 else Qt.AlignmentFlag.AlignLeft))
                self.invoices.setItem(row, col, item)
        self.invoices.resizeRowsToContents()

    def _on_pay_clicked(self) -> None:
        if self.account is not None:
            self.sig_pay_requested.emit(self.account)
