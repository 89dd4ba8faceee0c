"""An on-screen numeric keypad for amounts and codes, usable by touch, mouse or keyboard.

It types into a target line edit. Like accessible kiosk keypads it also works from a physical
keypad: the arrow keys move between keys, Enter (or Space) presses the key in focus, and digit
keys type directly. Every key is a real button with an accessible name ("7", "Delete last
digit", "Done"), so screen readers announce it without a custom interface. The keypad is one
stop in the tab order (the key last used); the arrows move inside it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QLineEdit, QPushButton, QWidget

from kiosk.i18n import _

_LAYOUT = (("1", "2", "3"), ("4", "5", "6"), ("7", "8", "9"), (".", "0", "back"))
_MOVES = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Up: (-1, 0),
          Qt.Key.Key_Down: (1, 0)}


class Keypad(QWidget):
    sig_done = Signal()
    """The Done key was pressed."""

    def __init__(self, target: QLineEdit, *, decimal: bool = True) -> None:
        super().__init__()
        self.target = target
        self.keys: dict[tuple[int, int], QPushButton] = {}
        grid = QGridLayout(self)
        grid.setSpacing(8)
        for row, names in enumerate(_LAYOUT):
            for col, name in enumerate(names):
                key = QPushButton()
                key.setProperty("key", name)
                key.setVisible(decimal or name != ".")
                key.setMinimumSize(64, 64)
                key.clicked.connect(lambda _c=False, n=name: self._press(n))
                key.installEventFilter(self)
                grid.addWidget(key, row, col)
                self.keys[(row, col)] = key
        self.done = QPushButton()
        self.done.setProperty("role", "primary")
        self.done.setMinimumHeight(64)
        self.done.clicked.connect(self.sig_done.emit)
        self.done.installEventFilter(self)
        grid.addWidget(self.done, len(_LAYOUT), 0, 1, 3)
        self.keys[(len(_LAYOUT), 0)] = self.done
        self._stop = self.keys[(0, 0)]
        self._make_stop(self._stop)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        self.setAccessibleName(_("Number keypad"))
        for key in self.keys.values():
            name = key.property("key")
            if name == "back":
                key.setProperty("icon_meaning", "delete")  # drawn by ui.icons, no font needed
                key.setAccessibleName(_("Delete last digit"))
            elif name == ".":
                key.setText(".")
                key.setAccessibleName(_("Decimal point"))
            elif name:
                key.setText(str(name))
                key.setAccessibleName(str(name))
        self.done.setText(_("Done"))
        self.done.setAccessibleName(_("Done"))

    def _press(self, name: str) -> None:
        if name == "back":
            self.target.backspace()
        else:
            self.target.insert(name)
        self.target.textEdited.emit(self.target.text())

    def ordered_keys(self) -> list[QPushButton]:
        """The keys in reading order."""
        return [key for _pos, key in sorted(self.keys.items()) if not key.isHidden()]

    def tab_stop(self) -> QPushButton:
        """The one key Tab stops at: the last one used."""
        return self._stop

    def _make_stop(self, key: QPushButton) -> None:
        for other in self.keys.values():
            other.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        key.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._stop = key

    def _position(self) -> tuple[int, int] | None:
        for position, key in self.keys.items():
            if key.hasFocus():
                return position
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Keys pressed on a keypad key: arrows move in the grid (a button alone would move
        along the focus chain instead); digits type; Enter and Space press the key."""
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return self._handle_key(event)
        return super().eventFilter(watched, event)

    def _handle_key(self, event: QKeyEvent) -> bool:
        key, text = event.key(), event.text()
        position = self._position()
        if key in _MOVES and position is not None:
            self._move(position, *_MOVES[Qt.Key(key)])
            return True
        if text.isdigit() or (text == "." and not self.keys[(3, 0)].isHidden()):
            self._press(text)
            return True
        if key == Qt.Key.Key_Backspace:
            self._press("back")
            return True
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if not self._handle_key(event):
            super().keyPressEvent(event)

    def _move(self, position: tuple[int, int], d_row: int, d_col: int) -> None:
        row, col = position
        last_row = len(_LAYOUT)
        row = min(max(row + d_row, 0), last_row)
        col = 0 if row == last_row else min(max(col + d_col, 0), 2)
        target = self.keys[(row, col)]
        if target.isHidden():
            target = self.keys[(row, col + (1 if d_col >= 0 else -1))] if 0 < col + 1 < 3 \
                else self.keys[(row, 1)]
        self._make_stop(target)
        target.setFocus(Qt.FocusReason.TabFocusReason)
