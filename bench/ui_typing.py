"""Typing in the search box over 100,000 cached members: the UI thread never stalls more
than 50 ms.

In a child process (offscreen): the real `MainWindow` on a copy of the 100,000-member kiosk,
signed in through the window's slots and on the search screen. A 5 ms heartbeat timer on the
UI thread records every gap between its ticks. First the window sits idle for a few seconds
(the baseline: what the heartbeat shows with nothing to do); then queries are typed key by key
into the search field with QTest, with pauses of 60 to 240 ms between keys, so some pauses
outlast the screen's 150 ms debounce and the search runs on partial text (two letters
included), as it does when a person hesitates. After each query the results are awaited, then
the field is cleared. The searches themselves run on the task runner's threads; what is
measured is the UI thread: key handling, the debounce timer, and showing up to 50 results.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from bench.common import BenchRun, copy_kiosk, run_child
from bench.report import Figure

TARGET_MS = 50.0
PAUSES_MS = (60, 110, 170, 240, 90, 200)


def run(run: BenchRun) -> list[Figure]:
    members = 20_000 if run.quick else 100_000
    folder = copy_kiosk(run.member_vault(members), run.tmp / "typing" / "kiosk")
    result = run_child("bench.ui_typing", str(folder), "40" if run.quick else "50")
    typing, idle = result["typing"], result["idle"]
    print(f"  typed {result['keys']} keys in {result['queries']} queries; "
          f"{result['searches']} searches ran; largest UI gap {typing['max_ms']:.1f} ms "
          f"(idle {idle['max_ms']:.1f} ms), p99 {typing['p99_ms']:.1f} ms, "
          f"{typing['over_50']} gaps over 50 ms")
    print(f"  gaps over 30 ms and the garbage collection inside them: {result['long']}")
    own = result["lost"]["None"] - result["bench_calls"]
    print(f"  PySide6 reference losses while typing: {result['lost']}, of which "
          f"{result['bench_calls']} from the benchmark's own processEvents calls, so about "
          f"{own / result['keys']:.0f} references to None per key typed; without the "
          f"benchmark's workaround {result['left']['None']} were left when typing began")
    return [Figure(
        name=f"typing in the search box ({members // 1000}k members): longest UI stall",
        value=typing["max_ms"], unit="ms", baseline=idle["max_ms"],
        target=f"<= {TARGET_MS:g} ms", met=typing["max_ms"] <= TARGET_MS,
        note=f"largest gap between 5 ms heartbeat ticks on the UI thread while {result['keys']} "
             f"keys were typed with QTest ({result['searches']} searches ran); baseline: the "
             f"same heartbeat with the window idle; p99 gap {typing['p99_ms']:.1f} ms")]


def _queries(core: object, count: int) -> list[str]:
    from kiosk.domain.members import fold_for_search, phone_digits

    rows = core.vault.call(lambda c: c.execute(  # type: ignore[attr-defined]
        "SELECT member_id, first_name, last_name, date_of_birth, phone FROM members"
        " ORDER BY member_id").fetchall())
    rng = random.Random(5)
    queries = []
    for index, row in enumerate(rng.sample(rows, count)):
        first, last = fold_for_search(row["first_name"]), fold_for_search(row["last_name"])
        dob, phone = row["date_of_birth"], phone_digits(row["phone"])
        queries.append([f"{first.split()[0]} {last[:4]}", last[:6], row["member_id"],
                        f"{dob[5:7]}/{dob[8:10]}/{dob[:4]}", f"{phone[3:6]}-{phone[6:]}",
                        ][index % 5])
    return [q for q in queries if q.isascii()]


def _child(folder: Path, count: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from bench import pyside_refs as refs
    from bench import qt_support as qt
    from bench.common import open_core

    refs.pin()
    app = qt.application()
    core = open_core(folder)
    opened = qt.open_window(core)
    window = opened.window
    qt.sign_in_to_search(window, core)
    field = window.search.query
    qt.spin(1.0)  # first paint, deferred icons
    left = refs.unpinned_counts()
    lost_before = refs.lost()
    calls_before = qt.event_loop_calls[0]
    beat = qt.Heartbeat()
    beat.start()
    qt.spin(3.0)
    idle = qt.summary(beat.stop())
    queries = _queries(core, count)
    keys = 0
    collections = qt.GcWatch().__enter__()
    beat.start()
    start_generation = window.search._generation
    for number, query in enumerate(queries):
        for index, char in enumerate(query):
            QTest.keyClicks(field, char)
            keys += 1
            qt.spin(PAUSES_MS[(number + index) % len(PAUSES_MS)] / 1000)
        qt.spin(0.4)
        qt.wait_until(lambda: opened.runner.busy == 0, 5.0)
        field.selectAll()
        QTest.keyClick(field, Qt.Key.Key_Backspace)
        qt.spin(0.2)
    typing = qt.summary(beat.stop())
    collections.__exit__()
    long = qt.explain(beat.long, collections.pauses)
    searches = window.search._generation - start_generation
    opened.close()
    core.close()
    app.processEvents()
    lost_after = refs.lost()
    refs.finish({"idle": idle, "typing": typing, "keys": keys, "queries": len(queries),
               "searches": searches, "left": left, "long": long,
               "bench_calls": qt.event_loop_calls[0] - calls_before,
               "lost": {k: lost_after[k] - lost_before[k] for k in lost_after}})


if __name__ == "__main__":  # the child: python -m bench.ui_typing FOLDER QUERIES
    _child(Path(sys.argv[1]), int(sys.argv[2]))
