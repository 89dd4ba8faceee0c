"""Get help: what to do when something is unclear, for the member and for the navigator.
Reachable from the header of every screen."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from kiosk.i18n import _
from ui.screens.base import button, label


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.heading = label("heading")
        self.for_member = label()
        self.for_staff = label()
        self.close_button = button("done", primary=True)
        column = QVBoxLayout(self)
        for widget in (self.heading, self.for_member, self.for_staff):
            column.addWidget(widget)
        column.addWidget(self.close_button)
        self.close_button.clicked.connect(self.accept)
        self.retranslate_ui()
        self.resize(760, self.sizeHint().height())

    def retranslate_ui(self) -> None:
        self.setWindowTitle(_("Get help"))
        self.heading.setText(_("Get help"))
        self.for_member.setText(_(
            "If you are paying: the navigator at the counter can help you with every step. "
            "You can ask for large text, high contrast, another language or for the screen to be "
            "read aloud. Your payment is safe on this kiosk even when the connection is down."))
        self.for_staff.setText(_(
            "Navigators: Enter does the main action of each screen and Escape goes back. "
            "If a payment waits for the exchange, open Waiting payments and press Send now. "
            "If a card is declined, no money was taken. For anything else, call your "
            "supervisor."))
        for widget in (self.heading, self.for_member, self.for_staff):
            widget.setAccessibleName(widget.text())
        self.close_button.setText(_("Close"))
        self.close_button.setAccessibleName(_("Close help"))
