"""Taking a payment with 1,000,000 payments already in the vault, beside an empty vault.

Both vaults are copies of the same kiosk whose cache holds 100,000 demo members. One is then
filled with a million earlier payments, each with its card attempt, outbox row (confirmed,
with the exchange's answer kept) and audit entry, spread over all members and three years.

The FILL ONLY bypasses the services: with the kiosk closed, a child process opens the vault
file on a keyed sqlcipher3 connection of its own and bulk-inserts the rows with `executemany`,
with a large page cache and synchronous=OFF for speed (see `_fill_here` for why not through
the `Vault` object). The audit chain of the filled entries is computed with the vault's own MAC
function and key, so the trail still verifies. The kiosk is then opened normally, so the
measured payments run with the vault's own settings. The measured payments go
through `take_card_payment`, alternately on the empty and the full vault, for the same members.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlcipher3  # type: ignore[import-untyped]

from bench import startup
from bench.common import (
    BenchRun,
    copy_kiosk,
    kiosk_settings,
    open_core,
    payable_members,
    report_result,
    run_child,
)
from bench.payment import PaymentTimer
from bench.report import Figure, median, percentile
from kiosk.bootstrap import Core
from kiosk.services.audit import chain_head
from kiosk.store import keys
from kiosk.store.vault import AUDIT_HEAD_KEY, audit_mac, derive_audit_key

TARGET_RATIO = 1.2
CHUNK = 50_000


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows(member_ids: list[str], count: int, first_seq: int, audit_key: bytes,
          head: tuple[int, str]) -> Iterator[tuple[tuple[Any, ...], ...]]:
    """(attempt, payment, outbox, audit) rows of one earlier, confirmed card payment each."""
    rng = random.Random(9)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3 * 365)
    step = dt.timedelta(days=3 * 365) / count
    audit_id, prev = head
    for index in range(count):
        seq = first_seq + index
        member = member_ids[index % len(member_ids)]
        at = _iso(start + step * index)
        sale, payment_id, key = (str(uuid.UUID(int=rng.getrandbits(128), version=4))
                                 for _ in range(3))
        cents = rng.randint(2000, 60000)
        token = f"tok_sandbox_{rng.getrandbits(64):016x}"
        payload = json.dumps({
            "amount_cents": cents, "captured_at": at, "currency": "USD", "kiosk_id": "KBENCH",
            "kiosk_seq": seq, "member_id": member, "method": {
                "auth_code": f"{rng.randint(0, 999999):06d}", "brand": "visa",
                "entry_mode": "chip", "last4": "1111", "token": token, "type": "card"},
            "navigator": "bench.navigator", "payment_id": payment_id,
        }, sort_keys=True, separators=(",", ":")).encode()
        confirmation = f"EX-{seq:09d}"
        answer = json.dumps({"payment_id": payment_id, "confirmation_number": confirmation,
                             "status": "accepted", "received_at": at}).encode()
        audit_id += 1
        detail = f"{cents} USD"
        mac = audit_mac(audit_key, audit_id, at, "bench.navigator", "payment.taken",
                        payment_id, detail, prev)
        yield (
            (sale, member, cents, "bench.navigator", at, "approved", at, "USD", at),
            (payment_id, f"R-KBENCH-{seq:06d}", member, cents, "USD", "card", "visa", "1111",
             token, "000000", "chip", sale, "[]", "bench.navigator", "Bench", at, "confirmed",
             confirmation, at, cents),
            (key, seq, "payment", member, payment_id, "/v1/payments", payload, "confirmed", 1,
             at, at, at, at, 201, answer),
            (audit_id, at, "bench.navigator", "payment.taken", payment_id, detail, prev, mac),
        )
        prev = mac


_INSERTS = (
    "INSERT INTO card_attempts (sale_reference, member_id, amount_cents, navigator, started_at,"
    " result, finished_at, currency, checked_at) VALUES (?,?,?,?,?,?,?,?,?)",
    "INSERT INTO payments (payment_id, receipt_number, member_id, amount_cents, currency, method,"
    " brand, last4, card_token, auth_code, entry_mode, sale_reference, coverage_months,"
    " navigator, site, captured_at, status, confirmation_number, confirmed_at, requested_cents)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "INSERT INTO outbox (idempotency_key, kiosk_seq, kind, member_id, subject_id, endpoint,"
    " payload, state, attempts, next_attempt_at, created_at, last_sent_at, finished_at,"
    " response_status, response_body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, mac)"
    " VALUES (?,?,?,?,?,?,?,?)",
)


def fill(folder: Path, count: int) -> float:
    """Bulk-insert `count` earlier payments into the closed kiosk at `folder`, in a child
    process (see `_fill_here`); seconds."""
    start = time.perf_counter()
    run_child("bench.payment_1m", "fill", str(folder), str(count))
    return time.perf_counter() - start


def _fill_here(folder: Path, count: int) -> None:
    """FILL ONLY, in a child process, with the kiosk closed: a keyed sqlcipher3 connection
    of its own to the vault file, a 1 GB page cache and synchronous=OFF. Not the `Vault`
    object: opening one turns on SQLCipher's memory wiping for the whole process, which
    makes bulk inserts several times slower (it would stay on in this process only)."""
    data_key = keys.unlock(keys.places(kiosk_settings(folder)), demo=False).key
    conn = sqlcipher3.connect(str(folder / "vault.db"), isolation_level=None)
    try:
        conn.execute(f"PRAGMA key = \"x'{data_key.hex()}'\"")
        for pragma in ("foreign_keys = ON", "synchronous = OFF", "cache_size = -1000000"):
            conn.execute(f"PRAGMA {pragma}")
        conn.row_factory = sqlcipher3.Row
        members = [r[0] for r in conn.execute("SELECT member_id FROM members ORDER BY member_id")]
        rows = _rows(members, count, 1, derive_audit_key(data_key), chain_head(conn))
        remaining = count
        while remaining > 0:
            chunk = [next(rows) for _ in range(min(CHUNK, remaining))]
            conn.execute("BEGIN IMMEDIATE")
            for index, sql in enumerate(_INSERTS):
                conn.executemany(sql, [row[index] for row in chunk])
            conn.execute("COMMIT")
            remaining -= len(chunk)
        last = chunk[-1]
        conn.execute("INSERT OR REPLACE INTO kiosk_meta (key, value) VALUES"
                     " ('next_kiosk_seq', ?)", (str(last[2][1] + 1),))
        conn.execute("INSERT OR REPLACE INTO kiosk_meta (key, value) VALUES (?, ?)",
                     (AUDIT_HEAD_KEY, f"{last[3][0]} {last[3][7]}"))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    report_result({"filled": count})


def run(run: BenchRun) -> list[Figure]:
    members, payments, count = (10_000, 100_000, 100) if run.quick else (100_000, 1_000_000, 300)
    source = run.member_vault(members)
    empty = copy_kiosk(source, run.tmp / "payments-empty" / "kiosk")
    full = copy_kiosk(source, run.tmp / "payments-full" / "kiosk")
    seconds = fill(full, payments)
    size = sum(p.stat().st_size for p in full.glob("vault.db*")) / 1e6
    print(f"  filled {payments} payments in {seconds:.0f} s (vault {size:.0f} MB)", flush=True)
    cores: list[Core] = [open_core(empty), open_core(full)]
    try:
        who = payable_members(cores[0], 300)
        timers = [PaymentTimer(core, who) for core in cores]
        for _ in range(20):
            for timer in timers:
                timer.take(keep=False)
        for _ in range(count):
            for timer in timers:
                timer.take()
    finally:
        for core in cores:
            core.close()
    env = startup.cached_env(run)
    starts = [(startup.smoke_start(empty, env), startup.smoke_start(full, env))
              for _ in range(3)]
    start_empty, start_full = (median([s[i] for s in starts]) for i in (0, 1))
    print(f"  start to `ready`: {start_full:.2f} s with the payments, {start_empty:.2f} s "
          "without", flush=True)
    return _figures(timers[0], timers[1], payments, count) + [Figure(
        name=f"start to `ready` with {payments:,} payments in the vault", value=start_full,
        unit="s", baseline=start_empty, target="(compare)", met=None,
        note=f"python -m kiosk --smoke on the filled kiosk ({size:.0f} MB), median of 3, "
             "alternated with the same kiosk without payments; opening checks every page's "
             "HMAC (cipher_integrity_check)")]


def _figures(empty: PaymentTimer, full: PaymentTimer, payments: int,
             count: int) -> list[Figure]:
    ms = 1000.0
    ratio = median(full.whole) / median(empty.whole)
    print(f"  empty vault: median {median(empty.whole) * ms:.2f} ms, p99 "
          f"{percentile(empty.whole, 99) * ms:.2f} ms; record {median(empty.record) * ms:.2f} ms")
    print(f"  {payments} payments: median {median(full.whole) * ms:.2f} ms, p99 "
          f"{percentile(full.whole, 99) * ms:.2f} ms; record {median(full.record) * ms:.2f} ms")
    how = (f"{count} payments alternated between the two vaults (same members, after 20 "
           "warm-up each); both caches hold the same members")
    return [
        Figure(name=f"take a payment with {payments:,} payments in the vault, median",
               value=median(full.whole) * ms, unit="ms", baseline=median(empty.whole) * ms,
               target=f"<= {TARGET_RATIO:g}x empty vault", met=ratio <= TARGET_RATIO,
               note=f"{how}; whole take_card_payment; baseline: the same on a copy of the "
                    "vault without payments"),
        Figure(name=f"record transaction with {payments:,} payments in the vault, median",
               value=median(full.record) * ms, unit="ms", baseline=median(empty.record) * ms,
               target="(compare)", met=None,
               note="the payment's record transaction alone, as in the payment figure"),
        Figure(name=f"take a payment with {payments:,} payments in the vault, p99",
               value=percentile(full.whole, 99) * ms, unit="ms",
               baseline=percentile(empty.whole, 99) * ms, target="(compare)", met=None),
    ]


if __name__ == "__main__":  # python -m bench.payment_1m fill FOLDER COUNT (the child)
    _fill_here(Path(sys.argv[2]), int(sys.argv[3]))
