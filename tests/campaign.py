"""A fault campaign: take many card payments while the network between the kiosk and the
exchange misbehaves, then check that the exchange holds each payment exactly once.

    python -m tests.campaign --payments N --seed S [--fault-rate 0.3] [--workdir DIR]

It starts the sandbox exchange, puts a random-mode `FaultProxy` in front of it with every
fault kind enabled, and runs the real kiosk core and sync worker against the proxy: payments
are captured with `take_card_payment` while `SyncWorker.run_once` passes deliver them, the
exchange is restarted once at a seeded point, and passes continue until nothing waits. The
kiosk's clock is the system clock plus an offset the campaign moves forward between passes,
so retry backoff elapses without waiting for it (the exchange never reads the kiosk's clock).

The last line of stdout is `faults: payments=N confirmed=C lost=L duplicated=D faults=K`; the
exit status is non-zero unless every payment is confirmed, none is lost and none doubled. The
same seed makes the same choices of members, amounts, passes and fault decisions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import requests

from kiosk.bootstrap import Core, build_core
from kiosk.domain.money import Money
from kiosk.domain.staff import Role, StaffSession
from kiosk.services.members import MemberAccount, get_account
from kiosk.services.payments import PaymentContext, TakeCardPayment, take_card_payment
from kiosk.settings import Settings
from kiosk.terminal.sandbox import SandboxTerminal
from sync.client import ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.worker import SyncWorker
from tests.faultproxy import ALL_FAULTS, FaultProxy, Trickle

log = logging.getLogger("tests.campaign")

KIOSK_ID = "K900"
DEVICE_TOKEN = "demo-device-token-NOT-A-SECRET"
CLIENT_TIMEOUT = (1.0, 2.0)  # seconds to connect, seconds between bytes of the answer
# A stall of up to 2.5 s trips the client's 2 s read timeout on one trickled answer in five.
TRICKLE = Trickle(piece_bytes=64, pause_s=0.005, stall_s=(0.0, 2.5), max_s=3.0)
MIN_CENTS, MAX_CENTS = 100, 5000  # each payment is between $1 and $50
SYNC_SHARE = 0.5  # the share of payments followed at once by a sync pass
# Between passes while capturing the clock moves a little, so some retries wait their turn;
# while draining it moves past any backoff (capped at 5 minutes) or Retry-After (seconds).
CAPTURE_STEP_S = (0.0, 60.0)
DRAIN_STEP_S = 301.0
CACHE_FILL_S = 30.0


class CampaignError(RuntimeError):
    """The campaign itself could not go on (not a finding about the kiosk)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """What the exchange holds compared with what the kiosk took."""

    payments: int
    confirmed: int
    lost: int
    duplicated: int
    faults: int

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.confirmed == self.payments

    def line(self) -> str:
        return (
            f"faults: payments={self.payments} confirmed={self.confirmed} lost={self.lost}"
            f" duplicated={self.duplicated} faults={self.faults}"
        )


def tally(
    *,
    kiosk: Mapping[str, str],
    ledger: Sequence[Mapping[str, Any]],
    kiosk_id: str,
    payments: int,
    faults: int,
) -> Tally:
    """Compare the kiosk's payments (payment id → status) with the exchange's ledger.

    Lost: a kiosk payment the ledger lacks. Duplicated: every ledger entry beyond the first
    for a payment id, and every entry of this kiosk that the kiosk never took.
    """
    held = Counter(str(entry["payment_id"]) for entry in ledger)
    strangers = [
        entry
        for entry in ledger
        if entry.get("kiosk_id") == kiosk_id and entry["payment_id"] not in kiosk
    ]
    return Tally(
        payments=payments,
        confirmed=sum(status == "confirmed" for status in kiosk.values()),
        lost=sum(payment_id not in held for payment_id in kiosk),
        duplicated=sum(count - 1 for count in held.values()) + len(strangers),
        faults=faults,
    )


