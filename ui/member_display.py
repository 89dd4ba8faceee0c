"""The member's own display, on a second screen when one is connected: the amount, the method
and the status in the member's language and in very large type, like the customer-facing
display at a till. It never shows anything the navigator types (no search, no other members).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from kiosk.domain.money import Money
from kiosk.i18n import N_, format_money, translator


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberView:
    """What the member's display shows; `None` fields are left blank."""

    language: str
    amount: Money | None = None
    method: str = ""  # e.g. "Visa ending in 1111"
    status: str = ""  # a stable word: welcome, paying, pending, confirmed, declined


_TITLES = {
    "welcome": N_("Welcome"),
    "paying": N_("Please use the card reader"),
    "pending": N_("Payment accepted — thank you"),
    "confirmed": N_("Payment confirmed — thank you"),
    "declined": N_("The card was declined. No money was taken."),
}
_PENDING = N_("Pending — not yet confirmed by the exchange")


class MemberDisplay(QWidget):
    """A frameless window for the second screen. `show_view` updates it."""

    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint)
        self.setWindowTitle("Health Connector Kiosk")
        self.title, self.amount, self.method, self.status = (QLabel(), QLabel(), QLabel(),
                                                             QLabel())
        column = QVBoxLayout(self)
        column.setContentsMargins(64, 64, 64, 64)
        for widget, px in ((self.title, 48), (self.amount, 120), (self.method, 48),
                           (self.status, 56)):
            widget.setWordWrap(True)
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
            widget.setStyleSheet(f"font-size: {px}px; font-weight: bold;")
            column.addWidget(widget)
        self.view = MemberView(language="en")
        self.show_view(self.view)

    def show_view(self, view: MemberView) -> None:
        """Render `view` in the member's language."""
        self.view = view
        say = translator(view.language).gettext
        self.title.setText(say(_TITLES.get(view.status, _TITLES["welcome"])))
        self.amount.setText(format_money(view.amount, view.language) if view.amount else "")
        self.method.setText(view.method)
        self.status.setText(say(_PENDING) if view.status == "pending" else "")
        for widget in (self.title, self.amount, self.method, self.status):
            widget.setAccessibleName(widget.text())


def second_screen_geometry() -> object | None:
    """The geometry of a second screen, or None when only one is connected."""
    screens = QGuiApplication.screens()
    return screens[1].geometry() if len(screens) > 1 else None
