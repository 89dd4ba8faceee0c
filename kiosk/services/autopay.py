"""Automatic payments and one-time payments scheduled for a later date.

Set one up with a saved method (`kiosk.services.methods`), on the due date or a chosen day of
the month, for the full amount due or a fixed amount; see its next run (`next_run_date`, pure);
change, pause, resume or cancel it. Each is one vault transaction: the `autopays` row, an
outbox row (kind `autopay`, `POST /v1/autopays`, carrying the action and the whole record) and
an audit entry. The exchange runs them; the kiosk never charges anything itself.

Plan changes. When the feed brings the member with a new plan while a recurring payment is
tied to the old one, `kiosk.services.cache` flags it `plan_changed`, and the screen asks
(`autopays_needing_decision`) whether to move it (`move_autopay_to_plan`) or cancel it
(`cancel_autopay`). Never a double charge: a member has at most one recurring payment that can
run (a unique index here, `autopay_exists` at the exchange), a flagged one blocks setting up
another, and moving keeps the same record, so no month is paid by two. Never a gap: until the
decision the exchange keeps paying the old plan's months with it and nothing of the new plan,
and moving takes effect as soon as the exchange hears of it, for every open invoice of the new
plan; `decide_by` is the new plan's first due date.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from kiosk.clock import Clock, from_iso, to_iso
from kiosk.domain.account import (
    AutopayAmount,
    AutopayKind,
    AutopaySchedule,
    AutopayStatus,
    AutopayTiming,
    check_schedule,
    next_run_date,
)
from kiosk.domain.money import Money
from kiosk.errors import KioskError, NotFoundError
from kiosk.outbox import OutboxItem
from kiosk.services.cache import BadChangeError
from kiosk.services.methods import ExchangeState, MethodExpiredError, MethodUnknownError, last_day
from kiosk.services.payments import PaymentContext
from kiosk.services.profile import AccountChange, member_row, queue_change, waiting_rows
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

AUTOPAY_ENDPOINT = "/v1/autopays"
OUTBOX_KIND = "autopay"


class AutopayAction(StrEnum):
    SET_UP = "set_up"  # a new recurring or one-time payment
    CHANGE = "change"  # a new schedule, amount or method
    PAUSE = "pause"  # stop running until resumed
    RESUME = "resume"  # run again
    CANCEL = "cancel"  # stop for good
    MOVE_PLAN = "move_plan"  # tie it to the member's new plan


class AutopayUnknownError(NotFoundError):
    """No automatic or scheduled payment with this id."""

    code = "autopay_unknown"


class AutopayExistsError(KioskError):
    """The member already has a recurring payment (maybe waiting for a plan decision)."""

    code = "autopay_exists"


class AutopayClosedError(KioskError):
    """It was cancelled, or a one-time payment that already ran."""

    code = "autopay_closed"


class AutopayStateError(KioskError):
    """Pausing one that is not active, or resuming one that is not paused."""

    code = "autopay_state"


class DecisionNeededError(KioskError):
    """The member's plan changed: move it to the new plan or cancel it first."""

    code = "autopay_needs_decision"


class PlanUnchangedError(KioskError):
    """It is already tied to the member's current plan."""

    code = "autopay_plan_unchanged"


@dataclass(frozen=True, slots=True, kw_only=True)
class Autopay:
    """An automatic or scheduled payment as the screens show it."""

    autopay_id: str
    member_id: str
    schedule: AutopaySchedule
    method_id: str
    plan_id: str
    status: AutopayStatus
    plan_changed: bool  # the member's plan changed: ask to move it or cancel it
    exchange_state: ExchangeState
    next_run: dt.date | None  # None while paused, cancelled, done or waiting for a decision
    decide_by: dt.date | None = None  # with plan_changed: the new plan's first due date
    plan_name: str = ""  # the plan's name when the kiosk knows the plan, else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetUpAutopay:
    member_id: str
    method_id: str
    schedule: AutopaySchedule


@dataclass(frozen=True, slots=True, kw_only=True)
class AutopayChanged:
    autopay_id: str
    member_id: str
    action: AutopayAction
    outbox_id: int
    idempotency_key: str


# -- reading ------------------------------------------------------------------------------------

def _schedule(row: Any) -> AutopaySchedule:
    cents = row["amount_cents"]
    return AutopaySchedule(
        kind=AutopayKind(row["kind"]), timing=AutopayTiming(row["timing"]),
        day_of_month=row["day_of_month"],
        run_on=dt.date.fromisoformat(row["run_on"]) if row["run_on"] else None,
        amount_kind=AutopayAmount(row["amount_kind"]),
        fixed_amount=Money(cents=cents) if cents is not None else None)


