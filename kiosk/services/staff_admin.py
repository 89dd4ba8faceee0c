"""The staff list for the staff screen: who can sign in here, their role, and whether their
account is locked or removed. Changes go through `kiosk.services.auth` (add, unlock, remove),
each approved by a step-up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiosk.clock import from_iso
from kiosk.domain.staff import Role
from kiosk.store.vault import Vault


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffEntry:
    username: str
    display_name: str
    role: Role
    active: bool
    locked_until: dt.datetime | None
    failed_signins: int

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def _entry(row: Any) -> StaffEntry:
    return StaffEntry(username=row["username"], display_name=row["display_name"],
                      role=Role(row["role"]), active=bool(row["active"]),
                      locked_until=from_iso(row["locked_until"]) if row["locked_until"] else None,
                      failed_signins=int(row["failed_signins"]))


def list_staff(*, vault: Vault) -> list[StaffEntry]:
    """Every staff account, active ones first, then by name. Never a password or secret."""
    rows = vault.call(lambda conn: conn.execute(
        "SELECT username, display_name, role, active, locked_until, failed_signins FROM staff"
        " ORDER BY active DESC, display_name, username").fetchall())
    return [_entry(row) for row in rows]
