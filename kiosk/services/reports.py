"""The site reconciliation report a site lead checks at closing: for a day or a range of days,
counts and totals by payment method and by delivery state, and by navigator; plus every line,
for export as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.clock import Clock, from_iso, to_iso
from kiosk.domain.money import Money
from kiosk.domain.staff import REPORT_EXPORT, StaffSession, approval_refusal
from kiosk.errors import AuthError
from kiosk.services import audit
from kiosk.store.vault import Vault


class ReportState(StrEnum):
    QUEUED = "queued"  # recorded here, never sent yet
    SENT = "sent"  # sent at least once, no definitive answer yet
    CONFIRMED = "confirmed"  # the exchange confirmed it
    DECLINED = "declined"  # the card terminal declined it; no money taken
    NEEDS_ATTENTION = "needs_attention"  # the exchange refused it; staff must act
    CANCELLED = "cancelled"  # a supervisor cancelled it before it was sent


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportLine:
    captured_at: dt.datetime
    reference: str  # receipt number, or the sale reference of a declined attempt
    member_id: str
    navigator: str
    method: str
    state: ReportState
    amount: Money
    confirmation_number: str


@dataclass(slots=True)
class Tally:
    count: int = 0
    total: Money = field(default_factory=Money.zero)

    def add(self, amount: Money) -> None:
        self.count += 1
        self.total = self.total + amount


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteReport:
    first_day: dt.date
    last_day: dt.date
    lines: list[ReportLine]
    by_method: dict[tuple[str, ReportState], Tally]
    by_navigator: dict[tuple[str, ReportState], Tally]
    by_state: dict[ReportState, Tally]


def _state(row: Any) -> ReportState:
    outbox_state, attempts = row["outbox_state"], row["attempts"] or 0
    if outbox_state == "queued":
        return ReportState.QUEUED if attempts == 0 else ReportState.SENT
    if outbox_state == "sending":
        return ReportState.SENT
    return ReportState(outbox_state)


def _read(conn: Any, start: str, end: str) -> list[ReportLine]:
    lines = [
        ReportLine(captured_at=from_iso(r["captured_at"]), reference=r["receipt_number"],
                   member_id=r["member_id"], navigator=r["navigator"], method=r["method"],
                   state=_state(r), amount=Money(cents=r["amount_cents"]),
                   confirmation_number=r["confirmation_number"])
        for r in conn.execute(
            "SELECT p.*, o.state AS outbox_state, o.attempts FROM payments p"
            " LEFT JOIN outbox o ON o.subject_id = p.payment_id"
            " WHERE p.captured_at >= ? AND p.captured_at < ? ORDER BY p.captured_at", (start, end))
    ]
    lines += [
        ReportLine(captured_at=from_iso(r["started_at"]), reference=r["sale_reference"],
                   member_id=r["member_id"], navigator=r["navigator"], method="card",
                   state=ReportState.DECLINED, amount=Money(cents=r["amount_cents"]),
                   confirmation_number="")
        for r in conn.execute(
            "SELECT * FROM card_attempts WHERE result = 'declined'"
            " AND started_at >= ? AND started_at < ?", (start, end))
    ]
    return sorted(lines, key=lambda line: line.captured_at)


def _utc_bounds(first: dt.date, last: dt.date, tz: str) -> tuple[str, str]:
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return to_iso(start), to_iso(end)


def site_report(first_day: dt.date, last_day: dt.date, *, tz: str, vault: Vault) -> SiteReport:
    """Everything taken at this kiosk on the site's calendar days `first_day`..`last_day`."""
    start, end = _utc_bounds(first_day, last_day, tz)
    lines = vault.call(lambda conn: _read(conn, start, end))
    by_method: dict[tuple[str, ReportState], Tally] = defaultdict(Tally)
    by_navigator: dict[tuple[str, ReportState], Tally] = defaultdict(Tally)
    by_state: dict[ReportState, Tally] = defaultdict(Tally)
    for line in lines:
        by_method[(line.method, line.state)].add(line.amount)
        by_navigator[(line.navigator, line.state)].add(line.amount)
        by_state[line.state].add(line.amount)
    return SiteReport(first_day=first_day, last_day=last_day, lines=lines,
                      by_method=dict(by_method), by_navigator=dict(by_navigator),
                      by_state=dict(by_state))


CSV_COLUMNS = ("captured_at", "reference", "member_id", "navigator", "method", "state",
               "amount", "currency", "confirmation_number")


def report_csv(report: SiteReport) -> str:
    """Every line of the report as CSV (UTF-8 text, a header row, amounts in dollars)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        writer.writerow([to_iso(line.captured_at), line.reference, line.member_id,
                         line.navigator, line.method, line.state,
                         f"{line.amount.as_decimal():.2f}", line.amount.currency,
                         line.confirmation_number])
    return buffer.getvalue()


def export_report(report: SiteReport, kind: str, write: Callable[[], Path], *,
                  by: StaffSession, vault: Vault, clock: Clock) -> Path:
    """Save the report outside the vault once a supervisor approved it: `by` is a fresh
    step-up for REPORT_EXPORT. `write` makes the file (CSV here, PDF in the UI) and returns
    where it went; the export is audited only once the file exists. Raises AuthError with
    the refusal's code, and nothing is written."""
    refused = approval_refusal(by, REPORT_EXPORT, clock.now())
    if refused:
        raise AuthError(code=refused)
    path = write()
    vault.write(lambda conn: audit.record(
        conn, at=clock.now(), actor=by.username, action="report.exported", subject=path.name,
        detail=f"{kind} {report.first_day}..{report.last_day}"))
    return path


def write_csv(report: SiteReport, path: Path) -> Path:
    """The report as CSV at `path` (folders made as needed), written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(report_csv(report), encoding="utf-8")
    partial.replace(path)
    return path
