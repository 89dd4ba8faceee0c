"""What SQLCipher's memory wiping (`PRAGMA cipher_memory_security = ON`, which the vault turns
on at open) costs the figures above: the same work in two child processes, one with the vault
as it is and one whose vault skips only that pragma.

Each child builds a fresh kiosk on a real vault, loads a cache of demo members one feed page
per transaction (`apply_changes`, as a pull does), then takes payments (`take_card_payment`,
record transaction timed as in `bench.payment`) and runs member searches of every kind
(`bench.search`'s queries). The setting is process-wide once on, hence the two children.
These figures are for deciding about the setting; they have no target.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BenchRun, report_result, run_child
from bench.report import Figure, median, percentile


def run(run: BenchRun) -> list[Figure]:
    members = "2000" if run.quick else "5000"
    on = run_child("bench.memsec", str(run.tmp / "memsec-on"), members, "on")
    off = run_child("bench.memsec", str(run.tmp / "memsec-off"), members, "off")
    for name, result in (("on (as shipped)", on), ("off", off)):
        print(f"  memory wiping {name}: load {result['load_s']:.2f} s, record transaction "
              f"{result['record_ms']:.2f} ms, search p95 {result['search_p95_ms']:.2f} ms",
              flush=True)
    how = "child with the vault as shipped; baseline: a child whose vault skips that pragma"
    return [
        Figure(name=f"wiping on: load {members} members ({on['changes']} changes)",
               value=on["load_s"], unit="s", baseline=off["load_s"], target="(compare)",
               met=None, note=f"apply_changes, 500 changes per transaction; {how}"),
        Figure(name="wiping on: payment record transaction, median", value=on["record_ms"],
               unit="ms", baseline=off["record_ms"], target="(compare)", met=None,
               note=f"200 payments as in the payment figure; {how}"),
        Figure(name="wiping on: member search, p95 of all kinds", value=on["search_p95_ms"],
               unit="ms", baseline=off["search_p95_ms"], target="(compare)", met=None,
               note=f"100 members' queries of each kind of the search figure; {how}"),
    ]


def _without_wiping() -> None:
    """The vault's key step without `cipher_memory_security = ON`; nothing else differs."""
    from kiosk.store import vault

    def keyed(conn: Any, key: bytes) -> str:
        vault._apply_key(conn, key)
        return vault._check_cipher(conn)

    vault._keyed = keyed


def _child(folder: Path, members: int, wiping: str) -> None:
    if wiping == "off":
        _without_wiping()
    from bench import search
    from bench.common import demo_changes, load_changes, open_core, payable_members
    from bench.payment import PaymentTimer
    from kiosk.services.members import search_members

    changes = demo_changes(members)
    core = open_core(folder / "kiosk")
    try:
        state = core.vault.call(lambda c: c.execute("PRAGMA cipher_memory_security").fetchone())
        assert int(state[0]) == (wiping == "on"), state
        load_s = load_changes(core, changes)
        timer = PaymentTimer(core, payable_members(core, 200))
        for index in range(220):
            timer.take(keep=index >= 20)
        times = []
        for queries in search._queries(core, 100, seed=3).values():
            for query in queries:
                start = time.perf_counter()
                search_members(query, vault=core.vault)
                times.append(time.perf_counter() - start)
    finally:
        core.close()
    report_result({"changes": len(changes), "load_s": load_s,
                   "record_ms": median(timer.record) * 1000,
                   "search_p95_ms": percentile(times, 95) * 1000})


if __name__ == "__main__":  # the child: python -m bench.memsec FOLDER MEMBERS on|off
    _child(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
