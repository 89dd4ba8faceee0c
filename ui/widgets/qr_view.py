"""A QR code for a link the member opens on their phone, with the short link written under it.

Its accessible interface says what the code is for and reads out the short link, since a
screen-reader user cannot scan the picture.
"""

from __future__ import annotations

import io

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QPixmap
from PySide6.QtWidgets import QAccessibleWidget, QLabel, QVBoxLayout, QWidget

from kiosk.i18n import _


def qr_pixmap(text: str, scale: int = 8) -> QPixmap:
    """A QR code of `text`, drawn by segno (dark on light, with its quiet zone)."""
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=4)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class QrView(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.url = ""
        self.short = ""
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column = QVBoxLayout(self)
        column.addWidget(self.picture)
        column.addWidget(self.caption)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def show_link(self, url: str, short: str) -> None:
        """Draw the code for `url` and write `short` under it."""
        self.url, self.short = url, short
        self.picture.setPixmap(qr_pixmap(url) if url else QPixmap())
        self.caption.setText(short)

    def clear(self) -> None:
        self.show_link("", "")


class QrViewAccessible(QAccessibleWidget):
    def __init__(self, widget: QrView) -> None:
        super().__init__(widget, QAccessible.Role.Graphic, _("QR code"))
        self.view = widget

    def text(self, kind: QAccessible.Text) -> str:
        if kind == QAccessible.Text.Name:
            return _("QR code to pay on your phone")
        if kind == QAccessible.Text.Description:
            if not self.view.short:
                return _("No link yet.")
            return _("Scan it with your phone's camera, or type this link: {link}").format(
                link=self.view.short)
        return super().text(kind)


def _factory(classname: str, obj: object) -> QAccessibleWidget | None:
    if classname == "QrView" and isinstance(obj, QrView):
        return QrViewAccessible(obj)
    return None


QAccessible.installFactory(_factory)