def _due_dates(conn: Any, member_id: str) -> list[dt.date]:
    rows = conn.execute("SELECT due_date FROM invoices WHERE member_id = ? AND status = 'open'",
                        (member_id,))
    return [dt.date.fromisoformat(r["due_date"]) for r in rows]


def _decide_by(conn: Any, row: Any) -> dt.date | None:
    member = member_row(conn, row["member_id"])
    start = member["plan_effective"] or member["coverage_start"]
    return dt.date.fromisoformat(start) - dt.timedelta(days=1)


def _autopay(conn: Any, row: Any, today: dt.date | None) -> Autopay:
    """The view of one row; `next_run` only with `today` and once no decision is awaited."""
    schedule, changed = _schedule(row), bool(row["plan_changed"])
    status = AutopayStatus(row["status"])
    runs = None if changed or today is None else next_run_date(
        schedule, today=today, status=status, due_dates=_due_dates(conn, row["member_id"]))
    return Autopay(autopay_id=row["autopay_id"], member_id=row["member_id"], schedule=schedule,
                   method_id=row["method_id"], plan_id=row["plan_id"], status=status,
                   plan_changed=changed, exchange_state=ExchangeState(row["exchange_state"]),
                   next_run=runs,
                   decide_by=_decide_by(conn, row) if changed else None,
                   plan_name=_plan_name(conn, row["plan_id"]))


def _plan_name(conn: Any, plan_id: str) -> str:
    plan = conn.execute("SELECT name FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
    return str(plan["name"]) if plan else ""


def list_autopays(member_id: str, *, vault: Vault, today: dt.date,
                  include_closed: bool = False) -> list[Autopay]:
    """The member's automatic and scheduled payments with their next run, recurring first."""
    where = "" if include_closed else " AND status IN ('active', 'paused')"
    return vault.call(lambda conn: [_autopay(conn, r, today) for r in conn.execute(
        f"SELECT * FROM autopays WHERE member_id = ?{where}"  # nosec B608
        " ORDER BY kind DESC, created_at, rowid", (member_id,)).fetchall()])


def autopays_needing_decision(member_id: str, *, vault: Vault) -> list[Autopay]:
    """Recurring payments still tied to the member's old plan: ask to move or cancel each
    (`move_autopay_to_plan`, `cancel_autopay`), by `decide_by`."""
    return vault.call(lambda conn: [_autopay(conn, r, None) for r in conn.execute(
        "SELECT * FROM autopays WHERE member_id = ? AND plan_changed = 1"
        " AND status IN ('active', 'paused') ORDER BY created_at", (member_id,)).fetchall()])


# -- changing -----------------------------------------------------------------------------------

def _record(row: Any) -> dict[str, Any]:
    """The whole record as the payload carries it."""
    return {"autopay_id": row["autopay_id"], "plan_id": row["plan_id"],
            "method_id": row["method_id"], "status": row["status"],
            "schedule": {"kind": row["kind"], "timing": row["timing"],
                         "day_of_month": row["day_of_month"], "run_on": row["run_on"],
                         "amount_kind": row["amount_kind"], "amount_cents": row["amount_cents"]}}


def _enqueue(conn: Any, autopay_id: str, action: AutopayAction, *, ctx: PaymentContext,
             now: dt.datetime, new_id: Callable[[], uuid.UUID],
             extra: dict[str, Any] | None = None) -> AutopayChanged:
    row = conn.execute("SELECT * FROM autopays WHERE autopay_id = ?", (autopay_id,)).fetchone()
    conn.execute("UPDATE autopays SET exchange_state = 'pending', updated_at = ?"
                 " WHERE autopay_id = ?", (to_iso(now), autopay_id))
    item = queue_change(conn, AccountChange(
        kind=OUTBOX_KIND, endpoint=AUTOPAY_ENDPOINT, member_id=row["member_id"],
        subject_id=autopay_id, action=f"autopay.{action}", detail=row["kind"],
        body={"action": action.value, **_record(row), **(extra or {})},
        ctx=ctx, now=now, new_key=new_id))
    return AutopayChanged(autopay_id=autopay_id, member_id=row["member_id"], action=action,
                          outbox_id=item.id, idempotency_key=item.idempotency_key)


def _usable_method(conn: Any, member_id: str, method_id: str, today: dt.date) -> None:
    row = conn.execute("SELECT * FROM payment_methods WHERE method_id = ? AND member_id = ?"
                       " AND state = 'active'", (method_id, member_id)).fetchone()
    if row is None:
        raise MethodUnknownError(method_id=method_id)
    if row["exp_year"] and last_day(row["exp_year"], row["exp_month"]) < today:
        raise MethodExpiredError(field="method")


def _schedule_columns(s: AutopaySchedule) -> tuple[Any, ...]:
    return (s.kind.value, s.timing.value, s.day_of_month,
            s.run_on.isoformat() if s.run_on else None, s.amount_kind.value,
            s.fixed_amount.cents if s.fixed_amount else None)


def _insert(conn: Any, cmd: SetUpAutopay, autopay_id: str, *, ctx: PaymentContext,
            now: dt.datetime) -> None:
    member = member_row(conn, cmd.member_id)
    _usable_method(conn, cmd.member_id, cmd.method_id, now.date())
    if cmd.schedule.kind is AutopayKind.RECURRING and conn.execute(
            "SELECT 1 FROM autopays WHERE member_id = ? AND kind = 'recurring'"
            " AND status IN ('active', 'paused')", (cmd.member_id,)).fetchone():
        raise AutopayExistsError(member_id=cmd.member_id)
    conn.execute(
        "INSERT INTO autopays (autopay_id, member_id, method_id, plan_id, kind, timing,"
        " day_of_month, run_on, amount_kind, amount_cents, created_at, updated_at, navigator)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (autopay_id, cmd.member_id, cmd.method_id, member["plan_id"],
         *_schedule_columns(cmd.schedule), to_iso(now), to_iso(now), ctx.staff.username))


