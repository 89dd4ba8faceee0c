"""The Qt binding must not leak or drop references to Python's singletons. PySide6 6.12.0 on
Python 3.11 dropped one reference to None on each Qt call returning nothing and to True on each
signal emitted from Python; a kiosk aborted ("none_dealloc") after some tens of visits. This
fails at once on such a build, long before a counter could reach zero."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot


class _Emitter(QObject):
    sig_ping = Signal()


def test_qt_calls_and_signals_keep_the_reference_counts_of_none_and_true(qtbot: QtBot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    emitter = _Emitter()
    heard: list[int] = []
    emitter.sig_ping.connect(lambda: heard.append(1))
    singletons = {"None": None, "True": True, "False": False}
    before = {name: sys.getrefcount(value) for name, value in singletons.items()}
    for _ in range(500):
        label.setText("x")  # returns nothing
        label.setVisible(False)
        emitter.sig_ping.emit()  # a Python slot run by a signal
    after = {name: sys.getrefcount(value) for name, value in singletons.items()}
    assert len(heard) == 500
    drift = {name: after[name] - before[name] for name in singletons}
    assert all(abs(d) < 50 for d in drift.values()), drift
