"""The header on every screen: site, who is signed in, delivery status, language, sign-out."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.i18n import LANGUAGES, _, current_language, language_name, ngettext
from sync.worker import Connection, SyncStatus
from ui.icons import icon
from ui.screens.base import button, label
from ui.theme import TEXT_SCALES
from ui.widgets.flow import FlowLayout

_STATUS_ICON = {
    Connection.ONLINE: "online",
    Connection.OFFLINE: "offline",
    Connection.SYNCING: "syncing",
    Connection.PAUSED: "problem",
    Connection.PROBLEM: "problem",
}


class HeaderBar(QFrame):
    sig_language_chosen = Signal(str)
    """The navigator picked a language code."""
    sig_sign_out_requested = Signal()
    """The navigator pressed Sign out."""
    sig_help_requested = Signal()
    """Someone pressed Get help."""
    sig_appearance_chosen = Signal(str, float)
    """A theme name and a text-size factor were chosen from the Display menu."""
    sig_speech_requested = Signal(str)
    """A speech command from the Display menu: on, off, repeat, stop, louder or quieter."""

    def __init__(self, site: str) -> None:
        super().__init__()
        self.setObjectName("header")
        self.site = site
        self.status: SyncStatus | None = None
        self.staff_name = ""
        self.title = label()
        self.who = label("muted")
        self.status_icon = QLabel()
        self.status_text = label()
        self.language_label = QLabel()
        self.language = QComboBox()
        self.language_label.setBuddy(self.language)
        for code in LANGUAGES:
            self.language.addItem(language_name(code), code)
        self.sign_out = button("sign_out")
        self.sign_out.hide()
        self.help = button("help")
        self.display = button("display")
        self.display_menu = QMenu(self)
        self.display.setMenu(self.display_menu)
        self.icon_color = "#1a1a1a"
        self.icons_ready = False  # the icon font loads after the first screen shows
        self.appearance = ("standard", 1.0)
        self.speech_on = False
        for widget in (self.language, self.sign_out, self.help, self.display):
            widget.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._build_layout()
        self._connect_signals()
        self.retranslate_ui()

    def _build_layout(self) -> None:
        """Two groups, side by side when there is room and stacked when there is not (large
        text on a small screen), so nothing in the header is ever cut off."""
        self.left, self.right = QWidget(), QWidget()
        who = QVBoxLayout()
        who.setSpacing(0)
        who.addWidget(self.title)
        who.addWidget(self.who)
        left = QHBoxLayout(self.left)
        left.setContentsMargins(0, 0, 0, 0)
        left.addLayout(who, 3)
        left.addWidget(self.status_icon)
        left.addWidget(self.status_text, 3)
        right = FlowLayout(self.right, align_right=True)
        for widget in (self.language_label, self.language, self.display, self.help,
                       self.sign_out):
            right.addWidget(widget)
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(16, 6, 16, 6)
        self.box.addWidget(self.left, 1)
        self.box.addWidget(self.right)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        needed = self.left.minimumSizeHint().width() + self.right.sizeHint().width() + 48
        # Stacked, the controls get the whole width and wrap onto a second row if needed.
        stacked = needed > event.size().width()
        direction = (QBoxLayout.Direction.TopToBottom if stacked
                     else QBoxLayout.Direction.LeftToRight)
        if direction != self.box.direction():
            self.box.setDirection(direction)
            self.updateGeometry()  # the window's layout gives the header its new height
        super().resizeEvent(event)

    def _connect_signals(self) -> None:
        self.language.currentIndexChanged.connect(self._on_language_current_index_changed)
        self.sign_out.clicked.connect(self.sig_sign_out_requested.emit)
        self.help.clicked.connect(self.sig_help_requested.emit)

    def _fill_display_menu(self) -> None:
        self.display_menu.clear()
        theme, scale = self.appearance
        for name, words in (("standard", _("Standard colours")),
                            ("contrast-light", _("High contrast, light")),
                            ("contrast-dark", _("High contrast, dark"))):
            action = self.display_menu.addAction(words)
            action.setCheckable(True)
            action.setChecked(name == theme)
            action.triggered.connect(lambda _c=False, n=name: self.sig_appearance_chosen.emit(
                n, self.appearance[1]))
        self.display_menu.addSeparator()
        for factor in TEXT_SCALES:
            action = self.display_menu.addAction(_("Text size {percent}%").format(
                percent=round(factor * 100)))
            action.setCheckable(True)
            action.setChecked(abs(factor - scale) < 0.01)
            action.triggered.connect(lambda _c=False, f=factor: self.sig_appearance_chosen.emit(
                self.appearance[0], f))
        self.display_menu.addSeparator()
        speech = self.display_menu.addAction(_("Read the screen aloud"))
        speech.setCheckable(True)
        speech.setChecked(self.speech_on)
        speech.triggered.connect(lambda on: self.sig_speech_requested.emit("on" if on else "off"))
        for command, words in (("repeat", _("Repeat what was said")),
                               ("stop", _("Stop speaking")),
                               ("louder", _("Louder")), ("quieter", _("Quieter"))):
            action = self.display_menu.addAction(words)
            action.setEnabled(self.speech_on)
            action.triggered.connect(lambda _c=False, c=command: self.sig_speech_requested.emit(c))

    def set_speech(self, on: bool) -> None:
        self.speech_on = on
        self._fill_display_menu()

    def set_appearance(self, theme: str, scale: float, icon_color: str) -> None:
        self.appearance = (theme, scale)
        self.icon_color = icon_color
        self.icons_ready = True
        self._fill_display_menu()
        self._render_status()

    def retranslate_ui(self) -> None:
        self.title.setText(self.site)
        self.title.setAccessibleName(self.site)
        self.language.setAccessibleName(_("Language"))
        self.language_label.setText(_("&Language"))
        self.sign_out.setText(_("Sign out"))
        self.sign_out.setAccessibleName(_("Sign out"))
        self.help.setText(_("Get help"))
        self.help.setAccessibleName(_("Get help"))
        self.display.setText(_("Display"))
        self.display.setAccessibleName(_("Display: text size, contrast and speech"))
        self._fill_display_menu()
        self.set_staff(self.staff_name)
        self._render_status()
        index = self.language.findData(current_language())
        if index >= 0 and index != self.language.currentIndex():
            self.language.blockSignals(True)
            self.language.setCurrentIndex(index)
            self.language.blockSignals(False)

    def set_staff(self, display_name: str) -> None:
        self.staff_name = display_name
        self.who.setText(_("Signed in: {name}").format(name=display_name) if display_name else "")
        self.who.setAccessibleName(self.who.text())
        self.sign_out.setVisible(bool(display_name))

    def show_status(self, status: SyncStatus) -> None:
        self.status = status
        self._render_status()

    def status_line(self) -> str:
        """The delivery status in words, e.g. "Offline · 3 waiting (oldest 2 h)"."""
        status = self.status
        if status is None:
            return _("Connecting…")
        words = {
            Connection.ONLINE: _("Online"),
            Connection.OFFLINE: _offline_words(status.reason),
            Connection.SYNCING: _("Sending…"),
            Connection.PAUSED: _paused_words(status.reason),
            Connection.PROBLEM: _("Online, but sending is stuck — open Waiting payments")
            if status.stalled else _("Online"),
        }[status.connection]
        if status.waiting:
            words += " · " + ngettext("{n} waiting", "{n} waiting", status.waiting).format(
                n=status.waiting)
            if status.oldest_waiting_since is not None:
                words += " " + _("(oldest {age})").format(
                    age=_age(status.oldest_waiting_since))
        else:
            words += " · " + _("nothing waiting")
        if status.needs_attention:
            words += " · " + ngettext("{n} needs attention", "{n} need attention",
                                      status.needs_attention).format(n=status.needs_attention)
        return words

    def _render_status(self) -> None:
        text = self.status_line()
        self.status_text.setText(text)
        self.status_text.setAccessibleName(_("Connection status: {status}").format(status=text))
        if self.status is not None and self.icons_ready:
            self.status_icon.setPixmap(icon(_STATUS_ICON[self.status.connection],
                                            self.icon_color).pixmap(28, 28))

    def _on_language_current_index_changed(self, index: int) -> None:
        self.sig_language_chosen.emit(str(self.language.itemData(index)))


def _offline_words(reason: str) -> str:
    """Offline, and why when waiting will not fix it by itself."""
    if reason == "tls_error":
        return _("Offline — the exchange's secure connection is not trusted; call support")
    if reason == "not_configured":
        return _("Offline — no exchange address is set up; call support")
    return _("Offline")


def _paused_words(reason: str) -> str:
    """Sending paused by a refusal of the exchange: what the supervisor must do."""
    if reason == "signature_expired":
        return _("Sending paused — the kiosk's clock is more than 5 minutes off; a supervisor "
                 "must set it")
    return _("Sending paused — call a supervisor")


def _age(since: dt.datetime) -> str:
    minutes = max(0, int((dt.datetime.now(dt.UTC) - since).total_seconds() // 60))
    if minutes < 60:
        return ngettext("{n} min", "{n} min", minutes).format(n=minutes)
    hours = minutes // 60
    if hours < 48:
        return ngettext("{n} h", "{n} h", hours).format(n=hours)
    return ngettext("{n} day", "{n} days", hours // 24).format(n=hours // 24)
