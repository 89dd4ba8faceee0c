"""The vault: one SQLCipher connection, owned by one thread, that every read and write goes to.

Callers hand the vault a function; it runs on the vault thread with the connection and its
result (or exception) comes back to the caller. `write` wraps the function in
`BEGIN IMMEDIATE` ... `COMMIT`, so each use case is one atomic unit of work.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import sqlcipher3  # type: ignore[import-untyped]

from kiosk.errors import VaultError, VaultKeyError, VaultNotEncryptedError
from kiosk.store import migrations

log = logging.getLogger(__name__)

T = TypeVar("T")
# sqlcipher3 ships no type information; the connection is a DB-API connection.
Connection: TypeAlias = Any
_STOP = object()


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


def open_connection(path: Path, key: bytes) -> Connection:
    """Open and check an encrypted connection; the file is not written unless the key opens it."""
    existed = path.exists()
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    try:
        _apply_key(conn, key)
        version = _check_cipher(conn)
        if existed:
            _check_key_opens(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.row_factory = sqlcipher3.Row
    except Exception:
        conn.close()
        raise
    log.info("vault opened (SQLCipher %s)", version)
    return conn


class Vault:
    """The single owner of the vault connection. Thread-safe: any thread may call it."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
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
