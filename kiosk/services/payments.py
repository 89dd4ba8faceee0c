"""Taking a card payment: check the amount, charge through the terminal, and record the
payment with its outbox row and audit entry in one vault transaction.

The payment is recorded before the exchange hears of it, so it is safe whether or not the
network is up; the sync worker delivers it later under the key fixed here.

A card attempt row is committed before the terminal is asked, and every attempt is charged at
most once: when the terminal's answer does not come, the kiosk asks for the status of that sale
reference instead of charging again. An attempt whose outcome is still unknown stays `unknown`
until `resolve_unknown_attempts` hears what the terminal did; a payment row per sale reference
is unique, so an approval is recorded exactly once whichever path hears of it first.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk import outbox
from kiosk.clock import Clock, from_iso, to_iso
from kiosk.connectivity import Connectivity
from kiosk.domain.billing import CoverageState
from kiosk.domain.limits import OfflineLimits, QueuedPayments, breaches
from kiosk.domain.members import months_covered, payment_deadline
from kiosk.domain.money import Money, total
from kiosk.domain.payments import (
    OPEN_ATTEMPTS,
    AttemptResult,
    CardAuthorization,
    PaymentStatus,
    TerminalResult,
    validate_amount,
)
from kiosk.domain.staff import OFFLINE_OVERRIDE, StaffSession, approval_refusal
from kiosk.errors import AuthError, KioskError, NotFoundError, PaymentDeclinedError
from kiosk.services import audit
from kiosk.services.members import MemberAccount, _read_account, get_account
from kiosk.services.standing import standing_of
from kiosk.store.vault import Vault
from kiosk.terminal import CardTerminal, TerminalError, TerminalTimeout

log = logging.getLogger(__name__)

PAYMENT_ENDPOINT = "/v1/payments"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentContext:
    """Who and where: fixed for a kiosk and a staff session."""

    kiosk_id: str
    site: str
    staff: StaffSession


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeCardPayment:
    member_id: str
    amount: Money
    override_by: StaffSession | None = None  # a supervisor who approved breaking a limit
    # The caller may choose the sale reference (a fresh uuid4) to be able to abort the charge
    # while it waits; empty means a new one is made here.
    sale_reference: str = ""


class OfflineLimitError(KioskError):
    """The exchange is unreachable and this payment would break an offline limit."""

    code = "offline_limit"


class CardRemovedError(KioskError):
    """The member took the card out of the reader before the end; no money was taken."""

    code = "card_removed"


class PaymentAbortedError(KioskError):
    """The charge was stopped at the terminal or by an abort request; no money was taken."""

    code = "payment_aborted"


class TerminalOutcomeUnknownError(KioskError):
    """The terminal did not answer and could not yet say whether it charged the card.

    Nothing is recorded as paid and no second charge is started; `sale_reference` names the
    attempt to look up again (`resolve_unknown_attempts`) once the terminal shows its result.
    """

    code = "terminal_outcome_unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentTaken:
    """What changed: a pending payment and its queued delivery to the exchange.

    `amount` is what the card paid, `requested` what was asked: a prepaid card may pay only
    part (`partial`), and the rest stays due. `offline_approved` means the terminal approved it
    without reaching the issuer, which may still decline it: the receipt says so.
    """

    payment_id: str
    receipt_number: str
    member_id: str
    amount: Money
    outbox_id: int
    idempotency_key: str
    requested: Money
    sale_reference: str = ""
    offline_approved: bool = False
    wallet: str = ""

    @property
    def approved(self) -> Money:
        """The amount the terminal approved (the same as `amount`)."""
        return self.amount

    @property
    def partial(self) -> bool:
        """True when the card paid less than was asked."""
        return self.amount.cents < self.requested.cents

    @property
    def still_due(self) -> Money:
        """The part of the requested amount the card did not pay."""
        return self.requested - self.amount


@dataclass(frozen=True, slots=True, kw_only=True)
class CardAttempt:
    """One charge asked of the terminal, as `card_attempts` holds it."""

    sale_reference: str
    member_id: str
    requested: Money
    navigator: str
    started_at: dt.datetime
    result: AttemptResult = AttemptResult.STARTED
    override_by: str = ""
    exchange_offline: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptResolution:
    """Where an attempt stands after the terminal was asked about it again."""

    sale_reference: str
    member_id: str
    result: AttemptResult
    taken: PaymentTaken | None = None  # the payment, when the terminal had approved it


def canonical_json(body: dict[str, Any]) -> bytes:
    """The one byte form a payload is stored and sent in."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _method(auth: CardAuthorization) -> dict[str, Any]:
    method: dict[str, Any] = {
        "type": "card",
        "brand": auth.brand,
        "last4": auth.last4,
        "token": auth.token,
        "auth_code": auth.auth_code,
        "entry_mode": auth.entry_mode,
    }
    # Only when set, so a plain card payment keeps the payload the contract has always had.
    if auth.wallet:
        method["wallet"] = auth.wallet
    if auth.offline_approved:
        method["offline_approved"] = True
    return method


