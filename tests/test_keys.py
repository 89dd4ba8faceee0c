"""Vault keys: the data key is never on disk in plaintext; it is wrapped under a device key
(the OS keyring, or an owner-only file apart from the vault) and a recovery passphrase; an
earlier version's plaintext key is migrated; rotating the wrapping, re-keying the vault and
recovering with the passphrase keep every payment; a wrong passphrase is refused."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from kiosk.bootstrap import key_setup_needed
from kiosk.errors import ValidationError, VaultKeyError
from kiosk.services import audit
from kiosk.settings import Settings
from kiosk.store import keys, migrations
from kiosk.store.vault import Vault, key_opens, open_connection
from tests.support import FakeClock
from tests.test_backup import payments_of, reopen, take_payments

PASSPHRASE = "saffron tugboat meridian 88"
ROOT = Path(__file__).resolve().parent.parent


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in: this headless machine has none, and the keyring package's own
    backend interface is what the kiosk talks to. Its constructor takes an argument so that
    keyring's discovery (which builds every backend class without arguments) never picks it
    as this process's system keyring."""

    priority = 5  # type: ignore[assignment]

    def __init__(self, entries: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.entries = entries

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def every_file(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def data_key(settings: Settings) -> bytes:
    return keys.unlock(keys.places(settings)).key


# -- the key at rest ----------------------------------------------------------------------------

def test_the_data_key_is_never_written_in_plaintext(settings: Settings, clock: FakeClock) -> None:
    core = reopen(settings, clock, recovery_passphrase=PASSPHRASE)
    core.close()
    key = data_key(settings)
    where = keys.places(settings)
    files = every_file(settings.data_dir, where.device_dir)
    assert where.keystore_path in files and not settings.key_path.exists()
    for path in files:
        raw = path.read_bytes()
        assert key not in raw and key.hex().encode() not in raw, path


def test_without_a_keyring_the_device_key_is_a_private_file_apart_from_the_vault(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    core = reopen(settings, clock, keyring_backend=None)
    core.close()
    assert core.key_status.device is keys.DevicePlace.FILE
    where = keys.places(settings)
    assert not where.device_dir.is_relative_to(settings.data_dir)
    assert where.device_dir.stat().st_mode & 0o777 == 0o700
    assert "no usable OS keyring" in caplog.text


def test_with_a_keyring_the_device_key_lives_there(settings: Settings, clock: FakeClock) -> None:
    settings = replace(settings, key_store="auto")  # the fixture keeps tests off real keyrings
    ring = MemoryKeyring({})
    core = reopen(settings, clock, keyring_backend=ring)
    take_payments(core, 2)
    core.close()
    assert core.key_status.device is keys.DevicePlace.KEYRING
    assert len(ring.entries) == 1 and not keys.places(settings).device_dir.exists()
    again = reopen(settings, clock, keyring_backend=ring)
    try:
        assert len(payments_of(again)) == 2
    finally:
        again.close()
    ring.entries.clear()  # the keyring was wiped: only recovery helps now
    with pytest.raises(VaultKeyError) as info:
        reopen(settings, clock, keyring_backend=ring)
    assert info.value.code == "vault_device_key_missing"


def test_a_new_vault_without_a_passphrase_starts_but_says_so(core: object) -> None:
    status = core.key_status  # type: ignore[attr-defined]
    assert not status.recovery_set and not status.demo_recovery


def test_demo_mode_uses_the_marked_demo_passphrase(settings: Settings, clock: FakeClock) -> None:
    core = reopen(replace(settings, demo=True), clock)
    core.close()
    assert core.key_status.recovery_set and core.key_status.demo_recovery
    keys.recover(keys.places(settings), keys.DEMO_RECOVERY_PASSPHRASE)


@pytest.mark.parametrize(("passphrase", "code"), [
    ("short one", "passphrase_too_short"),
    ("correct horse battery staple", "passphrase_too_common"),
    (keys.DEMO_RECOVERY_PASSPHRASE, "passphrase_too_common"),
])
def test_weak_passphrases_are_refused(
    settings: Settings, clock: FakeClock, passphrase: str, code: str
) -> None:
    with pytest.raises(ValidationError) as info:
        reopen(settings, clock, recovery_passphrase=passphrase)
    assert info.value.code == code
    assert not settings.vault_path.exists()


def test_recovery_uses_argon2id_above_the_owasp_minimum(
    settings: Settings, clock: FakeClock
) -> None:
    reopen(settings, clock, recovery_passphrase=PASSPHRASE).close()
    entry = json.loads(keys.places(settings).keystore_path.read_text())["current"]["recovery"]
    assert entry["kdf"] == "argon2id"
    assert entry["memory_kib"] >= 19 * 1024 and entry["time_cost"] >= 2
    assert entry["parallelism"] >= 1


# -- migration from the plaintext key ------------------------------------------------------------

def legacy_vault(settings: Settings) -> bytes:
    """A vault as the previous version left it: schema 3 and a plaintext `vault.key`."""
    key = bytes(range(32))
    settings.data_dir.mkdir(parents=True)
    settings.key_path.write_text(key.hex(), encoding="ascii")
    conn = open_connection(settings.vault_path, key)
    migrations.migrate(conn, target=3)
    conn.execute("INSERT INTO audit (at, actor, action) VALUES ('2026-01-01T00:00:00Z',"
                 " 'nav.old', 'signin')")
    conn.close()
    return key


def test_a_plaintext_key_is_not_migrated_without_a_passphrase(
    settings: Settings, clock: FakeClock
) -> None:
    legacy_vault(settings)
    assert key_setup_needed(settings) is keys.KeySetup.MIGRATE
    before = hashlib.sha256(settings.vault_path.read_bytes()).hexdigest()
    with pytest.raises(VaultKeyError) as info:
        reopen(settings, clock)
    assert info.value.code == "recovery_passphrase_required"
    assert settings.key_path.exists() and not keys.places(settings).keystore_path.exists()
    assert hashlib.sha256(settings.vault_path.read_bytes()).hexdigest() == before


def test_a_plaintext_key_is_wrapped_and_then_removed(settings: Settings, clock: FakeClock) -> None:
    key = legacy_vault(settings)
    core = reopen(settings, clock, recovery_passphrase=PASSPHRASE)
    try:
        assert core.key_status.recovery_set
        report = core.vault.call(audit.verify)
        assert report.intact and report.entries == 2  # the old entry, and "audit.sealed"
    finally:
        core.close()
    assert not settings.key_path.exists()
    assert key_setup_needed(settings) is keys.KeySetup.READY
    assert data_key(settings) == key
    keys.recover(keys.places(settings), PASSPHRASE)
    assert data_key(settings) == key


# -- rotate, re-key, recover --------------------------------------------------------------------

@pytest.fixture
def paid(settings: Settings, clock: FakeClock) -> dict[str, tuple[object, ...]]:
    """A vault with a recovery passphrase and seven payments; returns those payments."""
    core = reopen(settings, clock, recovery_passphrase=PASSPHRASE)
    take_payments(core, 7)
    payments = payments_of(core)
    core.close()
    return payments


def payments_after_reopening(settings: Settings, clock: FakeClock) -> dict[str, tuple[object, ...]]:
    core = reopen(settings, clock)
    try:
        assert core.vault.call(audit.verify).intact
        return payments_of(core)
    finally:
        core.close()


def test_a_wrong_passphrase_is_refused_and_changes_nothing(
    settings: Settings, paid: dict[str, tuple[object, ...]]
) -> None:
    where = keys.places(settings)
    before = where.keystore_path.read_bytes()
    for attempt in (lambda: keys.recover(where, "saffron tugboat meridian 89"),
                    lambda: keys.rekey(where, "saffron tugboat meridian 89"),
                    lambda: keys.set_recovery_passphrase(where, "a brand new passphrase 1",
                                                         current="not the passphrase at all")):
        with pytest.raises(VaultKeyError) as info:
            attempt()
        assert info.value.code == "recovery_passphrase_wrong"
    assert where.keystore_path.read_bytes() == before


def test_rotating_the_wrapping_keeps_every_payment(
    settings: Settings, clock: FakeClock, paid: dict[str, tuple[object, ...]]
) -> None:
    where = keys.places(settings)
    old_files = set(every_file(where.device_dir))
    key = data_key(settings)
    keys.rotate_wrapping(where)
    new_files = set(every_file(where.device_dir))
    assert len(new_files) == 1 and not new_files & old_files
    assert data_key(settings) == key
    assert payments_after_reopening(settings, clock) == paid


def test_rekey_re_encrypts_the_vault_and_keeps_every_payment(
    settings: Settings, clock: FakeClock, paid: dict[str, tuple[object, ...]]
) -> None:
    old_key = data_key(settings)
    keys.rekey(keys.places(settings), PASSPHRASE)
    new_key = data_key(settings)
    assert new_key != old_key
    assert not key_opens(settings.vault_path, old_key)
    assert key_opens(settings.vault_path, new_key)
    assert payments_after_reopening(settings, clock) == paid
    keys.recover(keys.places(settings), PASSPHRASE)  # the passphrase wraps the new key too
    assert data_key(settings) == new_key


def test_recover_after_the_device_key_is_lost_keeps_every_payment(
    settings: Settings, clock: FakeClock, paid: dict[str, tuple[object, ...]]
) -> None:
    shutil.rmtree(keys.places(settings).device_dir)
    with pytest.raises(VaultKeyError) as info:
        reopen(settings, clock)
    assert info.value.code == "vault_device_key_missing"
    status = keys.recover(keys.places(settings), PASSPHRASE)
    assert status.recovery_set
    assert payments_after_reopening(settings, clock) == paid


def interrupted_rekey(settings: Settings) -> tuple[dict[str, object], dict[str, object]]:
    """Run a real re-key; return the keystore as it was before and after."""
    where = keys.places(settings)
    before = json.loads(where.keystore_path.read_text())
    keys.rekey(where, PASSPHRASE)
    return before, json.loads(where.keystore_path.read_text())


def test_a_rekey_cut_off_after_the_vault_changed_is_finished_at_start(
    settings: Settings, clock: FakeClock, paid: dict[str, tuple[object, ...]]
) -> None:
    before, after = interrupted_rekey(settings)
    # As if the process died between re-encrypting the vault and promoting the new wrapping.
    crashed = {**before, "pending": after["current"]}
    keys.places(settings).keystore_path.write_text(json.dumps(crashed))
    assert payments_after_reopening(settings, clock) == paid
    settled = json.loads(keys.places(settings).keystore_path.read_text())
    assert settled["pending"] is None and settled["current"] == after["current"]


def test_a_rekey_cut_off_before_the_vault_changed_keeps_the_old_key(
    settings: Settings, clock: FakeClock, paid: dict[str, tuple[object, ...]], tmp_path: Path
) -> None:
    saved = tmp_path / "vault-before.db"
    shutil.copyfile(settings.vault_path, saved)
    before, after = interrupted_rekey(settings)
    shutil.copyfile(saved, settings.vault_path)  # the re-encryption never happened
    crashed = {**before, "pending": after["current"]}
    keys.places(settings).keystore_path.write_text(json.dumps(crashed))
    assert payments_after_reopening(settings, clock) == paid
    settled = json.loads(keys.places(settings).keystore_path.read_text())
    assert settled["pending"] is None and settled["current"] == before["current"]


def test_rekey_is_refused_while_the_vault_is_open(
    settings: Settings, clock: FakeClock, paid: dict[str, tuple[object, ...]]
) -> None:
    vault = Vault(settings.vault_path, data_key(settings))
    try:
        with pytest.raises(Exception) as info:
            keys.rekey(keys.places(settings), PASSPHRASE)
        assert getattr(info.value, "code", "") == "vault_in_use"
    finally:
        vault.close()
    assert payments_after_reopening(settings, clock) == paid


def test_a_passphrase_given_at_a_later_start_becomes_the_recovery_one(
    settings: Settings, clock: FakeClock
) -> None:
    reopen(settings, clock).close()
    core = reopen(settings, clock, recovery_passphrase=PASSPHRASE)
    core.close()
    assert core.key_status.recovery_set
    keys.recover(keys.places(settings), PASSPHRASE)


def test_setting_the_passphrase_later_and_changing_it(settings: Settings, clock: FakeClock) -> None:
    reopen(settings, clock).close()
    where = keys.places(settings)
    assert keys.set_recovery_passphrase(where, PASSPHRASE).recovery_set
    with pytest.raises(VaultKeyError):
        keys.set_recovery_passphrase(where, "another long passphrase 2")
    keys.set_recovery_passphrase(where, "another long passphrase 2", current=PASSPHRASE)
    keys.recover(where, "another long passphrase 2")


# -- the command line ---------------------------------------------------------------------------

def run_kiosk(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)


def test_the_key_commands(
    settings: Settings, clock: FakeClock, paid: dict[str, tuple[object, ...]]
) -> None:
    data = settings.data_dir
    status = run_kiosk(data, "keys", "status")
    assert "device key: file" in status.stdout and "recovery passphrase: set" in status.stdout
    for command, stdin in (("rotate-wrapping", ""), ("rekey", f"{PASSPHRASE}\n"),
                           ("recover", f"{PASSPHRASE}\n")):
        result = run_kiosk(data, "keys", command, stdin=stdin)
        assert result.returncode == 0, (command, result.stderr)
    wrong = run_kiosk(data, "keys", "recover", stdin="not the passphrase at all\n")
    assert wrong.returncode == 1 and "recovery_passphrase_wrong" in wrong.stderr
    core = reopen(settings, clock)
    try:
        assert payments_of(core) == paid
        actions = core.vault.call(lambda c: [r[0] for r in c.execute("SELECT action FROM audit")])
        assert {"keys.rotate-wrapping", "keys.rekey", "keys.recover"} <= set(actions)
    finally:
        core.close()
