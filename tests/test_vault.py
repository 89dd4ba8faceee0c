"""The vault: encrypted on disk, refuses a wrong or missing key without touching the file,
finds a tampered page before anything is written, admits one opener at a time, and migrates
empty vaults and vaults of every earlier schema version."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest
import sqlcipher3

from kiosk.bootstrap import Core, build_core
from kiosk.errors import VaultError, VaultKeyError
from kiosk.services.auth import EnrollStaff, enroll_staff
from kiosk.services.cache import apply_changes
from kiosk.services.members import search_members
from kiosk.settings import Settings
from kiosk.store import keys, migrations
from kiosk.store.keys import places
from kiosk.store.vault import Vault, VaultIntegrityError, open_connection
from tests.support import FakeClock

MEMBER = {
    "member_id": "M-900001",
    "first_name": "Søren",
    "last_name": "Quillfeather",
    "date_of_birth": "1951-04-09",
    "phone": "+15055550134",
    "email": "sq@example.org",
    "plan_id": "P-1",
    "aptc_cents": 0,
    "net_premium_cents": 31000,
    "preferred_language": "en",
    "coverage_start": "2026-01-01",
    "status": "active",
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_of(vault_path: Path) -> list[Path]:
    return [p for p in vault_path.parent.iterdir() if p.name.startswith(vault_path.name)]


def fill(core: Core) -> None:
    enroll_staff(
        EnrollStaff(
            username="navigator.quill", display_name="Quill", password="a long enough password"
        ),
        vault=core.vault,
        clock=core.clock,
    )
    apply_changes(
        [{"seq": 1, "kind": "member", "id": MEMBER["member_id"], "data": MEMBER}],
        next_after=1,
        vault=core.vault,
    )


def test_nothing_readable_on_disk(core: Core) -> None:
    fill(core)
    core.close()
    raw = b"".join(p.read_bytes() for p in files_of(core.settings.vault_path))
    for secret in (
        b"Quillfeather",
        b"S\xc3\xb8ren",
        b"navigator.quill",
        b"M-900001",
        b"SQLite format 3",
    ):
        assert secret not in raw


def test_cipher_is_sqlcipher_4(core: Core) -> None:
    version = core.vault.call(lambda c: c.execute("PRAGMA cipher_version").fetchone()[0])
    assert version.startswith("4.")


def test_wrong_key_is_refused_and_the_file_is_untouched(core: Core) -> None:
    fill(core)
    core.close()
    path = core.settings.vault_path
    before = {p.name: digest(p) for p in files_of(path)}
    with pytest.raises(VaultKeyError) as info:
        Vault(path, b"\x01" * 32)
    assert info.value.code == "vault_key_wrong"
    assert {p.name: digest(p) for p in files_of(path)} == before


def test_missing_key_file_is_refused_and_no_new_key_is_made(
    settings: Settings, clock: FakeClock
) -> None:
    core = build_core(settings, clock=clock)
    fill(core)
    core.close()
    keystore = places(settings).keystore_path
    keystore.unlink()
    before = digest(settings.vault_path)
    with pytest.raises(VaultKeyError) as info:
        build_core(settings, clock=clock)
    assert info.value.code == "vault_key_missing"
    assert not keystore.exists()
    assert digest(settings.vault_path) == before


def test_key_files_are_private_and_the_device_key_lives_apart(core: Core) -> None:
    where = places(core.settings)
    device_files = list(where.device_dir.iterdir())
    assert device_files and where.device_dir.parent != core.settings.data_dir
    for path in (where.keystore_path, where.device_dir, *device_files):
        assert path.stat().st_mode & 0o077 == 0, path


def test_a_failed_write_leaves_nothing_behind(core: Core) -> None:
    def half_then_fail(conn: object) -> None:
        conn.execute("INSERT INTO kiosk_meta (key, value) VALUES ('half', 'written')")  # type: ignore[attr-defined]
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        core.vault.write(half_then_fail)
    row = core.vault.call(
        lambda c: c.execute("SELECT 1 FROM kiosk_meta WHERE key='half'").fetchone()
    )
    assert row is None


def test_outbox_rows_cannot_be_deleted_or_rekeyed(core: Core) -> None:
    core.vault.write(
        lambda c: c.execute(
            "INSERT INTO outbox (idempotency_key, kiosk_seq, kind, member_id, subject_id, endpoint,"
            " payload, state, next_attempt_at, created_at) VALUES ('k', 1, 'payment', 'M', 'p',"
            " '/v1/payments', x'7b7d', 'queued', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
        )
    )
    with pytest.raises(sqlcipher3.IntegrityError):
        core.vault.write(lambda c: c.execute("DELETE FROM outbox"))
    with pytest.raises(sqlcipher3.IntegrityError):
        core.vault.write(lambda c: c.execute("UPDATE outbox SET idempotency_key = 'other'"))
    with pytest.raises(sqlcipher3.IntegrityError):
        core.vault.write(lambda c: c.execute("UPDATE outbox SET payload = x'00'"))


def test_migrations_build_an_empty_vault_to_the_newest_version(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    conn = open_connection(path, secrets.token_bytes(32))
    assert migrations.migrate(conn) == migrations.latest_version()
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [m.version for m in migrations.available()]
    conn.close()


@pytest.mark.parametrize("start", [m.version for m in migrations.available()][:-1])
def test_every_earlier_version_upgrades_and_keeps_its_data(tmp_path: Path, start: int) -> None:
    key = secrets.token_bytes(32)
    path = tmp_path / "v.db"
    conn = open_connection(path, key)
    migrations.migrate(conn, target=start)
    conn.execute(
        "INSERT INTO members (member_id, first_name, last_name, date_of_birth, phone, email,"
        " plan_id, aptc_cents, net_premium_cents, preferred_language, coverage_start, status,"
        " name_folded, phone_digits) VALUES ('M-900001', 'Søren', 'Quillfeather', '1951-04-09',"
        " '+15055550134', 'sq@example.org', 'P-1', 0, 31000, 'en', '2026-01-01', 'active',"
        " 'soren quillfeather', '5055550134')"
    )
    conn.close()
    vault = Vault(path, key)  # opening migrates to the newest version
    try:
        assert vault.call(migrations.current_version) == migrations.latest_version()
        hits = search_members("quillfea", vault=vault)
        assert [h.member_id for h in hits] == ["M-900001"]
    finally:
        vault.close()


def test_a_broken_migration_rolls_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = open_connection(tmp_path / "v.db", secrets.token_bytes(32))
    broken = migrations.Migration(
        version=99, name="0099_broken", sql="CREATE TABLE half (x);\nTHIS IS NOT SQL;"
    )
    with pytest.raises(sqlcipher3.OperationalError):
        migrations._apply(conn, broken)
    assert conn.execute("SELECT name FROM sqlite_schema WHERE name='half'").fetchone() is None
    assert migrations.current_version(conn) == 0
    conn.close()


def test_closed_vault_refuses_work(core: Core) -> None:
    core.close()
    with pytest.raises(VaultError):
        core.vault.call(lambda c: None)


def test_a_tampered_page_is_found_at_start_and_the_file_is_untouched(
    settings: Settings, clock: FakeClock
) -> None:
    core = build_core(settings, clock=clock)
    fill(core)
    core.close()
    path = settings.vault_path
    data = bytearray(path.read_bytes())
    data[2 * 4096 + 300] ^= 0x40  # one bit in the third page
    path.write_bytes(bytes(data))
    before = {p.name: digest(p) for p in files_of(path)}
    with pytest.raises(VaultIntegrityError) as info:
        build_core(settings, clock=clock)
    assert info.value.code == "vault_integrity_failed"
    assert "page 3" in info.value.details["failures"][0]
    assert {p.name: digest(p) for p in files_of(path)} == before


def test_memory_security_is_on(core: Core) -> None:
    value = core.vault.call(lambda c: c.execute("PRAGMA cipher_memory_security").fetchone()[0])
    assert str(value) == "1"


def test_a_second_opener_is_refused_while_the_vault_is_in_use(core: Core) -> None:
    key = keys.unlock(keys.places(core.settings)).key
    with pytest.raises(VaultError) as info:
        Vault(core.settings.vault_path, key)
    assert info.value.code == "vault_in_use"
    assert core.vault.call(lambda c: c.execute("SELECT 1").fetchone()[0]) == 1


def test_a_migration_numbered_below_the_newest_applied_is_still_applied(tmp_path: Path
                                                                        ) -> None:
    conn = open_connection(tmp_path / "v.db", secrets.token_bytes(32))
    everything = migrations.available()
    skipped = everything[-2]  # as if its work landed after the newest one
    assert migrations.applied_versions(conn) == set()  # also creates the version table
    for migration in everything:
        if migration is not skipped:
            migrations._apply(conn, migration)
    assert skipped.version not in migrations.applied_versions(conn)
    assert migrations.migrate(conn) == migrations.latest_version()
    assert skipped.version in migrations.applied_versions(conn)
    conn.close()
