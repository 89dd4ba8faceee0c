"""The vault's data key: 256 random bits that are never written down in plaintext.

The key is kept in `vault.keys.json` beside the vault, wrapped twice with AES-256-GCM: under a
device key, so the kiosk starts unattended, and under a key derived with Argon2id from a
supervisor's recovery passphrase, so the vault can be recovered when the device key is lost.
The device key lives in the operating system's keyring where one is usable; otherwise in a
file only the owner can read, in a folder apart from the vault, and a log line and the key
status say so. A plaintext `vault.key` left by an earlier version is wrapped on first start and
removed only after the wrapped form is written and verified.

A re-key writes the new key's wrapping as `pending` before the vault is re-encrypted, so a
crash at any point leaves one wrapping that opens the vault; `unlock` settles it.
Every function here is for start-up or a maintenance command: none is called per request.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import keyring
import keyring.errors
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from keyring.backend import KeyringBackend

from kiosk.domain.staff import is_common_password
from kiosk.errors import ValidationError, VaultKeyError
from kiosk.settings import Settings
from kiosk.store import vault as vault_store

log = logging.getLogger(__name__)

KEY_BYTES = 32
KEYSTORE_FORMAT = "hck-keystore-1"
KEYRING_SERVICE = "Health Connector Kiosk vault"
MIN_PASSPHRASE_LENGTH = 16
# Published with the demo; only a demo vault (its own data folder) is ever wrapped with it.
DEMO_RECOVERY_PASSPHRASE = "demo-recovery-passphrase-NOT-A-SECRET"


@dataclass(frozen=True, slots=True, kw_only=True)
class Argon2Params:
    """Argon2id cost for the recovery passphrase: RFC 9106's second recommended profile,
    above OWASP's minimum (19 MiB, 2 passes, 1 lane). Stored with each wrapping."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


class DevicePlace(StrEnum):
    KEYRING = "keyring"  # the operating system's keyring holds the device key
    FILE = "file"  # no usable keyring: an owner-only file in a folder apart from the vault


class KeySetup(StrEnum):
    READY = "ready"  # wrapped keys exist; the kiosk starts unattended
    NEW_VAULT = "new_vault"  # nothing yet; ask for a recovery passphrase before the first start
    MIGRATE = "migrate"  # a plaintext key from an earlier version; a passphrase is required


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyStatus:
    """What the UI shows about key protection."""

    device: DevicePlace
    recovery_set: bool
    demo_recovery: bool  # the recovery passphrase is the published demo one


@dataclass(frozen=True, slots=True, kw_only=True)
class Unlocked:
    key: bytes = field(repr=False)
    status: KeyStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPlaces:
    """Where one kiosk's key material lives."""

    vault_path: Path
    keystore_path: Path
    legacy_path: Path
    device_dir: Path
    keyring_user: str
    file_only: bool


def places(settings: Settings) -> KeyPlaces:
    """The key locations for `settings`; the device key folder defaults to a sibling of the
    data folder, so a copy of the data folder never carries the device key."""
    data = settings.data_dir
    device_dir = Path(settings.key_dir) if settings.key_dir else (
        data.parent / f"{data.name}-keys")
    return KeyPlaces(
        vault_path=settings.vault_path,
        keystore_path=data / "vault.keys.json",
        legacy_path=settings.key_path,
        device_dir=device_dir,
        keyring_user=f"vault-kek:{data.resolve()}",
        file_only=settings.key_store == "file",
    )


# -- device key stores --------------------------------------------------------------------------

class DeviceKeyStore(Protocol):
    place: DevicePlace

    def save(self, kid: str, kek: bytes) -> None: ...

    def load(self, kid: str) -> bytes | None: ...

    def forget(self, kid: str) -> None: ...


