"""Append entries to the audit trail, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kiosk.clock import to_iso


def record(conn: Any, *, at: dt.datetime, actor: str, action: str, subject: str = "",
           detail: str = "") -> None:
    """Append one entry. Never put secrets or personal data in `detail`."""
    conn.execute(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?,?,?,?,?)",
        (to_iso(at), actor, action, subject, detail),
    )
