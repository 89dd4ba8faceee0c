"""The audit trail: entries appended inside the caller's transaction, hash-chained and keyed.

Each entry stores the MAC of the entry before it (`prev_hash`) and its own MAC, HMAC-SHA256
over (id, at, actor, action, subject, detail, prev_hash) with a key the vault derives from its
own key (the `audit_mac` SQL function, see kiosk/store/vault.py), so the MAC key is never
stored. The newest entry's id and MAC are also kept in `kiosk_meta`, so a deleted last entry
is noticed too. `verify` names every edited, deleted, moved or unlinked entry; `chain_head`
is what the sync layer sends to the exchange, which answers a signed receipt
(`store_receipt`). Whoever holds the data key can recompute every MAC, but not the exchange's
signature: `acknowledgement` finds a trail that no longer holds a head the exchange
acknowledged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.clock import Clock, to_iso
from kiosk.store.vault import AUDIT_GENESIS, AUDIT_HEAD_KEY, Vault

_COLUMNS = "id, at, actor, action, subject, detail, prev_hash, mac"
_MAC_SQL = "SELECT audit_mac(?, ?, ?, ?, ?, ?, ?)"


class Problem(StrEnum):
    EDITED = "edited"  # the entry's content no longer matches its MAC
    DELETED = "deleted"  # an entry with this id is missing
    REORDERED = "reordered"  # an entry's MAC fits another position: it was moved
    UNLINKED = "unlinked"  # the entry does not chain to the one before it


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditProblem:
    problem: Problem
    entry_id: int  # the entry concerned (for REORDERED, where it was written)
    found_at: int | None = None  # for REORDERED: the id it sits at now


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReceipt:
    """The exchange's signed word that it saw this trail reach entry `seq` with MAC `head`."""

    kiosk_id: str
    seq: int
    head: str
    received_at: str  # the exchange's clock, ISO 8601
    key_id: str
    signature: str
    verified: bool  # the signature held under the exchange key the kiosk trusts


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledgement:
    """The newest receipt, and whether the trail still holds its head at its entry."""

    receipt: AuditReceipt
    holds: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReport:
    entries: int
    head_id: int
    head_mac: str
    problems: tuple[AuditProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def record(conn: Any, *, at: dt.datetime, actor: str, action: str, subject: str = "",
           detail: str = "") -> None:
    """Append one entry, chained to the newest one. Call inside a write transaction (the
    chain head is read and moved in it). Never put secrets or personal data in `detail`."""
    head = _recorded_head(conn)
    if head is None:  # a new or upgraded vault: seal what earlier versions wrote first
        seal_unsealed(conn, at=at)
        head = _recorded_head(conn) or (0, AUDIT_GENESIS)
    head_id, head_mac = head
    entry = (head_id + 1, to_iso(at), actor, action, subject, detail, head_mac)
    mac = conn.execute(_MAC_SQL, entry).fetchone()[0]
    conn.execute(f"INSERT INTO audit ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", (*entry, mac))  # nosec B608
    _move_head(conn, head_id + 1, mac)


def record_event(vault: Vault, clock: Clock, *, actor: str, action: str, subject: str = "",
                 detail: str = "") -> None:
    """Append one entry in a transaction of its own (for commands and key operations)."""
    now = clock.now()
    vault.write(lambda conn: record(conn, at=now, actor=actor, action=action, subject=subject,
                                    detail=detail))


def chain_head(conn: Any) -> tuple[int, str]:
    """(id, mac) of the newest entry; (0, the genesis value) when there is none. This is
    what the sync layer sends to the exchange."""
    return _recorded_head(conn) or (0, AUDIT_GENESIS)


def _recorded_head(conn: Any) -> tuple[int, str] | None:
    row = conn.execute("SELECT value FROM kiosk_meta WHERE key = ?",
                       (AUDIT_HEAD_KEY,)).fetchone()
    if row is None:
        return None
    head_id, mac = str(row[0]).split(" ", 1)
    return int(head_id), mac


def _move_head(conn: Any, entry_id: int, mac: str) -> None:
    conn.execute("INSERT OR REPLACE INTO kiosk_meta (key, value) VALUES (?, ?)",
                 (AUDIT_HEAD_KEY, f"{entry_id} {mac}"))


def seal_unsealed(conn: Any, *, at: dt.datetime) -> int:
    """Chain the entries written before the audit trail was sealed (a vault upgraded from an
    earlier version), in id order, and say so in the trail. Returns how many were sealed.
    Once the trail has a head, an unsealed entry is an inserted one: it is left for `verify`
    to report, never sealed. Call inside a write transaction."""
    if _recorded_head(conn) is not None:
        return 0
    rows = conn.execute(f"SELECT {_COLUMNS} FROM audit WHERE mac = '' ORDER BY id").fetchall()  # nosec B608
    if not rows:
        return 0
    head_id, prev = 0, AUDIT_GENESIS
    for row in rows:
        mac = conn.execute(_MAC_SQL, (*tuple(row)[:6], prev)).fetchone()[0]
        conn.execute("UPDATE audit SET prev_hash = ?, mac = ? WHERE id = ?", (prev, mac, row[0]))
        head_id, prev = row[0], mac
    _move_head(conn, head_id, prev)
    record(conn, at=at, actor="kiosk", action="audit.sealed", detail=f"entries={len(rows)}")
    return len(rows)


# -- verification -------------------------------------------------------------------------------

def _mac_at(conn: Any, row: Any, entry_id: int) -> str:
    return str(conn.execute(_MAC_SQL, (entry_id, *tuple(row)[1:7])).fetchone()[0])


def verify(conn: Any) -> AuditReport:
    """Check every entry's MAC and link and the recorded head. Reads only."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY id").fetchall()  # nosec B608
    head_id, head_mac = chain_head(conn)
    by_id = {int(row[0]): row for row in rows}
    last = max([head_id, *by_id])
    missing = [i for i in range(1, last + 1) if i not in by_id]
    bad = [row for row in rows if _mac_at(conn, row, row[0]) != row[7]]
    moved = _moved(conn, bad, {int(r[0]) for r in bad} | set(missing))
    problems = [AuditProblem(problem=Problem.REORDERED, entry_id=origin, found_at=at)
                for at, origin in moved.items()]
    problems += [AuditProblem(problem=Problem.EDITED, entry_id=int(row[0]))
                 for row in bad if int(row[0]) not in moved]
    problems += [AuditProblem(problem=Problem.DELETED, entry_id=i) for i in missing
                 if i not in moved.values()]
    problems += _unlinked(by_id, {int(r[0]) for r in bad}, missing)
    problems += _head_mismatch(by_id, head_id, head_mac, problems)
    problems.sort(key=lambda p: (p.found_at or p.entry_id, p.problem))
    return AuditReport(entries=len(rows), head_id=head_id, head_mac=head_mac,
                       problems=tuple(problems))


def _moved(conn: Any, bad: list[Any], candidates: set[int]) -> dict[int, int]:
    """For each failing entry whose MAC fits another id: {id it sits at: id it was written at}."""
    moved: dict[int, int] = {}
    for row in bad:
        for origin in sorted(candidates - {int(row[0])}):
            if _mac_at(conn, row, origin) == row[7]:
                moved[int(row[0])] = origin
                break
    return moved


def _unlinked(by_id: dict[int, Any], bad: set[int], missing: list[int]) -> list[AuditProblem]:
    """Entries that verify alone but do not chain to the intact entry before them."""
    found = []
    for entry_id, row in by_id.items():
        before = entry_id - 1
        if entry_id in bad or before in bad or before in missing:
            continue
        expected = by_id[before][7] if before in by_id else AUDIT_GENESIS
        if row[6] != expected:
            found.append(AuditProblem(problem=Problem.UNLINKED, entry_id=entry_id))
    return found


def _head_mismatch(by_id: dict[int, Any], head_id: int, head_mac: str,
                   problems: list[AuditProblem]) -> list[AuditProblem]:
    named = {p.entry_id for p in problems} | {p.found_at for p in problems}
    row = by_id.get(head_id)
    if row is not None and row[7] != head_mac and head_id not in named:
        return [AuditProblem(problem=Problem.EDITED, entry_id=head_id)]
    return []


# -- receipts from the exchange -----------------------------------------------------------------

# A constant: the only text joined into the receipts' SQL below (values are always bound).
_RECEIPT_COLUMNS = "kiosk_id, seq, head, received_at, key_id, signature, verified"


def store_receipt(conn: Any, receipt: AuditReceipt, *, at: dt.datetime) -> None:
    """Keep a receipt as received, verified or not. Writes no audit entry (that would move the
    head the receipt is about). Call inside a write transaction."""
    conn.execute(
        f"INSERT INTO audit_receipts ({_RECEIPT_COLUMNS}, stored_at)"  # nosec B608
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (receipt.kiosk_id, receipt.seq, receipt.head, receipt.received_at, receipt.key_id,
         receipt.signature, int(receipt.verified), to_iso(at)))


def latest_receipt(conn: Any) -> AuditReceipt | None:
    """The receipt for the furthest entry the exchange acknowledged; None before the first."""
    row = conn.execute(f"SELECT {_RECEIPT_COLUMNS} FROM audit_receipts"  # nosec B608
                       " ORDER BY seq DESC, id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return AuditReceipt(kiosk_id=row[0], seq=int(row[1]), head=row[2], received_at=row[3],
                        key_id=row[4], signature=row[5], verified=bool(row[6]))


def unacknowledged_head(conn: Any) -> tuple[int, str] | None:
    """The chain head when the exchange has not acknowledged it yet (the sync layer then
    reports it); None when it has, or when the trail is empty."""
    head = chain_head(conn)
    receipt = latest_receipt(conn)
    if head[0] == 0 or (receipt is not None and (receipt.seq, receipt.head) == head):
        return None
    return head


def acknowledgement(conn: Any) -> Acknowledgement | None:
    """The newest receipt and whether entry `seq` still has the MAC the exchange signed. A
    trail rewritten with the data key verifies on its own, but not against this. Reads only."""
    receipt = latest_receipt(conn)
    if receipt is None:
        return None
    row = conn.execute("SELECT mac FROM audit WHERE id = ?", (receipt.seq,)).fetchone()
    return Acknowledgement(receipt=receipt, holds=row is not None and row[0] == receipt.head)
