"""Messages and reminders: for each kind of message (bills, payment reminders, receipts,
notices) how it reaches the member and in which language, and how many days before each due
date a payment reminder is sent. A plain sentence sums up the reminders as chosen."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from babel.lists import format_list
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.account import (
    MAX_REMINDER_DAYS_BEFORE,
    MAX_REMINDERS,
    Channel,
    MessageKind,
    MessagePreference,
    Preferences,
)
from kiosk.i18n import ALL_LANGUAGES, N_, _, current_language, language_name, ngettext
from kiosk.services.payments import PaymentContext
from kiosk.services.preferences import PreferencesView, current_preferences, set_preferences
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label
from ui.widgets.flow import FlowLayout

KIND_WORDS = {MessageKind.BILLS: N_("Bills"),
              MessageKind.PAYMENT_REMINDERS: N_("Payment reminders"),
              MessageKind.RECEIPTS: N_("Receipts"), MessageKind.NOTICES: N_("Notices")}
CHANNEL_WORDS = {Channel.EMAIL: N_("Email"), Channel.SMS: N_("Text message"),
                 Channel.MAIL: N_("Mail")}
_BY_CHANNEL = {Channel.EMAIL: N_("by email"), Channel.SMS: N_("by text message"),
               Channel.MAIL: N_("by mail")}
COMMON_DAYS = (14, 7, 3, 1, 0)


def day_words(days: int) -> str:
    """A reminder day as a choice: "7 days before", "On the due date"."""
    if days == 0:
        return _("On the due date")
    return ngettext("{count} day before", "{count} days before", days).format(count=days)


def _language_in_ui(code: str) -> str:
    """The language's name in the navigator's language ("Spanish", "español")."""
    try:
        name = Locale.parse(current_language()).languages.get(code)
    except (UnknownLocaleError, ValueError):
        name = None
    return str(name) if name else language_name(code)


def _listed(items: list[str]) -> str:
    try:
        return str(format_list(items, locale=current_language()))
    except (UnknownLocaleError, ValueError):
        return ", ".join(items)


def reminder_summary(channel: Channel, language: str, days: list[int]) -> str:
    """"Reminders by text message 7, 3 and 1 days before each due date, in Spanish." """
    before = sorted((d for d in days if d > 0), reverse=True)
    if not before and 0 not in days:
        return _("No payment reminders are sent.")
    if before:
        when = ngettext("{days} day before each due date", "{days} days before each due date",
                        max(before)).format(days=_listed([str(d) for d in before]))
        if 0 in days:
            when = _("{before}, and on the due date").format(before=when)
    else:
        when = _("on each due date")
    return _("Reminders {channel} {when}, in {language}.").format(
        channel=_(_BY_CHANNEL[channel]), when=when, language=_language_in_ui(language))


class _KindRow(QWidget):
    """One kind of message: its name, how it is sent and in which language."""

    def __init__(self, kind: MessageKind) -> None:
        super().__init__()
        self.kind = kind
        self.title = label()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.channel, self.language = QComboBox(), QComboBox()
        for channel in Channel:
            self.channel.addItem("", channel.value)
        for code in ALL_LANGUAGES:
            self.language.addItem(language_name(code), code)
        self.channel_label, self.language_label = label(wrap=False), label(wrap=False)
        self.channel_label.setBuddy(self.channel)
        self.language_label.setBuddy(self.language)
        self.controls = QWidget()  # a channel the member cannot be reached by: message below
        flow = FlowLayout(self.controls, spacing=24)
        for lab, combo in ((self.channel_label, self.channel),
                           (self.language_label, self.language)):
            block = QWidget()
            box = QVBoxLayout(block)
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(lab)
            box.addWidget(combo)
            flow.addWidget(block)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.title)
        box.addWidget(self.controls)

    def retranslate_ui(self) -> None:
        kind = _(KIND_WORDS[self.kind])
        self.title.setText(kind)
        self.channel_label.setText(_("How it is sent"))
        self.language_label.setText(_("Language"))
        for index, channel in enumerate(Channel):
            self.channel.setItemText(index, _(CHANNEL_WORDS[channel]))
        self.channel.setAccessibleName(_("{kind}: how it is sent").format(kind=kind))
        self.language.setAccessibleName(_("{kind}: language").format(kind=kind))

    def show_choice(self, pref: MessagePreference | None) -> None:
        if pref is None:
            return
        self.channel.setCurrentIndex(max(0, self.channel.findData(pref.channel.value)))
        if self.language.findData(pref.language) < 0:  # a language this kiosk has no UI for
            self.language.addItem(pref.language, pref.language)
        self.language.setCurrentIndex(self.language.findData(pref.language))

    def choice(self) -> MessagePreference:
        return MessagePreference(kind=self.kind, channel=Channel(self.channel.currentData()),
                                 language=str(self.language.currentData()))


class PreferencesScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member's account."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.member_id = ""
        self.view: PreferencesView | None = None
        self.pending, self.suggested = label("status-pending"), label("muted")
        self.summary, self.notice = label("banner"), label("status-ok")
        self.rows = {kind: _KindRow(kind) for kind in MessageKind}
        self.days_title, self.days_hint = label(), label("muted")
        self.days: dict[int, QCheckBox] = {}
        self.days_holder = QWidget()
        self.days_flow = FlowLayout(self.days_holder, spacing=16)
        self.another, self.another_label = QComboBox(), label()
        for days in range(MAX_REMINDER_DAYS_BEFORE + 1):
            self.another.addItem("", days)
        self.another.setCurrentIndex(5)
        self.another_label.setBuddy(self.another)
        self.add_day = button("enroll")
        self.save = button("done", primary=True)
        self.back = button("back")
        self.primary, self.back_button = self.save, self.back
        for days in COMMON_DAYS:
            self._day_box(days)
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        font = self.days_title.font()
        font.setBold(True)
        self.days_title.setFont(font)
        for widget in (self.pending, self.suggested, self.summary, self.notice, self.error,
                       *self.rows.values(), self.days_title, self.days_hint, self.days_holder,
                       self.another_label):
            self.layout_.addWidget(widget)
        adding = QWidget()
        flow = FlowLayout(adding, spacing=16)
        flow.addWidget(self.another)
        flow.addWidget(self.add_day)
        self.layout_.addWidget(adding)
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addStretch(1)
        row.addWidget(self.save)
        self.layout_.addLayout(row)
        self.layout_.addStretch(1)
        for widget in (self.pending, self.suggested, self.notice):
            widget.hide()

    def _connect_signals(self) -> None:
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.save.clicked.connect(self._on_save_clicked)
        self.add_day.clicked.connect(self._on_add_day_clicked)
        for row in self.rows.values():
            row.channel.currentIndexChanged.connect(lambda _i: self._summarize())
            row.language.currentIndexChanged.connect(lambda _i: self._summarize())

    def _day_box(self, days: int) -> QCheckBox:
        box = QCheckBox(day_words(days))
        box.setAccessibleName(box.text())
        box.toggled.connect(lambda _on: self._summarize())
        self.days[days] = box
        for shown in self.days.values():  # keep the days in order, largest first
            self.days_flow.removeWidget(shown)
        self.days = dict(sorted(self.days.items(), reverse=True))
        for shown in self.days.values():
            self.days_flow.addWidget(shown)
        return box

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Messages and reminders"))
        self.pending.setText(_("Waiting to be sent to the exchange"))
        self.suggested.setText(_("The member has not chosen yet. These are suggestions: "
                                 "check them with the member, then save."))
        self.days_title.setText(_("When to send payment reminders"))
        self.days_hint.setText(ngettext("Choose up to {count} day.", "Choose up to {count} days.",
                                        MAX_REMINDERS).format(count=MAX_REMINDERS))
        self.another_label.setText(_("Another day"))
        self.another.setAccessibleName(_("Another day for a reminder"))
        for index in range(self.another.count()):
            self.another.setItemText(index, day_words(int(self.another.itemData(index))))
        for row in self.rows.values():
            row.retranslate_ui()
        for days, box in self.days.items():
            box.setText(day_words(days))
            box.setAccessibleName(box.text())
        for widget, words in ((self.add_day, _("Add this day")),
                              (self.save, _("Save the choices")), (self.back, _("Back"))):
            widget.setText(words)
            widget.setAccessibleName(words)
        for note in (self.pending, self.suggested):
            note.setAccessibleName(note.text())
        self._summarize()

    # -- reading ----------------------------------------------------------------------------

    def show_member(self, member_id: str) -> None:
        """Show this member's preferences (read off the UI thread)."""
        self.clear()
        self.member_id = member_id
        self.refresh()

    def refresh(self) -> None:
        """Read the preferences again (after a change or a sync pass)."""
        vault, member_id = self.ctx.core.vault, self.member_id
        if member_id:
            self.ctx.runner.run(lambda: current_preferences(member_id, vault=vault),
                                on_done=self._on_read, on_error=self.show_error)

    def _on_read(self, view: PreferencesView) -> None:
        if view.member_id != self.member_id:
            return  # a late answer for a member no longer shown
        self.view = view
        for kind, row in self.rows.items():
            row.show_choice(view.preferences.for_kind(kind))
        self._show_days(view.preferences.reminder_days)
        self.pending.setVisible(view.pending)
        self.suggested.setVisible(not view.chosen)
        self._summarize()

    def _show_days(self, chosen: tuple[int, ...]) -> None:
        for days in [d for d in self.days if d not in COMMON_DAYS]:
            box = self.days.pop(days)
            self.days_flow.removeWidget(box)
            box.deleteLater()
        for days in chosen:
            if days not in self.days:
                self._day_box(days)
        for days, box in self.days.items():
            box.setChecked(days in chosen)

    def chosen_days(self) -> list[int]:
        return sorted((d for d, box in self.days.items() if box.isChecked()), reverse=True)

    def _summarize(self) -> None:
        row = self.rows[MessageKind.PAYMENT_REMINDERS]
        if row.channel.currentData() is None or row.language.currentData() is None:
            return
        self.summary.setText(reminder_summary(Channel(row.channel.currentData()),
                                              str(row.language.currentData()),
                                              self.chosen_days()))
        self.summary.setAccessibleName(self.summary.text())

    def clear(self) -> None:
        """Forget the member: nothing of theirs stays on the screen."""
        self.member_id = ""
        self.view = None
        self._show_days(())
        for widget in (self.pending, self.suggested, self.notice):
            widget.hide()
        self.clear_error()

    def on_shown(self) -> None:
        self.rows[MessageKind.BILLS].channel.setFocus()

    # -- changing ---------------------------------------------------------------------------

    def _on_add_day_clicked(self) -> None:
        days = int(self.another.currentData())
        (self.days.get(days) or self._day_box(days)).setChecked(True)

    def preferences(self) -> Preferences:
        """The choices as shown on the screen."""
        return Preferences(messages=tuple(row.choice() for row in self.rows.values()),
                           reminder_days=tuple(self.chosen_days()))

    def _context(self) -> PaymentContext:
        core, session = self.ctx.core, self.ctx.session
        assert session is not None
        return PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                              staff=session)

    def _on_save_clicked(self) -> None:
        if not self.member_id:
            return
        self.clear_error()
        self.notice.hide()
        core, pay_ctx = self.ctx.core, self._context()
        member_id, chosen = self.member_id, self.preferences()
        self.ctx.runner.run(
            lambda: set_preferences(member_id, chosen, ctx=pay_ctx, vault=core.vault,
                                    clock=core.clock),
            on_done=lambda _changed: self._on_saved(), on_error=self._on_save_failed)

    def _on_saved(self) -> None:
        words = _("Saved. The choices go to the exchange now, or when the connection returns. "
                  "Until then they show as waiting to be sent.")
        self.notice.setText(words)
        self.notice.setAccessibleName(words)
        self.notice.show()
        self.ctx.narrator.say(words)
        self.ctx.nudge_sync()
        self.refresh()

    def _on_save_failed(self, error: Exception) -> None:
        field = str(getattr(error, "field", "") or "")
        row = next((r for k, r in self.rows.items() if k.value == field), None)
        if row is not None:
            self.show_error(error, row.controls)  # under that kind's row
            row.channel.setFocus()
        elif field == "reminder_days":
            self.show_error(error, self.days_holder)
            next(iter(self.days.values())).setFocus()
        else:
            self.show_error(error)

