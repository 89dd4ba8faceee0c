"""Queue rules without the network: offline limits, deadlines, cancellation, the
reconciliation report, and the delivery policy's answer table."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path

import pyotp
import pytest

from kiosk.bootstrap import Core
from kiosk.connectivity import Connectivity
from kiosk.domain.limits import OfflineLimits, QueuedPayments, breaches
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus
from kiosk.domain.staff import (
    CANCEL_PAYMENT,
    OFFLINE_OVERRIDE,
    REPORT_EXPORT,
    STEP_UP_VALID,
    Role,
    StaffSession,
)
from kiosk.errors import AuthError, PaymentDeclinedError
from kiosk.outbox import OutboxState
from kiosk.outbox.outcome import Action
from kiosk.services.auth import EnrollStaff, SignIn, enroll_staff, step_up
from kiosk.services.cache import apply_changes
from kiosk.services.payments import (
    OfflineLimitError,
    PaymentContext,
    PaymentTaken,
    TakeCardPayment,
    take_card_payment,
)
from kiosk.services.queue import (
    CancelRefusedError,
    at_risk,
    cancel_payment,
    is_urgent,
    queue_entries,
)
from kiosk.services.reports import (
    ReportState,
    export_report,
    report_csv,
    site_report,
    write_csv,
)
from kiosk.terminal.sandbox import Scenario
from sync import policy
from sync.batch import UnreadableBatch, lookup_answer, split_batch_answer
from sync.client import Answer
from tests.support import FakeClock

NOW = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)


def member(member_id: str, aptc: int = 0, status: str = "active") -> dict[str, object]:
    return {"member_id": member_id, "first_name": "Rosa", "last_name": f"Quintero {member_id}",
            "date_of_birth": "1960-02-02", "phone": "+15055550111", "email": "r@example.org",
            "plan_id": "P-1", "aptc_cents": aptc, "net_premium_cents": 300_00,
            "preferred_language": "es", "coverage_start": "2026-01-01", "status": status}


def invoice(member_id: str, month: str, due: str, binder: bool = False) -> dict[str, object]:
    return {"invoice_id": f"I-{member_id}-{month}", "member_id": member_id,
            "coverage_month": month, "amount_due_cents": 300_00, "amount_paid_cents": 0,
            "due_date": due, "is_binder": binder, "status": "open"}


@pytest.fixture
def stocked(core: Core) -> Core:
    changes = [
        {"kind": "member", "data": member("M-1")},
        {"kind": "invoice", "data": invoice("M-1", "2026-12", "2026-11-30")},
        {"kind": "member", "data": member("M-2", aptc=100_00)},
        {"kind": "invoice", "data": invoice("M-2", "2026-10", "2026-09-30")},
        {"kind": "member", "data": member("M-3", status="binder_due")},
        {"kind": "invoice", "data": invoice("M-3", "2026-12", "2026-12-15", binder=True)},
    ]
    apply_changes(changes, next_after=6, vault=core.vault)
    return core


def navigator(core: Core, role: Role = Role.NAVIGATOR) -> StaffSession:
    return StaffSession(username=f"{role}.x", display_name="X", role=role,
                        signed_in_at=core.clock.now())


_APPROVERS = itertools.count(1)


def approval(core: Core, purpose: str, role: Role = Role.SUPERVISOR) -> StaffSession:
    """A real step-up for `purpose` by a newly added staff member of `role`."""
    enrolled = enroll_staff(EnrollStaff(username=f"approver.{next(_APPROVERS)}",
                                        display_name="Approver", password="long enough password",
                                        role=role), vault=core.vault, clock=core.clock)
    return step_up(SignIn(username=enrolled.username, password="long enough password",
                          code=pyotp.TOTP(enrolled.totp_secret).at(core.clock.now())),
                   vault=core.vault, clock=core.clock, purpose=purpose)


def pay(core: Core, member_id: str, cents: int, *, offline: bool = False,
        override: StaffSession | None = None,
        limits: OfflineLimits | None = None) -> PaymentTaken:
    connectivity = Connectivity()
    connectivity.mark(online=not offline, at=core.clock.now())
    return take_card_payment(
        TakeCardPayment(member_id=member_id, amount=Money(cents=cents), override_by=override),
        ctx=PaymentContext(kiosk_id="K042", site="Site", staff=navigator(core)),
        vault=core.vault, terminal=core.terminal, clock=core.clock, connectivity=connectivity,
        limits=limits)


# -- offline limits ---------------------------------------------------------------------------

def test_each_offline_limit_has_its_own_code() -> None:
    limits = OfflineLimits(per_payment=Money(cents=100), total_queued=Money(cents=250),
                           queued_count=2, max_age=dt.timedelta(days=1))
    queued = QueuedPayments(count=2, total=Money(cents=200),
                            oldest=NOW - dt.timedelta(days=2))
    assert breaches(Money(cents=101), queued, limits, NOW) == [
        "offline_per_payment", "offline_total", "offline_count", "offline_age"]
    assert breaches(Money(cents=50), QueuedPayments(count=0, total=Money(cents=0), oldest=None),
                    limits, NOW) == []


def test_offline_payment_above_the_cap_is_refused_before_the_card_is_charged(
        stocked: Core) -> None:
    charges_before = len(stocked.terminal.charges)  # type: ignore[attr-defined]
    with pytest.raises(OfflineLimitError) as info:
        pay(stocked, "M-1", 300_00, offline=True,
            limits=OfflineLimits(per_payment=Money(cents=200_00)))
    assert info.value.details["limits"] == ["offline_per_payment"]
    assert len(stocked.terminal.charges) == charges_before  # type: ignore[attr-defined]
    assert stocked.vault.call(lambda c: c.execute("SELECT count(*) FROM payments")
                              .fetchone()[0]) == 0


def test_the_same_payment_online_is_not_limited(stocked: Core) -> None:
    pay(stocked, "M-1", 300_00, offline=False, limits=OfflineLimits(per_payment=Money(cents=1)))


def test_a_supervisor_override_is_recorded_and_a_navigator_cannot_override(
        stocked: Core) -> None:
    tight = OfflineLimits(per_payment=Money(cents=100_00))
    with pytest.raises(AuthError):
        pay(stocked, "M-1", 150_00, offline=True, override=navigator(stocked), limits=tight)
    approver = approval(stocked, OFFLINE_OVERRIDE)
    taken = pay(stocked, "M-1", 150_00, offline=True, override=approver, limits=tight)
    row = stocked.vault.call(lambda c: c.execute(
        "SELECT override_by, offline FROM payments WHERE payment_id = ?",
        (taken.payment_id,)).fetchone())
    assert tuple(row) == (approver.username, 1)
    actions = stocked.vault.call(lambda c: [r[0] for r in c.execute("SELECT action FROM audit")])
    assert "offline_limit.override" in actions


def test_only_a_fresh_step_up_for_this_very_action_approves_it(stocked: Core,
                                                                 clock: FakeClock) -> None:
    tight = OfflineLimits(per_payment=Money(cents=100_00))
    signed_in = navigator(stocked, Role.SUPERVISOR)  # signed in, but did not approve anything
    for_cancel = approval(stocked, CANCEL_PAYMENT)
    stale = approval(stocked, OFFLINE_OVERRIDE)
    clock.advance(STEP_UP_VALID.total_seconds() + 1)
    before = stocked.vault.call(lambda c: c.execute("SELECT COUNT(*) FROM payments").fetchone())
    for session in (signed_in, for_cancel, stale):
        with pytest.raises(AuthError) as refused:
            pay(stocked, "M-1", 150_00, offline=True, override=session, limits=tight)
        assert refused.value.code == "step_up_required"
    taken = pay(stocked, "M-1", 20_00)
    for session in (signed_in, approval(stocked, OFFLINE_OVERRIDE)):
        with pytest.raises(AuthError) as refused:
            cancel_payment(taken.payment_id, reason="member changed mind", by=session,
                           vault=stocked.vault, clock=stocked.clock)
        assert refused.value.code == "step_up_required"
    after = stocked.vault.call(lambda c: c.execute("SELECT COUNT(*) FROM payments").fetchone())
    assert after[0] == before[0] + 1  # only the small payment; nothing was cancelled
    assert queue_entries(vault=stocked.vault)[-1].payment_id == taken.payment_id


def test_step_up_needs_a_fresh_code_and_a_supervisor(core: Core, clock: FakeClock) -> None:
    staff = {}
    for name, role in (("sup.one", Role.SUPERVISOR), ("nav.one", Role.NAVIGATOR)):
        staff[name] = enroll_staff(EnrollStaff(username=name, display_name=name,
                                               password="long enough password", role=role),
                                   vault=core.vault, clock=clock)

    def code(name: str) -> str:
        return pyotp.TOTP(staff[name].totp_secret).at(clock.now())

    session = step_up(SignIn(username="sup.one", password="long enough password",
                             code=code("sup.one")), vault=core.vault, clock=clock,
                      purpose="override")
    assert session.role is Role.SUPERVISOR
    with pytest.raises(AuthError) as replay:
        step_up(SignIn(username="sup.one", password="long enough password",
                       code=code("sup.one")), vault=core.vault, clock=clock, purpose="override")
    assert replay.value.code == "code_reused"
    with pytest.raises(AuthError) as low:
        step_up(SignIn(username="nav.one", password="long enough password",
                       code=code("nav.one")), vault=core.vault, clock=clock, purpose="override")
    assert low.value.code == "supervisor_required"


# -- deadlines --------------------------------------------------------------------------------

def test_deadline_is_the_due_date_or_the_grace_end(stocked: Core) -> None:
    on_time = pay(stocked, "M-1", 100_00)   # due 2026-11-30, still ahead
    late_aptc = pay(stocked, "M-2", 100_00)  # due 2026-09-30, passed; tax credit: 3 months
    binder = pay(stocked, "M-3", 100_00)     # first payment: no grace
    deadlines = dict(stocked.vault.call(lambda c: c.execute(
        "SELECT payment_id, deadline FROM payments").fetchall()))
    assert deadlines[on_time.payment_id] == "2026-11-30"
    # October was missed (due Sep 30): three grace months, October to December, end Dec 31.
    assert deadlines[late_aptc.payment_id] == "2026-12-31"
    assert deadlines[binder.payment_id] == "2026-12-15"


def test_at_risk_lists_the_soonest_deadlines_and_flags_the_urgent_one(stocked: Core) -> None:
    pay(stocked, "M-1", 100_00)
    pay(stocked, "M-3", 100_00)
    pay(stocked, "M-2", 100_00)
    risky = at_risk(vault=stocked.vault, now=NOW, within=dt.timedelta(days=3))
    assert [e.member_id for e in risky] == ["M-1"]
    assert is_urgent(risky[0], dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC))
    assert not is_urgent(risky[0], NOW - dt.timedelta(days=2))


# -- cancellation -----------------------------------------------------------------------------

def test_a_supervisor_cancels_a_never_sent_payment_with_a_reason(stocked: Core) -> None:
    taken = pay(stocked, "M-1", 100_00)
    with pytest.raises(AuthError):
        cancel_payment(taken.payment_id, reason="member changed mind", by=navigator(stocked),
                       vault=stocked.vault, clock=stocked.clock)
    cancel_payment(taken.payment_id, reason="member changed mind",
                   by=approval(stocked, CANCEL_PAYMENT), vault=stocked.vault,
                   clock=stocked.clock)
    row = stocked.vault.call(lambda c: c.execute(
        "SELECT p.status, p.cancel_reason, o.state FROM payments p JOIN outbox o"
        " ON o.subject_id = p.payment_id").fetchone())
    assert tuple(row) == (PaymentStatus.CANCELLED, "member changed mind", OutboxState.CANCELLED)
    assert queue_entries(vault=stocked.vault) == []  # no longer waiting, but kept
    assert len(queue_entries(vault=stocked.vault, include_finished=True)) == 1


def test_a_payment_that_was_ever_sent_cannot_be_cancelled(stocked: Core) -> None:
    taken = pay(stocked, "M-1", 100_00)
    stocked.vault.write(lambda c: c.execute("UPDATE outbox SET attempts = 1"))
    with pytest.raises(CancelRefusedError):
        cancel_payment(taken.payment_id, reason="member changed mind",
                       by=approval(stocked, CANCEL_PAYMENT), vault=stocked.vault,
                       clock=stocked.clock)


# -- reconciliation report --------------------------------------------------------------------

def test_report_counts_and_totals_by_method_state_and_navigator(stocked: Core) -> None:
    pay(stocked, "M-1", 100_00)
    sent = pay(stocked, "M-2", 50_00)
    stocked.vault.write(lambda c: c.execute(
        "UPDATE outbox SET attempts = 2 WHERE subject_id = ?", (sent.payment_id,)))
    stocked.terminal.set_scenario(Scenario.DECLINE_EXPIRED_CARD)  # type: ignore[attr-defined]
    with pytest.raises(PaymentDeclinedError):
        pay(stocked, "M-3", 25_00)
    report = site_report(NOW.date(), NOW.date(), tz="America/New_York", vault=stocked.vault)
    assert report.by_state[ReportState.QUEUED].total == Money(cents=100_00)
    assert report.by_state[ReportState.SENT].count == 1
    assert report.by_state[ReportState.DECLINED].total == Money(cents=25_00)
    assert report.by_method[("card", ReportState.QUEUED)].count == 1
    assert report.by_navigator[("navigator.x", ReportState.SENT)].total == Money(cents=50_00)
    csv_text = report_csv(report)
    assert csv_text.splitlines()[0].startswith("captured_at,reference,member_id")
    assert len(csv_text.splitlines()) == 4 and ",100.00,USD," in csv_text
    other_day = site_report(dt.date(2026, 11, 1), dt.date(2026, 11, 2), tz="America/New_York",
                            vault=stocked.vault)
    assert other_day.lines == []


# -- the answer table -------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "headers", "body", "action"), [
    (201, {}, b"{}", Action.CONFIRM),
    (200, {"idempotent-replayed": "true"}, b"{}", Action.CONFIRM),
    (409, {"retry-after": "1"}, b'{"code":"request_in_progress"}', Action.RETRY),
    (422, {}, b'{"code":"idempotency_key_reused"}', Action.NEEDS_ATTENTION),
    (400, {}, b'{"code":"unknown_member"}', Action.NEEDS_ATTENTION),
    (401, {}, b"", Action.PAUSE),
    (403, {}, b"", Action.PAUSE),
    (429, {"retry-after": "30"}, b"", Action.RETRY),
    (503, {"retry-after": "120"}, b"<html>down</html>", Action.RETRY),
    (500, {}, b"", Action.RETRY),
    (502, {}, b"<html>bad gateway</html>", Action.RETRY),
])
def test_every_answer_has_its_action(status: int, headers: dict[str, str], body: bytes,
                                     action: Action) -> None:
    outcome = policy.classify(Answer(status=status, headers=headers, body=body), attempts=3,
                              now=NOW, rng=random.Random(1))
    assert outcome.action is action


def test_retry_after_is_obeyed_and_backoff_is_capped() -> None:
    outcome = policy.classify(Answer(status=503, headers={"retry-after": "120"}, body=b""),
                              attempts=0, now=NOW, rng=random.Random(1))
    assert outcome.retry_at == NOW + dt.timedelta(seconds=120)
    delays = [policy.backoff_seconds(50, random.Random(seed)) for seed in range(200)]
    assert max(delays) <= policy.BACKOFF_CAP_SECONDS and min(delays) >= 0
    assert max(delays) > policy.BACKOFF_CAP_SECONDS / 2  # full jitter spreads over the range


def test_batch_answers_split_into_single_answers_and_refuse_a_mismatch() -> None:
    body = (b'{"results": [{"idempotency_key": "a", "status": 201, "body": "{}",'
            b' "replayed": true}, {"idempotency_key": "b", "status": 400, "body": "{}",'
            b' "replayed": false}]}')
    answers = split_batch_answer(Answer(status=200, headers={}, body=body), ["a", "b"])
    assert [a.status for a in answers] == [201, 400]
    assert answers[0].headers == {"idempotent-replayed": "true"}
    with pytest.raises(UnreadableBatch):
        split_batch_answer(Answer(status=200, headers={}, body=body), ["b", "a"])
    with pytest.raises(UnreadableBatch):
        split_batch_answer(Answer(status=200, headers={}, body=b"<html>"), ["a"])


def test_a_lookup_answer_gives_the_stored_answer_or_none_while_processing() -> None:
    done = lookup_answer(Answer(status=200, headers={}, body=(
        b'{"idempotency_key":"k","state":"done","status_code":201,'
        b'"body":{"confirmation_number":"X"}}')))
    assert done is not None and done.status == 201 and b"confirmation_number" in done.body
    assert lookup_answer(Answer(status=200, headers={}, body=(
        b'{"idempotency_key":"k","state":"processing","status_code":null,"body":null}'))) is None


def test_a_report_is_saved_only_with_a_fresh_approval_and_the_export_is_audited(
        stocked: Core, tmp_path: Path) -> None:
    pay(stocked, "M-1", 20_00)
    report = site_report(NOW.date() - dt.timedelta(days=1), NOW.date() + dt.timedelta(days=1),
                         tz="UTC", vault=stocked.vault)
    target = tmp_path / "out" / "report.csv"
    for session in (navigator(stocked), navigator(stocked, Role.SUPERVISOR),
                    approval(stocked, CANCEL_PAYMENT)):
        with pytest.raises(AuthError):
            export_report(report, "csv", lambda: write_csv(report, target), by=session,
                          vault=stocked.vault, clock=stocked.clock)
    assert not target.exists()
    approver = approval(stocked, REPORT_EXPORT)
    saved = export_report(report, "csv", lambda: write_csv(report, target), by=approver,
                          vault=stocked.vault, clock=stocked.clock)
    assert saved == target and ",20.00,USD," in target.read_text()
    assert list(target.parent.iterdir()) == [target]  # no partial file left behind
    row = stocked.vault.call(lambda c: c.execute(
        "SELECT actor, subject FROM audit WHERE action = 'report.exported'").fetchone())
    assert tuple(row) == (approver.username, "report.csv")
