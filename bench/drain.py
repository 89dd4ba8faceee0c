"""Drain 10,000 queued payments through the fault proxy with 100 ms added each way.

The payments are taken with the kiosk's real capture code while the exchange is unreachable,
then the real sync worker drains them: once in batches (the kiosk's way) and, on a copy of the
same vault, one request per payment for a sample, extrapolated to the same count.
"""

from __future__ import annotations

import random
import socket
import tempfile
import time
from pathlib import Path

from bench.common import BenchRun, copy_kiosk, open_core
from bench.report import Figure
from kiosk.bootstrap import Core
from kiosk.domain.money import Money
from kiosk.domain.staff import Role, StaffSession
from kiosk.services.payments import PaymentContext, TakeCardPayment, take_card_payment
from kiosk.settings import DEMO_DEVICE_TOKEN
from sync.client import ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.worker import SyncWorker
from tests.faultproxy import FaultProxy

LATENCY_S = 0.1
TARGET_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _core(data_dir: Path, url: str) -> Core:
    return open_core(data_dir, exchange_url=url, device_token=DEMO_DEVICE_TOKEN)


def _worker(core: Core, url: str, batch_size: int) -> SyncWorker:
    client = ExchangeClient(url, device_token=DEMO_DEVICE_TOKEN, kiosk_id="KBENCH",
                            timeout=(3.0, 10.0))
    return SyncWorker(vault=core.vault, clock=core.clock, client=client,
                      rng=random.Random(2), connectivity=core.connectivity,
                      batch_size=batch_size)


def _capture(core: Core, count: int) -> float:
    """Take `count` payments offline, spread over the members who can pay; returns seconds."""
    members = [r[0] for r in core.vault.call(lambda c: c.execute(
        "SELECT member_id FROM members WHERE net_premium_cents >= 10000").fetchall())]
    staff = StaffSession(username="bench", display_name="Bench", role=Role.NAVIGATOR,
                         signed_in_at=core.clock.now())
    ctx = PaymentContext(kiosk_id="KBENCH", site="Bench", staff=staff)
    start = time.perf_counter()
    for index in range(count):
        take_card_payment(TakeCardPayment(member_id=members[index % len(members)],
                                          amount=Money(cents=100 + index % 50)),
                          ctx=ctx, vault=core.vault, terminal=core.terminal, clock=core.clock)
    return time.perf_counter() - start


def _drain(core: Core, worker: SyncWorker, *, limit_s: float) -> tuple[int, float]:
    start = time.perf_counter()
    confirmed = 0
    while time.perf_counter() - start < limit_s:
        result = worker.run_once()
        confirmed += result.confirmed
        waiting = core.vault.call(lambda c: c.execute(
            "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')").fetchone()[0])
        if waiting == 0:
            break
        core.vault.write(lambda c: c.execute(
            "UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00Z' WHERE state = 'queued'"))
    return confirmed, time.perf_counter() - start


def run(run: BenchRun) -> list[Figure]:
    return measure(count=1000 if run.quick else 10_000)


def measure(count: int = 10_000, single_sample: int = 100) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with SandboxProcess(db_path=tmp / "exchange.db", port=_free_port()) as exchange:
            proxy = FaultProxy(exchange.port, latency_s=LATENCY_S).start()
            try:
                return _measure(tmp, exchange, proxy, count, single_sample)
            finally:
                proxy.stop()


def _measure(tmp: Path, exchange: SandboxProcess, proxy: FaultProxy, count: int,
             single_sample: int) -> list[Figure]:
    core = _core(tmp / "kiosk", proxy.url)
    _worker(core, proxy.url, 100).run_once()  # fill the member cache
    capture_s = _capture(core, count)
    print(f"  captured {count} payments offline in {capture_s:.1f} s")
    core.close()
    copy_kiosk(tmp / "kiosk", tmp / "kiosk-single")  # with its device-key folder
    core = _core(tmp / "kiosk", proxy.url)
    confirmed, batch_s = _drain(core, _worker(core, proxy.url, 100), limit_s=600)
    core.close()
    print(f"  batched: {confirmed} confirmed in {batch_s:.1f} s ({confirmed / batch_s:.0f}/s)")
    single_core = _core(tmp / "kiosk-single", proxy.url)
    single_worker = _worker(single_core, proxy.url, 1)
    single_worker.run_once(max_send=1)  # the probe and the feed, outside the timing
    start = time.perf_counter()
    sent = single_worker.run_once(max_send=single_sample).confirmed
    single_rate = sent / (time.perf_counter() - start)
    single_core.close()
    print(f"  one request per payment: {single_rate:.1f}/s, so {count} would take "
          f"{count / single_rate:.0f} s")
    return [
        Figure(name=f"drain {count} payments, batches of 100, +{LATENCY_S * 1000:.0f} ms each way",
               value=batch_s, unit="s", baseline=count / single_rate,
               target=f"< {TARGET_S:.0f} s", met=batch_s < TARGET_S and confirmed == count,
               note=f"{confirmed} confirmed by the real SyncWorker through tests.faultproxy "
                    f"(+{LATENCY_S * 1000:.0f} ms each way) to the sandbox exchange; baseline: "
                    f"one request per payment, {single_sample} sent and extrapolated"),
        Figure(name="drain rate, batched", value=confirmed / batch_s, unit="payments/s",
               baseline=single_rate, target="(compare)", met=None,
               note="baseline: one request per payment"),
    ]
