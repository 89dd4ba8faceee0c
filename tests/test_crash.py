"""Crash tests: the kiosk core is killed with SIGKILL at random moments, again and again.

One sandbox exchange runs over HTTP for the whole test. `tests.crash_child` (the real core, the
real vault file, the real sync worker) is started on one data folder and killed: the first few
times just after it begins to open the vault (key file, new vault, migrations), then after a
seeded random delay that lands during start-up, payment capture or a sync pass. A last run goes
to the end. Afterwards every payment the kiosk ever reported as captured must be in the vault,
every vault payment must be held by the exchange exactly once, and nothing may be half written.

Set CRASH_TEST_SEED to replay another sequence of kills.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from kiosk.settings import Settings
from kiosk.store import keys
from kiosk.store.vault import Vault
from sync.sandbox.server import SandboxProcess
from tests.crash_child import KIOSK_ID
from tests.test_sync import free_port, ledger

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("CRASH_TEST_SEED", "2"))
STARTUP_KILLS = 6  # killed within STARTUP_WINDOW of saying it opens the vault
STARTUP_WINDOW = 0.008  # opening takes ~3 ms, creating and migrating a vault ~7 ms
KILLS = 60  # in all, start-up kills included
DELAYS = (0.05, 1.2)  # seconds from the child's start to its kill, uniform
STEP = 300  # payments each run is asked to add to those already captured
FINAL_TIMEOUT = 60.0


@dataclass(slots=True, kw_only=True)
class Run:
    """One start of the child, as seen from outside."""

    number: int
    delay: float | None = None  # seconds from start to SIGKILL; None for the run left to end
    lines: list[str] = field(default_factory=list)
    killed: bool = False
    returncode: int | None = None
    stderr: str = ""

    @property
    def phase(self) -> str:
        """What the child had said it was doing when it ended ('import' before any line)."""
        phases = [line.split()[1] for line in self.lines if line.startswith("phase ")]
        return phases[-1] if phases else "import"

    @property
    def captured(self) -> list[str]:
        return [line.split()[1] for line in self.lines if line.startswith("captured ")]

    @property
    def recovered(self) -> list[int]:
        """Per sync pass, the rows it found left in 'sending' and settled by asking the exchange.

        Only a run's first pass may find any (left by the kill before); a later one finding
        some means a pass of this very run ended with rows still marked as being sent.
        """
        return [
            int(word.removeprefix("recovered="))
            for line in self.lines
            if line.startswith("synced ")
            for word in line.split()
            if word.startswith("recovered=")
        ]

    def describe(self) -> str:
        delay = "none" if self.delay is None else f"{self.delay:.3f}s"
        return (
            f"run {self.number}: kill after {delay}, killed={self.killed}"
            f" rc={self.returncode} phase={self.phase} captured={len(self.captured)}"
            f" last={self.lines[-1] if self.lines else ''!r}"
        )


class Child:
    """`python -m tests.crash_child` on the shared data folder, its stdout read as it comes."""

    def __init__(self, run: Run, *, data_dir: Path, url: str, payments: int) -> None:
        self.run = run
        self._said_open = threading.Event()
        self._stderr = (data_dir.parent / f"child-{run.number}.err").open("w+")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.crash_child",
                "--data-dir",
                str(data_dir),
                "--exchange",
                url,
                "--seed",
                str(SEED),
                "--payments",
                str(payments),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._started = time.monotonic()
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.run.lines.append(line.rstrip("\n"))
            if line.startswith("phase open"):
                self._said_open.set()

    def kill_after(self, delay: float) -> Run:
        """SIGKILL the child `delay` seconds after its start, unless it has exited by then."""
        return self._kill_at(self._started + delay)

    def kill_while_opening(self, rng: random.Random) -> Run:
        """SIGKILL the child a moment after it starts to open (and maybe create) the vault."""
        self._said_open.wait(timeout=10.0)
        return self._kill_at(time.monotonic() + rng.uniform(0.0, STARTUP_WINDOW))

    def _kill_at(self, moment: float) -> Run:
        self.run.delay = moment - self._started
        try:
            self.process.wait(timeout=max(0.0, moment - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGKILL)
        return self.finish(timeout=10.0)

    def finish(self, *, timeout: float) -> Run:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._reader.join(timeout=5.0)
        self.run.returncode = self.process.returncode
        self.run.killed = self.process.returncode == -signal.SIGKILL
        self._stderr.seek(0)
        self.run.stderr = self._stderr.read()
        self._stderr.close()
        return self.run


def captured_so_far(runs: list[Run]) -> int:
    return sum(len(run.captured) for run in runs)


def kill_repeatedly(data_dir: Path, url: str, rng: random.Random) -> list[Run]:
    """Start the child and kill it until KILLS kills have landed; a run may also finish."""
    runs: list[Run] = []
    while sum(run.killed for run in runs) < KILLS:
        assert len(runs) < 4 * KILLS, f"seed={SEED}: the child keeps finishing before its kill"
        child = Child(
            Run(number=len(runs) + 1),
            data_dir=data_dir,
            url=url,
            payments=captured_so_far(runs) + STEP,
        )
        if len(runs) < STARTUP_KILLS:
            run = child.kill_while_opening(rng)
        else:
            run = child.kill_after(rng.uniform(*DELAYS))
        runs.append(run)
        # A run that ended by itself must have ended well: "done", exit 0.
        assert run.killed or (run.returncode == 0 and run.lines[-1:] == ["done"]), (
            f"seed={SEED}: {run.describe()}\nprevious: "
            f"{runs[-2].describe() if len(runs) > 1 else '-'}\nstderr:\n{run.stderr[-3000:]}"
        )
    return runs


def read_vault(settings: Settings) -> dict[str, Any]:
    """Everything the checks need, read through a freshly opened vault."""
    vault = Vault(settings.vault_path, keys.unlock(keys.places(settings)).key)
    try:
        return vault.call(
            lambda conn: {
                "integrity": [row[0] for row in conn.execute("PRAGMA integrity_check")],
                "payments": {
                    row["payment_id"]: dict(row)
                    for row in conn.execute(
                        "SELECT payment_id, status, confirmation_number, amount_cents,"
                        " sale_reference FROM payments"
                    )
                },
                "outbox": [
                    dict(row)
                    for row in conn.execute(
                        "SELECT id, kind, subject_id, state, attempts FROM outbox ORDER BY id"
                    )
                ],
                "attempts": {
                    row[0]: row[1]
                    for row in conn.execute("SELECT sale_reference, result FROM card_attempts")
                },
                "audited": {
                    row[0]
                    for row in conn.execute(
                        "SELECT subject FROM audit WHERE action = 'payment.taken'"
                    )
                },
            }
        )
    finally:
        vault.close()


def timeline(runs: list[Run], last: int = 8) -> str:
    return "\n".join(run.describe() for run in runs[-last:])


def who_captured(payment_ids: set[str], runs: list[Run]) -> str:
    """The runs that reported any of these payments, and the run after each (its recovery)."""
    found = [i for i, run in enumerate(runs) if payment_ids & set(run.captured)]
    return "\n".join(runs[j].describe() for i in found for j in (i, i + 1) if j < len(runs))


def assert_nothing_lost_or_doubled(
    runs: list[Run], vault: dict[str, Any], held: list[dict[str, Any]], context: str
) -> None:
    """Every payment reported captured is in the vault; the exchange holds each exactly once."""
    payments = vault["payments"]
    lost = {pid for run in runs for pid in run.captured} - payments.keys()
    assert lost == set(), (sorted(lost), who_captured(lost, runs), context)
    times_held = collections.Counter(str(p["payment_id"]) for p in held)
    not_once = {pid: times_held[pid] for pid in payments if times_held[pid] != 1}
    assert not_once == {}, (not_once, who_captured(set(not_once), runs), context)
    assert times_held.keys() - payments.keys() == set(), context


def assert_each_payment_whole(
    vault: dict[str, Any], held: list[dict[str, Any]], context: str
) -> None:
    """Confirmed with the exchange's number, one confirmed outbox row, an approved card
    attempt and an audit entry; no outbox row, approved attempt or audit entry without it."""
    payments, attempts = vault["payments"], vault["attempts"]
    answered = {str(p["payment_id"]): (p["confirmation_number"], p["amount_cents"]) for p in held}
    rows_for = collections.defaultdict(list)
    for row in vault["outbox"]:
        rows_for[row["subject_id"]].append(row)
    for pid, payment in payments.items():
        rows = rows_for[pid]
        stored = (payment["confirmation_number"], payment["amount_cents"])
        assert payment["status"] == "confirmed", (pid, payment, context)
        assert stored == answered[pid], (pid, stored, answered[pid], context)
        kinds = [(r["kind"], r["state"]) for r in rows]
        assert kinds == [("payment", "confirmed")], f"{pid}: {rows}\n{context}"
        assert rows[0]["attempts"] >= 1, f"{pid}: {rows}\n{context}"
        assert attempts.get(payment["sale_reference"]) == "approved", (pid, payment, context)
    assert rows_for.keys() - payments.keys() == set(), context
    assert [row for row in vault["outbox"] if row["state"] == "sending"] == [], context
    assert vault["audited"] >= payments.keys(), context
    sold = {payment["sale_reference"] for payment in payments.values()}
    assert {ref for ref, result in attempts.items() if result == "approved"} == sold, context
    # 'started' alone: killed between the terminal's approval and the payment's record.
    assert set(attempts.values()) <= {"approved", "started"}, context


def summary(runs: list[Run], vault: dict[str, Any], seconds: float) -> str:
    phases = collections.Counter(run.phase for run in runs if run.killed)
    started = sum(result == "started" for result in vault["attempts"].values())
    looked_up = sum(run.recovered[0] for run in runs if run.recovered)
    resends = sum(row["attempts"] - 1 for row in vault["outbox"])
    return (
        f"crash test seed={SEED}: {len(runs)} runs, {phases.total()} SIGKILLs by phase"
        f" {dict(phases)}; {len(vault['payments'])} payments, each held once;"
        f" {started} card attempt(s) left 'started'; {looked_up} row(s) found in 'sending'"
        f" after a kill and looked up; {resends} resend(s); {seconds:.1f}s"
    )


@pytest.mark.slow
def test_payments_survive_sigkill_during_capture_and_sync(tmp_path: Path) -> None:
    began = time.monotonic()
    settings = Settings(data_dir=tmp_path / "kiosk-data", kiosk_id=KIOSK_ID)
    exchange = SandboxProcess(db_path=tmp_path / "exchange.db", port=free_port()).start()
    try:
        runs = kill_repeatedly(settings.data_dir, exchange.url, random.Random(SEED))
        last = Child(
            Run(number=len(runs) + 1),
            data_dir=settings.data_dir,
            url=exchange.url,
            payments=captured_so_far(runs) + STEP,
        )
        runs.append(last.finish(timeout=FINAL_TIMEOUT))
        held = [p for p in ledger(exchange) if p["kiosk_id"] == KIOSK_ID]
    finally:
        exchange.stop()
    context = f"seed={SEED}\n{timeline(runs)}\nlast stderr:\n{runs[-1].stderr[-3000:]}"
    assert runs[-1].returncode == 0 and runs[-1].lines[-1:] == ["done"], context

    vault = read_vault(settings)
    assert vault["integrity"] == ["ok"], context
    assert_nothing_lost_or_doubled(runs, vault, held, context)
    assert_each_payment_whole(vault, held, context)
    # A live pass never ends with rows still marked 'sending'; only a kill leaves them.
    left_by_a_live_pass = [(run.number, run.recovered) for run in runs if any(run.recovered[1:])]
    assert left_by_a_live_pass == [], (left_by_a_live_pass, context)
    # The kills must have landed where the test says they do, or it proved little.
    phases = {run.phase for run in runs if run.killed}
    assert {"capture", "sync"} <= phases, (phases, context)
    print("\n" + summary(runs, vault, time.monotonic() - began))
