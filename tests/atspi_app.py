"""The kiosk window, run as its own process so `tests/test_atspi.py` can read it over AT-SPI.

Started as `python -m tests.atspi_app DATA_DIR` under Xvfb with Qt's xcb platform and Linux
accessibility forced on. It opens a real vault in DATA_DIR, adds the demo navigator (so the
window opens on staff sign-in), shows the window with the username field focused and prints
one JSON line `{"ready": true, "focus": <name>}`. No exchange and no sync worker are needed.

It then reads one command per line on stdin and answers each with one JSON line on stdout:

    tab             press Tab on the focused widget; answers the new focus's accessible name
    focus           the focused widget's accessible name, as Qt sees it (for diagnosis)
    screen search   sign in through the sign-in screen; answers once the search screen shows
    quit            close the window and exit (so does the end of stdin)

The application name the reader looks for is APP_NAME.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
from PySide6.QtCore import QSocketNotifier, Qt, QTimer
from PySide6.QtGui import QAccessible
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.bootstrap import Core, build_core
from kiosk.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, DEMO_USERNAME, ensure_demo_staff
from kiosk.i18n import set_language
from kiosk.settings import Settings
from kiosk.visit import VisitState
from ui import theme
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.main_window import MainWindow
from ui.tasks import TaskRunner

APP_NAME = "health-connector-kiosk-atspi"
WAIT_MS = 10_000  # how long to wait for focus or a screen before answering with an error


def answer(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def accessible_name(widget: QWidget | None) -> str | None:
    if widget is None:
        return None
    interface = QAccessible.queryAccessibleInterface(widget)
    return interface.text(QAccessible.Text.Name) if interface else ""


class Driver:
    """Owns the window and turns each command line into gestures on it."""

    def __init__(self, app: QApplication, core: Core) -> None:
        self.app = app
        self.runner = TaskRunner()
        self.window = MainWindow(ScreenContext(core=core, runner=self.runner), SyncBridge())
        self.buffer = b""
        self.waiting: set[QTimer] = set()  # kept referenced until they fire
        self.notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
        self.notifier.activated.connect(self._on_notifier_activated)
        self.commands: dict[str, Callable[[], None]] = {
            "tab": self.tab, "focus": self.focus, "screen search": self.sign_in,
            "quit": self.quit,
        }

    def when(self, condition: Callable[[], bool], then: Callable[[bool], None]) -> None:
        """Call `then(True)` once `condition()` holds, or `then(False)` after WAIT_MS, without
        blocking the event loop (the AT-SPI bridge answers the reader from it)."""
        timer = QTimer()
        started = time.monotonic()

        def poll() -> None:
            held = condition()
            if held or time.monotonic() - started > WAIT_MS / 1000:
                timer.stop()
                self.waiting.discard(timer)
                then(held)

        timer.timeout.connect(poll)
        self.waiting.add(timer)
        timer.start(20)

    def show(self) -> None:
        self.window.resize(1280, 800)
        self.window.show()
        self.window.activateWindow()
        username = self.window.sign_in.username
        self.when(lambda: self.app.focusWidget() is username,
                  lambda ok: answer(ready=ok, focus=accessible_name(self.app.focusWidget())))

    def _on_notifier_activated(self) -> None:
        chunk = os.read(sys.stdin.fileno(), 4096)
        if not chunk:
            self.quit()
            return
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.run(line.decode().strip())

    def run(self, command: str) -> None:
        action = self.commands.get(command)
        if action is None:
            answer(ok=False, error=f"unknown command {command!r}")
            return
        action()

    def tab(self) -> None:
        widget = self.app.focusWidget()
        if widget is None:
            answer(ok=False, error="nothing has focus")
            return
        QTest.keyClick(widget, Qt.Key.Key_Tab)
        self.focus()

    def focus(self) -> None:
        widget = self.app.focusWidget()
        answer(ok=widget is not None, focus=accessible_name(widget),
               widget=type(widget).__name__ if widget else None)

    def sign_in(self) -> None:
        screen = self.window.sign_in
        QTest.keyClicks(screen.username, DEMO_USERNAME)
        QTest.keyClicks(screen.password, DEMO_PASSWORD)
        QTest.keyClicks(screen.code, pyotp.TOTP(DEMO_TOTP_SECRET).now())
        QTest.keyClick(screen.code, Qt.Key.Key_Return)
        window = self.window

        def welcomed(ok: bool) -> None:
            if ok:  # the member's start screen: Enter keeps the language in focus (English)
                QTest.keyClick(window.welcome.buttons["en"], Qt.Key.Key_Return)
            answer(ok=ok and window.visit.state is VisitState.FIND_MEMBER,
                   screen=window.visit.state.value, error=None if ok else screen.error.text())

        self.when(lambda: window.visit.state is VisitState.WELCOME, welcomed)

    def quit(self) -> None:
        self.notifier.setEnabled(False)
        self.window.close()
        self.runner.shutdown()
        self.app.quit()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.atspi_app DATA_DIR", file=sys.stderr)
        return 2
    QApplication.setApplicationName(APP_NAME)
    app = QApplication([sys.argv[0]])
    theme.apply(app)
    set_language("en")
    settings = Settings(data_dir=Path(argv[0]), exchange_url="http://127.0.0.1:9",
                        device_token="atspi-test-token-NOT-A-SECRET", site_name="Test Site")
    core = build_core(settings)
    try:
        ensure_demo_staff(vault=core.vault, clock=core.clock)
        driver = Driver(app, core)
        driver.show()
        return int(app.exec())
    finally:
        core.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
