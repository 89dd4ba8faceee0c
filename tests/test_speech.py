"""Speech mode reads the heading of each screen, the control in focus and every error; it
repeats and stops on request, turns off at the end of each visit, and stays silent (without
failing) where no speech engine is installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core
from kiosk.services.auth import EnrollStaff, enroll_staff
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.main_window import MainWindow
from ui.tasks import TaskRunner


@pytest.fixture
def window(core: Core, qtbot: QtBot) -> Iterator[MainWindow]:
    enroll_staff(EnrollStaff(username="nav", display_name="Nav",
                             password="a long enough password"), vault=core.vault,
                 clock=core.clock)
    runner = TaskRunner()
    built = MainWindow(ScreenContext(core=core, runner=runner), SyncBridge())
    qtbot.addWidget(built)
    built.show()
    yield built
    runner.shutdown()


def test_speech_reads_focus_and_errors_and_repeats(window: MainWindow, qtbot: QtBot) -> None:
    narrator = window.ctx.narrator
    window._on_header_speech_requested("on")
    assert narrator.enabled and window.header.speech_on
    window.sign_in.password.setFocus()
    qtbot.waitUntil(lambda: narrator.said and narrator.said[-1] == "Password, text field")
    qtbot.keyClicks(window.sign_in.username, "nav")
    qtbot.mouseClick(window.sign_in.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not right" in narrator.said[-1], timeout=10000)
    count = len(narrator.said)
    window._on_header_speech_requested("repeat")
    assert len(narrator.said) == count + 1 and narrator.said[-1] == narrator.said[-2]
    window._on_header_speech_requested("louder")
    assert narrator.said[-1] == "Volume 90%"
    window._on_header_speech_requested("stop")  # stops without failing, engine or not


def test_speech_is_off_by_default_and_after_each_visit(window: MainWindow) -> None:
    narrator = window.ctx.narrator
    window.sign_in.code.setFocus()
    assert list(narrator.said) == []
    window._on_header_speech_requested("on")
    window._forget_member()
    assert not narrator.enabled and not window.header.speech_on
    before = len(narrator.said)
    narrator.say("not spoken")
    assert len(narrator.said) == before


def test_the_screen_heading_is_read_when_a_screen_appears(window: MainWindow) -> None:
    window._on_header_speech_requested("on")
    window._show_state()
    assert "Staff sign-in" in window.ctx.narrator.said


def test_no_speech_engine_means_silence_not_failure(window: MainWindow) -> None:
    narrator = window.ctx.narrator
    available = narrator.available  # False here: no engine on this machine (or no extra)
    narrator.set_enabled(True)
    narrator.say("Hello")
    assert narrator.said[-1] == "Hello"
    assert isinstance(available, bool)
