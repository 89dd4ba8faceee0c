"""The vault: one SQLCipher connection, owned by one thread, that every read and write goes to.

Callers hand the vault a function; it runs on the vault thread with the connection and its
result (or exception) comes back to the caller. `write` wraps the function in
`BEGIN IMMEDIATE` ... `COMMIT`, so each use case is one atomic unit of work.

Opening checks every page's HMAC (`PRAGMA cipher_integrity_check`) before anything is written,
turns on SQLCipher's memory wiping, and gives the connection an `audit_mac(...)` SQL function
keyed with a key derived from the vault key (HKDF), so the audit trail's MAC key is never
stored. A lock file keeps a second process (a maintenance command) from opening a vault in use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar
from urllib.parse import quote

import sqlcipher3  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.errors import VaultError, VaultKeyError, VaultNotEncryptedError
from kiosk.store import migrations

log = logging.getLogger(__name__)

T = TypeVar("T")
# sqlcipher3 ships no type information; the connection is a DB-API connection.
Connection: TypeAlias = Any
_STOP = object()
AUDIT_GENESIS = "0" * 64  # the prev_hash of the first audit entry
AUDIT_HEAD_KEY = "audit_head"  # kiosk_meta row holding "<id> <mac>" of the newest entry
_AUDIT_KEY_INFO = b"health-connector-kiosk audit hmac v1"


class VaultIntegrityError(VaultError):
    """A page of the vault file fails its HMAC check: the file was damaged or tampered with."""

    code = "vault_integrity_failed"


class AuditChainError(VaultError):
    """The audit chain does not verify, so it is not re-sealed; `audit verify` says where."""

    code = "audit_chain_broken"


def derive_audit_key(data_key: bytes) -> bytes:
    """The audit trail's HMAC key: derived from the vault key, so it is never stored."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_AUDIT_KEY_INFO).derive(data_key)


