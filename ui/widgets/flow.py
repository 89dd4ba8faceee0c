"""A layout that places its widgets in a row and wraps them onto further rows when the row is
full, like words in a paragraph. Used where a row of controls must survive large text."""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QStyle, QWidget


class FlowLayout(QLayout):
    def __init__(self, parent: QWidget | None = None, *, spacing: int = 8,
                 align_right: bool = False) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._align_right = align_right
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's name
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt's name
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        return self._arrange(QRect(0, 0, width, 0), place=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt's name
        super().setGeometry(rect)
        self._arrange(rect, place=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        visible = [i.sizeHint() for i in self._items if not i.isEmpty()]
        width = sum(s.width() for s in visible) + self._spacing * max(0, len(visible) - 1)
        return QSize(width, max((s.height() for s in visible), default=0))

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt's name
        """As narrow as the widest single widget: everything else wraps."""
        visible = [i.sizeHint() for i in self._items if not i.isEmpty()]
        return QSize(max((s.width() for s in visible), default=0),
                     max((s.height() for s in visible), default=0))

    def _rows(self, width: int) -> list[list[tuple[QLayoutItem, QSize]]]:
        rows: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        used = 0
        for item in self._items:
            if item.isEmpty():
                continue
            size = item.sizeHint()
            needed = size.width() + (self._spacing if rows[-1] else 0)
            if rows[-1] and used + needed > width:
                rows.append([])
                used, needed = 0, size.width()
            rows[-1].append((item, size))
            used += needed
        return [row for row in rows if row]

    def _arrange(self, rect: QRect, *, place: bool) -> int:
        """Lay the rows out left to right, then mirror them for a right-to-left language."""
        owner = self.parentWidget()
        direction = owner.layoutDirection() if owner else Qt.LayoutDirection.LeftToRight
        y = rect.y()
        for row in self._rows(rect.width()):
            height = max(size.height() for _item, size in row)
            row_width = sum(s.width() for _i, s in row) + self._spacing * (len(row) - 1)
            x = rect.x() + (rect.width() - row_width if self._align_right else 0)
            for item, size in row:
                if place:
                    item.setGeometry(QStyle.visualRect(direction, rect, QRect(QPoint(x, y), size)))
                x += size.width() + self._spacing
            y += height + self._spacing
        return max(0, y - rect.y() - self._spacing)


def flow_row(*widgets: QWidget, spacing: int = 8) -> QWidget:
    """A widget holding `widgets` in a wrapping row (buttons, or a label and its field)."""
    holder = QWidget()
    flow = FlowLayout(holder, spacing=spacing)
    for widget in widgets:
        flow.addWidget(widget)
    return holder
