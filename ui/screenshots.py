"""Render every main screen to PNG at several window sizes, offscreen, with demo data.

`python -m ui.screenshots OUT_DIR [--sizes 1280x800,1024x768]` starts a throw-away sandbox
exchange and demo vault in a temporary folder, walks one visit (sign-in, search, member,
payment, receipt) and saves `<screen>-<width>x<height>.png` for each. The README's pictures
come from here.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from kiosk.bootstrap import build_core  # noqa: E402
from kiosk.clock import SystemClock  # noqa: E402
from kiosk.demo import DEMO_USERNAME, ensure_demo_staff  # noqa: E402
from kiosk.i18n import set_language  # noqa: E402
from kiosk.settings import load_settings  # noqa: E402
from kiosk.terminal.sandbox import SandboxTerminal  # noqa: E402
from sync.bootstrap import build_sync  # noqa: E402
from sync.sandbox.server import SandboxProcess  # noqa: E402
from sync.worker import SyncWorker  # noqa: E402
from ui import theme  # noqa: E402
from ui.bridge import SyncBridge  # noqa: E402
from ui.context import ScreenContext  # noqa: E402
from ui.demo_terminal import InProcessDemo  # noqa: E402
from ui.layout_check import layout_problems  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.tasks import TaskRunner  # noqa: E402
from ui.theme import Appearance  # noqa: E402

DEFAULT_SIZES = ((1280, 800), (1024, 768))
ALL_SIZES = ((1024, 768), (1280, 800), (1920, 1080), (1080, 1920))


def _settle(app: QApplication, runner: TaskRunner, until: Callable[[], bool] = lambda: True,
            seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if runner.busy == 0 and until():
            break
        time.sleep(0.02)
    app.processEvents()


def saver(window: MainWindow, app: QApplication, out: Path,
          sizes: tuple[tuple[int, int], ...], suffix: str = "") -> Callable[[str], None]:
    """A step callback that saves the window at each size as `<step>-<w>x<h>.png`."""
    def save(name: str) -> None:
        for width, height in sizes:
            window.resize(width, height)
            app.processEvents()
            window.grab().save(str(out / f"{name}{suffix}-{width}x{height}.png"))
            for problem in layout_problems(window):
                print(f"  {name} {width}x{height}: {problem}")
    return save


def capture(out: Path, sizes: tuple[tuple[int, int], ...], language: str,
            appearance: Appearance | None = None, only: set[str] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with demo_window(language) as (window, app, runner, worker):
        if appearance is not None:
            window.set_appearance(appearance)
        save = saver(window, app, out, sizes, suffix="" if appearance is None else
                     f"-{appearance.theme}-{round(appearance.scale * 100)}")
        walk(window, app, runner, worker,
             lambda step: save(step) if only is None or step in only else None)


@contextmanager
def demo_window(language: str = "en") -> Iterator[tuple[MainWindow, QApplication, TaskRunner,
                                                        SyncWorker]]:
    """A kiosk window on demo data with a throw-away sandbox exchange, signed out."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    theme.apply(app)
    set_language(language)
    with tempfile.TemporaryDirectory() as tmp, \
            SandboxProcess(db_path=Path(tmp) / "exchange.db") as sandbox:
        settings = load_settings(Path(tmp) / "kiosk", demo=True, exchange_url=sandbox.url)
        terminal = SandboxTerminal(rng=random.Random(1))
        core = build_core(settings, clock=SystemClock(), terminal=terminal)
        ensure_demo_staff(vault=core.vault, clock=core.clock)
        bridge, runner = SyncBridge(), TaskRunner()
        worker = build_sync(core, on_status=bridge.publish)
        worker.run_once()
        demo = InProcessDemo(terminal)
        window = MainWindow(ScreenContext(core=core, runner=runner, nudge_sync=worker.nudge,
                                          demo_terminal=demo), bridge)
        window.show()
        worker.run_once()  # so the header shows the real connection status
        try:
            yield window, app, runner, worker
        finally:
            runner.shutdown()
            window.close()
            worker.stop()
            core.close()


