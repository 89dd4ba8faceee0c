"""What every screen shares: a heading, an error line tied to a field, and retranslation."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QAccessibleEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QBoxLayout,
    QFormLayout,
    QFrame,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ui.context import ScreenContext
from ui.errors import message_for


def label(role: str = "", *, wrap: bool = True) -> QLabel:
    """A label with a stylesheet role (heading, muted, error, banner...)."""
    widget = QLabel()
    widget.setWordWrap(wrap)
    if role:
        widget.setProperty("role", role)
    return widget


def button(meaning: str | None = None, *, primary: bool = False) -> QPushButton:
    """A push button; its icon (by meaning) is drawn later by `ui.icons.refresh_icons`, in
    the theme's colours and without loading the icon font at start-up."""
    widget = QPushButton()
    if meaning:
        widget.setProperty("icon_meaning", meaning)
    if primary:
        widget.setProperty("role", "primary")
    return widget


def line_edit(*, secret: bool = False) -> QLineEdit:
    widget = QLineEdit()
    if secret:
        widget.setEchoMode(QLineEdit.EchoMode.Password)
    return widget


def tab_chain(*widgets: QWidget) -> None:
    """Make Tab visit `widgets` in this order (the reading order of the screen)."""
    for first, second in zip(widgets, widgets[1:], strict=False):
        QWidget.setTabOrder(first, second)


class Screen(QWidget):
    """Base of every screen. Subclasses build widgets, then call `retranslate_ui()`."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__()
        self.ctx = ctx
        # The content scrolls vertically when the text is made large; it never scrolls
        # sideways, so nothing is ever cut off at the right edge.
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Tab moves through the controls and the scroll area follows the focus by itself.
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.content = QWidget()
        self.scroll.setWidget(self.content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        self.primary: QPushButton | None = None  # what Enter does when no field has focus
        self.back_button: QPushButton | None = None  # what Escape does
        self.layout_ = QVBoxLayout(self.content)
        self.layout_.setContentsMargins(32, 24, 32, 24)
        self.layout_.setSpacing(14)
        self.heading = label("heading")  # a label's accessible name is its text
        self.layout_.addWidget(self.heading)
        self.error = label("error")
        self.error.hide()
        self._error_home: tuple[QLayout, int] | None = None

    def retranslate_ui(self) -> None:
        """Re-apply every text and accessible name in the current language."""
        raise NotImplementedError

    def show_error(self, error: Exception | str, field: QWidget | None = None) -> None:
        """Show a message right under the field it is about, move focus there, and announce
        it. Without a field it shows in the screen's own place for messages."""
        text = error if isinstance(error, str) else message_for(error)
        self._place_error(field)
        self.error.setText(text)
        self.error.setAccessibleName(text)
        self.error.show()
        (field or self.error).setFocus()
        event = QAccessibleEvent(self.error, QAccessible.Event.Alert)
        QAccessible.updateAccessibility(event)
        self.ctx.narrator.say(text)

    def _place_error(self, field: QWidget | None) -> None:
        """Move the error line into the layout just below `field` (or back home)."""
        if self._error_home is None:
            self._error_home = _layout_slot(self.error)
        target = _layout_slot(field) if field is not None else None
        if target is None:
            target = self._error_home
        if target is None:
            return
        layout, index = target
        current = _layout_slot(self.error)
        if current is not None:
            holder, row = current
            if isinstance(holder, QFormLayout):
                taken = holder.takeRow(row)  # the whole row: removeWidget would leave it empty
                blank = taken.labelItem.widget() if taken.labelItem is not None else None
                if blank is not None:
                    blank.deleteLater()
            else:
                holder.removeWidget(self.error)
            if holder is layout and row < index:
                index -= 1
        if isinstance(layout, QFormLayout):
            layout.insertRow(index + 1, "", self.error)
        elif isinstance(layout, QBoxLayout):
            layout.insertWidget(index + 1 if field is not None else index, self.error)

    def clear_error(self) -> None:
        self.error.clear()
        self.error.hide()

    def on_shown(self) -> None:
        """Called each time the screen comes to the front; put the focus where work starts."""

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Enter activates the focused button, or the screen's main action; Escape goes back.
        The same on every screen, so a keyboard user learns it once."""
        key = event.key()
        focused = self.focusWidget()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if isinstance(focused, QAbstractButton) and focused.isEnabled():
                focused.click()
                return
            if not isinstance(focused, QLineEdit) and _usable(self.primary):
                self.primary.click()  # type: ignore[union-attr]
                return
        elif key == Qt.Key.Key_Escape and _usable(self.back_button):
            self.back_button.click()  # type: ignore[union-attr]
            return
        super().keyPressEvent(event)


def _layout_slot(widget: QWidget) -> tuple[QLayout, int] | None:
    """The layout that holds `widget` and its row (form) or index (box), if any."""
    parent = widget.parentWidget()
    layouts = parent.findChildren(QLayout) if parent is not None else []
    if parent is not None and parent.layout() is not None:
        layouts.insert(0, parent.layout())
    for layout in layouts:
        index = layout.indexOf(widget)
        if index < 0:
            continue
        if isinstance(layout, QFormLayout):
            row, _role = layout.getWidgetPosition(widget)
            return layout, row
        return layout, index
    return None


def _usable(widget: QPushButton | None) -> bool:
    return widget is not None and widget.isVisible() and widget.isEnabled()
