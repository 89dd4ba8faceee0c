"""Memory of the kiosk process: its peak after visiting every screen, and its growth over
1,000 visits in a row. Each measurement runs in a child process of its own.

Peak: the child builds the window on demo data with a throw-away sandbox exchange
(`ui.screenshots.demo_window`) and walks one visit through every main screen
(`ui.screenshots.walk` with a step that does nothing), then reads its own peak resident size
(the sandbox exchange is a process of its own and is not counted). Baseline: a child that shows
a bare PySide6 window (QApplication + QLabel) and reads the same. The peak is VmHWM from
/proc/self/status, not `ru_maxrss`: on Linux `ru_maxrss` is carried across fork + exec, so a
child started by a big parent (this benchmark process, holding a 100,000-member cache) reports
the parent's peak.

Growth: the child builds the same window and starts the sync worker's thread, signs in, and
runs visits: choose a language on the welcome screen (alternating), type the member's ID into
the search box and press Enter (one hit opens the member), press Pay, type a one-dollar
amount, charge the in-process sandbox terminal, wait for that payment's receipt, press Done.
The resident size is read from /proc/self/statm (after a full garbage collection) after visit
50 and after the last visit, and every 100 visits for the trend. The same child counts the
references to None that PySide6 6.12.0 loses per visit (see bench.pyside_refs), which says
after how many visits a kiosk without the benchmark's workaround aborts.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
from typing import Any

from bench.common import ROOT, BenchRun, run_child, run_command
from bench.report import Figure, median

PEAK_TARGET_MB = 200.0
GROWTH_TARGET_MB = 10.0


def run_peak(run: BenchRun) -> list[Figure]:
    rounds = 1 if run.quick else 3
    kiosk, bare = [], []
    for _ in range(rounds):
        kiosk.append(run_child("bench.memory", "walk")["peak_mb"])
        bare.append(run_command([sys.executable, str(ROOT / "bench" / "bare_window.py"),
                                 "--peak"])["peak_mb"])
    print(f"  peak RSS after the walk: {', '.join(f'{v:.1f}' for v in kiosk)} MB; bare window "
          f"{', '.join(f'{v:.1f}' for v in bare)} MB")
    value = median(kiosk)
    return [Figure(
        name="peak memory after visiting every screen", value=value, unit="MB",
        baseline=median(bare), target=f"< {PEAK_TARGET_MB:g} MB", met=value < PEAK_TARGET_MB,
        note=f"peak RSS (VmHWM) of a child that ran ui.screenshots.demo_window + walk (sign-in, "
             f"welcome, search, member and each of the member's pages, payment by card, "
             f"bank and link, receipt pending and confirmed, queue, report, staff), median "
             f"of {rounds}; baseline: the same of bench/bare_window.py (QApplication + "
             f"QLabel, nothing else imported)")]


def run_growth(run: BenchRun) -> list[Figure]:
    visits = 200 if run.quick else 1000
    result = run_child("bench.memory", "visits", str(visits), timeout=3000)
    at50, last = result["rss_mb"]["50"], result["rss_mb"][str(visits)]
    trend = ", ".join(f"{k}: {v:.1f}" for k, v in result["rss_mb"].items())
    print(f"  RSS after visits (MB): {trend}")
    left = result["left"]["None"]
    per_visit = max(1.0, (result["lost"]["None"] - result["bench_calls"]) / visits)
    survives = left / per_visit
    if result["error_count"]:
        print(f"  {result['error_count']} exceptions in the window's slots, e.g. "
              f"{result['errors']}")
    print(f"  {visits} visits in {result['seconds']:.0f} s; {result['failed']} failed; "
          f"PySide6 reference losses: {result['lost']}, of which {result['bench_calls']} "
          f"from the benchmark's own processEvents calls; without the benchmark's workaround "
          f"{left} references to None were left at visit 1: at {per_visit:.0f} lost per "
          f"visit the process aborts after about {survives:.0f} visits")
    how = (f"each visit: language, search by member ID + Enter, member, pay $1.00 by card, "
           f"receipt, done; sync worker running against the sandbox exchange; {visits} visits "
           f"in {result['seconds']:.0f} s, {result['failed']} failed, "
           f"{result['error_count']} exceptions in the window's slots")
    return [
        Figure(name=f"{visits:,} visits in a row: memory growth after visit 50",
               value=last - at50, unit="MB", baseline=at50,
               target=f"< {GROWTH_TARGET_MB:g} MB",
               met=last - at50 < GROWTH_TARGET_MB and result["failed"] == 0
               and result["error_count"] == 0,
               note=f"RSS (/proc/self/statm, after gc.collect()) after visit {visits} minus "
                    f"after visit 50 (trend {trend}); baseline: the RSS after visit 50; {how}"),
        Figure(name="visits before lost references to None would abort the kiosk",
               value=survives, unit="visits", baseline=None, target=f">= {visits:,} in a row",
               met=survives >= visits,
               note=f"references to None left at visit 1 ({left}) over those lost per visit "
                    f"({per_visit:.0f}, the benchmark's own event-loop calls taken out); the "
                    "process aborts (none_dealloc) when they run out; the benchmark pins the "
                    "count (bench/pyside_refs.py) so it can measure 1,000 visits at all"),
    ]


# -- the children -------------------------------------------------------------------------------

def peak_mb() -> float:
    """This process's peak resident size (VmHWM). Not ru_maxrss: on Linux that survives
    fork + exec, so a child reports its parent's peak when the parent was bigger."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _walk() -> None:
    from bench import pyside_refs as refs

    refs.pin()
    from ui.app import freeze_startup_objects
    from ui.screenshots import demo_window, walk

    with demo_window() as (window, app, runner, worker):
        app.processEvents()
        freeze_startup_objects()  # as ui.app does once the first screen is up
        walk(window, app, runner, worker, lambda _step: None)
        peak = peak_mb()
    refs.finish({"peak_mb": peak})


