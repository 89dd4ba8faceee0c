"""Every main screen at 1024×768, 1280×800, 1920×1080 and portrait 1080×1920, at 100% and
200% text and in each theme's sizes: nothing is cut off or outside the window. The same walk
makes the README's screenshots (`python -m ui.screenshots`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QLabel

from ui.layout_check import layout_problems
from ui.main_window import MainWindow
from ui.screenshots import ALL_SIZES, demo_window, walk
from ui.theme import Appearance


@pytest.fixture(scope="module")
def problems_by_step() -> Iterator[dict[str, list[str]]]:
    found: dict[str, list[str]] = {}
    with demo_window() as (window, app, runner, worker):
        def check(step: str) -> None:
            for scale in (1.0, 2.0):
                window.set_appearance(Appearance(scale=scale))
                for width, height in ALL_SIZES:
                    window.resize(width, height)
                    app.processEvents()
                    for problem in layout_problems(window):
                        found.setdefault(step, []).append(
                            f"{width}x{height} at {scale:.0%}: {problem}")
            window.set_appearance(Appearance())
            found.setdefault(step, [])

        walk(window, app, runner, worker, check)
    yield found


STEPS = ["sign-in", "welcome", "search", "member", "history", "coverage", "autopay", "disputes",
         "methods", "profile",
         "preferences",
         "payment", "payment-bank",
         "payment-link", "receipt-pending", "receipt-confirmed", "queue", "report", "staff"]


@pytest.mark.parametrize("step", STEPS)
def test_nothing_is_cut_off_at_any_size(problems_by_step: dict[str, list[str]],
                                        step: str) -> None:
    assert step in problems_by_step, "the walk never reached this screen"
    assert problems_by_step[step] == []


def test_the_check_sees_a_cut_off_label(qapp: QApplication) -> None:
    window = QLabel()
    window.resize(400, 300)
    inner = QLabel("A sentence far too long for the narrow label it has been given", window)
    inner.setGeometry(0, 0, 60, 20)
    window.show()
    qapp.processEvents()
    assert any("text needs" in p for p in layout_problems(window))
    assert isinstance(MainWindow, type)
