"""A signature pad: the member signs with a finger, a stylus or the mouse.

It keeps the strokes, draws them, and gives the signature as PNG bytes for the vault. It
provides its own accessible interface: a screen reader hears what it is, whether it is empty,
and that a typed name is the alternative for people who cannot sign on a screen.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import (
    QAccessible,
    QAccessibleEvent,
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QTabletEvent,
)
from PySide6.QtWidgets import QAccessibleWidget, QWidget

from kiosk.i18n import _


class SignaturePad(QWidget):
    sig_changed = Signal()
    """A stroke was added or the pad was cleared."""

    def __init__(self) -> None:
        super().__init__()
        self.strokes: list[list[QPointF]] = []
        self.setMinimumSize(480, 180)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.ink = QColor("#000000")

    def is_empty(self) -> bool:
        return not any(len(stroke) > 1 for stroke in self.strokes)

    def clear(self) -> None:
        self.strokes.clear()
        self.update()
        self._changed()

    def _changed(self) -> None:
        self.sig_changed.emit()
        QAccessible.updateAccessibility(
            QAccessibleEvent(self, QAccessible.Event.DescriptionChanged))

    # -- input -----------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self.strokes.append([event.position()])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self.strokes and event.buttons() & Qt.MouseButton.LeftButton:
            self.strokes[-1].append(event.position())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self.strokes:
            self.strokes[-1].append(event.position())
            self._changed()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self.strokes.append([event.position()])
        elif kind == QTabletEvent.Type.TabletMove and self.strokes:
            self.strokes[-1].append(event.position())
            self.update()
        elif kind == QTabletEvent.Type.TabletRelease:
            self._changed()
        event.accept()

    # -- drawing ---------------------------------------------------------------------------
    def _draw(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.ink, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        for stroke in self.strokes:
            for start, end in zip(stroke, stroke[1:], strict=False):
                painter.drawLine(start, end)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        painter.setPen(QPen(QColor("#6b6b6b"), 2, Qt.PenStyle.DashLine))
        baseline = self.height() - 40
        painter.drawLine(QPoint(24, baseline), QPoint(self.width() - 24, baseline))
        self._draw(painter)
        painter.end()

    def png_bytes(self) -> bytes:
        """The signature as a PNG, black on white, the size of the pad."""
        image = QImage(self.size(), QImage.Format.Format_RGB32)
        image.fill(QColor("#ffffff"))
        painter = QPainter(image)
        self._draw(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        return bytes(data.data())


class SignaturePadAccessible(QAccessibleWidget):
    """What assistive technology reads for the pad."""

    def __init__(self, widget: SignaturePad) -> None:
        super().__init__(widget, QAccessible.Role.Canvas, _("Signature pad"))
        self.pad = widget

    def text(self, kind: QAccessible.Text) -> str:
        if kind == QAccessible.Text.Name:
            return _("Signature pad")
        if kind == QAccessible.Text.Description:
            state = _("Empty.") if self.pad.is_empty() else _("Signed.")
            return state + " " + _("Sign with a finger or the mouse. If you cannot sign on "
                                   "the screen, type your name instead.")
        return super().text(kind)


def _factory(classname: str, obj: object) -> QAccessibleWidget | None:
    if classname == "SignaturePad" and isinstance(obj, SignaturePad):
        return SignaturePadAccessible(obj)
    return None


QAccessible.installFactory(_factory)
