"""The header on every screen: site, who is signed in, delivery status, language, sign-out."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout

from kiosk.i18n import LANGUAGES, _, current_language, language_name, ngettext
from sync.worker import Connection, SyncStatus
from ui.icons import icon
from ui.screens.base import button, label

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
        self.language = QComboBox()
        for code in LANGUAGES:
            self.language.addItem(language_name(code), code)
        self.sign_out = button("sign_out")
        self.sign_out.hide()
        for widget in (self.language, self.sign_out):
            widget.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        who = QVBoxLayout()
        who.setSpacing(0)
        who.addWidget(self.title)
        who.addWidget(self.who)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 6, 16, 6)
        row.addLayout(who, 3)
        row.addWidget(self.status_icon)
        row.addWidget(self.status_text, 3)
        row.addWidget(self.language)
        row.addWidget(self.sign_out)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.language.currentIndexChanged.connect(self._on_language_current_index_changed)
        self.sign_out.clicked.connect(self.sig_sign_out_requested.emit)

    def retranslate_ui(self) -> None:
        self.title.setText(self.site)
        self.title.setAccessibleName(self.site)
        self.language.setAccessibleName(_("Language"))
        self.sign_out.setText(_("Sign out"))
        self.sign_out.setAccessibleName(_("Sign out"))
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
            Connection.OFFLINE: _("Offline"),
            Connection.SYNCING: _("Sending…"),
            Connection.PAUSED: _("Sending paused — call a supervisor"),
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
        if self.status is not None:
            self.status_icon.setPixmap(icon(_STATUS_ICON[self.status.connection]).pixmap(28, 28))

    def _on_language_current_index_changed(self, index: int) -> None:
        self.sig_language_chosen.emit(str(self.language.itemData(index)))


def _age(since: dt.datetime) -> str:
    minutes = max(0, int((dt.datetime.now(dt.UTC) - since).total_seconds() // 60))
    if minutes < 60:
        return ngettext("{n} min", "{n} min", minutes).format(n=minutes)
    hours = minutes // 60
    if hours < 48:
        return ngettext("{n} h", "{n} h", hours).format(n=hours)
    return ngettext("{n} day", "{n} days", hours // 24).format(n=hours // 24)