class FileKeyStore:
    """Device keys as owner-only files (0600) in an owner-only folder (0700)."""

    place = DevicePlace.FILE

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, kid: str) -> Path:
        return self.folder / f"device-{kid}.kek"

    def save(self, kid: str, kek: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, stat.S_IRWXU)
        _write_private(self._path(kid), kek.hex().encode("ascii"), exclusive=True)

    def load(self, kid: str) -> bytes | None:
        try:
            return bytes.fromhex(self._path(kid).read_text("ascii").strip())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise VaultKeyError(code="vault_device_key_unreadable") from exc

    def forget(self, kid: str) -> None:
        self._path(kid).unlink(missing_ok=True)


class KeyringKeyStore:
    """Device keys in the operating system's keyring, one entry per vault and generation."""

    place = DevicePlace.KEYRING

    def __init__(self, backend: KeyringBackend, user: str) -> None:
        self._backend = backend
        self._user = user

    def save(self, kid: str, kek: bytes) -> None:
        name = f"{self._user}#{kid}"
        self._backend.set_password(KEYRING_SERVICE, name, kek.hex())
        if self.load(kid) != kek:
            raise VaultKeyError(code="vault_keyring_unusable")

    def load(self, kid: str) -> bytes | None:
        try:
            text = self._backend.get_password(KEYRING_SERVICE, f"{self._user}#{kid}")
        except keyring.errors.KeyringError:
            return None
        return bytes.fromhex(text) if text else None

    def forget(self, kid: str) -> None:
        try:
            self._backend.delete_password(KEYRING_SERVICE, f"{self._user}#{kid}")
        except keyring.errors.KeyringError:
            pass


def system_keyring() -> KeyringBackend | None:
    """The OS keyring, or None when there is no usable one. Backends below priority 1 are the
    'fail' and 'null' placeholders or plaintext files, which protect nothing."""
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration must not stop the kiosk
        return None
    return backend if backend.priority >= 1 else None


def _preferred_store(where: KeyPlaces, backend: KeyringBackend | None) -> DeviceKeyStore:
    chosen = None if where.file_only else (backend or system_keyring())
    if chosen is not None:
        return KeyringKeyStore(chosen, where.keyring_user)
    return FileKeyStore(where.device_dir)


def _store_for(place: str, where: KeyPlaces, backend: KeyringBackend | None) -> DeviceKeyStore:
    if place == DevicePlace.FILE:
        return FileKeyStore(where.device_dir)
    chosen = backend or system_keyring()
    if chosen is None:
        raise VaultKeyError(code="vault_device_key_missing", place=place)
    return KeyringKeyStore(chosen, where.keyring_user)


# -- wrapping -----------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _aad(purpose: str) -> bytes:
    return f"health-connector-kiosk vault key|{purpose}".encode()


def _seal(kek: bytes, key: bytes, purpose: str) -> dict[str, str]:
    nonce = secrets.token_bytes(12)
    return {"nonce": _b64(nonce), "wrapped": _b64(AESGCM(kek).encrypt(nonce, key, _aad(purpose)))}


