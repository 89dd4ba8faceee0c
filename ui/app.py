"""Starts the kiosk window: the one place that creates the QApplication.

Builds the core and the sync worker, and in demo mode first starts the sandbox exchange on
127.0.0.1 and the demo navigator account. `--smoke` shows the first screen, prints `ready`
and exits, so start-up can be checked on a machine without a display.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from kiosk import logs
from kiosk.bootstrap import Core, build_core
from kiosk.clock import SystemClock
from kiosk.demo import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    current_demo_code,
    ensure_demo_staff,
    seconds_left,
)
from kiosk.errors import KioskError
from kiosk.i18n import _, set_language
from kiosk.settings import Settings, load_settings
from kiosk.terminal import CardTerminal
from kiosk.terminal.sandbox import SandboxTerminal
from sync.bootstrap import build_sync
from sync.hosted import build_hosted_links
from ui import theme
from ui.bridge import SyncBridge
from ui.context import ScreenContext
from ui.demo_terminal import DemoTerminal, InProcessDemo, ProcessDemo
from ui.errors import message_for
from ui.main_window import MainWindow
from ui.tasks import TaskRunner

log = logging.getLogger(__name__)


def _start_demo_exchange(settings: Settings) -> tuple[Settings, Any]:
    from sync.sandbox.server import SandboxProcess

    sandbox = SandboxProcess(db_path=settings.data_dir / "sandbox-exchange.db")
    sandbox.start()
    return replace(settings, exchange_url=sandbox.url), sandbox


def _start_demo_terminal(settings: Settings) -> tuple[CardTerminal, DemoTerminal, Any]:
    """The sandbox card terminal in its own process, as a real terminal would be."""
    from sync.terminal.client import HttpTerminal
    from sync.terminal.process import TerminalProcess

    process = TerminalProcess().start()
    terminal = HttpTerminal(process.url, sale_id=settings.kiosk_id, poi_id="SANDBOX-01")
    return terminal, ProcessDemo(process.control), process


def _print_demo_banner(settings: Settings) -> None:
    print("Health Connector Kiosk — demo mode", flush=True)
    print(f"  demo data folder: {settings.data_dir}", flush=True)
    print(f"  sandbox exchange: {settings.exchange_url}", flush=True)
    print(f"  sign in as {DEMO_USERNAME} with password {DEMO_PASSWORD}", flush=True)
    print("  the current 6-digit code is printed below every 30 s (or run: make totp)",
          flush=True)


def _print_demo_code() -> None:
    clock = SystemClock()
    print(f"  demo code: {current_demo_code(clock)} (valid {seconds_left(clock)} s more)",
          flush=True)


def _demo_code_timer(app: QApplication) -> QTimer:
    timer = QTimer(app)
    timer.timeout.connect(_print_demo_code)
    _print_demo_code()
    QTimer.singleShot(seconds_left(SystemClock()) * 1000 + 200,
                      lambda: (_print_demo_code(), timer.start(30_000)))
    return timer


def run(*, data_dir: Path, demo: bool, smoke: bool, kiosk_mode: bool = False) -> int:
    """Run the kiosk until the window closes (or, with `smoke`, until it is ready)."""
    if smoke:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logs.configure(data_dir / "logs", level=logging.WARNING if smoke else logging.INFO)
    settings = load_settings(data_dir, demo=demo)
    if kiosk_mode:
        settings = replace(settings, kiosk_mode=True)
    app = QApplication.instance() or QApplication(sys.argv)
    theme.apply(app)
    set_language(settings.language)
    sandbox = terminal_process = None
    terminal: CardTerminal | None = None
    demo_terminal: DemoTerminal | None = None
    if demo:
        settings, sandbox = _start_demo_exchange(settings)
        terminal, demo_terminal, terminal_process = _start_demo_terminal(settings)
    elif settings.terminal_url:
        terminal = _real_terminal(settings)
    core: Core | None = None
    try:
        try:
            core = build_core(settings, terminal=terminal)
        except KioskError as exc:
            return _start_failed(exc, smoke=smoke)
        if demo_terminal is None and isinstance(core.terminal, SandboxTerminal):
            demo_terminal = InProcessDemo(core.terminal)
        return _run_window(app, core, smoke=smoke, demo_terminal=demo_terminal)
    finally:
        if core is not None:
            core.close()
        for process in (sandbox, terminal_process):
            if process is not None:
                process.stop()


def _start_failed(error: KioskError, *, smoke: bool) -> int:
    """The kiosk cannot start (its storage stays closed): say why and what to do, on the
    console and, with a display, in a window the site lead can read."""
    text = message_for(error)
    log.error("the kiosk could not start: %s", error.code)
    print(f"{text} [{error.code}]", file=sys.stderr)  # the code helps support
    if not smoke:
        box = QMessageBox(QMessageBox.Icon.Critical, _("The kiosk cannot start"), text)
        box.setAccessibleName(_("The kiosk cannot start"))
        box.setAccessibleDescription(text)
        box.exec()
    return 1


def freeze_startup_objects() -> None:
    """Collect once, then leave everything start-up made (modules, screens, widgets, which
    live as long as the kiosk) out of later collections (`gc.freeze`). A full collection
    that walks them all holds the GIL for about 50 ms, long enough to stall the screen."""
    gc.collect()
    gc.freeze()


def _backup_timer(app: QApplication, core: Core, runner: TaskRunner) -> QTimer:
    """Every hour, make the scheduled backup when it is due (off the UI thread)."""
    timer = QTimer(app)

    def maybe_backup() -> None:
        runner.run(lambda: core.backups.maybe_backup(core.clock.now()),
                   on_done=lambda _made: None,
                   on_error=lambda exc: log.error("scheduled backup failed: %s", exc))

    timer.timeout.connect(maybe_backup)
    timer.start(60 * 60 * 1000)
    QTimer.singleShot(5 * 60 * 1000, maybe_backup)  # and once soon after start
    return timer


def _real_terminal(settings: Settings) -> CardTerminal:
    """The site's card terminal, reached over its semi-integrated local API."""
    from sync.terminal.client import HttpTerminal

    return HttpTerminal(settings.terminal_url, sale_id=settings.kiosk_id,
                        poi_id=settings.terminal_poi_id or "TERMINAL")


def _run_window(app: QApplication, core: Core, *, smoke: bool,
                demo_terminal: DemoTerminal | None) -> int:
    settings = core.settings
    if settings.demo:
        ensure_demo_staff(vault=core.vault, clock=core.clock)
        _print_demo_banner(settings)
    bridge = SyncBridge()
    worker = build_sync(core, on_status=bridge.publish)
    runner = TaskRunner()
    ctx = ScreenContext(core=core, runner=runner, nudge_sync=worker.nudge,
                        send_now=worker.send_now, demo_terminal=demo_terminal,
                        hosted_links=build_hosted_links(core))
    window = MainWindow(ctx, bridge)
    worker.start()
    try:
        if settings.kiosk_mode and not smoke:
            window.enter_kiosk_mode()
        else:
            window.show()
        app.processEvents()
        if smoke:
            print("ready", flush=True)
            return 0
        QTimer.singleShot(0, freeze_startup_objects)  # once the first screen is up
        timers = [_backup_timer(app, core, runner)]
        if settings.demo:
            timers.append(_demo_code_timer(app))
        return int(app.exec())
    finally:
        window.close()
        runner.shutdown()
        worker.stop()