def _payload(*, payment_id: str, kiosk_id: str, attempt: CardAttempt, approved: Money,
             auth: CardAuthorization, now: dt.datetime) -> Callable[[int], bytes]:
    def build(seq: int) -> bytes:
        return canonical_json({
            "payment_id": payment_id,
            "kiosk_id": kiosk_id,
            "kiosk_seq": seq,
            "member_id": attempt.member_id,
            "amount_cents": approved.cents,
            "currency": approved.currency,
            "method": _method(auth),
            "captured_at": to_iso(now),
            "navigator": attempt.navigator,
        })

    return build


# -- card attempts ----------------------------------------------------------------------------

def _start_attempt(conn: Any, attempt: CardAttempt) -> None:
    conn.execute(
        "INSERT INTO card_attempts (sale_reference, member_id, amount_cents, currency, navigator,"
        " started_at, override_by, exchange_offline) VALUES (?,?,?,?,?,?,?,?)",
        (attempt.sale_reference, attempt.member_id, attempt.requested.cents,
         attempt.requested.currency, attempt.navigator, to_iso(attempt.started_at),
         attempt.override_by, int(attempt.exchange_offline)),
    )


def _attempt(row: Any) -> CardAttempt:
    return CardAttempt(
        sale_reference=row["sale_reference"], member_id=row["member_id"],
        requested=Money(cents=row["amount_cents"], currency=row["currency"]),
        navigator=row["navigator"], started_at=from_iso(row["started_at"]),
        result=AttemptResult(row["result"]), override_by=row["override_by"],
        exchange_offline=bool(row["exchange_offline"]),
    )


def open_card_attempts(*, vault: Vault) -> list[CardAttempt]:
    """Attempts whose outcome the kiosk does not know (money may have been taken), oldest
    first: the navigator should check the terminal, then `resolve_unknown_attempts`."""
    marks = ",".join("?" * len(OPEN_ATTEMPTS))
    return vault.call(lambda conn: [_attempt(r) for r in conn.execute(
        f"SELECT * FROM card_attempts WHERE result IN ({marks}) ORDER BY started_at",  # nosec B608
        tuple(OPEN_ATTEMPTS))])


def _load_attempt(conn: Any, sale_reference: str) -> CardAttempt:
    row = conn.execute("SELECT * FROM card_attempts WHERE sale_reference = ?",
                       (sale_reference,)).fetchone()
    if row is None:
        raise NotFoundError(code="attempt_unknown", sale_reference=sale_reference)
    return _attempt(row)


def _close_attempt(conn: Any, sale_reference: str, result: AttemptResult, *, now: dt.datetime,
                   decline_reason: str = "", error_code: str = "") -> bool:
    """Set the result of an attempt whose outcome was not known yet; False if it was."""
    marks = ",".join("?" * len(OPEN_ATTEMPTS))
    finished = None if result is AttemptResult.UNKNOWN else to_iso(now)
    cursor = conn.execute(
        "UPDATE card_attempts SET result = ?, decline_reason = ?, error_code = ?,"  # nosec B608
        f" finished_at = ?, checked_at = ? WHERE sale_reference = ? AND result IN ({marks})",
        (result, decline_reason, error_code, finished, to_iso(now), sale_reference,
         *OPEN_ATTEMPTS),
    )
    return bool(cursor.rowcount)


