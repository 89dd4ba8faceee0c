"""The member's automatic and scheduled payments: what each pays from, when, how much, its
state and next run; set one up (or schedule one payment on a later date) with a saved method;
change, pause, resume or cancel one. When the member's plan changes, a panel at the top asks
whether to move the automatic payment to the new plan or cancel it, before anything else."""

from __future__ import annotations

import datetime as dt
import functools
import html
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QHeaderView,
    QLabel,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.account import (
    AutopayAmount,
    AutopayKind,
    AutopaySchedule,
    AutopayStatus,
    AutopayTiming,
)
from kiosk.domain.money import parse_amount
from kiosk.errors import NotFoundError, ValidationError
from kiosk.i18n import N_, _, format_date, format_money, isolate
from kiosk.services.autopay import (
    Autopay,
    AutopayChanged,
    DecisionNeededError,
    SetUpAutopay,
    autopays_needing_decision,
    cancel_autopay,
    change_autopay,
    list_autopays,
    move_autopay_to_plan,
    pause_autopay,
    resume_autopay,
    set_up_autopay,
)
from kiosk.services.methods import MethodKind, SavedMethod, list_methods
from kiosk.services.payments import PaymentContext
from kiosk.services.profile import CoverageSummary, coverage_summary
from kiosk.store.vault import Vault
from ui.context import ScreenContext
from ui.errors import message_for
from ui.screens.base import Screen, button, label, line_edit
from ui.widgets.flow import flow_row

# Each with what it means, for a member who has never had one.
_STATUS = {AutopayStatus.ACTIVE: N_("Active: it runs on its dates"),
           AutopayStatus.PAUSED: N_("Paused: it does not run until resumed"),
           AutopayStatus.CANCELLED: N_("Cancelled"),
           AutopayStatus.COMPLETED: N_("Completed: it has run")}
_EXCHANGE = {"pending": N_("Waiting for the exchange"), "synced": N_("The exchange has it"),
             "needs_attention": N_("Needs attention")}

_row = functools.partial(flow_row, spacing=12)  # rows of this page sit a little apart


@dataclass(frozen=True, slots=True, kw_only=True)
class AutopayView:
    """What the screen shows, read in one go off the UI thread."""

    autopays: list[Autopay]  # recurring first, closed ones included
    methods: list[SavedMethod]  # removed ones too, to describe an old payment
    waiting: list[Autopay]  # tied to the old plan: move or cancel
    plan: CoverageSummary | None  # the member's current plan; None until it is cached


def read_view(member_id: str, *, vault: Vault, today: dt.date) -> AutopayView:
    """Everything the screen needs (pool thread)."""
    try:
        plan: CoverageSummary | None = coverage_summary(member_id, vault=vault)
    except NotFoundError as exc:
        if exc.code != "plan_unknown":
            raise
        plan = None
    return AutopayView(
        autopays=list_autopays(member_id, vault=vault, today=today, include_closed=True),
        methods=list_methods(member_id, vault=vault, include_removed=True),
        waiting=autopays_needing_decision(member_id, vault=vault), plan=plan)


def method_words(method: SavedMethod | None) -> str:
    """"Visa card ending in 4242", "Bank account ending in 6789". Table cells take no
    direction isolates: Qt draws them with a taller fallback font and cuts the cell short."""
    if method is None:
        return _("A payment method no longer saved")
    if method.kind is MethodKind.CARD:
        return _("{brand} card ending in {last4}").format(brand=method.brand.title(),
                                                          last4=method.last4)
    return _("Bank account ending in {last4}").format(last4=method.last4)


def when_words(schedule: AutopaySchedule) -> str:
    if schedule.kind is AutopayKind.ONE_TIME and schedule.run_on is not None:
        return _("Once, on {date}").format(date=format_date(schedule.run_on, fmt="long"))
    if schedule.timing is AutopayTiming.DAY_OF_MONTH:
        return _("On day {day} of each month").format(day=schedule.day_of_month)
    return _("On each due date")