def audit_mac(audit_key: bytes, entry_id: int, at: str, actor: str, action: str, subject: str,
              detail: str, prev_hash: str) -> str:
    """HMAC-SHA256 over one entry's fields and the previous entry's MAC, as canonical JSON."""
    payload = json.dumps([entry_id, at, actor, action, subject, detail, prev_hash],
                         ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hmac.new(audit_key, payload, hashlib.sha256).hexdigest()


def _register_audit_mac(conn: Connection, data_key: bytes) -> None:
    audit_key = derive_audit_key(data_key)

    def sql_audit_mac(entry_id: int, at: str, actor: str, action: str, subject: str,
                      detail: str, prev_hash: str) -> str:
        return audit_mac(audit_key, entry_id, at, actor, action, subject, detail, prev_hash)

    conn.create_function("audit_mac", 7, sql_audit_mac, deterministic=True)


def _apply_key(conn: Connection, key: bytes) -> None:
    # The key must be the very first statement on the connection.
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")


def _check_cipher(conn: Connection) -> str:
    row = conn.execute("PRAGMA cipher_version").fetchone()
    if not row or not row[0]:
        raise VaultNotEncryptedError()
    return str(row[0])


def _check_key_opens(conn: Connection, path: Path) -> None:
    try:
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlcipher3.DatabaseError as exc:
        raise VaultKeyError(code="vault_key_wrong", path=str(path)) from exc


def check_integrity(conn: Connection, path: Path) -> None:
    """Every page's HMAC; raises VaultIntegrityError naming the first failures. Reads only."""
    failures = [str(row[0]) for row in conn.execute("PRAGMA cipher_integrity_check")]
    if failures:
        raise VaultIntegrityError(path=str(path), failures=failures[:10], count=len(failures))


def _keyed(conn: Connection, key: bytes) -> str:
    _apply_key(conn, key)
    version = _check_cipher(conn)
    conn.execute("PRAGMA cipher_memory_security = ON")
    return version


def open_connection(path: Path, key: bytes) -> Connection:
    """Open and check an encrypted connection; the file is not written unless the key opens it
    and every page passes its integrity check."""
    existed = path.exists()
    if not existed:  # owner-only; SQLite gives its WAL and shared-memory files the same mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    try:
        version = _keyed(conn, key)
        if existed:
            _check_key_opens(conn, path)
            check_integrity(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.row_factory = sqlcipher3.Row
        _register_audit_mac(conn, key)
    except Exception:
        conn.close()
        raise
    log.info("vault opened (SQLCipher %s)", version)
    return conn


def open_readonly(path: Path, key: bytes) -> Connection:
    """A read-only connection to a single-file vault copy (a backup), key checked. The caller
    closes it. Raises VaultKeyError when the key does not open it."""
    conn = sqlcipher3.connect(f"file:{quote(str(path))}?mode=ro", uri=True,
                              isolation_level=None)
    try:
        _keyed(conn, key)
        _check_key_opens(conn, path)
        conn.row_factory = sqlcipher3.Row
    except Exception:
        conn.close()
        raise
    return conn


def key_opens(path: Path, key: bytes) -> bool:
    """Whether `key` opens the vault at `path`. Reads only; False when there is no vault."""
    if not path.is_file():
        return False
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    try:
        _keyed(conn, key)
        _check_key_opens(conn, path)
    except VaultKeyError:
        return False
    finally:
        conn.close()
    return True


@contextmanager
def vault_lock(path: Path) -> Iterator[None]:
    """Hold the vault's lock file for the block; VaultError `vault_in_use` when another
    process (the running kiosk, or another command) holds it."""
    fd = _acquire_lock(path)
    try:
        yield
    finally:
        os.close(fd)


def _acquire_lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise VaultError(code="vault_in_use", path=str(path)) from exc
    return fd


def _reseal_audit(conn: Connection, old_key: bytes, new_key: bytes) -> None:
    """Check every audit entry against `old_key` and re-chain it under `new_key`, inside the
    caller's transaction. Refuses (AuditChainError) rather than re-seal a broken chain."""
    old_prev = new_prev = AUDIT_GENESIS
    rows = conn.execute("SELECT id, at, actor, action, subject, detail, prev_hash, mac"
                        " FROM audit ORDER BY id").fetchall()
    for row in rows:
        fields = (row[0], row[1], row[2], row[3], row[4], row[5])
        if row[6] != old_prev or audit_mac(old_key, *fields, old_prev) != row[7]:
            raise AuditChainError(entry=row[0])
        new_mac = audit_mac(new_key, *fields, new_prev)
        conn.execute("UPDATE audit SET prev_hash = ?, mac = ? WHERE id = ?",
                     (new_prev, new_mac, row[0]))
        old_prev, new_prev = row[7], new_mac
    if rows:
        conn.execute("INSERT OR REPLACE INTO kiosk_meta (key, value) VALUES (?, ?)",
                     (AUDIT_HEAD_KEY, f"{rows[-1][0]} {new_prev}"))


class Vault:
    """The single owner of the vault connection. Thread-safe: any thread may call it."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._lock_fd = _acquire_lock(path)
        self._key = key
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="vault", daemon=True)
        self._opened: Future[None] = Future()
        self._conn: Connection | None = None
        self._closed = False
        self._thread.start()
        self._start(key)

    def _start(self, key: bytes) -> None:
        self._jobs.put(("open", key))
        try:
            self._opened.result()
        except Exception:
            self._jobs.put(_STOP)
            self._thread.join()
            os.close(self._lock_fd)
            raise

    def call(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` on the vault thread outside any transaction (for reads)."""
        return self._submit(fn, write=False)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` on the vault thread inside BEGIN IMMEDIATE ... COMMIT.

        If `fn` raises, the transaction is rolled back and the exception reaches the caller.
        """
        return self._submit(fn, write=True)

    def close(self) -> None:
        """Finish queued work, close the connection and stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        self._thread.join()
        os.close(self._lock_fd)

    def backup_to(self, dest: Path) -> None:
        """Copy the whole vault into a new file `dest` with SQLite's online backup API, keyed
        with the vault's own key (so it stays encrypted), as one self-contained file.
        Runs on the vault thread: other vault work waits until the copy is done."""
        def copy(conn: Connection) -> None:
            target = sqlcipher3.connect(str(dest), isolation_level=None)
            try:
                _keyed(target, self._key)
                conn.backup(target)
                target.execute("PRAGMA journal_mode = DELETE")
            finally:
                target.close()

        self.call(copy)

    def rekey(self, new_key: bytes) -> None:
        """Re-encrypt every page under `new_key` (PRAGMA rekey) and re-seal the audit chain
        with the audit key derived from it. SQLCipher's rekey commits the transaction it runs
        in, so the re-sealed chain and the re-encrypted pages land in one commit."""
        def run(conn: Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _reseal_audit(conn, derive_audit_key(self._key), derive_audit_key(new_key))
                conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if conn.in_transaction:
                conn.execute("COMMIT")
            _register_audit_mac(conn, new_key)
            self._key = new_key

        self.call(run)

    def _submit(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        if self._closed:
            raise VaultError(code="vault_closed")
        if threading.current_thread() is self._thread:
            return self._execute(fn, write)
        future: Future[T] = Future()
        self._jobs.put((fn, write, future))
        return future.result()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            if job[0] == "open":
                self._open_on_thread(job[1])
                continue
            fn, write, future = job
            try:
                future.set_result(self._execute(fn, write))
            except BaseException as exc:  # the caller re-raises it on its own thread
                future.set_exception(exc)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open_on_thread(self, key: bytes) -> None:
        try:
            conn = open_connection(self.path, key)
            migrations.migrate(conn)
        except BaseException as exc:
            self._opened.set_exception(exc)
            return
        self._conn = conn
        self._opened.set_result(None)

    def _execute(self, fn: Callable[[Connection], T], write: bool) -> T:
        conn = self._conn
        assert conn is not None
        if not write:
            return fn(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result