# -- recording what the terminal said ---------------------------------------------------------

_FAILED: dict[TerminalResult, AttemptResult] = {
    TerminalResult.DECLINED: AttemptResult.DECLINED,
    TerminalResult.CARD_REMOVED: AttemptResult.CARD_REMOVED,
    TerminalResult.ABORTED: AttemptResult.ABORTED,
    TerminalResult.NOT_FOUND: AttemptResult.NOT_STARTED,
    TerminalResult.IN_PROGRESS: AttemptResult.UNKNOWN,
}


def _record_failed(conn: Any, attempt: CardAttempt, auth: CardAuthorization, *, actor: str,
                   now: dt.datetime) -> AttemptResult:
    result = _FAILED[auth.result]
    unknown = result is AttemptResult.UNKNOWN
    changed = _close_attempt(conn, attempt.sale_reference, result, now=now,
                             decline_reason=auth.decline_reason,
                             error_code="terminal_in_progress" if unknown else "")
    if changed and not unknown:
        audit.record(conn, at=now, actor=actor, action=f"payment.{result}",
                     subject=attempt.sale_reference, detail=auth.decline_reason)
    return result


def _mark_unknown(vault: Vault, attempt: CardAttempt, *, error_code: str,
                  now: dt.datetime) -> None:
    vault.write(lambda conn: _close_attempt(conn, attempt.sale_reference, AttemptResult.UNKNOWN,
                                            now=now, error_code=error_code))


def _existing_payment(conn: Any, sale_reference: str) -> PaymentTaken | None:
    row = conn.execute(
        "SELECT p.*, o.id AS outbox_id, o.idempotency_key FROM payments p"
        " JOIN outbox o ON o.subject_id = p.payment_id AND o.kind = 'payment'"
        " WHERE p.sale_reference = ?", (sale_reference,)).fetchone()
    if row is None:
        return None
    amount = Money(cents=row["amount_cents"], currency=row["currency"])
    return PaymentTaken(
        payment_id=row["payment_id"], receipt_number=row["receipt_number"],
        member_id=row["member_id"], amount=amount, outbox_id=row["outbox_id"],
        idempotency_key=row["idempotency_key"],
        requested=Money(cents=row["requested_cents"] or row["amount_cents"],
                        currency=row["currency"]),
        sale_reference=sale_reference, offline_approved=bool(row["offline_approved"]),
        wallet=row["wallet"])


@dataclass(frozen=True, slots=True, kw_only=True)
class _Approval:
    """Everything one approved charge is recorded with."""

    attempt: CardAttempt
    auth: CardAuthorization
    approved: Money
    kiosk_id: str
    site: str
    actor: str  # who is at the kiosk now: the navigator, or whoever ran the recovery
    payment_id: str
    new_key: Callable[[], uuid.UUID]
    now: dt.datetime


def _record_approved(conn: Any, a: _Approval) -> PaymentTaken:
    """Record the payment, its outbox row and audit entries; exactly once per sale reference."""
    existing = _existing_payment(conn, a.attempt.sale_reference)
    if existing is not None:
        return existing
    item = outbox.enqueue(
        conn, kind="payment", member_id=a.attempt.member_id, subject_id=a.payment_id,
        endpoint=PAYMENT_ENDPOINT,
        build_payload=_payload(payment_id=a.payment_id, kiosk_id=a.kiosk_id, attempt=a.attempt,
                               approved=a.approved, auth=a.auth, now=a.now),
        now=a.now, new_key=a.new_key,
    )
    receipt = f"R-{a.kiosk_id}-{item.kiosk_seq:06d}"
    # Approval is final even if a recovery pass marked the attempt otherwise meanwhile.
    conn.execute("UPDATE card_attempts SET result = 'approved', finished_at = ?, checked_at = ?"
                 " WHERE sale_reference = ?", (to_iso(a.now), to_iso(a.now),
                                               a.attempt.sale_reference))
    _insert_payment(conn, a, receipt=receipt)
    _audit_approved(conn, a)
    return PaymentTaken(payment_id=a.payment_id, receipt_number=receipt,
                        member_id=a.attempt.member_id, amount=a.approved, outbox_id=item.id,
                        idempotency_key=item.idempotency_key, requested=a.attempt.requested,
                        sale_reference=a.attempt.sale_reference,
                        offline_approved=a.auth.offline_approved, wallet=a.auth.wallet)