def amount_words(schedule: AutopaySchedule) -> str:
    amount = schedule.fixed_amount
    if schedule.amount_kind is not AutopayAmount.FIXED or amount is None:
        return _("The full amount due")
    if schedule.kind is AutopayKind.ONE_TIME:
        return _("Amount: {amount}").format(amount=format_money(amount))
    return _("{amount} each month").format(amount=format_money(amount))


def state_words(autopay: Autopay) -> str:
    if autopay.plan_changed:
        return _("Waiting for a decision about the plan change")
    exchange = _EXCHANGE.get(str(autopay.exchange_state), str(autopay.exchange_state))
    return f"{_(_STATUS[autopay.status])}\n{_(exchange)}"


def next_run_words(autopay: Autopay) -> str:
    if autopay.next_run is not None:
        return _("Next payment: {date}").format(date=format_date(autopay.next_run, fmt="long"))
    if autopay.plan_changed:
        return _("Next payment: after the plan decision")
    if autopay.status is AutopayStatus.PAUSED:
        return _("Next payment: none while paused")
    return _("Next payment: none")


def _subheading() -> QLabel:
    widget = label()
    widget.setTextFormat(Qt.TextFormat.RichText)
    return widget



def _stack(note: QLabel, *buttons: QWidget) -> QWidget:
    """A message across the page with its buttons under it."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(note)
    column.addWidget(_row(*buttons))
    return holder


def _fields(box: QVBoxLayout, *rows: tuple[QLabel | None, QWidget]) -> None:
    """Each label above its field, as a form with wrapped rows looks. A plain column, not a
    QFormLayout: in a scrolling page QFormLayout under-reports its height for wrapped text,
    and a message placed in it overlaps the field below."""
    for name, field in rows:
        if name is not None:
            name.setBuddy(field)
            box.addWidget(name)
        box.addWidget(field)


class AutopayScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member's account."""
    sig_methods_requested = Signal()
    """The member has no saved method yet: go to Payment methods to add one."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.member_id = ""
        self.view: AutopayView | None = None
        self.editing: Autopay | None = None
        self.today = self._site_today()
        self.decision_text = label("banner")
        self.move_plan, self.drop_plan = button("done"), button("problem")
        self.empty = label("muted")
        self.table = QTableWidget(0, 2)
        self.change, self.pause, self.resume, self.cancel = (
            button("syncing"), button("back"), button("done"), button("problem"))
        self.confirm_text = label("banner")
        self.yes_cancel, self.keep = button("problem"), button("back")
        self.editing_note, self.stop_editing = label("banner"), button("back")
        self.no_methods, self.to_methods = label("banner"), button("pay")
        self.method = QComboBox()
        self.recurring_box, self.recurring_title = QWidget(), _subheading()
        self.blocked = label("banner")
        self.on_due, self.on_day = QRadioButton(), QRadioButton()
        self.day, self.day_hint = line_edit(), label("muted")
        self.full, self.fixed = QRadioButton(), QRadioButton()
        self.fixed_amount = line_edit()
        self.set_up = button("done", primary=True)
        self.one_time_box, self.one_time_title = QWidget(), _subheading()
        self.run_on, self.one_amount = QDateEdit(), line_edit()
        self.run_on_words = label("muted")  # the chosen date in words, to check it aloud
        self.run_on.setCalendarPopup(True)
        self.run_on.setDisplayFormat("yyyy-MM-dd")  # as on the other screens
        self.schedule = button("done")
        self.back = button("back")
        self.primary, self.back_button = self.set_up, self.back
        self._labels = [QLabel() for _unused in range(6)]
        self._cancelling: Autopay | None = None
        self._keep = ""  # the autopay selected before a refresh
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        self._build_top()
        self._build_set_up()
        self._build_one_time()
        self.layout_.addWidget(_row(self.back))
        self.layout_.addStretch(1)

    def _build_top(self) -> None:
        self.decision = _stack(self.decision_text, self.move_plan, self.drop_plan)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.verticalHeader().hide()
        # Both columns share the width and wrap: each cell holds short sentences, and at large
        # text a column sized to its contents would squeeze the other to a word per line.
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confirm = _stack(self.confirm_text, self.yes_cancel, self.keep)
        self.actions_row = _row(self.change, self.pause, self.resume, self.cancel)
        for widget in (self.decision, self.error, self.empty, self.table, self.actions_row,
                       self.confirm):
            self.layout_.addWidget(widget)
        self.decision.hide()
        self.confirm.hide()

    def _build_set_up(self) -> None:
        self.editing_row = _stack(self.editing_note, self.stop_editing)
        self.no_methods_row = _stack(self.no_methods, self.to_methods)
        for widget in (self.editing_row, self.no_methods_row):
            self.layout_.addWidget(widget)
            widget.hide()
        _fields(self.layout_, (self._labels[0], self.method))
        box = QVBoxLayout(self.recurring_box)
        box.setContentsMargins(0, 8, 0, 0)
        for group in ((self.on_due, self.on_day), (self.full, self.fixed)):
            choice = QButtonGroup(self)
            for radio in group:
                choice.addButton(radio)
            group[0].setChecked(True)
        self.set_up_row = _row(self.set_up)  # a message about the form shows under it
        _fields(box, (None, self.recurring_title), (None, self.blocked),
                (self._labels[1], _row(self.on_due, self.on_day)), (self._labels[2], self.day),
                (None, self.day_hint), (self._labels[3], _row(self.full, self.fixed)),
                (self._labels[4], self.fixed_amount), (None, self.set_up_row))
        self._labels[1].setBuddy(self.on_due)
        self._labels[3].setBuddy(self.full)
        self.layout_.addWidget(self.recurring_box)
        self.blocked.hide()

    def _build_one_time(self) -> None:
        box = QVBoxLayout(self.one_time_box)
        box.setContentsMargins(0, 8, 0, 0)
        self.amount_label = QLabel()
        self.schedule_row = _row(self.schedule)
        _fields(box, (None, self.one_time_title), (self._labels[5], self.run_on),
                (None, self.run_on_words), (self.amount_label, self.one_amount),
                (None, self.schedule_row))
        self.layout_.addWidget(self.one_time_box)

    def _connect_signals(self) -> None:
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.to_methods.clicked.connect(self.sig_methods_requested.emit)
        self.table.currentCellChanged.connect(lambda *_args: self._enable())
        # At another width the text wraps differently: fit the rows once the columns settle.
        self.table.horizontalHeader().sectionResized.connect(
            lambda *_args: QTimer.singleShot(0, self, self._fit_table))
        self.day.textEdited.connect(lambda _text: self.on_day.setChecked(True))
        self.fixed_amount.textEdited.connect(lambda _text: self.fixed.setChecked(True))
        self.run_on.dateChanged.connect(lambda _day: self._say_run_on())
        self.set_up.clicked.connect(self._on_set_up_clicked)
        self.schedule.clicked.connect(self._on_schedule_clicked)
        self.change.clicked.connect(self._on_change_clicked)
        self.stop_editing.clicked.connect(self._stop_editing)
        self.pause.clicked.connect(lambda: self._act(pause_autopay))
        self.resume.clicked.connect(lambda: self._act(resume_autopay))
        self.cancel.clicked.connect(lambda: self._ask_cancel(self.selected()))
        self.drop_plan.clicked.connect(lambda: self._ask_cancel(self._waiting()))
        self.yes_cancel.clicked.connect(self._on_yes_cancel_clicked)
        self.keep.clicked.connect(self._close_confirm)
        self.move_plan.clicked.connect(self._on_move_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Automatic payments"))
        self.table.setHorizontalHeaderLabels([_("Payment"), _("State")])
        self.table.setAccessibleName(_("Automatic and scheduled payments"))
        self.recurring_title.setText(f"<b>{html.escape(_('Automatic payment every month'))}</b>")
        self.one_time_title.setText(f"<b>{html.escape(_('Schedule one payment'))}</b>")
        for title, words in ((self.recurring_title, _("Automatic payment every month")),
                             (self.one_time_title, _("Schedule one payment"))):
            title.setAccessibleName(words)
        names = (_("Pay with"), _("When"), _("Day of the month (1 to 31)"), _("Amount"),
                 _("Fixed amount each month"), _("Date of the payment"))
        for lab, name in zip(self._labels, names, strict=True):
            lab.setText(name)
        for field, name in ((self.method, names[0]), (self.day, names[2]),
                            (self.fixed_amount, names[4]), (self.run_on, names[5]),
                            (self.one_amount, _("Amount of the payment"))):
            field.setAccessibleName(name)
        self.amount_label.setText(_("Amount of the payment"))
        self.day_hint.setText(_("In a month with fewer days, it runs on the month's last day."))
        self._retranslate_buttons()
        self._say_run_on()
        self._say_editing()
        self._render()

    def _say_run_on(self) -> None:
        words = format_date(_pydate(self.run_on.date()), fmt="full")
        self.run_on_words.setText(_("That is {date}.").format(date=words))

    def _retranslate_buttons(self) -> None:
        for widget, words in (
                (self.on_due, _("On each due date")), (self.on_day, _("On a day I choose")),
                (self.full, _("The full amount due")), (self.fixed, _("A fixed amount")),
                (self.change, _("Change it")), (self.pause, _("Pause it")),
                (self.resume, _("Resume it")), (self.cancel, _("Cancel it")),
                (self.yes_cancel, _("Yes, cancel it")), (self.keep, _("No, keep it")),
                (self.stop_editing, _("Stop changing")), (self.to_methods, _("Payment methods")),
                (self.schedule, _("Schedule the payment")), (self.back, _("Back")),
                (self.move_plan, _("Move it to the new plan")),
                (self.drop_plan, _("Cancel the automatic payment"))):
            widget.setText(words)
            widget.setAccessibleName(words)
        words = _("Save the changes") if self.editing else _("Set up the automatic payment")
        self.set_up.setText(words)
        self.set_up.setAccessibleName(words)
        if self.editing is not None and self.editing.schedule.kind is AutopayKind.ONE_TIME:
            self.schedule.setText(_("Save the changes"))
            self.schedule.setAccessibleName(_("Save the changes"))

    # -- loading ------------------------------------------------------------------------------

    def show_member(self, member_id: str) -> None:
        """Show this member's automatic payments (read off the UI thread)."""
        self.clear()
        self.member_id = member_id
        self.refresh()

    def clear(self) -> None:
        """Forget the member (end of visit; a shared machine)."""
        self.member_id, self.view, self._cancelling, self._keep = "", None, None, ""
        self.editing = None
        self.editing_row.hide()
        self.recurring_box.show()
        self.one_time_box.show()
        for field in (self.day, self.fixed_amount, self.one_amount):
            field.clear()
        self.on_due.setChecked(True)
        self.full.setChecked(True)
        self.clear_error()
        self._close_confirm()
        self._retranslate_buttons()
        self._render()

    def refresh(self) -> None:
        """Read again (after a change, or when a sync pass brought news)."""
        if not self.member_id:
            return
        core, member_id = self.ctx.core, self.member_id
        self.today = today = self._site_today()
        self.ctx.runner.run(lambda: read_view(member_id, vault=core.vault, today=today),
                            on_done=lambda view: self._on_read(member_id, view),
                            on_error=self.show_error)

    def _site_today(self) -> dt.date:
        core = self.ctx.core
        return core.clock.now().astimezone(ZoneInfo(core.settings.timezone)).date()

    def _on_read(self, member_id: str, view: AutopayView) -> None:
        if member_id != self.member_id:
            return  # a late answer about a member who is gone
        chosen = self.selected()
        self._keep = chosen.autopay_id if chosen else ""  # the same one stays selected
        self.view = view
        if not self.run_on.date().isValid() or self.run_on.date() <= _qdate(self.today):
            self.run_on.setDate(_qdate(self.today + dt.timedelta(days=1)))
        self._render()

    # -- rendering ----------------------------------------------------------------------------

    def _method(self, method_id: str) -> SavedMethod | None:
        methods = self.view.methods if self.view else []
        return next((m for m in methods if m.method_id == method_id), None)

    def _render(self) -> None:
        view = self.view
        autopays = view.autopays if view else []
        self.table.setRowCount(len(autopays))
        for row, autopay in enumerate(autopays):
            schedule = autopay.schedule
            cells = ("\n".join((method_words(self._method(autopay.method_id)),
                                when_words(schedule), amount_words(schedule))),
                     f"{state_words(autopay)}\n{next_run_words(autopay)}")
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
            if autopay.autopay_id == self._keep:
                self.table.selectRow(row)
        self._fit_table()
        self.empty.setText(_("No automatic or scheduled payments yet.") if view else "")
        self.empty.setVisible(view is not None and not autopays)
        self.table.setVisible(bool(autopays))
        self.actions_row.setVisible(bool(autopays))
        self._render_methods()
        self._render_decision()
        self._enable()

    def _fit_table(self) -> None:
        """Tall enough for every row, so the page scrolls and the table never does."""
        self.table.resizeRowsToContents()
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        frame = self.table.frameWidth() * 2
        self.table.setFixedHeight(self.table.horizontalHeader().height() + rows + frame)

    def _render_methods(self) -> None:
        usable = [m for m in (self.view.methods if self.view else []) if not m.removed]
        current = self.method.currentData()
        self.method.clear()
        for method in usable:
            self.method.addItem(method_words(method), method.method_id)
        if current is not None and self.method.findData(current) >= 0:
            self.method.setCurrentIndex(self.method.findData(current))
        self.no_methods.setText(_("This member has no saved card or bank account yet. Add one "
                                  "under Payment methods, then come back here."))
        self.no_methods.setAccessibleName(self.no_methods.text())
        self.no_methods_row.setVisible(self.view is not None and not usable)
        for widget in (self.method, self.set_up, self.schedule):
            widget.setEnabled(bool(usable))

    def _waiting(self) -> Autopay | None:
        return self.view.waiting[0] if self.view and self.view.waiting else None

    def _render_decision(self) -> None:
        waiting, plan = self._waiting(), self.view.plan if self.view else None
        self.decision.setVisible(waiting is not None)
        self.blocked.setVisible(waiting is not None and self.editing is None)
        if waiting is None:
            return
        changes_on = plan.plan_start if plan else waiting.decide_by
        self.decision_text.setText(
            _("The member's plan changes on {date}. This automatic payment from {method} is "
              "still for {old_plan}. Move it to {new_plan}, or cancel it.").format(
                date=format_date(changes_on, fmt="long") if changes_on else "",
                method=method_words(self._method(waiting.method_id)),
                old_plan=waiting.plan_name or isolate(waiting.plan_id.replace("-", "\u2011")),
                new_plan=plan.plan_name if plan else _("the new plan"))
            + "\n" + _("Decide by {date}. Until then it pays only the old plan's months.").format(
                date=format_date(waiting.decide_by, fmt="long") if waiting.decide_by else ""))
        self.decision_text.setAccessibleName(self.decision_text.text())
        if plan is not None:
            self.move_plan.setAccessibleName(_("Move the automatic payment to {plan}").format(
                plan=plan.plan_name))
        self.blocked.setText(message_for(DecisionNeededError()))
        self.blocked.setAccessibleName(self.blocked.text())

    def selected(self) -> Autopay | None:
        row = self.table.currentRow()
        autopays = self.view.autopays if self.view else []
        return autopays[row] if 0 <= row < len(autopays) else None

    def _enable(self) -> None:
        """Only what the selected one can do; a plan change must be answered first."""
        chosen = self.selected()
        status = chosen.status if chosen else None
        decided = chosen is not None and not chosen.plan_changed
        self.change.setEnabled(decided and status in (AutopayStatus.ACTIVE,
                                                      AutopayStatus.PAUSED))
        self.pause.setEnabled(decided and status is AutopayStatus.ACTIVE)
        self.resume.setEnabled(decided and status is AutopayStatus.PAUSED)
        self.cancel.setEnabled(status in (AutopayStatus.ACTIVE, AutopayStatus.PAUSED))

    # -- acting -------------------------------------------------------------------------------

    def _context(self) -> PaymentContext:
        core, session = self.ctx.core, self.ctx.session
        assert session is not None
        return PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                              staff=session)

    def _run(self, call: Callable[[], AutopayChanged]) -> None:
        """Run a change off the UI thread; then send it and read everything again."""
        self.clear_error()
        self.ctx.runner.run(call, on_done=lambda _changed: self._changed(),
                            on_error=self.show_error)

    def _changed(self) -> None:
        self.ctx.nudge_sync()
        self.refresh()

    def _act(self, action: Callable[..., AutopayChanged]) -> None:
        """Pause or resume the selected one."""
        chosen, core, pay_ctx = self.selected(), self.ctx.core, self._context()
        if chosen is not None:
            self._run(lambda: action(chosen.autopay_id, ctx=pay_ctx, vault=core.vault,
                                     clock=core.clock))

    def _ask_cancel(self, autopay: Autopay | None) -> None:
        if autopay is None:
            return
        self._cancelling = autopay
        self.confirm_text.setText(
            _("Cancel this payment? {payment}. It will not run again. To pay automatically "
              "later, set up a new one.").format(payment=self._describe(autopay)))
        self.confirm_text.setAccessibleName(self.confirm_text.text())
        self.confirm.show()
        self.keep.setFocus()
        self.ctx.narrator.say(self.confirm_text.text())

    def _describe(self, autopay: Autopay) -> str:
        """"Visa card ending in 4242: On day 15 of each month"."""
        return _("{method}: {when}").format(method=method_words(self._method(autopay.method_id)),
                                            when=when_words(autopay.schedule))

    def _close_confirm(self) -> None:
        self._cancelling = None
        self.confirm.hide()

    def _on_yes_cancel_clicked(self) -> None:
        autopay, core, pay_ctx = self._cancelling, self.ctx.core, self._context()
        self._close_confirm()
        if autopay is not None:
            self._run(lambda: cancel_autopay(autopay.autopay_id, ctx=pay_ctx, vault=core.vault,
                                             clock=core.clock))

    def _on_move_clicked(self) -> None:
        waiting, core, pay_ctx = self._waiting(), self.ctx.core, self._context()
        if waiting is not None:
            self._run(lambda: move_autopay_to_plan(waiting.autopay_id, ctx=pay_ctx,
                                                   vault=core.vault, clock=core.clock))

    def _on_change_clicked(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        self.editing = chosen
        schedule = chosen.schedule
        if self.method.findData(chosen.method_id) >= 0:
            self.method.setCurrentIndex(self.method.findData(chosen.method_id))
        fixed = schedule.fixed_amount
        amount = f"{fixed.as_decimal():.2f}" if fixed else ""
        if schedule.kind is AutopayKind.ONE_TIME:
            self.run_on.setDate(_qdate(schedule.run_on or self.today))
            self.one_amount.setText(amount)
        else:
            (self.on_day if schedule.timing is AutopayTiming.DAY_OF_MONTH
             else self.on_due).setChecked(True)
            self.day.setText(str(schedule.day_of_month or ""))
            (self.fixed if schedule.amount_kind is AutopayAmount.FIXED else self.full
             ).setChecked(True)
            self.fixed_amount.setText(amount)
        self._show_editing(chosen)

    def _show_editing(self, chosen: Autopay) -> None:
        one_time = chosen.schedule.kind is AutopayKind.ONE_TIME
        self.recurring_box.setVisible(not one_time)
        self.one_time_box.setVisible(one_time)
        self._say_editing()
        self.editing_row.show()
        self._retranslate_buttons()
        self._render_decision()
        (self.run_on if one_time else self.method).setFocus()

    def _say_editing(self) -> None:
        if self.editing is not None:
            self.editing_note.setText(_("Changing this payment: {payment}.").format(
                payment=self._describe(self.editing)))
            self.editing_note.setAccessibleName(self.editing_note.text())

    def _stop_editing(self) -> None:
        self.editing = None
        self.editing_row.hide()
        self.recurring_box.show()
        self.one_time_box.show()
        self._retranslate_buttons()
        self._render_decision()

    def _recurring(self) -> AutopaySchedule:
        """The monthly schedule as typed; checked by the service (pure parsing only here)."""
        on_day, fixed = self.on_day.isChecked(), self.fixed.isChecked()
        day = self.day.text().strip()
        amount = self.fixed_amount.text().strip()
        return AutopaySchedule(
            kind=AutopayKind.RECURRING,
            timing=AutopayTiming.DAY_OF_MONTH if on_day else AutopayTiming.DUE_DATE,
            day_of_month=int(day) if on_day and day.isdigit() else None,
            amount_kind=AutopayAmount.FIXED if fixed else AutopayAmount.FULL_DUE,
            fixed_amount=parse_amount(amount) if fixed and amount else None)

    def _one_time(self) -> AutopaySchedule:
        amount = self.one_amount.text().strip()
        return AutopaySchedule(kind=AutopayKind.ONE_TIME, run_on=_pydate(self.run_on.date()),
                               amount_kind=AutopayAmount.FIXED,
                               fixed_amount=parse_amount(amount) if amount else None)

    def _on_set_up_clicked(self) -> None:
        self.clear_error()
        if self.editing is None and self._waiting() is not None:
            self.show_error(DecisionNeededError(), self.set_up_row)  # the plan change first
            self.set_up.setFocus()
            return
        self._submit(self._recurring, recurring=True)

    def _on_schedule_clicked(self) -> None:
        self.clear_error()
        self._submit(self._one_time, recurring=False)

    def _submit(self, build: Callable[[], AutopaySchedule], *, recurring: bool) -> None:
        try:
            schedule = build()
        except ValidationError as error:  # an amount that cannot be read
            self._on_failed(error, recurring=recurring)
            return
        self.ctx.runner.run(self._saving(schedule), on_done=lambda _changed: self._on_saved(),
                            on_error=lambda error: self._on_failed(error, recurring=recurring))

    def _saving(self, schedule: AutopaySchedule) -> Callable[[], AutopayChanged]:
        """The service call: a change to the one being changed, or a new one."""
        core, pay_ctx, editing = self.ctx.core, self._context(), self.editing
        method_id = str(self.method.currentData() or "")
        if editing is not None:
            return lambda: change_autopay(editing.autopay_id, schedule=schedule,
                                          method_id=method_id or None, ctx=pay_ctx,
                                          vault=core.vault, clock=core.clock)
        cmd = SetUpAutopay(member_id=self.member_id, method_id=method_id, schedule=schedule)
        return lambda: set_up_autopay(cmd, ctx=pay_ctx, vault=core.vault, clock=core.clock)

    def _on_saved(self) -> None:
        for field in (self.day, self.fixed_amount, self.one_amount):
            field.clear()
        self._stop_editing()
        self._changed()

    def _on_failed(self, error: Exception, *, recurring: bool) -> None:
        fields: dict[str, QWidget] = {
            "day_of_month": self.day, "run_on": self.run_on, "method": self.method,
            "amount": self.fixed_amount if recurring else self.one_amount}
        code, field = getattr(error, "code", ""), getattr(error, "field", "")
        if code in ("method_unknown", "method_expired"):
            field = "method"
        if field in fields:
            self.show_error(error, fields[field])
            return
        self.show_error(error, self.set_up_row if recurring else self.schedule_row)
        (self.set_up if recurring else self.schedule).setFocus()


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> dt.date:
    return dt.date(day.year(), day.month(), day.day())

