"""Right to left: Arabic and Persian mirror the whole layout (direction from Babel's locale
data), and amounts and codes stay readable left to right inside right-to-left sentences."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core
from kiosk.i18n import ALL_LANGUAGES, is_right_to_left, isolate, line_start, set_language
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.main_window import MainWindow
from ui.tasks import TaskRunner


@pytest.fixture
def window(core: Core, qtbot: QtBot) -> Iterator[MainWindow]:
    runner = TaskRunner()
    built = MainWindow(ScreenContext(core=core, runner=runner), SyncBridge())
    qtbot.addWidget(built)
    built.resize(1280, 800)
    built.show()
    yield built
    runner.shutdown()
    set_language("en")
    QApplication.setLayoutDirection(Qt.LayoutDirection.LeftToRight)


def test_only_arabic_and_persian_are_right_to_left() -> None:
    assert [code for code in ALL_LANGUAGES if is_right_to_left(code)] == ["ar", "fa"]


@pytest.mark.parametrize("code", ["ar", "fa"])
def test_a_screen_under_a_right_to_left_language_is_mirrored(window: MainWindow,
                                                             qtbot: QtBot, code: str) -> None:
    screen = window.member
    window.stack.setCurrentWidget(screen)
    qtbot.wait(10)

    def x_of(widget: object) -> int:
        return int(widget.mapTo(window, QPoint(0, 0)).x())  # type: ignore[attr-defined]

    assert x_of(screen.back) < x_of(screen.pay)  # left to right: Back on the left
    window._on_header_language_chosen(code)
    qtbot.waitUntil(lambda: x_of(screen.back) > x_of(screen.pay))
    assert window.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
    window._on_header_language_chosen("en")
    qtbot.waitUntil(lambda: x_of(screen.back) < x_of(screen.pay))


def test_a_latin_name_as_heading_starts_where_right_to_left_lines_start(
        window: MainWindow, qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QLabel

    window._on_header_language_chosen("ar")
    probe = QLabel(line_start("José Álvarez"))
    probe.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    probe.resize(400, 40)
    image = probe.grab().toImage()
    inked = [x for x in range(image.width()) for y in range(image.height())
             if image.pixelColor(x, y).lightness() < 128]
    assert inked and min(inked) > image.width() // 2  # drawn at the right, where Arabic starts
    window._on_header_language_chosen("en")
    assert line_start("José Álvarez") == "José Álvarez"


def test_codes_are_isolated_inside_right_to_left_text() -> None:
    sentence = f"رقم العضو {isolate('M-100001')}"
    assert "\u2068M-100001\u2069" in sentence


def test_a_kiosk_that_starts_in_persian_starts_mirrored(core: Core, qtbot: QtBot) -> None:
    """The site's default language (settings) may be right to left: the first screen is."""
    set_language("fa")
    runner = TaskRunner()
    try:
        built = MainWindow(ScreenContext(core=core, runner=runner), SyncBridge())
        qtbot.addWidget(built)
        built.resize(1280, 800)
        built.show()
        assert built.layoutDirection() == Qt.LayoutDirection.RightToLeft
        assert QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
        header = built.header
        qtbot.waitUntil(lambda: header.sign_out.mapTo(built, QPoint(0, 0)).x()
                        < header.language.mapTo(built, QPoint(0, 0)).x())
    finally:
        runner.shutdown()
        set_language("en")
        QApplication.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
