"""Encrypted backups: made with the online backup API and still encrypted, on demand and on a
schedule, pruned to the newest N, and restored with every payment; a backup that cannot be
opened or checked is refused and the vault is left as it was."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest

from kiosk.bootstrap import Core, build_core
from kiosk.domain.money import Money
from kiosk.domain.staff import Role, StaffSession
from kiosk.errors import VaultError
from kiosk.services.auth import EnrollStaff, enroll_staff
from kiosk.services.cache import apply_changes
from kiosk.services.payments import PaymentContext, TakeCardPayment, take_card_payment
from kiosk.settings import Settings
from kiosk.store import backup, keys
from kiosk.terminal.sandbox import SandboxTerminal
from tests.support import FakeClock

ROOT = Path(__file__).resolve().parent.parent


# -- helpers shared with tests/test_keys.py ----------------------------------------------------

def member(member_id: str) -> dict[str, object]:
    return {"member_id": member_id, "first_name": "Rosa", "last_name": f"Quintero {member_id}",
            "date_of_birth": "1960-02-02", "phone": "+15055550111", "email": "r@example.org",
            "plan_id": "P-1", "aptc_cents": 0, "net_premium_cents": 300_00,
            "preferred_language": "es", "coverage_start": "2026-01-01", "status": "active"}


def invoice(member_id: str) -> dict[str, object]:
    return {"invoice_id": f"I-{member_id}-2026-12", "member_id": member_id,
            "coverage_month": "2026-12", "amount_due_cents": 300_00, "amount_paid_cents": 0,
            "due_date": "2026-12-15", "is_binder": False, "status": "open"}


def take_payments(core: Core, count: int) -> None:
    """Stock three members and take `count` small card payments through the real service."""
    ids = ["M-1", "M-2", "M-3"]
    apply_changes([{"kind": "member", "data": member(m)} for m in ids]
                  + [{"kind": "invoice", "data": invoice(m)} for m in ids],
                  next_after=6, vault=core.vault)
    staff = StaffSession(username="nav.x", display_name="X", role=Role.NAVIGATOR,
                         signed_in_at=core.clock.now())
    for n in range(count):
        take_card_payment(TakeCardPayment(member_id=ids[n % 3], amount=Money(cents=100 + n)),
                          ctx=PaymentContext(kiosk_id="K042", site="Site", staff=staff),
                          vault=core.vault, terminal=core.terminal, clock=core.clock)


def payments_of(core: Core) -> dict[str, tuple[object, ...]]:
    """Every payment: id -> (receipt number, member, amount, status)."""
    rows = core.vault.call(lambda c: c.execute(
        "SELECT payment_id, receipt_number, member_id, amount_cents, status FROM payments"
    ).fetchall())
    return {r[0]: tuple(r[1:]) for r in rows}


def reopen(settings: Settings, clock: FakeClock, **kwargs: object) -> Core:
    return build_core(settings, clock=clock, terminal=SandboxTerminal(), **kwargs)  # type: ignore[arg-type]


# -- making backups -----------------------------------------------------------------------------

def test_a_backup_holds_every_payment_and_is_encrypted(core: Core) -> None:
    take_payments(core, 6)
    made = core.backups.backup_now(core.clock.now())
    assert made.payments == 6
    raw = made.path.read_bytes()
    for plain in (b"SQLite format 3", b"Quintero", b"M-1", b"K042"):
        assert plain not in raw
    assert made.path.stat().st_mode & 0o077 == 0
    assert made.path.with_name(made.path.stem + ".keys.json").exists()
    assert backup.verify_backup(made.path, keys.unlock(keys.places(core.settings)).key) == 6


def test_a_backup_is_audited(core: Core) -> None:
    made = core.backups.backup_now(core.clock.now())
    rows = core.vault.call(lambda c: c.execute(
        "SELECT subject FROM audit WHERE action = 'backup.made'").fetchall())
    assert [r[0] for r in rows] == [made.path.name]


def test_the_schedule_backs_up_once_per_interval(core: Core, clock: FakeClock) -> None:
    first = core.backups.maybe_backup(clock.now())
    assert first is not None
    clock.advance(3600)
    assert core.backups.maybe_backup(clock.now()) is None
    clock.advance(23 * 3600)
    assert core.backups.maybe_backup(clock.now()) is not None
    assert len(backup.list_backups(core.backups.policy.folder)) == 2


def test_only_the_newest_backups_are_kept(settings: Settings, clock: FakeClock) -> None:
    core = reopen(replace(settings, backup_keep=3, backup_interval_hours=1), clock)
    try:
        made = []
        for _ in range(5):
            made.append(core.backups.maybe_backup(clock.now()))
            clock.advance(3601)
        kept = [info.path for info in backup.list_backups(core.backups.policy.folder)]
        assert kept == [m.path for m in made[2:] if m]
        assert made[4] is not None and made[4].removed == (made[1].path,)  # type: ignore[union-attr]
        assert not made[0].path.with_name(made[0].path.stem + ".keys.json").exists()  # type: ignore[union-attr]
    finally:
        core.close()


# -- restoring ----------------------------------------------------------------------------------

def test_a_restored_backup_has_every_payment(settings: Settings, clock: FakeClock) -> None:
    core = reopen(settings, clock)
    take_payments(core, 9)
    before = payments_of(core)
    made = core.backups.backup_now(clock.now())
    take_payments(core, 1)  # taken after the backup: the restore goes back before it
    key = keys.unlock(keys.places(settings)).key
    core.close()
    restored = backup.restore(made.path, vault_path=settings.vault_path, key=key, now=clock.now())
    assert restored.payments == 9
    assert restored.safety_folder is not None
    assert (restored.safety_folder / settings.vault_path.name).exists()
    again = reopen(settings, clock)
    try:
        assert payments_of(again) == before
    finally:
        again.close()


def test_the_safety_copy_still_opens_with_the_later_payment(
    settings: Settings, clock: FakeClock
) -> None:
    core = reopen(settings, clock)
    made = core.backups.backup_now(clock.now())
    take_payments(core, 2)
    key = keys.unlock(keys.places(settings)).key
    core.close()
    restored = backup.restore(made.path, vault_path=settings.vault_path, key=key, now=clock.now())
    assert restored.safety_folder is not None
    saved = replace(settings, data_dir=restored.safety_folder)
    (restored.safety_folder / "vault.keys.json").write_bytes(
        keys.places(settings).keystore_path.read_bytes())
    old = reopen(replace(saved, key_dir=str(keys.places(settings).device_dir)), clock)
    try:
        assert len(payments_of(old)) == 2
    finally:
        old.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_backup_is_refused_and_nothing_changes(
    settings: Settings, clock: FakeClock
) -> None:
    core = reopen(settings, clock)
    take_payments(core, 3)
    made = core.backups.backup_now(clock.now())
    key = keys.unlock(keys.places(settings)).key
    core.close()
    data = bytearray(made.path.read_bytes())
    data[3 * 4096 + 100] ^= 0x01
    made.path.write_bytes(bytes(data))
    before = digest(settings.vault_path)
    with pytest.raises(backup.BackupError) as info:
        backup.restore(made.path, vault_path=settings.vault_path, key=key, now=clock.now())
    assert info.value.code == "backup_damaged"
    assert digest(settings.vault_path) == before
    assert not (settings.data_dir / "restore-safety").exists()


def test_a_backup_under_another_key_is_refused(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    other = reopen(replace(settings, data_dir=tmp_path / "other"), clock)
    made = other.backups.backup_now(clock.now())
    other.close()
    core = reopen(settings, clock)
    key = keys.unlock(keys.places(settings)).key
    core.close()
    with pytest.raises(backup.BackupError) as info:
        backup.restore(made.path, vault_path=settings.vault_path, key=key, now=clock.now())
    assert info.value.code == "backup_unreadable"


def test_restore_is_refused_while_the_kiosk_has_the_vault_open(core: Core) -> None:
    made = core.backups.backup_now(core.clock.now())
    key = keys.unlock(keys.places(core.settings)).key
    with pytest.raises(VaultError) as info:
        backup.restore(made.path, vault_path=core.settings.vault_path, key=key,
                       now=core.clock.now())
    assert info.value.code == "vault_in_use"


# -- the command line ---------------------------------------------------------------------------

def run_kiosk(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)


def test_backup_now_and_restore_from_the_command_line(settings: Settings, clock: FakeClock) -> None:
    core = reopen(settings, clock)
    take_payments(core, 4)
    core.close()
    made = run_kiosk(settings.data_dir, "backup", "now")
    assert made.returncode == 0, made.stderr
    listed = run_kiosk(settings.data_dir, "backup", "list")
    path = Path(listed.stdout.split()[0])
    assert path.exists()
    # No staff yet, so nobody could approve: the restore is refused and nothing changes.
    refused = run_kiosk(settings.data_dir, "backup", "restore", str(path), stdin="x\ny\nz\n")
    assert refused.returncode == 1 and "auth_failed" in refused.stderr
    tampered = path.with_name("vault-20000101T000000Z.db")
    tampered.write_bytes(path.read_bytes()[:8192])
    bad = run_kiosk(settings.data_dir, "backup", "restore", str(tampered))
    assert bad.returncode == 1 and "backup_" in bad.stderr


def test_a_supervisor_approves_a_restore_from_the_command_line(
    settings: Settings, clock: FakeClock
) -> None:
    core = reopen(settings, clock)
    take_payments(core, 5)
    enrolled = enroll_staff(EnrollStaff(username="sup.one", display_name="S", role=Role.SUPERVISOR,
                                        password="quill lantern orchard 1957"),
                            vault=core.vault, clock=clock)
    made = core.backups.backup_now(clock.now())
    take_payments(core, 2)
    core.close()
    approval = f"sup.one\nquill lantern orchard 1957\n{pyotp.TOTP(enrolled.totp_secret).now()}\n"
    result = run_kiosk(settings.data_dir, "backup", "restore", str(made.path), stdin=approval)
    assert result.returncode == 0, result.stderr
    assert "Restored 5 payments" in result.stdout
    again = reopen(settings, clock)
    try:
        assert len(payments_of(again)) == 5
        actions = again.vault.call(lambda c: [r[0] for r in c.execute("SELECT action FROM audit")])
        assert actions[-1] == "backup.restored"
    finally:
        again.close()