def _deadline(account: MemberAccount, *, earlier: Money, amount: Money,
              today: dt.date) -> dt.date | None:
    """The date this payment must reach the exchange by: the end of the grace period (or the
    first payment's due date) while the member is behind, else the due date it pays."""
    standing = standing_of(account, today=today)
    if standing.state in (CoverageState.IN_GRACE, CoverageState.FIRST_PAYMENT_DUE):
        return standing.pay_by
    return payment_deadline(account.member, account.invoices, earlier=earlier, amount=amount,
                            today=today)


def _insert_payment(conn: Any, a: _Approval, *, receipt: str) -> None:
    # Read inside this transaction: payments taken meanwhile have already claimed their months.
    account = _read_account(conn, a.attempt.member_id)
    earlier = total([p.amount for p in account.pending])
    months = months_covered(account.invoices, earlier=earlier, amount=a.approved)
    deadline = _deadline(account, earlier=earlier, amount=a.approved, today=a.now.date())
    auth = a.auth
    conn.execute(
        "INSERT INTO payments (payment_id, receipt_number, member_id, amount_cents, currency,"
        " method, brand, last4, card_token, auth_code, entry_mode, sale_reference,"
        " coverage_months, navigator, site, captured_at, status, deadline, offline, override_by,"
        " requested_cents, wallet, offline_approved)"
        " VALUES (?,?,?,?,?,'card',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (a.payment_id, receipt, a.attempt.member_id, a.approved.cents, a.approved.currency,
         auth.brand, auth.last4, auth.token, auth.auth_code, auth.entry_mode,
         a.attempt.sale_reference, json.dumps(months), a.attempt.navigator, a.site,
         to_iso(a.now), PaymentStatus.PENDING, deadline.isoformat() if deadline else None,
         int(a.attempt.exchange_offline), a.attempt.override_by, a.attempt.requested.cents,
         auth.wallet, int(auth.offline_approved)),
    )


def _audit_approved(conn: Any, a: _Approval) -> None:
    if a.attempt.override_by:
        audit.record(conn, at=a.now, actor=a.attempt.override_by,
                     action="offline_limit.override", subject=a.payment_id,
                     detail=f"for {a.attempt.navigator}")
    detail = f"{a.approved.cents} {a.approved.currency}"
    if a.approved != a.attempt.requested:
        detail += f" of {a.attempt.requested.cents} asked"
    if a.auth.offline_approved:
        detail += ", approved offline by the terminal"
    audit.record(conn, at=a.now, actor=a.actor, action="payment.taken", subject=a.payment_id,
                 detail=detail)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Recorder:
    """Where and by whom outcomes are recorded."""

    kiosk_id: str
    site: str
    actor: str
    vault: Vault
    clock: Clock
    new_id: Callable[[], uuid.UUID]

    def record(self, attempt: CardAttempt, auth: CardAuthorization) -> AttemptResolution:
        """Record what the terminal said about an attempt, in one vault transaction."""
        now = self.clock.now()
        if auth.result is not TerminalResult.APPROVED:
            result = self.vault.write(lambda conn: _record_failed(conn, attempt, auth,
                                                                  actor=self.actor, now=now))
            return _resolution(attempt, result)
        try:
            approved = auth.approved_of(attempt.requested)
        except ValueError:
            log.error("terminal approved more than asked for %s", attempt.sale_reference)
            _mark_unknown(self.vault, attempt, error_code="terminal_answer_invalid", now=now)
            return _resolution(attempt, AttemptResult.UNKNOWN)
        approval = _Approval(attempt=attempt, auth=auth, approved=approved,
                             kiosk_id=self.kiosk_id, site=self.site, actor=self.actor,
                             payment_id=str(self.new_id()), new_key=self.new_id, now=now)
        taken = self.vault.write(lambda conn: _record_approved(conn, approval))
        return _resolution(attempt, AttemptResult.APPROVED, taken)