class SteppedClock:
    """The system clock plus an offset that only moves forward when told to. Thread-safe."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._read())

    def monotonic(self) -> float:
        return time.monotonic() + self._read()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def _read(self) -> float:
        with self._lock:
            return self._offset


def _owed(account: MemberAccount) -> int:
    return min(account.balance.cents, account.max_payment.cents)


def _allowed(account: MemberAccount) -> int:
    return account.max_payment.cents


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Campaign:
    """One run: the exchange, the proxy in front of it, a kiosk core and its sync worker.

    Use as a context manager; everything runs on the calling thread except the exchange
    (a child process) and the proxy (its own thread).
    """

    def __init__(self, *, payments: int, seed: int, fault_rate: float, workdir: Path) -> None:
        self.payments = payments
        self.restarts = 0
        self.passes = 0
        self._rng = random.Random(seed)
        self._seed = seed
        self._fault_rate = fault_rate
        self._workdir = workdir
        self._exchange = SandboxProcess(db_path=workdir / "exchange.db", port=free_port())
        self._proxy: FaultProxy | None = None
        self._core: Core | None = None
        self._worker: SyncWorker | None = None
        self._clock = SteppedClock()

    def __enter__(self) -> Self:
        self._exchange.start()
        self._proxy = FaultProxy(
            self._exchange.port,
            seed=self._seed,
            fault_rate=self._fault_rate,
            faults=ALL_FAULTS,
            trickle=TRICKLE,
        ).start()
        self._core = self._build_core(self._proxy.url)
        self._worker = self._build_worker(self._core, self._proxy.url)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._worker is not None:
            self._worker.stop()
        if self._core is not None:
            self._core.close()
        if self._proxy is not None:
            self._proxy.stop()
        self._exchange.stop()

    def _build_core(self, url: str) -> Core:
        settings = Settings(
            data_dir=self._workdir / "kiosk",
            exchange_url=url,
            device_token=DEVICE_TOKEN,
            kiosk_id=KIOSK_ID,
        )
        terminal = SandboxTerminal(rng=random.Random(self._seed))
        return build_core(settings, clock=self._clock, terminal=terminal)

    def _build_worker(self, core: Core, url: str) -> SyncWorker:
        client = ExchangeClient(
            url, device_token=DEVICE_TOKEN, kiosk_id=KIOSK_ID, timeout=CLIENT_TIMEOUT
        )
        return SyncWorker(
            vault=core.vault, clock=core.clock, client=client, rng=random.Random(self._seed)
        )

    @property
    def core(self) -> Core:
        assert self._core is not None, "use the campaign as a context manager"
        return self._core

    @property
    def faults(self) -> int:
        """Faults injected so far: the proxy's, plus each restart of the exchange."""
        return (self._proxy.fault_count if self._proxy else 0) + self.restarts

    def fault_kinds(self) -> Counter[str]:
        kinds = Counter(str(fault) for _, fault in (self._proxy.injected if self._proxy else []))
        kinds["exchange_restart"] = self.restarts
        return kinds

    # -- the run -----------------------------------------------------------------------------
    def run(self, *, time_limit_s: float) -> None:
        """Fill the member cache, take the payments while syncing, then drain the outbox."""
        self._fill_cache()
        members = self._member_ids()
        restart_at = self._rng.randrange(self.payments)
        for number in range(self.payments):
            if number == restart_at:
                self._restart_exchange(members)
            else:
                self._take_payment(members)
                if self._rng.random() < SYNC_SHARE:
                    self._sync_pass(self._rng.uniform(*CAPTURE_STEP_S))
        self._drain(deadline=time.monotonic() + time_limit_s)

    def _fill_cache(self) -> None:
        deadline = time.monotonic() + CACHE_FILL_S
        while not self._member_ids():
            if time.monotonic() > deadline:
                raise CampaignError("the member cache stayed empty")
            self._sync_pass(0.0)

    def _restart_exchange(self, members: Sequence[str]) -> None:
        """Stop the exchange, take a payment while it is away, see it offline, start it."""
        log.info("restarting the exchange")
        self._exchange.stop()
        self._take_payment(members)
        self._sync_pass(0.0)
        self._exchange.start()
        self.restarts += 1

    def _drain(self, *, deadline: float) -> None:
        while self._waiting() and time.monotonic() < deadline:
            if self._sync_pass(DRAIN_STEP_S) == 0:
                time.sleep(0.05)

    def _sync_pass(self, step_s: float) -> int:
        """Move the clock on, run one pass of the real worker; returns how many it sent."""
        assert self._worker is not None
        self._clock.advance(step_s)
        self.passes += 1
        return self._worker.run_once().sent

    # -- capture -----------------------------------------------------------------------------
    def _take_payment(self, members: Sequence[str]) -> None:
        member_id, most = self._pick_member(members)
        cents = self._rng.randint(MIN_CENTS, min(most, MAX_CENTS))
        take_card_payment(
            TakeCardPayment(member_id=member_id, amount=Money(cents=cents)),
            ctx=self._context(),
            vault=self.core.vault,
            terminal=self.core.terminal,
            clock=self.core.clock,
        )

    def _pick_member(self, members: Sequence[str]) -> tuple[str, int]:
        """A random member who owes at least $1, with the most the campaign may take.

        When nobody owes anything any more (a long campaign), members pay a month ahead, up
        to what the kiosk allows.
        """
        order = self._rng.sample(list(members), len(members))
        for most in (_owed, _allowed):
            for member_id in order:
                cents = most(get_account(member_id, vault=self.core.vault))
                if cents >= MIN_CENTS:
                    return member_id, cents
        raise CampaignError("no member may pay $1 or more")

    def _context(self) -> PaymentContext:
        staff = StaffSession(
            username="nav.campaign",
            display_name="Fault Campaign",
            role=Role.NAVIGATOR,
            signed_in_at=self.core.clock.now(),
        )
        return PaymentContext(kiosk_id=KIOSK_ID, site="Fault Campaign", staff=staff)

    # -- reading the outcome -----------------------------------------------------------------
    def _member_ids(self) -> list[str]:
        rows = self.core.vault.call(
            lambda conn: conn.execute("SELECT member_id FROM members ORDER BY member_id").fetchall()
        )
        return [str(row[0]) for row in rows]

    def _waiting(self) -> int:
        row = self.core.vault.call(
            lambda conn: conn.execute(
                "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"
            ).fetchone()
        )
        return int(row[0])

    def _kiosk_payments(self) -> dict[str, str]:
        rows = self.core.vault.call(
            lambda conn: conn.execute("SELECT payment_id, status FROM payments").fetchall()
        )
        return {str(row[0]): str(row[1]) for row in rows}

    def _ledger(self) -> list[dict[str, Any]]:
        # Straight to the exchange, never through the proxy.
        answer = requests.get(f"{self._exchange.url}/_sandbox/ledger", timeout=10)
        answer.raise_for_status()
        payments: list[dict[str, Any]] = answer.json()["payments"]
        return payments

    def tally(self) -> Tally:
        if not self._exchange.running:
            self._exchange.start()
        return tally(
            kiosk=self._kiosk_payments(),
            ledger=self._ledger(),
            kiosk_id=KIOSK_ID,
            payments=self.payments,
            faults=self.faults,
        )


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.campaign", description=__doc__)
    parser.add_argument("--payments", type=int, required=True, help="how many to take")
    parser.add_argument("--seed", type=int, required=True, help="seed of every random choice")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of faulted sends")
    parser.add_argument("--workdir", type=Path, help="keep the vault and exchange files here")
    parser.add_argument("--verbose", action="store_true", help="log the kiosk's sync at INFO")
    args = parser.parse_args(argv)
    if args.payments < 1 or not 0.0 <= args.fault_rate < 1.0:
        parser.error("--payments must be at least 1 and --fault-rate in [0, 1)")
    return args


def _report(campaign: Campaign, result: Tally, began: float) -> None:
    kinds = " ".join(f"{kind}={n}" for kind, n in sorted(campaign.fault_kinds().items()))
    print(f"seconds={time.monotonic() - began:.1f} passes={campaign.passes} {kinds}")
    print(result.line(), flush=True)


def run_campaign(args: argparse.Namespace, workdir: Path) -> int:
    """Run one campaign in `workdir`; prints the report and returns the exit status."""
    began = time.monotonic()
    limit = 120.0 + args.payments * 0.2
    with Campaign(
        payments=args.payments, seed=args.seed, fault_rate=args.fault_rate, workdir=workdir
    ) as campaign:
        try:
            campaign.run(time_limit_s=limit)
            crashed = False
        except Exception:  # a kiosk crash is a finding: show it, then count what got through
            traceback.print_exc()
            crashed = True
        result = campaign.tally()
    _report(campaign, result, began)
    return 0 if result.passed and not crashed else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run_campaign(args, args.workdir)
    with tempfile.TemporaryDirectory(prefix="kiosk-campaign-") as workdir:
        return run_campaign(args, Path(workdir))


if __name__ == "__main__":
    sys.exit(main())
