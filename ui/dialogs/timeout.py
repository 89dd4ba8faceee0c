"""The warning before a member's visit is wiped for lack of activity: a countdown and an
"I need more time" button, announced to assistive technology."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAccessible, QAccessibleEvent
from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from kiosk.i18n import _, ngettext
from ui.screens.base import button, label


class TimeoutWarning(QDialog):
    sig_more_time = Signal()
    """The member asked for more time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.heading = label("heading")
        self.message = label()
        self.more_time = button("done", primary=True)
        column = QVBoxLayout(self)
        for widget in (self.heading, self.message, self.more_time):
            column.addWidget(widget)
        self.more_time.clicked.connect(self._on_more_time_clicked)
        self.seconds = 30
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setWindowTitle(_("Are you still there?"))
        self.heading.setText(_("Are you still there?"))
        self.message.setText(ngettext(
            "For your privacy, this screen will be cleared in {n} second.",
            "For your privacy, this screen will be cleared in {n} seconds.",
            self.seconds).format(n=self.seconds))
        self.message.setAccessibleName(self.message.text())
        self.more_time.setText(_("I need more time"))
        self.more_time.setAccessibleName(_("I need more time"))

    def show_seconds(self, seconds: int) -> None:
        announce = not self.isVisible()
        self.seconds = seconds
        self.retranslate_ui()
        if announce:
            self.open()
            self.more_time.setFocus()
            QAccessible.updateAccessibility(QAccessibleEvent(self.message,
                                                             QAccessible.Event.Alert))

    def _on_more_time_clicked(self) -> None:
        self.sig_more_time.emit()
        self.accept()
