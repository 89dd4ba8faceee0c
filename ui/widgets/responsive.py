"""A pair of parts shown side by side when there is room and one above the other when there is
not (large text, narrow or portrait screens), so neither is ever cut off."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QLayout, QWidget


class SideBySide(QWidget):
    def __init__(self, first: QWidget | QLayout, second: QWidget, *, gap: int = 24) -> None:
        super().__init__()
        self.first = first if isinstance(first, QWidget) else self._wrap(first)
        self.second = second
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(gap)
        self.box.addWidget(self.first, 1)
        self.box.addWidget(self.second, 0, Qt.AlignmentFlag.AlignTop)

    @staticmethod
    def _wrap(layout: QLayout) -> QWidget:
        holder = QWidget()
        layout.setContentsMargins(0, 0, 0, 0)
        holder.setLayout(layout)
        return holder

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        needed = (self.first.minimumSizeHint().width() + self.second.sizeHint().width()
                  + self.box.spacing())
        direction = (QBoxLayout.Direction.TopToBottom if needed > event.size().width()
                     else QBoxLayout.Direction.LeftToRight)
        if direction != self.box.direction():
            self.box.setDirection(direction)
            self.updateGeometry()
        super().resizeEvent(event)

    def minimumSizeHint(self):  # type: ignore[no-untyped-def]  # noqa: N802 - Qt's name
        """Narrow enough to stack: the wider of the two parts, not their sum."""
        hint = super().minimumSizeHint()
        width = max(self.first.minimumSizeHint().width(), self.second.minimumSizeHint().width())
        hint.setWidth(width)
        return hint
