"""The exchange's side of device identity: enrolled kiosks and their secrets, one-time
enrollment codes, the exchange's own receipt-signing key, and the audit-trail heads kiosks
reported with the receipts they were given.

Every function takes an open connection (`ExchangeStore.write_with` / `read_with`). A code is
kept only as its SHA-256, so the database never holds a code that still works. The signing key
is made once, on the first start, and kept in the database (a real exchange would keep it in
a hardware security module).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync import receipts
from sync.signing import new_secret

from .posting import iso_seconds

logger = logging.getLogger(__name__)

# Letters and digits without 0/O, 1/I/L and U, so a code read aloud or typed is not misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # pragma: allowlist secret
CODE_GROUPS = 4
CODE_GROUP_LENGTH = 4
CODE_LIFETIME = timedelta(hours=24)


def _code_digest(code: str) -> str:
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def mint_code(conn: sqlite3.Connection, *, now: datetime) -> dict[str, str]:
    """A new one-time enrollment code, valid for 24 hours (what operations would hand out)."""
    groups = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
              for _ in range(CODE_GROUPS)]
    code = "-".join(groups)
    expires = iso_seconds(now + CODE_LIFETIME)
    conn.execute(
        "INSERT INTO enrollment_codes (code_sha256, created_at, expires_at) VALUES (?, ?, ?)",
        (_code_digest(code), iso_seconds(now), expires),
    )
    return {"enrollment_code": code, "expires_at": expires}


def enroll(conn: sqlite3.Connection, kiosk_id: str, code: str, *,
           now: datetime) -> dict[str, str] | str:
    """Enroll `kiosk_id` with `code`: its new secret, or the refusal's problem code.

    `enrollment_refused` for a code that is unknown, used or expired; `device_already_enrolled`
    for a kiosk id that has a secret already (the code stays unused then).
    """
    digest = _code_digest(code)
    row = conn.execute(
        "SELECT expires_at, used_at FROM enrollment_codes WHERE code_sha256 = ?", (digest,)
    ).fetchone()
    if row is None or row[1] is not None or row[0] <= iso_seconds(now):
        return "enrollment_refused"
    if device_secret(conn, kiosk_id) is not None:
        return "device_already_enrolled"
    secret = new_secret()
    enrolled_at = iso_seconds(now)
    conn.execute("UPDATE enrollment_codes SET used_at = ?, used_by = ? WHERE code_sha256 = ?",
                 (enrolled_at, kiosk_id, digest))
    conn.execute("INSERT INTO devices (kiosk_id, secret, enrolled_at) VALUES (?, ?, ?)",
                 (kiosk_id, secret, enrolled_at))
    logger.info("kiosk %s enrolled", kiosk_id)
    return {"kiosk_id": kiosk_id, "device_secret": secret, "enrolled_at": enrolled_at}


def device_secret(conn: sqlite3.Connection, kiosk_id: str) -> str | None:
    """The secret `kiosk_id` enrolled with; None when it never enrolled."""
    row = conn.execute("SELECT secret FROM devices WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
    return None if row is None else str(row[0])


# -- the exchange's receipt-signing key -----------------------------------------------------------

def ensure_signing_key(conn: sqlite3.Connection, *, now: datetime) -> None:
    """Make the exchange's Ed25519 key on the first start; later starts keep it."""
    if conn.execute("SELECT 1 FROM exchange_keys LIMIT 1").fetchone() is not None:
        return
    key = Ed25519PrivateKey.generate()
    public = receipts.public_key_text(key)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    conn.execute("INSERT INTO exchange_keys (key_id, private_key, public_key, created_at)"
                 " VALUES (?, ?, ?, ?)", (receipts.key_id(public), raw, public, iso_seconds(now)))
    logger.info("receipt signing key %s made", receipts.key_id(public))


def signing_key(conn: sqlite3.Connection) -> Ed25519PrivateKey:
    """The newest signing key."""
    row = conn.execute(
        "SELECT private_key FROM exchange_keys ORDER BY created_at DESC, key_id LIMIT 1"
    ).fetchone()
    return Ed25519PrivateKey.from_private_bytes(bytes(row[0]))


def public_keys(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every public key, newest first, as /v1/exchange-keys lists them."""
    rows = conn.execute(
        "SELECT key_id, public_key, created_at FROM exchange_keys ORDER BY created_at DESC"
    ).fetchall()
    return [{"key_id": kid, "algorithm": receipts.ALGORITHM, "public_key": public,
             "created_at": created} for kid, public, created in rows]


# -- audit heads ----------------------------------------------------------------------------------

def acknowledge_head(conn: sqlite3.Connection, kiosk_id: str, *, seq: int, head: str,
                     kiosk_at: str, now: datetime) -> dict[str, Any]:
    """Keep the head a kiosk reported and answer the signed receipt for it."""
    receipt = receipts.sign(signing_key(conn), kiosk_id=kiosk_id, seq=seq, head=head,
                            received_at=iso_seconds(now))
    conn.execute(
        "INSERT INTO audit_heads (kiosk_id, seq, head, kiosk_at, received_at, key_id, signature)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kiosk_id, seq, head, kiosk_at, receipt.received_at, receipt.key_id, receipt.signature),
    )
    return receipt.as_data()


def audit_heads(conn: sqlite3.Connection, kiosk_id: str) -> list[dict[str, Any]]:
    """Sandbox only: every head `kiosk_id` reported, oldest first."""
    rows = conn.execute(
        "SELECT seq, head, kiosk_at, received_at, key_id FROM audit_heads WHERE kiosk_id = ?"
        " ORDER BY id", (kiosk_id,)).fetchall()
    return [dict(zip(("seq", "head", "kiosk_at", "received_at", "key_id"), row, strict=True))
            for row in rows]
