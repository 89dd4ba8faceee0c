"""Unknown outcomes at the card terminal: an answer that never comes, a kiosk that dies between
the terminal's approval and the vault, an abort, a busy terminal.

The promise under test: a sale reference is charged at most once (the terminal's own record
holds one transaction per sale reference), and an approval becomes exactly one payment.
Everything is real: the sandbox terminal process, the HTTP adapter, the vault; the crash is a
real process exit (this module runs itself as the child: `python -m
tests.test_terminal_recovery`).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.bootstrap import Core, build_core
from kiosk.clock import SystemClock
from kiosk.domain.money import Money
from kiosk.domain.payments import AttemptResult, CardAuthorization
from kiosk.domain.staff import Role, StaffSession
from kiosk.errors import PaymentDeclinedError
from kiosk.services.cache import apply_changes
from kiosk.services.payments import (
    AttemptResolution,
    PaymentAbortedError,
    PaymentContext,
    PaymentTaken,
    TakeCardPayment,
    TerminalOutcomeUnknownError,
    abort_card_payment,
    open_card_attempts,
    resolve_unknown_attempts,
    take_card_payment,
)
from kiosk.settings import Settings
from kiosk.terminal import TerminalBusy
from sync.terminal.client import HttpTerminal
from sync.terminal.process import TerminalProcess
from sync.terminal.scenarios import Scenario
from tests.support import FakeClock

ROOT = Path(__file__).resolve().parent.parent
MEMBER = "M-1"
CRASHED = 70  # the child's exit status when it dies on purpose


def stock(core: Core) -> None:
    member = {"member_id": MEMBER, "first_name": "Ana", "last_name": "Ruiz",
              "date_of_birth": "1971-05-05", "phone": "+15055550122", "email": "a@example.org",
              "plan_id": "P-1", "aptc_cents": 0, "net_premium_cents": 300_00,
              "preferred_language": "en", "coverage_start": "2026-01-01", "status": "active"}
    owed = {"invoice_id": "I-1", "member_id": MEMBER, "coverage_month": "2026-12",
            "amount_due_cents": 300_00, "amount_paid_cents": 0, "due_date": "2026-11-30",
            "is_binder": False, "status": "open"}
    apply_changes([{"kind": "member", "data": member}, {"kind": "invoice", "data": owed}],
                  next_after=2, vault=core.vault)


def adapter(url: str, *, wait: float = 10.0) -> HttpTerminal:
    return HttpTerminal(url, sale_id="K042", poi_id="SANDBOX-P400", charge_timeout=(2.0, wait),
                        lookup_timeout=(2.0, 5.0))


@pytest.fixture
def terminal_process() -> Iterator[TerminalProcess]:
    # One per test: a transaction left in progress would make the next payment "busy".
    with TerminalProcess(seed=5) as process:
        yield process


@pytest.fixture
def kiosk(settings: Settings, clock: FakeClock,
          terminal_process: TerminalProcess) -> Iterator[Core]:
    # The answer wait is short, so that a held answer is a timeout within a test.
    core = build_core(settings, clock=clock, terminal=adapter(terminal_process.url, wait=1.0))
    stock(core)
    yield core
    core.close()


def context(core: Core) -> PaymentContext:
    staff = StaffSession(username="nav.two", display_name="Nav Two", role=Role.NAVIGATOR,
                         signed_in_at=core.clock.now())
    return PaymentContext(kiosk_id="K042", site="Test Site", staff=staff)


def pay(core: Core, sale_reference: str, cents: int = 100_00) -> PaymentTaken:
    return take_card_payment(
        TakeCardPayment(member_id=MEMBER, amount=Money(cents=cents),
                        sale_reference=sale_reference),
        ctx=context(core), vault=core.vault, terminal=core.terminal, clock=core.clock)


def resolve(core: Core) -> list[AttemptResolution]:
    return resolve_unknown_attempts(ctx=context(core), vault=core.vault, terminal=core.terminal,
                                    clock=core.clock)


def on_terminal(process: TerminalProcess, sale_reference: str) -> list[dict[str, Any]]:
    return [t for t in process.control.transactions() if t["sale_reference"] == sale_reference]


def attempt_result(core: Core, sale_reference: str) -> str:
    return str(core.vault.call(lambda c: c.execute(
        "SELECT result FROM card_attempts WHERE sale_reference = ?",
        (sale_reference,)).fetchone()[0]))


def payments_for(core: Core, sale_reference: str) -> list[dict[str, Any]]:
    return core.vault.call(lambda c: [dict(r) for r in c.execute(
        "SELECT * FROM payments WHERE sale_reference = ?", (sale_reference,))])


def wait_for(check: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the terminal never got there"
        time.sleep(0.05)


def in_progress(process: TerminalProcess, sale_reference: str) -> bool:
    return [t["state"] for t in on_terminal(process, sale_reference)] == ["in_progress"]


# -- timeouts ---------------------------------------------------------------------------------

def test_a_lost_approval_is_found_by_status_and_charged_exactly_once(
        kiosk: Core, terminal_process: TerminalProcess,
        caplog: pytest.LogCaptureFixture) -> None:
    terminal_process.control.set_scenario(Scenario.TIMEOUT_APPROVED, answer_delay_seconds=30)
    ref = str(uuid.uuid4())
    with caplog.at_level(logging.INFO):
        taken = pay(kiosk, ref)
    assert "asking for its status" in caplog.text  # the answer did not come in time
    [charge] = on_terminal(terminal_process, ref)
    assert charge["charged"] and charge["approved_cents"] == 100_00
    [payment] = payments_for(kiosk, ref)
    assert payment["payment_id"] == taken.payment_id and payment["amount_cents"] == 100_00
    assert attempt_result(kiosk, ref) == AttemptResult.APPROVED


def test_a_lost_decline_is_found_by_status_and_nothing_is_paid(
        kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.TIMEOUT_DECLINED, answer_delay_seconds=30)
    ref = str(uuid.uuid4())
    with pytest.raises(PaymentDeclinedError):
        pay(kiosk, ref)
    assert [t["state"] for t in on_terminal(terminal_process, ref)] == ["declined"]
    assert payments_for(kiosk, ref) == []
    assert attempt_result(kiosk, ref) == AttemptResult.DECLINED


def test_an_outcome_still_unknown_stays_unknown_until_the_terminal_can_say(
        kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.TIMEOUT_APPROVED, answer_delay_seconds=30,
                                          pending_seconds=5)
    ref = str(uuid.uuid4())
    with pytest.raises(TerminalOutcomeUnknownError) as info:
        pay(kiosk, ref)
    assert info.value.code == "terminal_outcome_unknown"
    assert info.value.details["sale_reference"] == ref
    assert attempt_result(kiosk, ref) == AttemptResult.UNKNOWN and payments_for(kiosk, ref) == []
    assert [a.sale_reference for a in open_card_attempts(vault=kiosk.vault)] == [ref]
    assert [(r.result, r.taken) for r in resolve(kiosk)] == [(AttemptResult.UNKNOWN, None)]
    wait_for(lambda: not in_progress(terminal_process, ref))
    [resolution] = resolve(kiosk)
    assert resolution.result is AttemptResult.APPROVED and resolution.taken is not None
    assert resolve(kiosk) == []  # nothing left to look up
    assert [p["payment_id"] for p in payments_for(kiosk, ref)] == [resolution.taken.payment_id]
    assert len(on_terminal(terminal_process, ref)) == 1


# -- crashes ----------------------------------------------------------------------------------

class _DiesAroundCharge:
    """The real terminal, but the process exits right before or right after the charge."""

    def __init__(self, terminal: HttpTerminal, *, after: bool) -> None:
        self._terminal = terminal
        self._after = after

    def charge(self, *, sale_reference: str, amount: Money) -> CardAuthorization:
        if self._after:
            self._terminal.charge(sale_reference=sale_reference, amount=amount)
        os._exit(CRASHED)

    def status(self, sale_reference: str) -> CardAuthorization:
        return self._terminal.status(sale_reference)

    def abort(self, sale_reference: str) -> None:
        self._terminal.abort(sale_reference)


def _child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("--data-dir", "--terminal-url", "--when", "--sale-reference"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)
    terminal = _DiesAroundCharge(adapter(args.terminal_url), after=args.when == "after")
    core = build_core(Settings(data_dir=Path(args.data_dir), kiosk_id="K042"),
                      clock=SystemClock(), terminal=terminal)
    pay(core, args.sale_reference)
    raise SystemExit("the child should have died during the charge")


def run_crashing_child(settings: Settings, process: TerminalProcess, sale_reference: str,
                       *, when: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "tests.test_terminal_recovery", "--data-dir",
         str(settings.data_dir), "--terminal-url", process.url, "--when", when,
         "--sale-reference", sale_reference],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == CRASHED, done.stderr


@pytest.fixture
def crashed_after_approval(kiosk: Core, settings: Settings,
                           terminal_process: TerminalProcess) -> str:
    """A sale the terminal approved while the kiosk died before recording it."""
    terminal_process.control.set_scenario(Scenario.APPROVED)
    ref = str(uuid.uuid4())
    kiosk.close()  # the child opens the same vault
    run_crashing_child(settings, terminal_process, ref, when="after")
    return ref


def reopen(settings: Settings, clock: FakeClock, process: TerminalProcess) -> Core:
    return build_core(settings, clock=clock, terminal=adapter(process.url))


def test_a_crash_between_approval_and_record_is_recorded_once_on_recovery(
        crashed_after_approval: str, settings: Settings, clock: FakeClock,
        terminal_process: TerminalProcess) -> None:
    ref = crashed_after_approval
    assert [t["charged"] for t in on_terminal(terminal_process, ref)] == [True]
    core = reopen(settings, clock, terminal_process)
    try:
        assert attempt_result(core, ref) == AttemptResult.STARTED
        assert payments_for(core, ref) == []
        [resolution] = resolve(core)
        assert resolution.result is AttemptResult.APPROVED and resolution.taken is not None
        assert resolution.taken.amount == Money(cents=100_00)
        assert resolve(core) == []
        [payment] = payments_for(core, ref)
        assert payment["navigator"] == "nav.two"  # who took it, not who recovered it
        assert attempt_result(core, ref) == AttemptResult.APPROVED
        assert len(on_terminal(terminal_process, ref)) == 1
    finally:
        core.close()


def test_two_recoveries_at_once_still_record_one_payment(
        crashed_after_approval: str, settings: Settings, clock: FakeClock,
        terminal_process: TerminalProcess) -> None:
    core = reopen(settings, clock, terminal_process)
    try:
        results: list[list[AttemptResolution]] = []
        threads = [threading.Thread(target=lambda: results.append(resolve(core)))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        # Both passes end well (neither trips over the other) and name the same payment.
        assert len(results) == 2
        assert [r.result for batch in results for r in batch] == [AttemptResult.APPROVED] * 2
        taken = {r.taken.payment_id for batch in results for r in batch if r.taken}
        assert len(taken) == 1
        assert [p["payment_id"] for p in payments_for(core, crashed_after_approval)] == list(
            taken)
        outbox_rows = core.vault.call(lambda c: c.execute(
            "SELECT count(*) FROM outbox").fetchone()[0])
        assert outbox_rows == 1
    finally:
        core.close()


def test_a_crash_before_the_request_left_leaves_an_attempt_the_terminal_never_saw(
        kiosk: Core, settings: Settings, clock: FakeClock,
        terminal_process: TerminalProcess) -> None:
    ref = str(uuid.uuid4())
    kiosk.close()
    run_crashing_child(settings, terminal_process, ref, when="before")
    core = reopen(settings, clock, terminal_process)
    try:
        assert attempt_result(core, ref) == AttemptResult.STARTED
        [resolution] = resolve(core)
        assert resolution.result is AttemptResult.NOT_STARTED and resolution.taken is None
        assert on_terminal(terminal_process, ref) == [] and payments_for(core, ref) == []
    finally:
        core.close()


# -- abort and busy ---------------------------------------------------------------------------

def _pay_in_background(core: Core, ref: str) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(pay(core, ref))
        except Exception as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.fixture
def patient_kiosk(settings: Settings, clock: FakeClock,
                  terminal_process: TerminalProcess) -> Iterator[Core]:
    """A kiosk that waits long enough for a member still at the terminal."""
    core = build_core(settings, clock=clock, terminal=adapter(terminal_process.url, wait=20))
    stock(core)
    yield core
    core.close()


def abort(core: Core, ref: str) -> AttemptResolution:
    return abort_card_payment(ref, ctx=context(core), vault=core.vault, terminal=core.terminal,
                              clock=core.clock)


def test_an_abort_stops_a_charge_in_progress_and_nothing_is_paid(
        patient_kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.APPROVED, pending_seconds=30)
    ref = str(uuid.uuid4())
    thread, outcome = _pay_in_background(patient_kiosk, ref)
    wait_for(lambda: in_progress(terminal_process, ref))
    resolution = abort(patient_kiosk, ref)
    thread.join(15)
    assert resolution.result is AttemptResult.ABORTED and resolution.taken is None
    assert len(outcome) == 1 and isinstance(outcome[0], PaymentAbortedError)
    assert outcome[0].code == "payment_aborted"
    [charge] = on_terminal(terminal_process, ref)
    assert (charge["state"], charge["charged"]) == ("aborted", False)
    assert payments_for(patient_kiosk, ref) == []
    assert attempt_result(patient_kiosk, ref) == AttemptResult.ABORTED
    audited = patient_kiosk.vault.call(lambda c: c.execute(
        "SELECT count(*) FROM audit WHERE action = 'payment.aborted'").fetchone()[0])
    assert audited == 1


def test_an_abort_after_the_approval_does_not_undo_it(
        patient_kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.APPROVED)
    ref = str(uuid.uuid4())
    taken = pay(patient_kiosk, ref)
    resolution = abort(patient_kiosk, ref)
    assert resolution.result is AttemptResult.APPROVED and resolution.taken == taken
    assert len(payments_for(patient_kiosk, ref)) == 1
    assert [t["charged"] for t in on_terminal(terminal_process, ref)] == [True]


def test_a_busy_terminal_starts_no_second_charge(
        patient_kiosk: Core, terminal_process: TerminalProcess) -> None:
    terminal_process.control.set_scenario(Scenario.APPROVED, pending_seconds=30)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    thread, outcome = _pay_in_background(patient_kiosk, first)
    wait_for(lambda: in_progress(terminal_process, first))
    try:
        with pytest.raises(TerminalBusy) as info:
            pay(patient_kiosk, second, cents=50_00)
        assert info.value.code == "terminal_busy"
        assert attempt_result(patient_kiosk, second) == AttemptResult.NOT_STARTED
        assert [t["charged"] for t in on_terminal(terminal_process, second)] == [False]
    finally:
        abort(patient_kiosk, first)
        thread.join(15)
    assert isinstance(outcome[0], PaymentAbortedError)
    assert payments_for(patient_kiosk, first) == payments_for(patient_kiosk, second) == []


if __name__ == "__main__":
    _child(sys.argv[1:])
