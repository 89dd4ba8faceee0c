"""The first pull of 100,000 members from the exchange, and later pulls after a few changes.

The sandbox exchange runs in its own process with `--members 100000`. Generating and seeding
its demo data happens when it starts, before it listens: that time is measured separately and
is not part of any pull. A fresh kiosk (real vault) then pulls with the real `SyncWorker`:
`run_once()` is called until a pass ends because the feed has no more pages (a pass reads at
most 50 pages of 500 changes); the first pull is the total time of those passes.

Later pulls: the exchange has no control endpoint for changing members (only `/_sandbox/faults`
and `/_sandbox/ledger`), so the benchmark changes them the way the sandbox itself records any
change: it opens the exchange's sqlite3 file and calls `sync.sandbox.posting.save_member`, which
updates the member and moves it to the end of the changes feed. Then one `run_once()` is timed,
for 300 changed members and again for 3,000. A later pull "costs in proportion to what changed"
when it receives exactly the changed records and ten times the changes take about ten times
as long (0.5 to 1.5 times that); its cost per change is also set beside the first pull's.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path

from bench.common import BenchRun, free_port, open_core
from bench.report import Figure
from kiosk.bootstrap import Core
from kiosk.settings import DEMO_DEVICE_TOKEN
from sync.client import ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.worker import MAX_PAGES_PER_PASS, SyncWorker

TARGET_S = 60.0
PAGE = 500


def _worker(core: Core, url: str) -> SyncWorker:
    client = ExchangeClient(url, device_token=DEMO_DEVICE_TOKEN, kiosk_id="KBENCH",
                            timeout=(3.05, 60.0))
    return SyncWorker(vault=core.vault, clock=core.clock, client=client,
                      connectivity=core.connectivity)


def _pull_all(worker: SyncWorker) -> tuple[float, int, int]:
    """Passes until the feed is exhausted: (seconds, changes pulled, passes)."""
    start = time.perf_counter()
    pulled = passes = 0
    while True:
        result = worker.run_once()
        pulled += result.pulled
        passes += 1
        if result.pulled < MAX_PAGES_PER_PASS * PAGE:
            return time.perf_counter() - start, pulled, passes


def _change_members(db: Path, count: int, seed: int) -> None:
    """Change `count` members on the exchange as the sandbox records a change."""
    from sync.sandbox import posting

    conn = sqlite3.connect(db, timeout=30.0, isolation_level=None)
    try:
        ids = [r[0] for r in conn.execute("SELECT member_id FROM members ORDER BY member_id")]
        rng = random.Random(seed)
        conn.execute("BEGIN IMMEDIATE")
        for member_id in rng.sample(ids, count):
            data = json.loads(conn.execute("SELECT data FROM members WHERE member_id = ?",
                                           (member_id,)).fetchone()[0])
            data["email"] = f"changed.{seed}.{member_id.lower()}@example.org"
            posting.save_member(conn, data)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _timed_pass(worker: SyncWorker) -> tuple[float, int]:
    start = time.perf_counter()
    result = worker.run_once()
    return time.perf_counter() - start, result.pulled


def run(run: BenchRun) -> list[Figure]:
    members = 10_000 if run.quick else 100_000
    folder = run.tmp / "pull"
    sandbox = SandboxProcess(db_path=folder / "exchange.db", port=free_port(), members=members,
                             startup_timeout=1200)
    start = time.perf_counter()
    sandbox.start()
    generated = time.perf_counter() - start
    print(f"  exchange generated and seeded {members} members in {generated:.1f} s "
          "(not counted)", flush=True)
    core = open_core(folder / "kiosk", exchange_url=sandbox.url, device_token=DEMO_DEVICE_TOKEN)
    try:
        worker = _worker(core, sandbox.url)
        first, pulled, passes = _pull_all(worker)
        cached = core.vault.call(lambda c: c.execute("SELECT count(*) FROM members").fetchone()[0])
        print(f"  first pull: {pulled} changes ({cached} members) in {passes} passes, "
              f"{first:.1f} s ({pulled / first:.0f} changes/s)", flush=True)
        empty, _ = _timed_pass(worker)
        later = []
        for count in (300, 3000):
            _change_members(folder / "exchange.db", count, seed=count)
            seconds, got = _timed_pass(worker)
            later.append((count, seconds, got))
            print(f"  later pull after {count} members changed: {got} changes in "
                  f"{seconds:.2f} s (a pass with nothing to pull: {empty:.2f} s)", flush=True)
        worker.stop()
    finally:
        core.close()
        sandbox.stop()
    return _figures(members, first, pulled, cached, generated, empty, later)


def _figures(members: int, first: float, pulled: int, cached: int, generated: float,
             empty: float, later: list[tuple[int, float, int]]) -> list[Figure]:
    figures = [Figure(
        name=f"first pull of {members:,} members", value=first, unit="s", baseline=None,
        target=f"< {TARGET_S:g} s", met=first < TARGET_S and cached == members,
        note=f"{pulled} changes (members, their invoices, plans) through SyncWorker.run_once "
             f"until the feed was exhausted, from the sandbox exchange over HTTP on 127.0.0.1; "
             f"the exchange's data generation ({generated:.0f} s) excluded")]
    (small, t_small, got_small), (big, t_big, got_big) = later
    figures.append(Figure(
        name=f"later pull after {small:,} members changed", value=t_small, unit="s",
        baseline=first * small / pulled, target="(compare)", met=None,
        note=f"one run_once, {got_small} changes received; baseline: their share of the first "
             f"pull at its average cost per change (members, invoices and plans mixed)"))
    linear = t_big / (t_small * big / small)
    figures.append(Figure(
        name=f"later pull: {big:,} vs {small:,} members changed", value=t_big, unit="s",
        baseline=t_small * big / small, target="ratio 0.5..1.5", met=got_small == small
        and got_big == big and 0.5 <= linear <= 1.5,
        note=f"one run_once after {big} members changed, against {big // small}x the pull "
             f"after {small}: a later pull costs in proportion to what changed when exactly "
             f"the changes arrive ({got_small}, {got_big}) and the ratio is near 1; a pass "
             f"with nothing to pull took {empty:.2f} s"))
    return figures
