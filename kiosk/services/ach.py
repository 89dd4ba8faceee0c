"""Taking a premium payment by ACH bank transfer, with the member's in-person (Nacha PPD)
authorization, and reading ACH payments back with their state and any return.

Everything is checked before anything is written (amount, routing and account numbers, the
re-typed account number, the authorization, the offline limits); then one vault transaction
writes the authorization, the payment, its bank account, its outbox row and the audit
entries. ACH is a batch rail, so a payment is taken offline exactly as online, within the
offline limits; it reads "submitted" until the exchange confirms it.

The full account number is stored only inside the vault (in `ach_payments` and in the outbox
payload the exchange receives) and leaves this module only in that payload: results, views,
audit entries and log lines carry the last four digits at most.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk import outbox
from kiosk.clock import Clock, from_iso, to_iso
from kiosk.connectivity import Connectivity
from kiosk.domain.ach import (
    AccountType,
    AchReturn,
    AchState,
    AuthorizationCapture,
    BankAccount,
    BankAccountEntry,
    SignatureMethod,
    ach_state,
    check_authorization,
    check_bank_account,
    explain_return,
)
from kiosk.domain.limits import OfflineLimits
from kiosk.domain.members import months_covered, payment_deadline
from kiosk.domain.money import Money, total
from kiosk.domain.payments import PaymentStatus, validate_amount
from kiosk.domain.staff import StaffSession
from kiosk.errors import NotFoundError
from kiosk.services import audit
from kiosk.services.members import _read_account, get_account
from kiosk.services.payments import (
    PAYMENT_ENDPOINT,
    PaymentContext,
    canonical_json,
    check_offline,
)
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeAchPayment:
    member_id: str
    amount: Money
    account: BankAccountEntry
    authorization: AuthorizationCapture
    override_by: StaffSession | None = None  # a supervisor who approved breaking a limit


@dataclass(frozen=True, slots=True, kw_only=True)
class AchPaymentTaken:
    """What changed: a submitted ACH payment, its authorization and its queued delivery."""

    payment_id: str
    receipt_number: str
    member_id: str
    amount: Money
    outbox_id: int
    idempotency_key: str
    authorization_id: str
    account_type: AccountType
    account_last4: str
    state: AchState = AchState.SUBMITTED


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationRecord:
    """A signed authorization as kept in the vault, for its printable copy."""

    authorization_id: str
    member_id: str
    language: str
    text: str  # exactly what the member was shown
    method: SignatureMethod
    signature_png: bytes  # empty when the member typed their name
    typed_name: str
    signed_at: dt.datetime
    navigator: str
    site: str
    routing_number: str
    account_last4: str
    account_type: AccountType
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class AchPaymentView:
    """An ACH payment as the history and the receipt show it."""

    payment_id: str
    receipt_number: str
    member_id: str
    amount: Money
    captured_at: dt.datetime
    state: AchState
    account_type: AccountType
    account_last4: str
    authorization_id: str
    confirmation_number: str
    return_code: str  # empty unless the bank sent the payment back
    returned_at: dt.datetime | None

    @property
    def returned(self) -> AchReturn | None:
        """What the return means and what the member can do next (codes for the UI)."""
        return explain_return(self.return_code) if self.return_code else None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewPayment:
    """One row of `payments` for a payment that is not a card charge (ACH, PayPal, Venmo)."""

    payment_id: str
    receipt_number: str
    member_id: str
    amount: Money
    method: str
    last4: str
    coverage_months: list[str]
    navigator: str
    site: str
    captured_at: dt.datetime
    status: PaymentStatus
    deadline: dt.date | None = None
    offline: bool = False
    override_by: str = ""
    confirmation_number: str = ""
    confirmed_at: dt.datetime | None = None


def insert_payment_row(conn: Any, p: NewPayment) -> None:
    """Insert a non-card payment. Call inside the transaction that writes its outbox row."""
    conn.execute(
        "INSERT INTO payments (payment_id, receipt_number, member_id, amount_cents, currency,"
        " method, brand, last4, card_token, auth_code, entry_mode, sale_reference,"
        " coverage_months, navigator, site, captured_at, status, deadline, offline, override_by,"
        " requested_cents, confirmation_number, confirmed_at)"
        " VALUES (?,?,?,?,?,?,'',?,'','','',NULL,?,?,?,?,?,?,?,?,?,?,?)",
        (p.payment_id, p.receipt_number, p.member_id, p.amount.cents, p.amount.currency,
         p.method, p.last4, json.dumps(p.coverage_months), p.navigator, p.site,
         to_iso(p.captured_at), p.status, p.deadline.isoformat() if p.deadline else None,
         int(p.offline), p.override_by, p.amount.cents, p.confirmation_number,
         to_iso(p.confirmed_at) if p.confirmed_at else None),
    )


def receipt_number(kiosk_id: str, kiosk_seq: int) -> str:
    """The receipt number of a payment queued under `kiosk_seq`, as card payments have it."""
    return f"R-{kiosk_id}-{kiosk_seq:06d}"


# -- taking a payment -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class _AchCapture:
    """Everything one checked ACH payment is recorded with."""

    cmd: TakeAchPayment
    account: BankAccount
    ctx: PaymentContext
    payment_id: str
    authorization_id: str
    offline: bool
    now: dt.datetime
    new_key: Callable[[], uuid.UUID]


def _method(c: _AchCapture) -> dict[str, Any]:
    auth = c.cmd.authorization
    return {
        "type": "ach",
        "routing_number": c.account.routing_number,
        "account_number": c.account.account_number,
        "account_type": c.account.account_type.value,
        "authorization": {
            "authorization_id": c.authorization_id,
            "signed_at": to_iso(c.now),
            "method": auth.method.value,
            "language": auth.language,
            "text_sha256": hashlib.sha256(auth.text.encode("utf-8")).hexdigest(),
        },
    }


def _payload(c: _AchCapture) -> Callable[[int], bytes]:
    def build(seq: int) -> bytes:
        return canonical_json({
            "payment_id": c.payment_id,
            "kiosk_id": c.ctx.kiosk_id,
            "kiosk_seq": seq,
            "member_id": c.cmd.member_id,
            "amount_cents": c.cmd.amount.cents,
            "currency": c.cmd.amount.currency,
            "method": _method(c),
            "captured_at": to_iso(c.now),
            "navigator": c.ctx.staff.username,
        })

    return build


def _insert_authorization(conn: Any, c: _AchCapture) -> None:
    auth = c.cmd.authorization
    conn.execute(
        "INSERT INTO ach_authorizations (authorization_id, member_id, language, text,"
        " signature_png, typed_name, typed_confirmed, signed_at, navigator, site, kiosk_id,"
        " routing_number, account_last4, account_type, amount_cents, currency)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (c.authorization_id, c.cmd.member_id, auth.language, auth.text,
         auth.signature_png or None, auth.typed_name.strip(), int(auth.typed_name_confirmed),
         to_iso(c.now), c.ctx.staff.username, c.ctx.site, c.ctx.kiosk_id,
         c.account.routing_number, c.account.last4, c.account.account_type,
         c.cmd.amount.cents, c.cmd.amount.currency),
    )


def _new_payment(conn: Any, c: _AchCapture, receipt: str) -> NewPayment:
    # Read inside this transaction: payments taken meanwhile have already claimed their months.
    account = _read_account(conn, c.cmd.member_id)
    earlier = total([p.amount for p in account.pending])
    months = months_covered(account.invoices, earlier=earlier, amount=c.cmd.amount)
    deadline = payment_deadline(account.member, account.invoices, earlier=earlier,
                                amount=c.cmd.amount, today=c.now.date())
    override = c.cmd.override_by.username if c.cmd.override_by else ""
    return NewPayment(
        payment_id=c.payment_id, receipt_number=receipt, member_id=c.cmd.member_id,
        amount=c.cmd.amount, method="ach", last4=c.account.last4, coverage_months=months,
        navigator=c.ctx.staff.username, site=c.ctx.site, captured_at=c.now,
        status=PaymentStatus.PENDING, deadline=deadline, offline=c.offline,
        override_by=override)


def _record(conn: Any, c: _AchCapture) -> AchPaymentTaken:
    item = outbox.enqueue(conn, kind="payment", member_id=c.cmd.member_id,
                          subject_id=c.payment_id, endpoint=PAYMENT_ENDPOINT,
                          build_payload=_payload(c), now=c.now, new_key=c.new_key)
    receipt = receipt_number(c.ctx.kiosk_id, item.kiosk_seq)
    _insert_authorization(conn, c)
    insert_payment_row(conn, _new_payment(conn, c, receipt))
    conn.execute(
        "INSERT INTO ach_payments (payment_id, routing_number, account_number, account_type,"
        " authorization_id) VALUES (?,?,?,?,?)",
        (c.payment_id, c.account.routing_number, c.account.account_number,
         c.account.account_type, c.authorization_id),
    )
    _audit(conn, c)
    return AchPaymentTaken(
        payment_id=c.payment_id, receipt_number=receipt, member_id=c.cmd.member_id,
        amount=c.cmd.amount, outbox_id=item.id, idempotency_key=item.idempotency_key,
        authorization_id=c.authorization_id, account_type=c.account.account_type,
        account_last4=c.account.last4)


def _audit(conn: Any, c: _AchCapture) -> None:
    actor = c.ctx.staff.username
    if c.cmd.override_by is not None:
        audit.record(conn, at=c.now, actor=c.cmd.override_by.username,
                     action="offline_limit.override", subject=c.payment_id,
                     detail=f"for {actor}")
    audit.record(conn, at=c.now, actor=actor, action="ach.authorized",
                 subject=c.authorization_id,
                 detail=f"{c.cmd.authorization.method} {c.cmd.authorization.language}")
    audit.record(conn, at=c.now, actor=actor, action="payment.taken", subject=c.payment_id,
                 detail=f"{c.cmd.amount.cents} {c.cmd.amount.currency} ach "
                        f"{c.account.account_type}")


def take_ach_payment(
    cmd: TakeAchPayment,
    *,
    ctx: PaymentContext,
    vault: Vault,
    clock: Clock,
    connectivity: Connectivity | None = None,
    limits: OfflineLimits | None = None,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> AchPaymentTaken:
    """Record an ACH debit the member authorized at the kiosk, for delivery to the exchange.

    Quick (no network, one vault transaction); safe to call from any thread. Refuses, before
    anything is written: NotFoundError `member_unknown`; ValidationError `amount_not_positive`
    or `amount_too_high`; RoutingInvalidError `routing_invalid`; AccountInvalidError
    `account_invalid`; AccountMismatchError `account_mismatch`; AccountTypeInvalidError
    `account_type_invalid`; AuthorizationMissingError `authorization_missing`; and, while
    `connectivity` says the exchange is unreachable, OfflineLimitError `offline_limit` unless a
    supervisor's session is given as `cmd.override_by` (AuthError `supervisor_required` for
    anyone else).
    """
    account = get_account(cmd.member_id, vault=vault)
    validate_amount(cmd.amount, allowed=account.max_payment)
    bank = check_bank_account(cmd.account)
    check_authorization(cmd.authorization)
    offline = connectivity is not None and not connectivity.online
    now = clock.now()
    if offline:
        check_offline(cmd.amount, cmd.override_by, vault=vault,
                      limits=limits or OfflineLimits(), now=now)
    capture = _AchCapture(cmd=cmd, account=bank, ctx=ctx, payment_id=str(new_id()),
                          authorization_id=str(new_id()), offline=offline, now=now,
                          new_key=new_id)
    taken = vault.write(lambda conn: _record(conn, capture))
    log.info("ACH payment %s recorded (receipt %s)", taken.payment_id, taken.receipt_number)
    return taken


# -- reading back -----------------------------------------------------------------------------

def _authorization(row: Any) -> AuthorizationRecord:
    png = bytes(row["signature_png"]) if row["signature_png"] is not None else b""
    return AuthorizationRecord(
        authorization_id=row["authorization_id"], member_id=row["member_id"],
        language=row["language"], text=row["text"],
        method=SignatureMethod.SIGNATURE if png else SignatureMethod.TYPED_NAME,
        signature_png=png, typed_name=row["typed_name"], signed_at=from_iso(row["signed_at"]),
        navigator=row["navigator"], site=row["site"], routing_number=row["routing_number"],
        account_last4=row["account_last4"], account_type=AccountType(row["account_type"]),
        amount=Money(cents=row["amount_cents"], currency=row["currency"]))


def get_authorization(authorization_id: str, *, vault: Vault) -> AuthorizationRecord:
    """The signed authorization, for its printable copy. NotFoundError
    `authorization_unknown` when the vault holds none with this id."""
    row = vault.call(lambda conn: conn.execute(
        "SELECT * FROM ach_authorizations WHERE authorization_id = ?",
        (authorization_id,)).fetchone())
    if row is None:
        raise NotFoundError(code="authorization_unknown", authorization_id=authorization_id)
    return _authorization(row)


_VIEW_SQL = (
    "SELECT p.payment_id, p.receipt_number, p.member_id, p.amount_cents, p.currency,"
    " p.captured_at, p.status, p.last4, p.confirmation_number, p.return_code, p.returned_at,"
    " a.account_type, a.authorization_id FROM payments p"
    " JOIN ach_payments a ON a.payment_id = p.payment_id"
)


def _view(row: Any) -> AchPaymentView:
    return AchPaymentView(
        payment_id=row["payment_id"], receipt_number=row["receipt_number"],
        member_id=row["member_id"],
        amount=Money(cents=row["amount_cents"], currency=row["currency"]),
        captured_at=from_iso(row["captured_at"]),
        state=ach_state(PaymentStatus(row["status"]), row["return_code"]),
        account_type=AccountType(row["account_type"]), account_last4=row["last4"],
        authorization_id=row["authorization_id"],
        confirmation_number=row["confirmation_number"], return_code=row["return_code"],
        returned_at=from_iso(row["returned_at"]) if row["returned_at"] else None)


def ach_payment(payment_id: str, *, vault: Vault) -> AchPaymentView:
    """One ACH payment as it stands now. NotFoundError `payment_unknown` otherwise."""
    row = vault.call(lambda conn: conn.execute(
        f"{_VIEW_SQL} WHERE p.payment_id = ?", (payment_id,)).fetchone())
    if row is None:
        raise NotFoundError(code="payment_unknown", payment_id=payment_id)
    return _view(row)


def ach_payments_for_member(member_id: str, *, vault: Vault) -> list[AchPaymentView]:
    """The member's ACH payments taken at this kiosk, newest first."""
    rows = vault.call(lambda conn: conn.execute(
        f"{_VIEW_SQL} WHERE p.member_id = ? ORDER BY p.captured_at DESC, p.receipt_number DESC",
        (member_id,)).fetchall())
    return [_view(row) for row in rows]
