"""A kiosk core that is meant to be killed: it takes payments and syncs them, then drains.

`tests/test_crash.py` starts this module again and again on one data folder and kills it with
SIGKILL at random moments. Each run carries on from what the vault holds: it fills the member
cache if that is still empty, takes payments (syncing every few) until the vault holds N, then
syncs until no outbox row waits. Everything goes through the real services, vault and
exchange client. Its stdout tells the parent what happened, one flushed line at a time:

    phase <name>            what it is about to do: open, fill, capture, sync or drain
    captured <payment_id>   take_card_payment returned, so the payment is committed
    synced <counts>         a sync pass finished
    done                    every payment in the vault has left the queue

It exits 3 with a `stuck` line if the queue does not empty within DRAIN_SECONDS.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from kiosk.bootstrap import Core, build_core
from kiosk.clock import SystemClock
from kiosk.domain.money import Money
from kiosk.domain.staff import Role, StaffSession
from kiosk.services.delivery import queue_summary
from kiosk.services.members import get_account
from kiosk.services.payments import (
    OfflineLimitError,
    PaymentContext,
    TakeCardPayment,
    take_card_payment,
)
from kiosk.settings import Settings
from kiosk.terminal.sandbox import SandboxTerminal
from sync.client import ExchangeClient
from sync.worker import PassResult, SyncWorker

DEVICE_TOKEN = "demo-device-token-NOT-A-SECRET"
KIOSK_ID = "K777"
SYNC_EVERY = 8  # payments taken between two sync passes
SMALLEST_CENTS = 100
LARGEST_CENTS = 400  # small, so thousands of payments leave members still owing
DRAIN_SECONDS = 30.0


def say(line: str) -> None:
    """Tell the parent; flushed at once so a kill right after cannot swallow it."""
    print(line, flush=True)


def build(data_dir: Path, url: str, seed: int) -> tuple[Core, SyncWorker]:
    settings = Settings(
        data_dir=data_dir, exchange_url=url, device_token=DEVICE_TOKEN, kiosk_id=KIOSK_ID
    )
    core = build_core(
        settings, clock=SystemClock(), terminal=SandboxTerminal(rng=random.Random(seed))
    )
    client = ExchangeClient(url, device_token=DEVICE_TOKEN, kiosk_id=KIOSK_ID, timeout=(1.0, 3.0))
    worker = SyncWorker(
        vault=core.vault,
        clock=core.clock,
        client=client,
        rng=random.Random(seed),
        connectivity=core.connectivity,
    )
    return core, worker


def payments_in_vault(core: Core) -> int:
    return int(
        core.vault.call(lambda conn: conn.execute("SELECT count(*) FROM payments").fetchone()[0])
    )


def members_who_owe(core: Core) -> list[str]:
    """Members in the cache with an open invoice (the cache may still be half filled)."""
    rows = core.vault.call(
        lambda conn: conn.execute(
            "SELECT DISTINCT m.member_id FROM members m JOIN invoices i USING (member_id)"
            " WHERE i.status = 'open' ORDER BY m.member_id"
        ).fetchall()
    )
    return [row[0] for row in rows]


def sync_pass(worker: SyncWorker) -> PassResult:
    say("phase sync")
    result = worker.run_once()
    say(
        f"synced online={int(result.online)} recovered={result.recovered}"
        f" sent={result.sent} confirmed={result.confirmed}"
    )
    return result


def fill_cache(core: Core, worker: SyncWorker) -> None:
    say("phase fill")
    while not members_who_owe(core):
        if not sync_pass(worker).online:
            time.sleep(0.2)


def navigator(core: Core) -> PaymentContext:
    staff = StaffSession(
        username="nav.crash",
        display_name="Navigator Crash",
        role=Role.NAVIGATOR,
        signed_in_at=core.clock.now(),
    )
    return PaymentContext(kiosk_id=KIOSK_ID, site="Crash Test Site", staff=staff)


def choose(core: Core, rng: random.Random) -> TakeCardPayment:
    """A small payment for a member who still owes more than it."""
    cents = rng.randint(SMALLEST_CENTS, LARGEST_CENTS)
    owing = members_who_owe(core)
    for member_id in rng.sample(owing, k=len(owing)):
        if get_account(member_id, vault=core.vault).balance.cents >= cents:
            return TakeCardPayment(member_id=member_id, amount=Money(cents=cents))
    raise RuntimeError(f"no member owes {cents} cents any more")


def take_one(core: Core, worker: SyncWorker, ctx: PaymentContext, rng: random.Random) -> None:
    cmd = choose(core, rng)
    say("phase capture")
    try:
        taken = take_card_payment(
            cmd,
            ctx=ctx,
            vault=core.vault,
            terminal=core.terminal,
            clock=core.clock,
            connectivity=core.connectivity,
        )
    except OfflineLimitError:
        # Not yet in touch with the exchange in this run and too much waits: sync first.
        sync_pass(worker)
        return
    say(f"captured {taken.payment_id}")


def capture(core: Core, worker: SyncWorker, *, seed: int, payments: int) -> None:
    ctx = navigator(core)
    while (taken := payments_in_vault(core)) < payments:
        # Seeded by how far the vault got, so a restarted run makes the same next choice.
        take_one(core, worker, ctx, random.Random(f"{seed}:{taken}"))
        if (taken + 1) % SYNC_EVERY == 0:
            sync_pass(worker)


def waiting(core: Core) -> int:
    return queue_summary(vault=core.vault).waiting


def drain(core: Core, worker: SyncWorker) -> bool:
    """Sync until no row is queued or sending; False if that takes over DRAIN_SECONDS."""
    say("phase drain")
    deadline = time.monotonic() + DRAIN_SECONDS
    while waiting(core):
        if time.monotonic() > deadline:
            return False
        worker.send_now()  # skip backoff waits, exactly as the "Send now" button does
        if not sync_pass(worker).sent:
            time.sleep(0.1)  # e.g. the exchange still processing a key: ask again shortly
    return True


def run(args: argparse.Namespace) -> int:
    say("phase open")
    core, worker = build(args.data_dir, args.exchange, args.seed)
    try:
        if not members_who_owe(core):
            fill_cache(core, worker)
        capture(core, worker, seed=args.seed, payments=args.payments)
        if not drain(core, worker):
            say(f"stuck waiting={waiting(core)}")
            return 3
        say("done")
        return 0
    finally:
        worker.stop()
        core.close()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--exchange", required=True, help="the exchange's base URL")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument(
        "--payments", type=int, required=True, help="take payments until the vault holds this many"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run(parse(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