def _resolution(attempt: CardAttempt, result: AttemptResult,
                taken: PaymentTaken | None = None) -> AttemptResolution:
    return AttemptResolution(sale_reference=attempt.sale_reference, member_id=attempt.member_id,
                             result=result, taken=taken)


def _error_for(resolution: AttemptResolution, auth: CardAuthorization) -> KioskError:
    """The error take_card_payment raises for an attempt that did not end in a payment."""
    if resolution.result is AttemptResult.DECLINED:
        return PaymentDeclinedError(reason=auth.decline_reason)
    if resolution.result is AttemptResult.CARD_REMOVED:
        return CardRemovedError()
    if resolution.result is AttemptResult.ABORTED:
        return PaymentAbortedError()
    if resolution.result is AttemptResult.NOT_STARTED:
        return TerminalError()
    return TerminalOutcomeUnknownError(sale_reference=resolution.sale_reference)


def _queued_payments(conn: Any) -> QueuedPayments:
    row = conn.execute(
        "SELECT count(*), coalesce(sum(p.amount_cents), 0), min(o.created_at) FROM outbox o"
        " JOIN payments p ON p.payment_id = o.subject_id"
        " WHERE o.kind = 'payment' AND o.state IN ('queued', 'sending')"
    ).fetchone()
    return QueuedPayments(count=int(row[0]), total=Money(cents=int(row[1])),
                          oldest=from_iso(row[2]) if row[2] else None)


def offline_breaches(amount: Money, *, vault: Vault, limits: OfflineLimits,
                     now: dt.datetime) -> list[str]:
    """The offline limits a payment of `amount` would break if taken now, offline."""
    queued = vault.call(_queued_payments)
    return breaches(amount, queued, limits, now)


def check_offline(amount: Money, override_by: StaffSession | None, *, vault: Vault,
                  limits: OfflineLimits, now: dt.datetime) -> None:
    """Refuse a payment taken offline that breaks a limit, unless a supervisor's fresh
    approval overrides it (card and bank payments alike)."""
    broken = offline_breaches(amount, vault=vault, limits=limits, now=now)
    if not broken:
        return
    if override_by is None:
        raise OfflineLimitError(limits=broken)
    refused = approval_refusal(override_by, OFFLINE_OVERRIDE, now)
    if refused:
        raise AuthError(code=refused)


