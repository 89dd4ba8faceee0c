"""The member's payment history: every payment the exchange publishes (made here or anywhere
else), merged with the payments taken here that it has not published yet and the card
declines at this kiosk's terminal; filters, the details of one, and a CSV export.

Statuses (`HistoryStatus`): a payment taken here is `pending` until first sent, `submitted`
while the answer is awaited, then as the exchange says (`confirmed`, `returned`, `refunded`,
`disputed`); `declined` for a card the terminal declined or a payment the exchange refused; a
payment a supervisor cancelled before sending shows as `refunded` (the card was refunded at
the terminal). A payment named by an open dispute filed here shows `disputed` at once.
Dates are UTC days. Reads only the vault, so it works offline.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field, replace
from typing import Any

from kiosk.clock import from_iso
from kiosk.domain.account import OPEN_DISPUTES, HistoryStatus
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus
from kiosk.errors import NotFoundError
from kiosk.store.vault import Vault

_EXCHANGE_STATUS = {"confirmed": HistoryStatus.CONFIRMED, "returned": HistoryStatus.RETURNED,
                    "refunded": HistoryStatus.REFUNDED, "disputed": HistoryStatus.DISPUTED}
_LOCAL_STATUS = {PaymentStatus.CONFIRMED: HistoryStatus.CONFIRMED,
                 PaymentStatus.NEEDS_ATTENTION: HistoryStatus.DECLINED,
                 PaymentStatus.CANCELLED: HistoryStatus.REFUNDED}
CSV_COLUMNS = ("date", "amount", "currency", "method", "status", "confirmation_number",
               "receipt_number", "last4", "return_code", "payment_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    payment_id: str  # for a declined card: the terminal's sale reference
    member_id: str
    amount: Money
    method: str  # card, ach, paypal, venmo (or what the exchange names)
    status: HistoryStatus
    paid_at: dt.datetime  # taken here, or received by the exchange
    confirmation_number: str = ""
    receipt_number: str = ""  # only for payments taken here
    last4: str = ""
    brand: str = ""
    return_code: str = ""
    returned_at: dt.datetime | None = None
    refunded_at: dt.datetime | None = None
    refunded: Money | None = None
    kiosk_id: str = ""  # where it was made; WEB, PHONE ... for payments made elsewhere
    taken_here: bool = False
    dispute_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryFilter:
    """Empty sets and None bounds mean "all"; `since` and `until` are inclusive UTC days."""

    since: dt.date | None = None
    until: dt.date | None = None
    methods: frozenset[str] = field(default_factory=frozenset)
    statuses: frozenset[HistoryStatus] = field(default_factory=frozenset)

    def keeps(self, entry: HistoryEntry) -> bool:
        day = entry.paid_at.astimezone(dt.UTC).date()
        return ((self.since is None or day >= self.since)
                and (self.until is None or day <= self.until)
                and (not self.methods or entry.method in self.methods)
                and (not self.statuses or entry.status in self.statuses))


def _when(text: str | None) -> dt.datetime | None:
    return from_iso(text) if text else None


def _from_exchange(r: Any) -> HistoryEntry:
    return HistoryEntry(
        payment_id=r["payment_id"], member_id=r["member_id"],
        amount=Money(cents=r["amount_cents"], currency=r["currency"]), method=r["method"],
        status=_EXCHANGE_STATUS.get(r["status"], HistoryStatus.CONFIRMED),
        paid_at=from_iso(r["received_at"]), confirmation_number=r["confirmation_number"],
        last4=r["last4"], return_code=r["return_code"], returned_at=_when(r["returned_at"]),
        refunded_at=_when(r["refunded_at"]),
        refunded=Money(cents=r["refunded_cents"]) if r["refunded_cents"] else None,
        kiosk_id=r["kiosk_id"])


def _local_status(r: Any) -> HistoryStatus:
    if r["return_code"]:
        return HistoryStatus.RETURNED
    if r["status"] == PaymentStatus.PENDING:
        sent = r["attempts"] and r["state"] != "cancelled"
        return HistoryStatus.SUBMITTED if sent else HistoryStatus.PENDING
    return _LOCAL_STATUS.get(PaymentStatus(r["status"]), HistoryStatus.CONFIRMED)


def _from_kiosk(r: Any, kiosk_id: str) -> HistoryEntry:
    return HistoryEntry(
        payment_id=r["payment_id"], member_id=r["member_id"],
        amount=Money(cents=r["amount_cents"], currency=r["currency"]), method=r["method"],
        status=_local_status(r), paid_at=from_iso(r["captured_at"]),
        confirmation_number=r["confirmation_number"], receipt_number=r["receipt_number"],
        last4=r["last4"], brand=r["brand"], return_code=r["return_code"],
        returned_at=_when(r["returned_at"]), kiosk_id=kiosk_id, taken_here=True)


def _merge(local: HistoryEntry, held: HistoryEntry | None) -> HistoryEntry:
    """A payment taken here as the exchange now has it, keeping what only the kiosk knows."""
    if held is None:
        return local
    return replace(held, receipt_number=local.receipt_number, brand=local.brand,
                   last4=local.last4 or held.last4, paid_at=local.paid_at, taken_here=True)


def _declined(r: Any, kiosk_id: str) -> HistoryEntry:
    return HistoryEntry(payment_id=r["sale_reference"], member_id=r["member_id"],
                        amount=Money(cents=r["amount_cents"], currency=r["currency"]),
                        method="card", status=HistoryStatus.DECLINED,
                        paid_at=from_iso(r["started_at"]), kiosk_id=kiosk_id, taken_here=True)


def _open_disputes(conn: Any, member_id: str) -> dict[str, tuple[str, ...]]:
    marks = ",".join("?" * len(OPEN_DISPUTES))
    found: dict[str, tuple[str, ...]] = {}
    for r in conn.execute(
            "SELECT p.payment_id, p.dispute_id FROM dispute_payments p JOIN disputes d"  # nosec B608
            f" USING (dispute_id) WHERE d.member_id = ? AND d.status IN ({marks})",
            (member_id, *OPEN_DISPUTES)):
        found[r[0]] = (*found.get(r[0], ()), r[1])
    return found


def _kiosk_id(conn: Any, payment: Any) -> str:
    row = conn.execute("SELECT json_extract(payload, '$.kiosk_id') FROM outbox"
                       " WHERE subject_id = ? AND kind = 'payment'", (payment,)).fetchone()
    return str(row[0]) if row and row[0] else ""


_LOCAL_SQL = (
    "SELECT p.*, o.attempts, o.state FROM payments p LEFT JOIN outbox o"
    " ON o.subject_id = p.payment_id AND o.kind = 'payment'"
)


def _entries(conn: Any, member_id: str) -> list[HistoryEntry]:
    held = {r["payment_id"]: _from_exchange(r) for r in conn.execute(
        "SELECT * FROM exchange_payments WHERE member_id = ?", (member_id,))}
    local = [_merge(_from_kiosk(r, _kiosk_id(conn, r["payment_id"])),
                    held.pop(r["payment_id"], None))
             for r in conn.execute(f"{_LOCAL_SQL} WHERE p.member_id = ?",  # nosec B608
                                   (member_id,))]
    declined = [_declined(r, "") for r in conn.execute(
        "SELECT * FROM card_attempts WHERE member_id = ? AND result = 'declined'", (member_id,))]
    disputes = _open_disputes(conn, member_id)
    return [_with_disputes(e, disputes.get(e.payment_id, ()))
            for e in [*held.values(), *local, *declined]]


def _with_disputes(entry: HistoryEntry, dispute_ids: tuple[str, ...]) -> HistoryEntry:
    if not dispute_ids:
        return entry
    status = HistoryStatus.DISPUTED if entry.status is HistoryStatus.CONFIRMED else entry.status
    return replace(entry, status=status, dispute_ids=dispute_ids)


def payment_history(member_id: str, *, vault: Vault,
                    filters: HistoryFilter | None = None) -> list[HistoryEntry]:
    """The member's payments, newest first, as `filters` keep them."""
    keep = filters or HistoryFilter()
    entries = vault.call(lambda conn: _entries(conn, member_id))
    return sorted((e for e in entries if keep.keeps(e)),
                  key=lambda e: (e.paid_at, e.payment_id), reverse=True)


def payment_details(member_id: str, payment_id: str, *, vault: Vault) -> HistoryEntry:
    """One entry of the member's history. NotFoundError `payment_unknown`."""
    for entry in payment_history(member_id, vault=vault):
        if entry.payment_id == payment_id:
            return entry
    raise NotFoundError(code="payment_unknown", payment_id=payment_id)


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _row(e: HistoryEntry) -> list[str]:
    return [e.paid_at.astimezone(dt.UTC).date().isoformat(), f"{e.amount.as_decimal():.2f}",
            e.amount.currency, _safe(e.method), e.status.value, _safe(e.confirmation_number),
            _safe(e.receipt_number), _safe(e.last4), _safe(e.return_code), _safe(e.payment_id)]


def history_csv(entries: list[HistoryEntry]) -> str:
    """The entries as CSV text (RFC 4180, CRLF line ends), a header row first; amounts as
    plain decimals (123.45) and dates as YYYY-MM-DD, so any spreadsheet reads them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_row(e) for e in entries)
    return out.getvalue()
