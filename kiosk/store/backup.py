"""Encrypted backups of the vault, and restore.

A backup is made with SQLite's online backup API into a new file keyed with the vault's own
key, so it is exactly as unreadable as the vault; it is checked (every page's HMAC, SQLite's
quick check) before it counts, then the oldest backups beyond the retention count are removed.
Beside each backup lies a copy of the wrapped keys of that moment (`*.keys.json`), so a backup
made before a re-key can still be recovered with that time's passphrase.

Restore refuses a backup it cannot open with the vault key and check, refuses while the kiosk
has the vault open, and moves the current vault files (with their WAL) into a safety folder
instead of overwriting them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlcipher3  # type: ignore[import-untyped]

from kiosk.clock import Clock
from kiosk.errors import VaultError, VaultKeyError
from kiosk.services import audit
from kiosk.settings import Settings
from kiosk.store import migrations
from kiosk.store.vault import (
    Connection,
    Vault,
    VaultIntegrityError,
    check_integrity,
    open_readonly,
    vault_lock,
)

log = logging.getLogger(__name__)

_STAMP = "%Y%m%dT%H%M%SZ"
_PREFIX = "vault-"


class BackupError(VaultError):
    """A backup could not be made, or a backup file cannot be restored."""

    code = "backup_failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupPolicy:
    folder: Path
    interval: dt.timedelta
    keep: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupInfo:
    path: Path
    made_at: dt.datetime
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupMade:
    path: Path
    made_at: dt.datetime
    payments: int
    removed: tuple[Path, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Restored:
    backup: Path
    safety_folder: Path | None  # where the replaced vault files went; None if there were none
    payments: int


def policy(settings: Settings) -> BackupPolicy:
    folder = Path(settings.backup_dir) if settings.backup_dir else settings.data_dir / "backups"
    return BackupPolicy(folder=folder, interval=dt.timedelta(hours=settings.backup_interval_hours),
                        keep=max(1, settings.backup_keep))


def list_backups(folder: Path) -> list[BackupInfo]:
    """The backups in `folder`, oldest first."""
    found = []
    for path in folder.glob(f"{_PREFIX}*.db"):
        try:
            made = dt.datetime.strptime(path.stem[len(_PREFIX):], _STAMP).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        found.append(BackupInfo(path=path, made_at=made, size=path.stat().st_size))
    return sorted(found, key=lambda info: info.made_at)


def verify_backup(path: Path, key: bytes) -> int:
    """Open a backup read-only with `key` and check it; returns its payment count.

    Raises BackupError: `backup_unreadable` (not there, or not opened by this key),
    `backup_damaged` (a page fails its check), `backup_too_new` (a newer kiosk's schema).
    """
    if not path.is_file():
        raise BackupError(code="backup_unreadable", path=str(path))
    try:
        conn = open_readonly(path, key)
    except VaultKeyError as exc:
        raise BackupError(code="backup_unreadable", path=str(path)) from exc
    try:
        return _checked_payments(conn, path)
    finally:
        conn.close()


def _checked_payments(conn: Connection, path: Path) -> int:
    try:
        check_integrity(conn, path)
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(code="backup_damaged", path=str(path))
        version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        payments = int(conn.execute("SELECT count(*) FROM payments").fetchone()[0])
    except VaultIntegrityError as exc:
        raise BackupError(code="backup_damaged", path=str(path),
                          failures=exc.details.get("failures", [])) from exc
    except sqlcipher3.DatabaseError as exc:
        raise BackupError(code="backup_damaged", path=str(path)) from exc
    if int(version or 0) > migrations.latest_version():
        raise BackupError(code="backup_too_new", path=str(path))
    return payments


class Backups:
    """Makes and prunes one vault's backups. Thread-safe as the vault is; the copy runs on
    the vault thread, so call it from a worker thread, never the UI thread."""

    def __init__(self, *, vault: Vault, key: bytes, policy: BackupPolicy, keystore: Path,
                 clock: Clock) -> None:
        self._vault = vault
        self._key = key
        self.policy = policy
        self._keystore = keystore
        self._clock = clock

    def maybe_backup(self, now: dt.datetime) -> BackupMade | None:
        """Make a backup when the newest is older than the interval (or there is none)."""
        newest = list_backups(self.policy.folder)[-1:]
        if newest and now - newest[0].made_at < self.policy.interval:
            return None
        return self.backup_now(now, actor="schedule")

    def backup_now(self, now: dt.datetime, *, actor: str = "kiosk") -> BackupMade:
        """Make, check and keep a backup now, then drop the oldest beyond the retention."""
        folder = self.policy.folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / f"{_PREFIX}{now.astimezone(dt.UTC).strftime(_STAMP)}.db"
        if path.exists():
            raise BackupError(code="backup_exists", path=str(path))
        payments = self._copy_checked(path)
        _copy_keys(self._keystore, path)
        removed = self._prune()
        audit.record_event(self._vault, self._clock, actor=actor, action="backup.made",
                           subject=path.name, detail=f"payments={payments}")
        log.info("vault backup made: %s (%d payments)", path.name, payments)
        return BackupMade(path=path, made_at=now, payments=payments, removed=removed)

    def _copy_checked(self, path: Path) -> int:
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        try:
            self._vault.backup_to(partial)
            os.chmod(partial, 0o600)
            _fsync(partial)
            payments = verify_backup(partial, self._key)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
        return payments

    def _prune(self) -> tuple[Path, ...]:
        old = list_backups(self.policy.folder)[: -self.policy.keep]
        for info in old:
            info.path.unlink(missing_ok=True)
            _keys_copy(info.path).unlink(missing_ok=True)
        return tuple(info.path for info in old)


def _keys_copy(backup: Path) -> Path:
    return backup.with_name(backup.stem + ".keys.json")


def _copy_keys(keystore: Path, backup: Path) -> None:
    if keystore.exists():
        shutil.copyfile(keystore, _keys_copy(backup))
        os.chmod(_keys_copy(backup), 0o600)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore(backup: Path, *, vault_path: Path, key: bytes, now: dt.datetime) -> Restored:
    """Replace the vault with `backup`. Nothing changes unless the backup opens with `key`
    and passes its checks, and the vault is not open (VaultError `vault_in_use`). The files
    replaced go to `restore-safety/<time>/` beside the vault. Returns what was restored."""
    payments = verify_backup(backup, key)
    with vault_lock(vault_path):
        staging = vault_path.with_name(vault_path.name + ".restoring")
        shutil.copyfile(backup, staging)
        os.chmod(staging, 0o600)
        _fsync(staging)
        verify_backup(staging, key)
        safety = _move_aside(vault_path, now)
        os.replace(staging, vault_path)
    log.info("vault restored from %s (%d payments)", backup.name, payments)
    return Restored(backup=backup, safety_folder=safety, payments=payments)


def _move_aside(vault_path: Path, now: dt.datetime) -> Path | None:
    """Move the vault file and its WAL and shared-memory files, together, into a new safety
    folder, so they still open as they were."""
    present = [p for p in (vault_path, *(vault_path.with_name(vault_path.name + s)
                                         for s in ("-wal", "-shm"))) if p.exists()]
    if not present:
        return None
    safety = vault_path.parent / "restore-safety" / now.astimezone(dt.UTC).strftime(_STAMP)
    safety.mkdir(mode=0o700, parents=True, exist_ok=False)
    for path in present:
        os.replace(path, safety / path.name)
    return safety
