"""Help is reachable from every screen, walks through the common tasks, and speaks the
member's language while a member is at the counter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from kiosk.bootstrap import Core
from kiosk.visit import VisitState
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.dialogs.help import TOPICS
from ui.main_window import MainWindow
from ui.tasks import TaskRunner


@pytest.fixture
def window(core: Core, qtbot: QtBot) -> Iterator[MainWindow]:
    runner = TaskRunner()
    built = MainWindow(ScreenContext(core=core, runner=runner), SyncBridge())
    qtbot.addWidget(built)
    built.show()
    yield built
    runner.shutdown()


def test_every_topic_has_its_guide(window: MainWindow) -> None:
    window._on_header_help_requested()
    dialog = window.help_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.topics.count() == len(TOPICS) >= 7
    seen = []
    for row in range(dialog.topics.count()):
        dialog.topics.setCurrentRow(row)
        seen.append(dialog.text.text())
    assert all(seen) and len(set(seen)) == len(seen)
    assert any("pending" in text.lower() for text in seen)
    assert any(text.startswith("1.") for text in seen)  # step-by-step guides


def test_help_is_in_the_members_language_during_a_visit(window: MainWindow) -> None:
    window.visit.state = VisitState.MEMBER
    window.ctx.member_language = "es"
    window._on_header_help_requested()
    dialog = window.help_dialog
    assert dialog is not None
    assert dialog.windowTitle() == "Pedir ayuda"