def _unseal(kek: bytes, entry: dict[str, Any], purpose: str) -> bytes | None:
    try:
        key = AESGCM(kek).decrypt(_unb64(entry["nonce"]), _unb64(entry["wrapped"]), _aad(purpose))
    except (InvalidTag, KeyError, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def passphrase_key(passphrase: str, salt: bytes, params: Argon2Params) -> bytes:
    """The key-encryption key a recovery passphrase gives (Argon2id)."""
    return hash_secret_raw(passphrase.encode("utf-8"), salt, time_cost=params.time_cost,
                           memory_cost=params.memory_kib, parallelism=params.parallelism,
                           hash_len=KEY_BYTES, type=Type.ID)


def _device_entry(key: bytes, store: DeviceKeyStore, kid: str | None = None,
                  kek: bytes | None = None) -> dict[str, str]:
    if kid is None or kek is None:
        kid, kek = secrets.token_hex(4), secrets.token_bytes(KEY_BYTES)
        store.save(kid, kek)
    return {"place": store.place, "kid": kid, **_seal(kek, key, f"device|{kid}")}


def _recovery_entry(key: bytes, passphrase: str, *, demo: bool) -> dict[str, Any]:
    params, salt = Argon2Params(), secrets.token_bytes(16)
    kek = passphrase_key(passphrase, salt, params)
    return {"kdf": "argon2id", "time_cost": params.time_cost, "memory_kib": params.memory_kib,
            "parallelism": params.parallelism, "salt": _b64(salt), "demo": demo,
            **_seal(kek, key, "recovery")}


def _device_kek(wrapping: dict[str, Any], where: KeyPlaces,
                backend: KeyringBackend | None) -> tuple[DeviceKeyStore, bytes]:
    device = wrapping["device"]
    store = _store_for(device["place"], where, backend)
    kek = store.load(device["kid"])
    if kek is None:
        raise VaultKeyError(code="vault_device_key_missing", place=device["place"])
    return store, kek


def _unwrap_device(wrapping: dict[str, Any], where: KeyPlaces,
                   backend: KeyringBackend | None) -> bytes:
    _store, kek = _device_kek(wrapping, where, backend)
    key = _unseal(kek, wrapping["device"], f"device|{wrapping['device']['kid']}")
    if key is None:
        raise VaultKeyError(code="vault_device_key_wrong")
    return key


def _unwrap_recovery(wrapping: dict[str, Any], passphrase: str) -> bytes:
    entry = wrapping.get("recovery")
    if not entry:
        raise VaultKeyError(code="recovery_not_set")
    params = Argon2Params(time_cost=entry["time_cost"], memory_kib=entry["memory_kib"],
                          parallelism=entry["parallelism"])
    key = _unseal(passphrase_key(passphrase, _unb64(entry["salt"]), params), entry, "recovery")
    if key is None:
        raise VaultKeyError(code="recovery_passphrase_wrong")
    return key


def check_recovery_passphrase(passphrase: str) -> None:
    """At least 16 characters and not a common password; no composition rules."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValidationError(code="passphrase_too_short", field="passphrase",
                              minimum=MIN_PASSPHRASE_LENGTH)
    if is_common_password(passphrase) or passphrase == DEMO_RECOVERY_PASSPHRASE:
        raise ValidationError(code="passphrase_too_common", field="passphrase")


# -- the keystore file --------------------------------------------------------------------------

def _write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_keystore(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise VaultKeyError(code="vault_keystore_unreadable", path=str(path)) from exc
    if not isinstance(doc, dict) or doc.get("format") != KEYSTORE_FORMAT:
        raise VaultKeyError(code="vault_keystore_unreadable", path=str(path))
    return doc


def _write_keystore(path: Path, doc: dict[str, Any]) -> None:
    """Replace the keystore atomically: a crash leaves the old file or the new, never half."""
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    _write_private(temporary, json.dumps(doc, indent=2, sort_keys=True).encode("utf-8"),
                   exclusive=True)
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _require_keystore(where: KeyPlaces) -> dict[str, Any]:
    doc = _read_keystore(where.keystore_path)
    if doc is None:
        raise VaultKeyError(code="vault_key_missing", path=str(where.keystore_path))
    return doc


def _status(doc: dict[str, Any]) -> KeyStatus:
    current = doc["current"]
    recovery = current.get("recovery")
    return KeyStatus(device=DevicePlace(current["device"]["place"]),
                     recovery_set=bool(recovery), demo_recovery=bool(recovery and recovery["demo"]))


def _verify_written(where: KeyPlaces, key: bytes, passphrase: str | None,
                    backend: KeyringBackend | None, slot: str = "current") -> None:
    """Read the keystore back from disk and check each wrapping gives `key` again."""
    wrapping = _require_keystore(where)[slot]
    if _unwrap_device(wrapping, where, backend) != key:
        raise VaultKeyError(code="vault_key_wrap_failed")
    if passphrase is not None and _unwrap_recovery(wrapping, passphrase) != key:
        raise VaultKeyError(code="vault_key_wrap_failed")


def _load_legacy(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError as exc:
        raise VaultKeyError(code="vault_key_unreadable", path=str(path)) from exc
    if len(key) != KEY_BYTES:
        raise VaultKeyError(code="vault_key_unreadable", path=str(path))
    return key


# -- start-up -----------------------------------------------------------------------------------

def setup_needed(where: KeyPlaces) -> KeySetup:
    """What the first screen must do before `unlock`: nothing, or ask for a passphrase."""
    if where.keystore_path.exists():
        return KeySetup.READY
    return KeySetup.MIGRATE if where.legacy_path.exists() else KeySetup.NEW_VAULT


def unlock(where: KeyPlaces, *, demo: bool = False, recovery_passphrase: str | None = None,
           backend: KeyringBackend | None = None) -> Unlocked:
    """The data key for this kiosk, creating or migrating the wrapped form as needed; a
    passphrase given to a kiosk that has none yet becomes its recovery passphrase.

    Raises VaultKeyError: `vault_key_missing` for a vault without keys (never a new key for
    it), `recovery_passphrase_required` when a plaintext key must be migrated and no
    passphrase was given, `vault_device_key_missing` when only `recover` can help; and
    ValidationError for a passphrase too short or too common.
    """
    passphrase = recovery_passphrase or (DEMO_RECOVERY_PASSPHRASE if demo else None)
    if passphrase is not None and not (demo and passphrase == DEMO_RECOVERY_PASSPHRASE):
        check_recovery_passphrase(passphrase)
    if where.keystore_path.exists():
        unlocked = _unlock_existing(where, passphrase, backend)
    elif where.legacy_path.exists():
        unlocked = _migrate_legacy(where, passphrase, backend)
    elif where.vault_path.exists():
        raise VaultKeyError(code="vault_key_missing", path=str(where.keystore_path))
    else:
        unlocked = _create(where, passphrase, backend)
    _report(unlocked.status, where)
    return unlocked


def _report(status: KeyStatus, where: KeyPlaces) -> None:
    if status.device is DevicePlace.FILE:
        log.warning("no usable OS keyring, so the device wrapping uses an owner-only file"
                    " in %s", where.device_dir)
    if not status.recovery_set:
        log.warning("recovery is not set up: the vault cannot be recovered if its device "
                    "wrapping is lost; a supervisor should choose a recovery phrase now")


def _unlock_existing(where: KeyPlaces, passphrase: str | None,
                     backend: KeyringBackend | None) -> Unlocked:
    doc, key = _settled(where, backend)
    if where.legacy_path.exists():  # a crash after wrapping, before the removal
        _remove_legacy(where, key)
    if passphrase is not None and not doc["current"].get("recovery"):
        doc["current"]["recovery"] = _recovery_entry(
            key, passphrase, demo=passphrase == DEMO_RECOVERY_PASSPHRASE)
        _write_keystore(where.keystore_path, doc)
        _verify_written(where, key, passphrase, backend)
    return Unlocked(key=key, status=_status(doc))


def _settled(where: KeyPlaces, backend: KeyringBackend | None) -> tuple[dict[str, Any], bytes]:
    """The keystore and its data key, after settling an interrupted re-key."""
    doc = _require_keystore(where)
    key = _unwrap_device(doc["current"], where, backend)
    if doc.get("pending"):
        doc, key = _settle_rekey(doc, key, where, backend)
    return doc, key


def _settle_rekey(doc: dict[str, Any], key: bytes, where: KeyPlaces,
                  backend: KeyringBackend | None) -> tuple[dict[str, Any], bytes]:
    """A re-key was interrupted: keep whichever wrapping's key opens the vault."""
    if vault_store.key_opens(where.vault_path, key):
        log.warning("an interrupted re-key never reached the vault; the old key stays")
        settled = {**doc, "pending": None}
    else:
        key = _unwrap_device(doc["pending"], where, backend)
        if not vault_store.key_opens(where.vault_path, key):
            raise VaultKeyError(code="vault_key_wrong", path=str(where.vault_path))
        log.warning("finishing an interrupted re-key: the new key opens the vault")
        settled = {**doc, "current": doc["pending"], "pending": None}
    _write_keystore(where.keystore_path, settled)
    return settled, key


def _remove_legacy(where: KeyPlaces, key: bytes) -> None:
    """Unlink the plaintext key file once the wrapped form holds the same key. (Unlinking is
    not secure erasure on journaling or flash storage; the file was owner-only throughout.)"""
    if _load_legacy(where.legacy_path) != key:
        log.warning("a plaintext key file that does not match the vault key was left alone")
        return
    where.legacy_path.unlink()
    log.info("the plaintext key file of an earlier version was removed")


def _new_keystore(key: bytes, where: KeyPlaces, passphrase: str | None,
                  backend: KeyringBackend | None) -> None:
    """Wrap `key` under a new device key (and the passphrase), write, read back, verify."""
    current: dict[str, Any] = {
        "device": _device_entry(key, _preferred_store(where, backend)),
        "recovery": _recovery_entry(key, passphrase, demo=passphrase == DEMO_RECOVERY_PASSPHRASE)
        if passphrase else None,
    }
    where.keystore_path.parent.mkdir(parents=True, exist_ok=True)
    _write_keystore(where.keystore_path,
                    {"format": KEYSTORE_FORMAT, "current": current, "pending": None})
    _verify_written(where, key, passphrase, backend)


def _migrate_legacy(where: KeyPlaces, passphrase: str | None,
                    backend: KeyringBackend | None) -> Unlocked:
    key = _load_legacy(where.legacy_path)
    if passphrase is None:
        raise VaultKeyError(code="recovery_passphrase_required")
    if where.vault_path.exists() and not vault_store.key_opens(where.vault_path, key):
        raise VaultKeyError(code="vault_key_wrong", path=str(where.vault_path))
    _new_keystore(key, where, passphrase, backend)
    _remove_legacy(where, key)
    log.info("the vault key is now stored wrapped")
    return Unlocked(key=key, status=_status(_require_keystore(where)))


def _create(where: KeyPlaces, passphrase: str | None,
            backend: KeyringBackend | None) -> Unlocked:
    key = secrets.token_bytes(KEY_BYTES)
    _new_keystore(key, where, passphrase, backend)
    log.info("a new vault key was made and stored wrapped")
    return Unlocked(key=key, status=_status(_require_keystore(where)))


# -- maintenance --------------------------------------------------------------------------------

def key_status(where: KeyPlaces) -> KeyStatus:
    return _status(_require_keystore(where))


def set_recovery_passphrase(where: KeyPlaces, passphrase: str, *, current: str | None = None,
                            backend: KeyringBackend | None = None) -> KeyStatus:
    """Set or change the recovery passphrase. Changing a real one needs the current one."""
    check_recovery_passphrase(passphrase)
    doc, key = _settled(where, backend)
    existing = doc["current"].get("recovery")
    if existing and not existing["demo"]:
        if current is None or _unwrap_recovery(doc["current"], current) != key:
            raise VaultKeyError(code="recovery_passphrase_wrong")
    doc["current"]["recovery"] = _recovery_entry(key, passphrase, demo=False)
    _write_keystore(where.keystore_path, doc)
    _verify_written(where, key, passphrase, backend)
    log.info("the recovery wrapping was replaced")
    return _status(doc)


def rotate_wrapping(where: KeyPlaces, *, backend: KeyringBackend | None = None) -> KeyStatus:
    """Wrap the same data key under a new device key, then forget the old device key.
    The vault itself is not touched."""
    doc, key = _settled(where, backend)
    old_store, _old_kek = _device_kek(doc["current"], where, backend)
    old_kid = doc["current"]["device"]["kid"]
    doc["current"]["device"] = _device_entry(key, _preferred_store(where, backend))
    _write_keystore(where.keystore_path, doc)
    _verify_written(where, key, None, backend)
    old_store.forget(old_kid)
    log.info("the device key was replaced")
    return _status(doc)


def recover(where: KeyPlaces, passphrase: str, *,
            backend: KeyringBackend | None = None) -> KeyStatus:
    """Unwrap the data key with the recovery passphrase and wrap it under a new device key:
    for a lost keyring entry or key file, or a vault moved to another machine."""
    doc = _require_keystore(where)
    wrapping, key = _recoverable(doc, where, passphrase)
    settled = {**wrapping, "device": _device_entry(key, _preferred_store(where, backend))}
    _write_keystore(where.keystore_path, {**doc, "current": settled, "pending": None})
    _verify_written(where, key, passphrase, backend)
    _forget_quietly(wrapping["device"], where, backend)
    log.info("the vault key was recovered with the recovery passphrase")
    return _status({"current": settled})


def _recoverable(doc: dict[str, Any], where: KeyPlaces,
                 passphrase: str) -> tuple[dict[str, Any], bytes]:
    """The wrapping (current, or pending after an interrupted re-key) whose key the
    passphrase unwraps and that opens the vault."""
    wrappings = [doc["current"]] + ([doc["pending"]] if doc.get("pending") else [])
    error = VaultKeyError(code="vault_key_wrong", path=str(where.vault_path))
    for wrapping in wrappings:
        try:
            key = _unwrap_recovery(wrapping, passphrase)
        except VaultKeyError as exc:
            error = exc
            continue
        if not where.vault_path.exists() or vault_store.key_opens(where.vault_path, key):
            return wrapping, key
    raise error


def _forget_quietly(device: dict[str, Any], where: KeyPlaces,
                    backend: KeyringBackend | None) -> None:
    try:
        _store_for(device["place"], where, backend).forget(device["kid"])
    except VaultKeyError:
        pass  # the old keyring is gone; nothing to forget


def rekey(where: KeyPlaces, passphrase: str | None, *,
          backend: KeyringBackend | None = None) -> KeyStatus:
    """Re-encrypt the whole vault under a new data key (PRAGMA rekey).

    The vault must not be open elsewhere (the vault lock refuses otherwise). The recovery
    passphrase is needed to wrap the new key, and is checked against the current wrapping
    first. Order: the new key's wrapping is written as `pending`, then the vault is re-keyed
    (one commit, audit chain re-sealed in it), then `pending` becomes `current`.
    """
    doc, old_key = _settled(where, backend)
    recovery = doc["current"].get("recovery")
    if recovery and (passphrase is None or _unwrap_recovery(doc["current"], passphrase) != old_key):
        raise VaultKeyError(code="recovery_passphrase_wrong")
    store, kek = _device_kek(doc["current"], where, backend)
    new_key = secrets.token_bytes(KEY_BYTES)
    pending = {
        "device": _device_entry(new_key, store, doc["current"]["device"]["kid"], kek),
        "recovery": _recovery_entry(new_key, passphrase, demo=bool(recovery["demo"]))
        if recovery and passphrase else None,
    }
    _write_keystore(where.keystore_path, {**doc, "pending": pending})
    _verify_written(where, new_key, passphrase if recovery else None, backend, slot="pending")
    vault = vault_store.Vault(where.vault_path, old_key)
    try:
        vault.rekey(new_key)
    finally:
        vault.close()
    settled = {**doc, "current": pending, "pending": None}
    _write_keystore(where.keystore_path, settled)
    log.info("the vault was re-encrypted under a new key")
    return _status(settled)