def take_card_payment(
    cmd: TakeCardPayment,
    *,
    ctx: PaymentContext,
    vault: Vault,
    terminal: CardTerminal,
    clock: Clock,
    connectivity: Connectivity | None = None,
    limits: OfflineLimits | None = None,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> PaymentTaken:
    """Charge a card through the terminal and record the payment for delivery.

    Blocks while the member uses the terminal: call it off the UI thread. Raises
    ValidationError for a bad amount (before the terminal is touched); when no money was taken,
    PaymentDeclinedError (with `reason`), CardRemovedError, PaymentAbortedError, or
    TerminalError / TerminalBusy when the terminal never started the charge; and
    TerminalOutcomeUnknownError when the terminal did not answer and cannot say yet whether it
    charged the card (the attempt stays `unknown`: check the terminal, then
    `resolve_unknown_attempts`). While `connectivity` says the exchange is unreachable, the
    offline `limits` apply: OfflineLimitError unless a supervisor's session is given as
    `cmd.override_by`. A prepaid card may pay less than asked: the result says how much.
    """
    account = get_account(cmd.member_id, vault=vault)
    validate_amount(cmd.amount, allowed=account.max_payment)
    offline = connectivity is not None and not connectivity.online
    if offline:
        check_offline(cmd.amount, cmd.override_by, vault=vault,
                      limits=limits or OfflineLimits(), now=clock.now())
    attempt = CardAttempt(
        sale_reference=cmd.sale_reference or str(new_id()), member_id=cmd.member_id,
        requested=cmd.amount, navigator=ctx.staff.username, started_at=clock.now(),
        override_by=cmd.override_by.username if cmd.override_by else "",
        exchange_offline=offline,
    )
    vault.write(lambda conn: _start_attempt(conn, attempt))
    recorder = _Recorder(kiosk_id=ctx.kiosk_id, site=ctx.site, actor=ctx.staff.username,
                         vault=vault, clock=clock, new_id=new_id)
    auth = _charge_once(attempt, terminal=terminal, recorder=recorder)
    resolution = recorder.record(attempt, auth)
    if resolution.taken is None:
        raise _error_for(resolution, auth)
    return resolution.taken


def _charge_once(attempt: CardAttempt, *, terminal: CardTerminal,
                 recorder: _Recorder) -> CardAuthorization:
    """Charge; when the answer does not come, ask for the status instead of charging again."""
    try:
        return terminal.charge(sale_reference=attempt.sale_reference, amount=attempt.requested)
    except TerminalTimeout as exc:
        log.warning("no answer from the terminal for sale %s (%s); asking for its status",
                    attempt.sale_reference, exc.details.get("reason", ""))
        return _status_or_unknown(attempt, terminal=terminal, recorder=recorder)
    except TerminalError as exc:  # the terminal never started this charge
        now, code = recorder.clock.now(), exc.code
        recorder.vault.write(lambda conn: _close_attempt(
            conn, attempt.sale_reference, AttemptResult.NOT_STARTED, now=now, error_code=code))
        raise


def _status_or_unknown(attempt: CardAttempt, *, terminal: CardTerminal,
                       recorder: _Recorder) -> CardAuthorization:
    try:
        return terminal.status(attempt.sale_reference)
    except TerminalError as exc:
        log.warning("the terminal cannot say what became of sale %s (%s)",
                    attempt.sale_reference, exc.code)
        _mark_unknown(recorder.vault, attempt, error_code=exc.code, now=recorder.clock.now())
        raise TerminalOutcomeUnknownError(sale_reference=attempt.sale_reference) from exc


def resolve_unknown_attempts(
    *,
    ctx: PaymentContext,
    vault: Vault,
    terminal: CardTerminal,
    clock: Clock,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> list[AttemptResolution]:
    """Ask the terminal about every attempt left `started` (a crash) or `unknown`, and record
    what it says: a payment for an approval (exactly once), the end of the attempt otherwise.

    Never starts a charge. Blocks on the terminal: call it off the UI thread, at start-up and
    when the navigator asks to check again, not while this kiosk is charging a card (an
    attempt being charged would read as still in progress, which is harmless but useless).
    An attempt the terminal still cannot account for stays `unknown`.
    """
    recorder = _Recorder(kiosk_id=ctx.kiosk_id, site=ctx.site, actor=ctx.staff.username,
                         vault=vault, clock=clock, new_id=new_id)
    return [_resolve(attempt, terminal=terminal, recorder=recorder)
            for attempt in open_card_attempts(vault=vault)]


def _resolve(attempt: CardAttempt, *, terminal: CardTerminal,
             recorder: _Recorder) -> AttemptResolution:
    try:
        auth = terminal.status(attempt.sale_reference)
    except TerminalError as exc:
        log.warning("status of sale %s not available (%s)", attempt.sale_reference, exc.code)
        _mark_unknown(recorder.vault, attempt, error_code=exc.code, now=recorder.clock.now())
        return _resolution(attempt, AttemptResult.UNKNOWN)
    resolution = recorder.record(attempt, auth)
    log.info("sale %s resolved as %s", attempt.sale_reference, resolution.result)
    return resolution


def abort_card_payment(
    sale_reference: str,
    *,
    ctx: PaymentContext,
    vault: Vault,
    terminal: CardTerminal,
    clock: Clock,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> AttemptResolution:
    """Ask the terminal to stop this attempt's charge, then record what became of it.

    May be called from another thread while `take_card_payment` waits for the same charge
    (that call then raises PaymentAbortedError). A charge that finished first is not undone:
    an approval is recorded as a payment and returned. Raises NotFoundError for a sale
    reference the kiosk never started, TerminalError when the terminal cannot be reached.
    """
    attempt = vault.call(lambda conn: _load_attempt(conn, sale_reference))
    terminal.abort(sale_reference)
    recorder = _Recorder(kiosk_id=ctx.kiosk_id, site=ctx.site, actor=ctx.staff.username,
                         vault=vault, clock=clock, new_id=new_id)
    return _resolve(attempt, terminal=terminal, recorder=recorder)