def walk(window: MainWindow, app: QApplication, runner: TaskRunner, worker: SyncWorker,
         at_step: Callable[[str], None]) -> None:
    """One visit through every main screen, calling `at_step(name)` on each."""
    from kiosk.domain.staff import Role, StaffSession

    window.sign_in.username.setText(DEMO_USERNAME)
    _settle(app, runner)
    at_step("sign-in")
    window._on_sign_in_signed_in(StaffSession(  # the code step itself is shown above
        username=DEMO_USERNAME, display_name="Demo Navigator", role=Role.NAVIGATOR,
        signed_in_at=SystemClock().now()))
    _settle(app, runner)
    at_step("welcome")
    window._on_welcome_language_chosen("en")
    window.search.query.setText("garc")
    _settle(app, runner, lambda: window.search.results.count() > 0)
    at_step("search")
    window._on_search_member_chosen("M-100001")
    _settle(app, runner, lambda: window.member.account is not None)
    at_step("member")
    for page in window.pages:  # the member's own pages, each opened from the member screen
        window._on_member_page_requested(page)
        _settle(app, runner)
        at_step(str(page))
        window._on_back_requested()
    window.member._on_pay_clicked()
    _settle(app, runner)
    at_step("payment")
    window.payment.amount.setText("150.00")
    window.payment.pay_other.setChecked(True)
    window.payment._show_for_member()
    window.payment.by_bank.setChecked(True)
    window.payment.bank.routing.setText("011000015")
    window.payment.bank.account.setText("123456789")
    window.payment.bank._show_authorization()
    _settle(app, runner)
    at_step("payment-bank")
    window.payment.by_link.setChecked(True)
    _settle(app, runner)
    at_step("payment-link")
    window.payment.by_card.setChecked(True)
    window.payment.pay_other.setChecked(True)
    window.payment._on_charge_clicked()
    _settle(app, runner, lambda: window.receipt.receipt is not None)
    at_step("receipt-pending")
    worker.run_once()
    window.receipt.refresh()
    _settle(app, runner)
    at_step("receipt-confirmed")
    window._on_receipt_done()
    window._on_welcome_language_chosen("en")
    window.search.query.setText("M-100005")
    _settle(app, runner, lambda: window.search.results.count() > 0)
    window._on_search_member_chosen("M-100005")
    _settle(app, runner, lambda: window.member.account is not None)
    window.member._on_pay_clicked()
    window.payment._on_charge_clicked()  # stays queued: the worker does not run again
    _settle(app, runner, lambda: window.receipt.receipt is not None)
    worker.publish_status()
    window._on_receipt_done()
    window._on_welcome_language_chosen("en")
    window._on_search_queue_requested()
    _settle(app, runner, lambda: window.queue.table.rowCount() > 0)
    at_step("queue")
    window._on_back_requested()
    window._on_search_report_requested()
    _settle(app, runner, lambda: window.report.table.rowCount() > 0)
    at_step("report")
    window._on_back_requested()
    window._on_search_staff_requested()
    _settle(app, runner, lambda: window.staff.table.rowCount() > 0)
    at_step("staff")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in DEFAULT_SIZES))
    parser.add_argument("--language", default="en")
    parser.add_argument("--theme", default=None, help="standard, contrast-light, contrast-dark")
    parser.add_argument("--scale", type=float, default=1.0, help="text size, 1.0 to 2.0")
    parser.add_argument("--only", default="", help="comma-separated steps to save")
    args = parser.parse_args()
    sizes = tuple(tuple(int(v) for v in s.split("x")) for s in args.sizes.split(","))
    appearance = (Appearance(theme=args.theme or theme.STANDARD.name, scale=args.scale)
                  if args.theme or args.scale != 1.0 else None)
    capture(args.out, sizes, args.language, appearance,  # type: ignore[arg-type]
            set(args.only.split(",")) if args.only else None)
    print(f"screenshots written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
