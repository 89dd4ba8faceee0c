"""The audit trail is hash-chained and keyed: an edited, deleted or reordered entry is found
and named, by `audit.verify` and by `python -m kiosk audit verify`; the kiosk itself can
neither delete nor rewrite an entry; the MAC key is not stored anywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from kiosk.bootstrap import Core
from kiosk.services import audit
from kiosk.services.audit import AuditProblem, Problem
from kiosk.settings import Settings
from kiosk.store import keys
from kiosk.store.vault import AUDIT_GENESIS, derive_audit_key
from tests.support import FakeClock
from tests.test_backup import reopen

ROOT = Path(__file__).resolve().parent.parent


def fill(core: Core, count: int = 6) -> None:
    for n in range(count):
        audit.record_event(core.vault, core.clock, actor=f"nav.{n}", action="payment.taken",
                           subject=f"pay-{n}", detail=f"amount={n}")
        core.clock.advance(1)  # type: ignore[attr-defined]


def tamper(core: Core, *statements: str) -> None:
    """What someone with the key and a SQL prompt could do: drop the guards, change rows."""
    def run(conn: Any) -> None:
        conn.execute("DROP TRIGGER audit_entries_are_never_deleted")
        conn.execute("DROP TRIGGER audit_entries_never_change")
        for statement in statements:
            conn.execute(statement)

    core.vault.write(run)


def problems(core: Core) -> list[AuditProblem]:
    return list(core.vault.call(audit.verify).problems)


def test_an_intact_trail_verifies_and_its_head_is_the_newest_entry(core: Core) -> None:
    fill(core)
    report = core.vault.call(audit.verify)
    assert report.intact and report.entries == 6
    head = core.vault.call(audit.chain_head)
    last = core.vault.call(lambda c: c.execute(
        "SELECT id, mac, prev_hash FROM audit ORDER BY id DESC LIMIT 1").fetchone())
    assert head == (last[0], last[1]) == (report.head_id, report.head_mac)
    first = core.vault.call(lambda c: c.execute(
        "SELECT prev_hash FROM audit ORDER BY id LIMIT 1").fetchone()[0])
    assert first == AUDIT_GENESIS


def test_an_empty_trail_has_the_genesis_head(core: Core) -> None:
    assert core.vault.call(audit.chain_head) == (0, AUDIT_GENESIS)


def test_an_edited_entry_is_named(core: Core) -> None:
    fill(core)
    tamper(core, "UPDATE audit SET detail = 'amount=9999' WHERE id = 3")
    assert problems(core) == [AuditProblem(problem=Problem.EDITED, entry_id=3)]


def test_an_edited_actor_or_time_is_named_too(core: Core) -> None:
    fill(core)
    tamper(core, "UPDATE audit SET actor = 'someone.else' WHERE id = 2",
           "UPDATE audit SET at = '2020-01-01T00:00:00Z' WHERE id = 5")
    assert problems(core) == [AuditProblem(problem=Problem.EDITED, entry_id=2),
                              AuditProblem(problem=Problem.EDITED, entry_id=5)]


def test_a_deleted_entry_is_named(core: Core) -> None:
    fill(core)
    tamper(core, "DELETE FROM audit WHERE id = 4")
    assert problems(core) == [AuditProblem(problem=Problem.DELETED, entry_id=4)]


def test_a_deleted_last_entry_is_named(core: Core) -> None:
    fill(core)
    tamper(core, "DELETE FROM audit WHERE id = 6")
    assert problems(core) == [AuditProblem(problem=Problem.DELETED, entry_id=6)]


def test_a_deleted_entry_stays_found_after_later_entries(core: Core) -> None:
    fill(core)
    tamper(core, "DELETE FROM audit WHERE id = 6")
    fill(core, 2)
    assert problems(core) == [AuditProblem(problem=Problem.DELETED, entry_id=6)]


def test_reordered_entries_are_named(core: Core) -> None:
    fill(core)
    # Swap entries 2 and 4: each keeps its content and MAC but sits at the other's place.
    tamper(core, "UPDATE audit SET id = 100 WHERE id = 2",
           "UPDATE audit SET id = 2 WHERE id = 4",
           "UPDATE audit SET id = 4 WHERE id = 100")
    assert problems(core) == [
        AuditProblem(problem=Problem.REORDERED, entry_id=4, found_at=2),
        AuditProblem(problem=Problem.REORDERED, entry_id=2, found_at=4),
    ]


def test_a_forged_entry_without_the_key_is_found(core: Core) -> None:
    fill(core)
    head_id, head_mac = core.vault.call(audit.chain_head)
    tamper(core, "INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, mac)"
           f" VALUES ({head_id + 1}, '2026-11-28T16:00:00Z', 'x', 'payment.cancelled', 'p', '',"
           f" '{head_mac}', '{'ab' * 32}')")
    assert problems(core) == [AuditProblem(problem=Problem.EDITED, entry_id=head_id + 1)]


def test_the_kiosk_cannot_delete_or_rewrite_an_entry(core: Core) -> None:
    fill(core, 2)
    for statement in ("DELETE FROM audit WHERE id = 1",
                      "UPDATE audit SET detail = 'x' WHERE id = 1",
                      "UPDATE audit SET id = 9 WHERE id = 1"):
        with pytest.raises(sqlcipher3.IntegrityError):
            core.vault.write(lambda c, s=statement: c.execute(s))  # type: ignore[misc]
    assert core.vault.call(audit.verify).intact


def test_the_mac_key_is_derived_not_stored(settings: Settings, clock: FakeClock) -> None:
    core = reopen(settings, clock)
    fill(core, 2)
    core.close()
    key = keys.unlock(keys.places(settings)).key
    audit_key = derive_audit_key(key)
    assert audit_key != key
    where = keys.places(settings)
    for path in [*settings.data_dir.rglob("*"), *where.device_dir.rglob("*")]:
        if path.is_file():
            raw = path.read_bytes()
            assert audit_key not in raw and audit_key.hex().encode() not in raw


def test_record_keeps_its_signature_for_other_services(core: Core) -> None:
    at = core.clock.now()
    core.vault.write(lambda conn: audit.record(conn, at=at, actor="sync", action="outbox.alert",
                                               subject="7", detail="code=422"))
    core.vault.write(lambda conn: audit.record(conn, at=at, actor="sync", action="x"))
    assert core.vault.call(audit.verify).intact


def run_kiosk(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_audit_verify_on_the_command_line(settings: Settings, clock: FakeClock) -> None:
    core = reopen(settings, clock)
    fill(core)
    core.close()
    good = run_kiosk(settings.data_dir, "audit", "verify")
    assert good.returncode == 0, good.stderr
    assert "audit trail intact: 6 entries" in good.stdout
    core = reopen(settings, clock)
    tamper(core, "UPDATE audit SET detail = 'amount=0' WHERE id = 2",
           "DELETE FROM audit WHERE id = 5")
    core.close()
    bad = run_kiosk(settings.data_dir, "audit", "verify")
    assert bad.returncode == 1
    assert "entry #2: edited" in bad.stdout and "entry #5: deleted" in bad.stdout
