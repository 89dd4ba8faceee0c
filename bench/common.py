"""What the benchmarks share: a run's options and scratch folder, kiosks on real vaults, the
member cache filled from the sandbox exchange's own demo data, and child processes.

Every kiosk here is built by the real composition root (`kiosk.bootstrap.build_core`) on a real
SQLCipher vault, with its device key in a file (never the developer's keyring).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.bootstrap import Core, build_core
from kiosk.clock import SystemClock
from kiosk.domain.staff import Role, StaffSession
from kiosk.services.cache import apply_changes
from kiosk.services.payments import PaymentContext
from kiosk.settings import Settings
from kiosk.terminal.sandbox import SandboxTerminal

ROOT = Path(__file__).resolve().parents[1]
KIOSK_ID = "KBENCH"
PAGE = 500  # changes per page, as the sync worker asks the exchange for them
RESULT_PREFIX = "BENCH-RESULT "


@dataclass(slots=True)
class BenchRun:
    """Options of one `python -m bench` run and the scratch folder its benchmarks share."""

    quick: bool
    tmp: Path
    _member_vaults: dict[int, Path] = field(default_factory=dict)

    def member_vault(self, count: int) -> Path:
        """A closed kiosk data folder whose cache holds `count` demo members and their
        invoices, loaded through `apply_changes` one feed page at a time. Built once per run;
        copy it (`copy_kiosk`) before writing to it."""
        if count not in self._member_vaults:
            folder = self.tmp / f"members-{count}" / "kiosk"
            start = time.perf_counter()
            changes = demo_changes(count)
            made = time.perf_counter() - start
            core = open_core(folder)
            try:
                loaded = load_changes(core, changes)
            finally:
                core.close()
            print(f"  (member cache: {count} members, {len(changes)} changes generated in "
                  f"{made:.1f} s, loaded in {loaded:.1f} s)", flush=True)
            self._member_vaults[count] = folder
        return self._member_vaults[count]


def kiosk_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"kiosk_id": KIOSK_ID, "site_name": "Bench", "key_store": "file"}
    values.update(overrides)
    return Settings(data_dir=data_dir, **values)


def open_core(data_dir: Path, **overrides: Any) -> Core:
    return build_core(kiosk_settings(data_dir, **overrides), clock=SystemClock(),
                      terminal=SandboxTerminal(rng=random.Random(1)))


def copy_kiosk(src: Path, dst: Path) -> Path:
    """Copy a closed kiosk's data folder and its device-key folder (a sibling) to `dst`."""
    shutil.copytree(src, dst)
    shutil.copytree(src.parent / f"{src.name}-keys", dst.parent / f"{dst.name}-keys")
    return dst


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def navigator(core: Core) -> StaffSession:
    return StaffSession(username="bench.navigator", display_name="Bench", role=Role.NAVIGATOR,
                        signed_in_at=core.clock.now())


def payment_context(core: Core) -> PaymentContext:
    return PaymentContext(kiosk_id=KIOSK_ID, site="Bench", staff=navigator(core))


def payable_members(core: Core, count: int) -> list[str]:
    """Members who can pay a dollar today, spread over the cache (same list for a copy)."""
    rows = core.vault.call(lambda c: c.execute(
        "SELECT member_id FROM members WHERE net_premium_cents >= 10000 ORDER BY member_id"
    ).fetchall())
    ids = [r[0] for r in rows]
    step = max(1, len(ids) // count)
    return ids[::step][:count]


# -- the member cache ---------------------------------------------------------------------------

def _plan_data(p: Any) -> dict[str, Any]:
    return {"plan_id": p.plan_id, "name": p.name, "issuer": p.issuer,
            "metal_level": p.metal_level, "gross_premium_cents": p.gross_premium_cents,
            "deductible_cents": p.deductible_cents, "oop_max_cents": p.oop_max_cents}


def _member_data(m: Any) -> dict[str, Any]:
    return {"member_id": m.member_id, "first_name": m.first_name, "last_name": m.last_name,
            "date_of_birth": m.date_of_birth.isoformat(), "phone": m.phone, "email": m.email,
            "plan_id": m.plan_id, "aptc_cents": m.aptc_cents,
            "net_premium_cents": m.net_premium_cents,
            "preferred_language": m.preferred_language,
            "coverage_start": m.coverage_start.isoformat(), "status": m.status.value}


def _invoice_data(i: Any) -> dict[str, Any]:
    return {"invoice_id": i.invoice_id, "member_id": i.member_id,
            "coverage_month": i.coverage_month, "amount_due_cents": i.amount_due_cents,
            "amount_paid_cents": i.amount_paid_cents, "due_date": i.due_date.isoformat(),
            "is_binder": i.is_binder, "status": i.status.value}


def demo_changes(members: int, *, seed: int = 7) -> list[Mapping[str, Any]]:
    """The sandbox exchange's demo data for `members` members, as its changes feed carries it
    (plans, then each member followed by their invoices)."""
    from sync.sandbox import demo_data  # the generator only; no web stack

    data = demo_data.generate(seed=seed, members=members, today=dt.date.today())
    by_member: dict[str, list[Any]] = {}
    for invoice in data.invoices:
        by_member.setdefault(invoice.member_id, []).append(invoice)
    changes: list[Mapping[str, Any]] = [{"kind": "plan", "data": _plan_data(p)}
                                        for p in data.plans]
    for member in data.members:
        changes.append({"kind": "member", "data": _member_data(member)})
        changes += [{"kind": "invoice", "data": _invoice_data(i)}
                    for i in by_member.get(member.member_id, [])]
    return changes


def load_changes(core: Core, changes: list[Mapping[str, Any]]) -> float:
    """Apply `changes` one feed page per transaction, as the sync worker does; seconds."""
    start = time.perf_counter()
    for index in range(0, len(changes), PAGE):
        apply_changes(list(changes[index:index + PAGE]), next_after=index + PAGE,
                      vault=core.vault)
    return time.perf_counter() - start


# -- child processes ----------------------------------------------------------------------------

def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


def run_child(module: str, *args: str, timeout: float = 1200) -> dict[str, Any]:
    """Run `python -m module args` and return the JSON it printed after RESULT_PREFIX. Its
    other output is passed through, indented."""
    return run_command([sys.executable, "-m", module, *args], timeout=timeout)


def run_command(command: list[str], timeout: float = 1200) -> dict[str, Any]:
    """Run a child process and return the JSON it printed after RESULT_PREFIX."""
    module = " ".join(command[1:3])
    proc = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    result: dict[str, Any] | None = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
        elif line.strip() and line.strip() != "ready":
            print(f"  {line}", flush=True)
    if proc.returncode != 0 or result is None:
        tail = "\n".join(proc.stderr.splitlines()[-25:])
        raise RuntimeError(f"{module} failed (exit {proc.returncode}):\n{tail}")
    return result


def report_result(result: Mapping[str, Any]) -> None:
    """In a child: hand the result to the parent (see `run_child`)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)
