"""What every screen shares: a heading, an error line tied to a field, and retranslation."""

from __future__ import annotations

from PySide6.QtGui import QAccessible, QAccessibleEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ui.context import ScreenContext
from ui.errors import message_for
from ui.icons import icon


def label(role: str = "", *, wrap: bool = True) -> QLabel:
    """A label with a stylesheet role (heading, muted, error, banner...)."""
    widget = QLabel()
    widget.setWordWrap(wrap)
    if role:
        widget.setProperty("role", role)
    return widget


def button(meaning: str | None = None, *, primary: bool = False) -> QPushButton:
    widget = QPushButton()
    if meaning:
        widget.setIcon(icon(meaning, "#ffffff" if primary else "#1a1a1a"))
    if primary:
        widget.setProperty("role", "primary")
        widget.setDefault(True)
    return widget


def line_edit(*, secret: bool = False) -> QLineEdit:
    widget = QLineEdit()
    if secret:
        widget.setEchoMode(QLineEdit.EchoMode.Password)
    return widget


class Screen(QWidget):
    """Base of every screen. Subclasses build widgets, then call `retranslate_ui()`."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(32, 24, 32, 24)
        self.layout_.setSpacing(14)
        self.heading = label("heading")
        self.heading.setAccessibleName("heading")
        self.layout_.addWidget(self.heading)
        self.error = label("error")
        self.error.hide()

    def retranslate_ui(self) -> None:
        """Re-apply every text and accessible name in the current language."""
        raise NotImplementedError

    def show_error(self, error: Exception | str, field: QWidget | None = None) -> None:
        """Show a message near the field it is about, move focus there, and announce it."""
        text = error if isinstance(error, str) else message_for(error)
        self.error.setText(text)
        self.error.setAccessibleName(text)
        self.error.show()
        (field or self.error).setFocus()
        event = QAccessibleEvent(self.error, QAccessible.Event.Alert)
        QAccessible.updateAccessibility(event)

    def clear_error(self) -> None:
        self.error.clear()
        self.error.hide()

    def on_shown(self) -> None:
        """Called each time the screen comes to the front; put the focus where work starts."""