def _visits(count: int) -> None:
    from bench import pyside_refs as refs
    from bench import qt_support as qt

    refs.pin()
    from kiosk.domain.staff import Role, StaffSession
    from kiosk.i18n import LANGUAGES
    from ui.app import freeze_startup_objects
    from ui.screenshots import demo_window

    with demo_window() as (window, _app, _runner, worker):
        core = window.ctx.core
        members = [r[0] for r in core.vault.call(lambda c: c.execute(
            "SELECT member_id FROM members WHERE net_premium_cents >= 10000"
            " ORDER BY member_id").fetchall())]
        visitor = _Visitor(window, qt)
        qt.spin(0.2)
        freeze_startup_objects()  # as ui.app does once the first screen is up
        worker.start()
        window._on_sign_in_signed_in(StaffSession(
            username="demo.navigator", display_name="Demo Navigator", role=Role.NAVIGATOR,
            signed_in_at=core.clock.now()))
        qt.spin(0.5)
        left = refs.unpinned_counts()
        lost_before = refs.lost()
        calls_before = qt.event_loop_calls[0]
        rss: dict[str, float] = {}
        failed = 0
        start = time.perf_counter()
        for visit in range(1, count + 1):
            if not visitor.visit(members[visit % len(members)], LANGUAGES[visit % len(LANGUAGES)]):
                failed += 1
            if visit == 50 or visit % 100 == 0 or visit == count:
                rss[str(visit)] = _rss_mb()
        seconds = time.perf_counter() - start
        lost_after = refs.lost()
        bench_calls = qt.event_loop_calls[0] - calls_before
        worker.stop()
    refs.finish({"rss_mb": rss, "failed": failed, "errors": visitor.errors[:5],
                 "error_count": len(visitor.errors), "seconds": seconds, "left": left,
                 "bench_calls": bench_calls,
                 "lost": {k: lost_after[k] - lost_before[k] for k in lost_after}})


class _Visitor:
    """Walks one visit at a time through the real window, as a navigator's gestures reach it
    (typed into the search box, then the screens' own slots). Counts the exceptions raised in
    the window's slots, which Qt would otherwise only print."""

    def __init__(self, window: Any, qt: Any) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        self.window, self.qt, self.QTest, self.Qt = window, qt, QTest, Qt
        self.taken: list[str] = []  # payment ids, as the payment screen announced them
        self.errors: list[str] = []
        window.payment.sig_payment_taken.connect(lambda t: self.taken.append(t.payment_id))
        sys.excepthook = lambda kind, exc, _tb: self.errors.append(f"{kind.__name__}: {exc}")

    def visit(self, member_id: str, language: str) -> bool:
        """Language, search by member ID + Enter, member, pay $1.00 by card, wait for this
        payment's receipt, done. False (and back to the start) when a step did not come."""
        w, wait_until = self.window, self.qt.wait_until
        w._on_welcome_language_chosen(language)
        self.QTest.keyClicks(w.search.query, member_id)
        self.QTest.keyClick(w.search.query, self.Qt.Key.Key_Return)
        member, receipt = w.member, w.receipt
        if not wait_until(lambda: member.account is not None
                          and member.account.member.member_id == member_id):
            return self._abandon()
        member._on_pay_clicked()
        w.payment.pay_other.setChecked(True)
        w.payment.amount.setText("1.00")
        before = len(self.taken)
        w.payment._on_charge_clicked()
        if not wait_until(lambda: len(self.taken) > before and receipt.receipt is not None
                          and receipt.receipt.payment_id == self.taken[-1]):
            return self._abandon()
        w._on_receipt_done()
        return True

    def _abandon(self) -> bool:
        self.window._on_idle_member_timeout()  # back to the start, member forgotten
        return False


if __name__ == "__main__":  # python -m bench.memory walk | visits N
    if sys.argv[1] == "walk":
        _walk()
    else:
        _visits(int(sys.argv[2]))
