"""The kiosk's device credential: the secret the exchange gave it once, at enrollment, that
every request to the exchange is signed with.

The secret is kept only in the encrypted vault (never in settings, logs or output) and read
when the sync layer builds its client. Enrolling itself is a network call and lives in
`sync.enrollment`; this module stores and reads what it returned, and records the enrollment
in the audit trail in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiosk.clock import Clock, from_iso, to_iso
from kiosk.services import audit
from kiosk.store.vault import Vault


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredCredential:
    """The kiosk id the exchange enrolled and the secret it gave; only the sync layer reads
    the secret."""

    kiosk_id: str
    secret: str
    exchange_url: str
    enrolled_at: dt.datetime

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return (f"StoredCredential(kiosk_id={self.kiosk_id!r}, secret=<hidden>, "
                f"exchange_url={self.exchange_url!r})")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus:
    """Whether the kiosk is enrolled, and as what: everything but the secret."""

    enrolled: bool
    kiosk_id: str = ""
    exchange_url: str = ""
    enrolled_at: dt.datetime | None = None


def save_credential(*, kiosk_id: str, secret: str, exchange_url: str, vault: Vault,
                    clock: Clock, actor: str) -> DeviceStatus:
    """Keep the secret the exchange just gave, with a `device.enrolled` audit entry, in one
    transaction. Raises the vault's IntegrityError when the kiosk is enrolled already (the
    caller checks `device_status` first)."""
    now = clock.now()

    def save(conn: Any) -> None:
        conn.execute("INSERT INTO device_credential (id, kiosk_id, secret, exchange_url,"
                     " enrolled_at) VALUES (1, ?, ?, ?, ?)",
                     (kiosk_id, secret, exchange_url, to_iso(now)))
        audit.record(conn, at=now, actor=actor, action="device.enrolled", subject=kiosk_id,
                     detail=f"exchange={exchange_url}")

    vault.write(save)
    return DeviceStatus(enrolled=True, kiosk_id=kiosk_id, exchange_url=exchange_url,
                        enrolled_at=now)


def get_credential(*, vault: Vault) -> StoredCredential | None:
    """The enrolled credential, secret included (for the sync layer only); None before
    enrollment."""
    row = vault.call(lambda conn: conn.execute(
        "SELECT kiosk_id, secret, exchange_url, enrolled_at FROM device_credential"
        " WHERE id = 1").fetchone())
    if row is None:
        return None
    return StoredCredential(kiosk_id=row["kiosk_id"], secret=row["secret"],
                            exchange_url=row["exchange_url"],
                            enrolled_at=from_iso(row["enrolled_at"]))


def device_status(*, vault: Vault) -> DeviceStatus:
    """What `python -m kiosk device status` shows: never the secret."""
    stored = get_credential(vault=vault)
    if stored is None:
        return DeviceStatus(enrolled=False)
    return DeviceStatus(enrolled=True, kiosk_id=stored.kiosk_id,
                        exchange_url=stored.exchange_url, enrolled_at=stored.enrolled_at)
