"""Taking a card payment: check the amount, charge through the terminal, and record the
payment with its outbox row and audit entry in one vault transaction.

The payment is recorded before the exchange hears of it, so it is safe whether or not the
network is up; the sync worker delivers it later under the key fixed here.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk import outbox
from kiosk.clock import Clock, from_iso, to_iso
from kiosk.connectivity import Connectivity
from kiosk.domain.limits import OfflineLimits, QueuedPayments, breaches
from kiosk.domain.members import months_covered, payment_deadline
from kiosk.domain.money import Money, total
from kiosk.domain.payments import CardAuthorization, PaymentStatus, TerminalResult, validate_amount
from kiosk.domain.staff import Role, StaffSession
from kiosk.errors import AuthError, KioskError, PaymentDeclinedError
from kiosk.services import audit
from kiosk.services.members import MemberAccount, get_account
from kiosk.store.vault import Vault
from kiosk.terminal import CardTerminal

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


class OfflineLimitError(KioskError):
    """The exchange is unreachable and this payment would break an offline limit."""

    code = "offline_limit"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentTaken:
    """What changed: a pending payment and its queued delivery to the exchange."""

    payment_id: str
    receipt_number: str
    member_id: str
    amount: Money
    outbox_id: int
    idempotency_key: str


def canonical_json(body: dict[str, Any]) -> bytes:
    """The one byte form a payload is stored and sent in."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _payload(
    *, payment_id: str, ctx: PaymentContext, cmd: TakeCardPayment, auth: CardAuthorization,
    now: dt.datetime,
) -> Callable[[int], bytes]:
    def build(seq: int) -> bytes:
        return canonical_json({
            "payment_id": payment_id,
            "kiosk_id": ctx.kiosk_id,
            "kiosk_seq": seq,
            "member_id": cmd.member_id,
            "amount_cents": cmd.amount.cents,
            "currency": cmd.amount.currency,
            "method": {
                "type": "card",
                "brand": auth.brand,
                "last4": auth.last4,
                "token": auth.token,
                "auth_code": auth.auth_code,
                "entry_mode": auth.entry_mode,
            },
            "captured_at": to_iso(now),
            "navigator": ctx.staff.username,
        })

    return build


def _start_attempt(conn: Any, *, sale_ref: str, cmd: TakeCardPayment, ctx: PaymentContext,
                   now: dt.datetime) -> None:
    conn.execute(
        "INSERT INTO card_attempts (sale_reference, member_id, amount_cents, navigator,"
        " started_at) VALUES (?,?,?,?,?)",
        (sale_ref, cmd.member_id, cmd.amount.cents, ctx.staff.username, to_iso(now)),
    )


def _finish_declined(conn: Any, *, auth: CardAuthorization, ctx: PaymentContext,
                     now: dt.datetime) -> None:
    conn.execute(
        "UPDATE card_attempts SET result = 'declined', decline_reason = ?, finished_at = ?"
        " WHERE sale_reference = ?",
        (auth.decline_reason, to_iso(now), auth.sale_reference),
    )
    audit.record(conn, at=now, actor=ctx.staff.username, action="payment.declined",
                 subject=auth.sale_reference, detail=auth.decline_reason)


def _record_approved(
    conn: Any, *, cmd: TakeCardPayment, ctx: PaymentContext, auth: CardAuthorization,
    account: MemberAccount, payment_id: str, new_key: Callable[[], uuid.UUID], now: dt.datetime,
    offline: bool,
) -> PaymentTaken:
    item = outbox.enqueue(
        conn, kind="payment", member_id=cmd.member_id, subject_id=payment_id,
        endpoint=PAYMENT_ENDPOINT,
        build_payload=_payload(payment_id=payment_id, ctx=ctx, cmd=cmd, auth=auth, now=now),
        now=now, new_key=new_key,
    )
    receipt = f"R-{ctx.kiosk_id}-{item.kiosk_seq:06d}"
    earlier = total([p.amount for p in account.pending])
    months = months_covered(account.invoices, earlier=earlier, amount=cmd.amount)
    deadline = payment_deadline(account.member, account.invoices, earlier=earlier,
                                amount=cmd.amount, today=now.date())
    conn.execute(
        "UPDATE card_attempts SET result = 'approved', finished_at = ? WHERE sale_reference = ?",
        (to_iso(now), auth.sale_reference),
    )
    conn.execute(
        "INSERT INTO payments (payment_id, receipt_number, member_id, amount_cents, currency,"
        " method, brand, last4, card_token, auth_code, entry_mode, sale_reference,"
        " coverage_months, navigator, site, captured_at, status, deadline, offline, override_by)"
        " VALUES (?,?,?,?,?,'card',?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (payment_id, receipt, cmd.member_id, cmd.amount.cents, cmd.amount.currency, auth.brand,
         auth.last4, auth.token, auth.auth_code, auth.entry_mode, auth.sale_reference,
         json.dumps(months), ctx.staff.username, ctx.site, to_iso(now), PaymentStatus.PENDING,
         deadline.isoformat() if deadline else None, int(offline),
         cmd.override_by.username if cmd.override_by else ""),
    )
    if cmd.override_by is not None:
        audit.record(conn, at=now, actor=cmd.override_by.username,
                     action="offline_limit.override", subject=payment_id,
                     detail=f"for {ctx.staff.username}")
    audit.record(conn, at=now, actor=ctx.staff.username, action="payment.taken",
                 subject=payment_id, detail=f"{cmd.amount.cents} {cmd.amount.currency}")
    return PaymentTaken(payment_id=payment_id, receipt_number=receipt, member_id=cmd.member_id,
                        amount=cmd.amount, outbox_id=item.id,
                        idempotency_key=item.idempotency_key)


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


def _check_offline(cmd: TakeCardPayment, *, vault: Vault, limits: OfflineLimits,
                   now: dt.datetime) -> None:
    broken = offline_breaches(cmd.amount, vault=vault, limits=limits, now=now)
    if not broken:
        return
    if cmd.override_by is None:
        raise OfflineLimitError(limits=broken)
    if cmd.override_by.role not in (Role.SUPERVISOR, Role.ADMINISTRATOR):
        raise AuthError(code="supervisor_required")


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
    ValidationError for a bad amount (before the terminal is touched), PaymentDeclinedError
    when the terminal declines (nothing is recorded as paid), TerminalError when it cannot be
    reached. While `connectivity` says the exchange is unreachable, the offline `limits`
    apply: OfflineLimitError unless a supervisor's session is given as `cmd.override_by`.
    """
    account = get_account(cmd.member_id, vault=vault)
    validate_amount(cmd.amount, allowed=account.max_payment)
    offline = connectivity is not None and not connectivity.online
    if offline:
        _check_offline(cmd, vault=vault, limits=limits or OfflineLimits(), now=clock.now())
    sale_ref = str(new_id())
    vault.write(lambda conn: _start_attempt(conn, sale_ref=sale_ref, cmd=cmd, ctx=ctx,
                                            now=clock.now()))
    auth = terminal.charge(sale_reference=sale_ref, amount=cmd.amount)
    now = clock.now()
    if auth.result is not TerminalResult.APPROVED:
        vault.write(lambda conn: _finish_declined(conn, auth=auth, ctx=ctx, now=now))
        raise PaymentDeclinedError(reason=auth.decline_reason)
    payment_id = str(new_id())
    return vault.write(
        lambda conn: _record_approved(
            conn, cmd=cmd, ctx=ctx, auth=auth, account=account, payment_id=payment_id,
            new_key=new_id, now=now, offline=offline,
        )
    )
