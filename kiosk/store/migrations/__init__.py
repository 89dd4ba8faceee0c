"""Numbered schema migrations for the vault.

Each `NNNN_name.sql` file is applied once, in order, inside one transaction together with the
row that records its version, so a vault is always exactly at one version. Migrations only add
or reshape; none of them drops a table that holds payments or the outbox.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_DIR = Path(__file__).parent
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with the kiosk, in version order."""
    found = []
    for path in sorted(_DIR.glob("*.sql")):
        match = _NAME.match(path.name)
        if match:
            found.append(
                Migration(version=int(match.group(1)), name=path.stem, sql=path.read_text("utf-8"))
            )
    return found


def latest_version() -> int:
    return available()[-1].version


def current_version(conn: Any) -> int:
    """The version the vault is at; 0 for a brand-new vault."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
    )
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def applied_versions(conn: Any) -> set[int]:
    current_version(conn)  # creates the version table in a brand-new vault
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_version")}


def migrate(conn: Any, *, target: int | None = None) -> int:
    """Apply, in order, every migration up to `target` (default: the newest) that the vault
    has not had yet — also one numbered below a version already applied, as happens when
    work on two migrations lands in the other order. Returns the highest version applied."""
    done = applied_versions(conn)
    for migration in available():
        if target is not None and migration.version > target:
            break
        if migration.version not in done:
            _apply(conn, migration)
            done.add(migration.version)
    return max(done, default=0)


def _apply(conn: Any, migration: Migration) -> None:
    log.info("applying vault migration %s", migration.name)
    record = (
        f"INSERT INTO schema_version (version, name) VALUES ({migration.version}, "  # nosec B608
        f"'{migration.name}');"
    )
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}\n{record}\nCOMMIT;")
    except Exception:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