def set_up_autopay(cmd: SetUpAutopay, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                   new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> AutopayChanged:
    """Set up a recurring payment, or schedule a one-time payment (`schedule.kind`), tied to
    the member's current plan. Works offline; the exchange runs it once it hears of it.

    Refuses (nothing written): NotFoundError `member_unknown`; MethodUnknownError
    `method_unknown`; MethodExpiredError `method_expired`; ValidationError
    `autopay_day_invalid`, `autopay_date_invalid`, `autopay_amount_invalid`;
    AutopayExistsError `autopay_exists` (a recurring one exists: change it instead).
    """
    now = clock.now()
    schedule = check_schedule(cmd.schedule, today=now.date())
    autopay_id = str(new_id())

    def change(conn: Any) -> AutopayChanged:
        _insert(conn, replace(cmd, schedule=schedule), autopay_id, ctx=ctx, now=now)
        return _enqueue(conn, autopay_id, AutopayAction.SET_UP, ctx=ctx, now=now, new_id=new_id)

    return vault.write(change)


def schedule_payment(member_id: str, *, method_id: str, run_on: dt.date, amount: Money,
                     ctx: PaymentContext, vault: Vault, clock: Clock,
                     new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> AutopayChanged:
    """A one-time payment of `amount` on a later date; refusals as `set_up_autopay`."""
    schedule = AutopaySchedule(kind=AutopayKind.ONE_TIME, run_on=run_on,
                               amount_kind=AutopayAmount.FIXED, fixed_amount=amount)
    return set_up_autopay(SetUpAutopay(member_id=member_id, method_id=method_id,
                                       schedule=schedule),
                          ctx=ctx, vault=vault, clock=clock, new_id=new_id)


def _open(conn: Any, autopay_id: str) -> Any:
    row = conn.execute("SELECT * FROM autopays WHERE autopay_id = ?", (autopay_id,)).fetchone()
    if row is None:
        raise AutopayUnknownError(autopay_id=autopay_id)
    if row["status"] in (AutopayStatus.CANCELLED, AutopayStatus.COMPLETED):
        raise AutopayClosedError(autopay_id=autopay_id)
    return row


def _decided(row: Any) -> Any:
    if row["plan_changed"]:
        raise DecisionNeededError(autopay_id=row["autopay_id"])
    return row


def change_autopay(autopay_id: str, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                   schedule: AutopaySchedule | None = None, method_id: str | None = None,
                   new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> AutopayChanged:
    """A new schedule, amount or method (the kind, recurring or one-time, stays).

    Refuses: AutopayUnknownError `autopay_unknown`; AutopayClosedError `autopay_closed`;
    DecisionNeededError `autopay_needs_decision`; and the refusals of `set_up_autopay`.
    """
    now = clock.now()

    def change(conn: Any) -> AutopayChanged:
        row = _decided(_open(conn, autopay_id))
        new = check_schedule(replace(schedule or _schedule(row), kind=AutopayKind(row["kind"])),
                             today=now.date())
        method = method_id or row["method_id"]
        _usable_method(conn, row["member_id"], method, now.date())
        conn.execute("UPDATE autopays SET method_id = ?, kind = ?, timing = ?, day_of_month = ?,"
                     " run_on = ?, amount_kind = ?, amount_cents = ? WHERE autopay_id = ?",
                     (method, *_schedule_columns(new), autopay_id))
        return _enqueue(conn, autopay_id, AutopayAction.CHANGE, ctx=ctx, now=now, new_id=new_id)

    return vault.write(change)


def _set_status(autopay_id: str, action: AutopayAction, *, ctx: PaymentContext, vault: Vault,
                clock: Clock, new_id: Callable[[], uuid.UUID]) -> AutopayChanged:
    now = clock.now()
    wanted = {AutopayAction.PAUSE: (AutopayStatus.ACTIVE, AutopayStatus.PAUSED),
              AutopayAction.RESUME: (AutopayStatus.PAUSED, AutopayStatus.ACTIVE)}

    def change(conn: Any) -> AutopayChanged:
        row = _open(conn, autopay_id)
        if action is not AutopayAction.CANCEL:
            _decided(row)
            if row["status"] != wanted[action][0]:
                raise AutopayStateError(autopay_id=autopay_id, status=row["status"])
        status = AutopayStatus.CANCELLED if action is AutopayAction.CANCEL else wanted[action][1]
        conn.execute("UPDATE autopays SET status = ?, plan_changed = 0 WHERE autopay_id = ?",
                     (status, autopay_id))
        return _enqueue(conn, autopay_id, action, ctx=ctx, now=now, new_id=new_id)

    return vault.write(change)


def pause_autopay(autopay_id: str, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                  new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> AutopayChanged:
    """Stop it running until resumed. `autopay_unknown`, `autopay_closed`, `autopay_state`
    (not active), `autopay_needs_decision`."""
    return _set_status(autopay_id, AutopayAction.PAUSE, ctx=ctx, vault=vault, clock=clock,
                       new_id=new_id)


def resume_autopay(autopay_id: str, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                   new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> AutopayChanged:
    """Run it again. `autopay_unknown`, `autopay_closed`, `autopay_state` (not paused),
    `autopay_needs_decision`."""
    return _set_status(autopay_id, AutopayAction.RESUME, ctx=ctx, vault=vault, clock=clock,
                       new_id=new_id)


def cancel_autopay(autopay_id: str, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                   new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> AutopayChanged:
    """Stop it for good (also the answer to a plan change). `autopay_unknown`,
    `autopay_closed`."""
    return _set_status(autopay_id, AutopayAction.CANCEL, ctx=ctx, vault=vault, clock=clock,
                       new_id=new_id)


def move_autopay_to_plan(autopay_id: str, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                         plan_id: str | None = None,
                         new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> AutopayChanged:
    """Tie it to the member's current plan (the answer to a plan change), keeping its id,
    schedule and method so no month is paid twice or skipped. `plan_id`, when given, must be
    the member's current plan. Refuses: `autopay_unknown`, `autopay_closed`,
    PlanUnchangedError `autopay_plan_unchanged` (already on the current plan, or `plan_id`
    is not the current plan)."""
    now = clock.now()

    def change(conn: Any) -> AutopayChanged:
        row = _open(conn, autopay_id)
        current = member_row(conn, row["member_id"])["plan_id"]
        if row["plan_id"] == current or (plan_id is not None and plan_id != current):
            raise PlanUnchangedError(autopay_id=autopay_id, plan_id=current)
        conn.execute("UPDATE autopays SET plan_id = ?, plan_changed = 0 WHERE autopay_id = ?",
                     (current, autopay_id))
        return _enqueue(conn, autopay_id, AutopayAction.MOVE_PLAN, ctx=ctx, now=now,
                        new_id=new_id, extra={"from_plan_id": row["plan_id"]})

    return vault.write(change)


# -- delivery answers (registered in kiosk.services.delivery) ---------------------------------

def on_change_confirmed(conn: Any, item: OutboxItem, answer: Any, now: str) -> None:
    """The exchange holds the change; in step once no later change waits. A one-time payment
    the exchange already ran comes back `completed`."""
    if not isinstance(answer, dict) or answer.get("autopay_id") != item.subject_id:
        raise BadChangeError(field="autopay_id")
    waiting = waiting_rows(conn, OUTBOX_KIND, item.subject_id, besides=item.id)
    state = ExchangeState.PENDING if waiting else ExchangeState.SYNCED
    conn.execute("UPDATE autopays SET exchange_state = ?, updated_at = ? WHERE autopay_id = ?",
                 (state, to_iso(from_iso(now)), item.subject_id))
    if answer.get("status") == AutopayStatus.COMPLETED and not waiting:
        conn.execute("UPDATE autopays SET status = 'completed' WHERE autopay_id = ?",
                     (item.subject_id,))


def on_change_refused(conn: Any, item: OutboxItem) -> None:
    conn.execute("UPDATE autopays SET exchange_state = ? WHERE autopay_id = ?",
                 (ExchangeState.NEEDS_ATTENTION, item.subject_id))
    log.warning("the exchange refused a change to automatic payment %s", item.subject_id)
