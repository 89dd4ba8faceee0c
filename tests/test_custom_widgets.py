"""The custom widgets provide their own accessible interface and do their job: the signature
pad records strokes and gives a PNG; the QR view draws a scannable code and reads out its link."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAccessible, QImage
from pytestqt.qtbot import QtBot

from ui.widgets.qr_view import QrView
from ui.widgets.signature_pad import SignaturePad


def test_the_signature_pad_records_a_signature_and_says_so(qtbot: QtBot) -> None:
    pad = SignaturePad()
    qtbot.addWidget(pad)
    pad.resize(600, 200)
    pad.show()
    access = QAccessible.queryAccessibleInterface(pad)
    assert access.role() == QAccessible.Role.Canvas
    assert access.text(QAccessible.Text.Name) == "Signature pad"
    assert access.text(QAccessible.Text.Description).startswith("Empty.")
    assert pad.is_empty()
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(50, 100))
    for x in range(60, 400, 20):
        qtbot.mouseMove(pad, QPoint(x, 100 + (x % 40)))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(400, 120))
    assert not pad.is_empty()
    assert access.text(QAccessible.Text.Description).startswith("Signed.")
    image = QImage.fromData(pad.png_bytes(), "PNG")
    assert not image.isNull() and image.width() == 600
    dark = sum(1 for x in range(0, 600, 2) for y in range(80, 160, 2)
               if image.pixelColor(x, y).lightness() < 128)
    assert dark > 20  # the ink is in the picture
    pad.clear()
    assert pad.is_empty()


def test_the_qr_view_draws_the_link_and_reads_it_out(qtbot: QtBot) -> None:
    view = QrView()
    qtbot.addWidget(view)
    view.show_link("https://pay.example.org/h/AB12CD", "pay.example.org/h/AB12CD")
    access = QAccessible.queryAccessibleInterface(view)
    assert access.role() == QAccessible.Role.Graphic
    assert "pay.example.org/h/AB12CD" in access.text(QAccessible.Text.Description)
    assert not view.picture.pixmap().isNull()
    assert view.caption.text() == "pay.example.org/h/AB12CD"
