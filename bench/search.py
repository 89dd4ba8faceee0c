"""Member search over 100,000 cached members, per kind of query, beside a 1,000-member cache.

`kiosk.services.members.search_members` is called the way the search screen calls it (from a
thread other than the vault's), on a kiosk whose cache was filled from the sandbox exchange's
demo data through `apply_changes`, one feed page per transaction. Each query kind is built
from 200 different members picked at random (seeded), each searched once, after 20 warm-up
searches; the kinds take turns, so a slow moment of the machine hits them alike.
The baseline of each kind is the same kind of query, built the same way, on a cache of
1,000 members: the ratio says how the search grows with the cache.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import BenchRun, open_core
from bench.report import Figure, median, percentile
from kiosk.domain.members import fold_for_search, phone_digits
from kiosk.services.members import search_members

TARGET_P95_MS = 15.0

# Each kind turns one cached member's row into what a navigator would type to find them.
KINDS: dict[str, Callable[[Any], str]] = {
    "name: first 4 letters of last name": lambda m: fold_for_search(m["last_name"])[:4],
    "name: first name + 3 of last name": lambda m: (
        f"{fold_for_search(m['first_name']).split()[0]} {fold_for_search(m['last_name'])[:3]}"),
    "name: 2 letters (as typing starts)": lambda m: fold_for_search(m["last_name"])[:2],
    "member ID (M-123456)": lambda m: m["member_id"],
    "member ID, first 5 digits (m-12345)": lambda m: m["member_id"].lower()[:7],
    "date of birth (MM/DD/YYYY)": lambda m: (
        f"{m['date_of_birth'][5:7]}/{m['date_of_birth'][8:10]}/{m['date_of_birth'][:4]}"),
    "phone, 10 digits ((312) 555-0100)": lambda m: (
        f"({phone_digits(m['phone'])[:3]}) {phone_digits(m['phone'])[3:6]}-"
        f"{phone_digits(m['phone'])[6:]}"),
    "phone, last 7 digits (555-0100)": lambda m: (
        f"{phone_digits(m['phone'])[3:6]}-{phone_digits(m['phone'])[6:]}"),
}


def _queries(core: Any, count: int, seed: int) -> dict[str, list[str]]:
    rows = core.vault.call(lambda c: c.execute(
        "SELECT member_id, first_name, last_name, date_of_birth, phone FROM members"
        " ORDER BY member_id").fetchall())
    picked = random.Random(seed).sample(rows, min(count, len(rows)))
    return {kind: [make(row) for row in picked] for kind, make in KINDS.items()}


def measure(folder: Path, count: int, seed: int = 11) -> tuple[dict[str, list[float]],
                                                              dict[str, float]]:
    """Seconds per search, per kind, and the mean number of hits per kind."""
    core = open_core(folder)
    try:
        warm = _queries(core, 20, seed + 1)
        for warm_queries in warm.values():
            for query in warm_queries:
                search_members(query, vault=core.vault)
        queries = _queries(core, count, seed)
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        hits: dict[str, list[int]] = {kind: [] for kind in KINDS}
        for index in range(count):
            for kind in KINDS:
                start = time.perf_counter()
                found = search_members(queries[kind][index], vault=core.vault)
                times[kind].append(time.perf_counter() - start)
                hits[kind].append(len(found))
    finally:
        core.close()
    return times, {kind: sum(h) / len(h) for kind, h in hits.items()}


def run(run: BenchRun) -> list[Figure]:
    members = 20_000 if run.quick else 100_000
    count = 60 if run.quick else 200
    big, hits = measure(run.member_vault(members), count)
    small, _ = measure(run.member_vault(1000), count)
    figures = []
    for kind in KINDS:
        p95 = percentile(big[kind], 95) * 1000
        print(f"  {kind:38} median {median(big[kind]) * 1000:6.2f} ms  p95 {p95:6.2f} ms  "
              f"max {max(big[kind]) * 1000:6.1f} ms  ({hits[kind]:.0f} hits on average)")
        figures.append(Figure(
            name=f"search {members // 1000}k members, p95: {kind}", value=p95, unit="ms",
            baseline=percentile(small[kind], 95) * 1000, target=f"< {TARGET_P95_MS:g} ms",
            met=p95 < TARGET_P95_MS,
            note=f"{count} different members' queries, each once; search_members from the "
                 "caller's thread (50 hits at most); baseline: the same kind on a 1,000-member "
                 "cache"))
    return figures
