"""The fault campaign: every payment taken through a faulty network reaches the exchange once.

Each run starts the real sandbox exchange, the fault proxy and the kiosk core in a temporary
folder, exactly as `python -m tests.campaign` does from the command line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.campaign import Tally, tally

ROOT = Path(__file__).resolve().parents[1]
LAST_LINE = re.compile(
    r"^faults: payments=(\d+) confirmed=(\d+) lost=(\d+) duplicated=(\d+) faults=(\d+)$"
)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 11])
def test_forty_payments_through_faults_are_each_held_once(seed: int) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.campaign", "--payments", "40", "--seed", str(seed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    match = LAST_LINE.match(run.stdout.splitlines()[-1])
    assert match is not None, run.stdout
    payments, confirmed, lost, duplicated, faults = map(int, match.groups())
    assert (payments, confirmed, lost, duplicated) == (40, 40, 0, 0)
    assert faults >= 1  # at least the restart of the exchange


def entry(payment_id: str, kiosk_id: str = "K900") -> dict[str, object]:
    return {"payment_id": payment_id, "kiosk_id": kiosk_id, "amount_cents": 100}


def test_the_tally_counts_losses_doubles_and_strangers() -> None:
    kiosk = {"p1": "confirmed", "p2": "confirmed", "p3": "pending"}
    ledger = [
        entry("p1"),
        entry("p1"),  # held twice
        entry("p2"),
        entry("p9"),  # this kiosk never took it
        entry("other", kiosk_id="K001"),  # another kiosk's payment is none of our business
    ]
    result = tally(kiosk=kiosk, ledger=ledger, kiosk_id="K900", payments=3, faults=4)
    assert result == Tally(payments=3, confirmed=2, lost=1, duplicated=2, faults=4)
    assert not result.passed
    assert result.line() == "faults: payments=3 confirmed=2 lost=1 duplicated=2 faults=4"


def test_a_clean_tally_passes() -> None:
    kiosk = {"p1": "confirmed", "p2": "confirmed"}
    result = tally(
        kiosk=kiosk, ledger=[entry("p2"), entry("p1")], kiosk_id="K900", payments=2, faults=0
    )
    assert result.passed and (result.lost, result.duplicated) == (0, 0)
