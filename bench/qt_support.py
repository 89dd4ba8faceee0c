"""For the benchmarks that run the real window (each in a child process, offscreen): building
the window as `ui.app` does, signing in through the window's own slots, waiting on the event
loop, and a heartbeat that measures how long the UI thread goes without running its timers.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.report import percentile  # noqa: E402
from kiosk.bootstrap import Core  # noqa: E402
from kiosk.demo import ensure_demo_staff  # noqa: E402
from kiosk.domain.staff import Role, StaffSession  # noqa: E402
from kiosk.i18n import set_language  # noqa: E402
from ui import theme  # noqa: E402
from ui.app import freeze_startup_objects  # noqa: E402
from ui.bridge import SyncBridge  # noqa: E402
from ui.context import ScreenContext  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.tasks import TaskRunner  # noqa: E402

HEARTBEAT_MS = 5


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    theme.apply(app)
    set_language("en")
    return app


@dataclass(slots=True)
class Window:
    window: MainWindow
    runner: TaskRunner
    bridge: SyncBridge

    def close(self) -> None:
        self.runner.shutdown()
        self.window.close()


def open_window(core: Core, **context: object) -> Window:
    """The kiosk window on `core`, shown at 1280x800, with the demo navigator enrolled."""
    ensure_demo_staff(vault=core.vault, clock=core.clock)
    bridge, runner = SyncBridge(), TaskRunner()
    window = MainWindow(ScreenContext(core=core, runner=runner, **context),  # type: ignore[arg-type]
                        bridge)
    window.resize(1280, 800)
    window.show()
    _process_events()
    freeze_startup_objects()  # as ui.app does once the first screen is up
    return Window(window=window, runner=runner, bridge=bridge)


def sign_in_to_search(window: MainWindow, core: Core) -> None:
    """Signed in (the TOTP step is the sign-in screen's own business) and on the search screen,
    through the slots the screens' signals reach."""
    window._on_sign_in_signed_in(StaffSession(
        username="demo.navigator", display_name="Demo Navigator", role=Role.NAVIGATOR,
        signed_in_at=core.clock.now()))
    window._on_welcome_language_chosen("en")


# How many event-loop calls the benchmark itself made (each loses a reference to None under
# PySide6 6.12.0, see bench.pyside_refs), so that loss can be told from the kiosk's.
event_loop_calls = [0]


def _process_events() -> None:
    """One turn of the event loop, as `app.exec()` would take it: outside `exec()`,
    processEvents leaves the objects a screen `deleteLater()`s alive, which would look like
    a leak the kiosk does not have."""
    event_loop_calls[0] += 2
    QCoreApplication.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def wait_until(until: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Run the event loop until `until()` holds; False on timeout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _process_events()
        if until():
            return True
        time.sleep(0.001)
    _process_events()
    return until()


def spin(seconds: float) -> None:
    """Let the event loop run for `seconds` (timers, queued signals, painting)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _process_events()
        time.sleep(0.0005)


class Heartbeat:
    """A 5 ms timer on the UI thread; the gaps between its ticks are how long the UI thread
    was busy elsewhere (a gap of 5 ms means no stall at all)."""

    def __init__(self) -> None:
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._last = 0.0
        self.gaps: list[float] = []
        self.long: list[tuple[float, float]] = []  # (start, end) of gaps over 30 ms

    def start(self) -> None:
        self.gaps = []
        self.long = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return self.gaps

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        if now - self._last > 0.03:
            self.long.append((self._last, now))
        self._last = now


class GcWatch:
    """The garbage collector's pauses (any thread's: a collection holds the GIL, so the UI
    thread waits for it too), to set beside the heartbeat's long gaps."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int]] = []  # (start, end, generation)
        self._start = 0.0

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._start = now
        else:
            self.pauses.append((self._start, now, info["generation"]))


def explain(long: list[tuple[float, float]], pauses: list[tuple[float, float, int]]
            ) -> list[dict[str, object]]:
    """Each long gap (ms) with the garbage collection time (ms) that fell inside it."""
    out: list[dict[str, object]] = []
    for start, end in long:
        inside = [(min(e, end) - max(s, start), g) for s, e, g in pauses if s < end and e > start]
        out.append({"gap_ms": round((end - start) * 1000, 1),
                    "gc_ms": round(sum(d for d, _ in inside) * 1000, 1),
                    "gc_generations": sorted({g for _, g in inside})})
    return out


def summary(gaps: list[float]) -> dict[str, float]:
    """Largest gap, 99th percentile and how many gaps exceeded 50 ms, in ms."""
    ms = [g * 1000 for g in gaps] or [0.0]
    return {"max_ms": max(ms), "p99_ms": percentile(ms, 99), "over_50": sum(m > 50 for m in ms),
            "ticks": len(gaps)}
