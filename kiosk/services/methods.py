"""A member's saved payment methods: cards saved as the terminal's token, and bank accounts.

List, add, change a card's expiry, remove, choose the default, and find cards that expire
before a date (to warn before the next due date). Every change is one vault transaction that
writes the method, an outbox row (kind `payment_method`, `POST /v1/payment-methods`) and an
audit entry, so the exchange hears of it exactly once; scheduled payments will use these.

A method is never deleted: removing one marks it removed. A member has at most one default;
the first method saved becomes it. Card numbers never reach the kiosk (only the terminal's
token, brand and last four digits); a bank account number stays inside the vault and is shown
only as its last four digits.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from kiosk import outbox
from kiosk.clock import Clock, from_iso, to_iso
from kiosk.domain.ach import AccountType, BankAccountEntry, check_bank_account
from kiosk.domain.payments import CardAuthorization, TerminalResult
from kiosk.errors import KioskError, NotFoundError, ValidationError
from kiosk.outbox import OutboxItem
from kiosk.services import audit
from kiosk.services.cache import BadChangeError
from kiosk.services.members import get_account
from kiosk.services.payments import PaymentContext, canonical_json
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

METHODS_ENDPOINT = "/v1/payment-methods"
OUTBOX_KIND = "payment_method"
MAX_YEARS_AHEAD = 20


class MethodKind(StrEnum):
    CARD = "card"  # a card, saved as the terminal processor's token
    BANK_ACCOUNT = "bank_account"  # a checking or savings account for ACH debits


class ExchangeState(StrEnum):
    """Whether the exchange has the method as the kiosk has it."""

    PENDING = "pending"  # a change waits in the outbox
    SYNCED = "synced"  # the exchange confirmed the latest change
    NEEDS_ATTENTION = "needs_attention"  # the exchange refused a change; staff must look


class MethodAction(StrEnum):
    ADD = "add"  # a new method saved
    UPDATE_EXPIRY = "update_expiry"  # a card's new expiry date
    REMOVE = "remove"  # the method removed
    SET_DEFAULT = "set_default"  # the method became the member's default


class MethodUnknownError(NotFoundError):
    """No active saved method with this id (never saved, or removed)."""

    code = "method_unknown"


class MethodExpiredError(ValidationError):
    """The card's expiry date has passed."""

    code = "method_expired"


class ExpiryInvalidError(ValidationError):
    """The expiry month or year is not a real card expiry."""

    code = "expiry_invalid"


class MethodNotCardError(ValidationError):
    """Only a card has an expiry date to change."""

    code = "method_not_card"


class MethodDuplicateError(KioskError):
    """The member already saved this card or bank account."""

    code = "method_duplicate"


class CardNotSavableError(ValidationError):
    """The terminal gave no token for this card (not approved, or no token)."""

    code = "card_token_missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedMethod:
    """A saved method as the screens show it: never a full card or account number."""

    method_id: str
    member_id: str
    kind: MethodKind
    last4: str
    brand: str  # cards only
    exp_month: int | None  # cards only
    exp_year: int | None
    account_type: AccountType | None  # bank accounts only
    is_default: bool
    removed: bool
    exchange_state: ExchangeState
    created_at: dt.datetime

    @property
    def expires_on(self) -> dt.date | None:
        """The last day the card can be used; None for a bank account."""
        if self.exp_month is None or self.exp_year is None:
            return None
        return last_day(self.exp_year, self.exp_month)


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodChanged:
    """What changed: one method, and the outbox row that tells the exchange."""

    method_id: str
    member_id: str
    action: MethodAction
    outbox_id: int
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveCard:
    member_id: str
    authorization: CardAuthorization  # the terminal's answer: token, brand, last four
    exp_month: int
    exp_year: int
    make_default: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveBankAccount:
    member_id: str
    account: BankAccountEntry
    make_default: bool = False


def last_day(year: int, month: int) -> dt.date:
    """The last day of a month: a card is good through the end of its expiry month."""
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def check_expiry(month: int, year: int, *, today: dt.date) -> tuple[int, int]:
    """(month, four-digit year) of a card expiry; two-digit years mean 20YY.

    ExpiryInvalidError for an impossible date; MethodExpiredError once it has passed.
    """
    year = 2000 + year if 0 <= year < 100 else year
    if not 1 <= month <= 12 or not 2000 <= year <= today.year + MAX_YEARS_AHEAD:
        raise ExpiryInvalidError(field="expiry")
    if last_day(year, month) < today:
        raise MethodExpiredError(field="expiry")
    return month, year


# -- reading ----------------------------------------------------------------------------------

def _method(row: Any) -> SavedMethod:
    return SavedMethod(
        method_id=row["method_id"], member_id=row["member_id"], kind=MethodKind(row["kind"]),
        last4=row["last4"], brand=row["brand"], exp_month=row["exp_month"],
        exp_year=row["exp_year"],
        account_type=AccountType(row["account_type"]) if row["account_type"] else None,
        is_default=bool(row["is_default"]), removed=row["state"] == "removed",
        exchange_state=ExchangeState(row["exchange_state"]),
        created_at=from_iso(row["created_at"]))


def list_methods(member_id: str, *, vault: Vault,
                 include_removed: bool = False) -> list[SavedMethod]:
    """The member's saved methods, the default first, then oldest first."""
    where = "" if include_removed else " AND state = 'active'"
    rows = vault.call(lambda conn: conn.execute(
        f"SELECT * FROM payment_methods WHERE member_id = ?{where}"  # nosec B608
        " ORDER BY is_default DESC, created_at, rowid", (member_id,)).fetchall())
    return [_method(row) for row in rows]


def methods_expiring_before(member_id: str, before: dt.date, *,
                            vault: Vault) -> list[SavedMethod]:
    """The member's active cards whose last valid day falls before `before`."""
    return [m for m in list_methods(member_id, vault=vault)
            if m.expires_on is not None and m.expires_on < before]


def next_due_date(member_id: str, *, vault: Vault, today: dt.date) -> dt.date | None:
    """The earliest due date, on or after `today`, of the member's open invoices."""
    account = get_account(member_id, vault=vault)
    dates = [inv.due_date for inv in account.invoices
             if inv.open_amount.cents > 0 and inv.due_date >= today]
    return min(dates, default=None)


def expiring_before_next_due(member_id: str, *, vault: Vault,
                             today: dt.date) -> list[SavedMethod]:
    """Cards to warn about: they expire before the member's next due date (none without one)."""
    due = next_due_date(member_id, vault=vault, today=today)
    return [] if due is None else methods_expiring_before(member_id, due, vault=vault)


# -- changing ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class _Change:
    """One change to record: the method's fields for an add, the payload's extra fields."""

    action: MethodAction
    method_id: str
    member_id: str
    extra: dict[str, Any]
    detail: str  # for the audit entry: no number in it
    ctx: PaymentContext
    now: dt.datetime
    new_key: Callable[[], uuid.UUID]


def _enqueue(conn: Any, c: _Change) -> MethodChanged:
    def build(seq: int) -> bytes:
        return canonical_json({
            "action": c.action.value, "method_id": c.method_id, "member_id": c.member_id,
            "kiosk_id": c.ctx.kiosk_id, "kiosk_seq": seq, "changed_at": to_iso(c.now),
            "navigator": c.ctx.staff.username, **c.extra,
        })

    item = outbox.enqueue(conn, kind=OUTBOX_KIND, member_id=c.member_id,
                          subject_id=c.method_id, endpoint=METHODS_ENDPOINT,
                          build_payload=build, now=c.now, new_key=c.new_key)
    conn.execute("UPDATE payment_methods SET exchange_state = 'pending', updated_at = ?"
                 " WHERE method_id = ?", (to_iso(c.now), c.method_id))
    audit.record(conn, at=c.now, actor=c.ctx.staff.username, action=f"method.{c.action}",
                 subject=c.method_id, detail=c.detail)
    return MethodChanged(method_id=c.method_id, member_id=c.member_id, action=c.action,
                         outbox_id=item.id, idempotency_key=item.idempotency_key)


def _active(conn: Any, method_id: str) -> Any:
    row = conn.execute("SELECT * FROM payment_methods WHERE method_id = ? AND state = 'active'",
                       (method_id,)).fetchone()
    if row is None:
        raise MethodUnknownError(method_id=method_id)
    return row


def _make_default(conn: Any, member_id: str, method_id: str) -> None:
    # Two statements: the one-default index is checked row by row.
    conn.execute("UPDATE payment_methods SET is_default = 0 WHERE member_id = ?", (member_id,))
    conn.execute("UPDATE payment_methods SET is_default = 1 WHERE method_id = ?", (method_id,))


def _has_default(conn: Any, member_id: str) -> bool:
    return conn.execute("SELECT 1 FROM payment_methods WHERE member_id = ? AND is_default = 1",
                        (member_id,)).fetchone() is not None


def _insert(conn: Any, c: _Change, fields: dict[str, Any]) -> None:
    names = ["method_id", "member_id", "created_at", "updated_at", "navigator", *fields]
    values = [c.method_id, c.member_id, to_iso(c.now), to_iso(c.now), c.ctx.staff.username,
              *fields.values()]
    conn.execute(f"INSERT INTO payment_methods ({', '.join(names)})"  # nosec B608
                 f" VALUES ({', '.join('?' * len(names))})", values)


def _add(conn: Any, c: _Change, fields: dict[str, Any], *, make_default: bool,
         duplicate_sql: str, duplicate_args: tuple[Any, ...]) -> MethodChanged:
    if conn.execute(duplicate_sql, duplicate_args).fetchone() is not None:
        raise MethodDuplicateError(member_id=c.member_id)
    default = make_default or not _has_default(conn, c.member_id)
    _insert(conn, c, fields)
    if default:
        _make_default(conn, c.member_id, c.method_id)
    return _enqueue(conn, replace(c, extra={**c.extra, "make_default": default}))


def _change(action: MethodAction, method_id: str, member_id: str, *, ctx: PaymentContext,
            clock: Clock, new_id: Callable[[], uuid.UUID], extra: dict[str, Any] | None = None,
            detail: str = "") -> _Change:
    return _Change(action=action, method_id=method_id, member_id=member_id, extra=extra or {},
                   detail=detail, ctx=ctx, now=clock.now(), new_key=new_id)


def save_card(cmd: SaveCard, *, ctx: PaymentContext, vault: Vault, clock: Clock,
              new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> MethodChanged:
    """Save the card the terminal just read, as its token, for later payments.

    Refuses (nothing written): NotFoundError `member_unknown`; CardNotSavableError
    `card_token_missing` unless the terminal approved it and gave a token;
    ExpiryInvalidError `expiry_invalid`; MethodExpiredError `method_expired`;
    MethodDuplicateError `method_duplicate` when this token is saved already.
    """
    get_account(cmd.member_id, vault=vault)
    auth = cmd.authorization
    if auth.result is not TerminalResult.APPROVED or not auth.token or not auth.last4:
        raise CardNotSavableError(field="card")
    month, year = check_expiry(cmd.exp_month, cmd.exp_year, today=clock.now().date())
    card = {"type": "card", "token": auth.token, "brand": auth.brand or "card",
            "last4": auth.last4, "exp_month": month, "exp_year": year}
    c = _change(MethodAction.ADD, str(new_id()), cmd.member_id, ctx=ctx, clock=clock,
                new_id=new_id, extra={"method": card}, detail=f"card {card['brand']}")
    fields = {"kind": "card", "brand": card["brand"], "last4": auth.last4,
              "card_token": auth.token, "exp_month": month, "exp_year": year}
    return vault.write(lambda conn: _add(
        conn, c, fields, make_default=cmd.make_default,
        duplicate_sql="SELECT 1 FROM payment_methods WHERE member_id = ? AND card_token = ?"
                      " AND state = 'active'", duplicate_args=(cmd.member_id, auth.token)))


def save_card_from_payment(payment_id: str, *, exp_month: int, exp_year: int,
                           make_default: bool = False, ctx: PaymentContext, vault: Vault,
                           clock: Clock,
                           new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> MethodChanged:
    """Save the card of a card payment taken here ("Save this card for next time?").

    NotFoundError `payment_unknown` unless it is a card payment with a token; otherwise as
    `save_card`.
    """
    row = vault.call(lambda conn: conn.execute(
        "SELECT * FROM payments WHERE payment_id = ? AND method = 'card' AND card_token <> ''",
        (payment_id,)).fetchone())
    if row is None:
        raise NotFoundError(code="payment_unknown", payment_id=payment_id)
    auth = CardAuthorization(result=TerminalResult.APPROVED, sale_reference=row["sale_reference"],
                             token=row["card_token"], brand=row["brand"], last4=row["last4"])
    return save_card(SaveCard(member_id=row["member_id"], authorization=auth,
                              exp_month=exp_month, exp_year=exp_year,
                              make_default=make_default),
                     ctx=ctx, vault=vault, clock=clock, new_id=new_id)


def save_bank_account(cmd: SaveBankAccount, *, ctx: PaymentContext, vault: Vault,
                      clock: Clock,
                      new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> MethodChanged:
    """Save a bank account the member typed (the account number twice).

    Refuses (nothing written): NotFoundError `member_unknown`; `routing_invalid`,
    `account_invalid`, `account_mismatch`, `account_type_invalid` (see kiosk.domain.ach);
    MethodDuplicateError `method_duplicate` when this account is saved already.
    """
    get_account(cmd.member_id, vault=vault)
    bank = check_bank_account(cmd.account)
    method = {"type": "bank_account", "routing_number": bank.routing_number,
              "account_number": bank.account_number, "account_type": bank.account_type.value}
    c = _change(MethodAction.ADD, str(new_id()), cmd.member_id, ctx=ctx, clock=clock,
                new_id=new_id, extra={"method": method},
                detail=f"bank_account {bank.account_type}")
    fields = {"kind": "bank_account", "last4": bank.last4,
              "routing_number": bank.routing_number, "account_number": bank.account_number,
              "account_type": bank.account_type.value}
    return vault.write(lambda conn: _add(
        conn, c, fields, make_default=cmd.make_default,
        duplicate_sql="SELECT 1 FROM payment_methods WHERE member_id = ? AND routing_number = ?"
                      " AND account_number = ? AND state = 'active'",
        duplicate_args=(cmd.member_id, bank.routing_number, bank.account_number)))


def update_card_expiry(method_id: str, *, exp_month: int, exp_year: int,
                       ctx: PaymentContext, vault: Vault, clock: Clock,
                       new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> MethodChanged:
    """Give a saved card its new expiry date (the bank sent a new card, same number).

    Refuses: MethodUnknownError `method_unknown`; MethodNotCardError `method_not_card`;
    ExpiryInvalidError `expiry_invalid`; MethodExpiredError `method_expired`.
    """
    month, year = check_expiry(exp_month, exp_year, today=clock.now().date())

    def change(conn: Any) -> MethodChanged:
        row = _active(conn, method_id)
        if row["kind"] != MethodKind.CARD:
            raise MethodNotCardError(field="method")
        conn.execute("UPDATE payment_methods SET exp_month = ?, exp_year = ? WHERE method_id = ?",
                     (month, year, method_id))
        return _enqueue(conn, _change(
            MethodAction.UPDATE_EXPIRY, method_id, row["member_id"], ctx=ctx, clock=clock,
            new_id=new_id, extra={"exp_month": month, "exp_year": year}, detail="card"))

    return vault.write(change)


def remove_method(method_id: str, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                  new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> MethodChanged:
    """Remove a saved method. A removed default leaves the member without one.
    MethodUnknownError `method_unknown` when it is not saved (or already removed)."""
    def change(conn: Any) -> MethodChanged:
        row = _active(conn, method_id)
        conn.execute("UPDATE payment_methods SET state = 'removed', is_default = 0,"
                     " removed_at = ? WHERE method_id = ?", (to_iso(clock.now()), method_id))
        return _enqueue(conn, _change(MethodAction.REMOVE, method_id, row["member_id"], ctx=ctx,
                                      clock=clock, new_id=new_id, detail=row["kind"]))

    return vault.write(change)


def set_default_method(method_id: str, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                       new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> MethodChanged:
    """Make a saved method the member's default. MethodUnknownError `method_unknown`."""
    def change(conn: Any) -> MethodChanged:
        row = _active(conn, method_id)
        _make_default(conn, row["member_id"], method_id)
        return _enqueue(conn, _change(MethodAction.SET_DEFAULT, method_id, row["member_id"],
                                      ctx=ctx, clock=clock, new_id=new_id, detail=row["kind"]))

    return vault.write(change)


# -- delivery answers (registered in kiosk.services.delivery) ---------------------------------

def on_change_confirmed(conn: Any, item: OutboxItem, answer: Any, now: str) -> None:
    """The exchange applied a change: the method is in step once no later change waits."""
    if not isinstance(answer, dict) or answer.get("method_id") != item.subject_id:
        raise BadChangeError(field="method_id")
    waiting = conn.execute(
        "SELECT 1 FROM outbox WHERE subject_id = ? AND kind = ? AND id <> ?"
        " AND state IN ('queued', 'sending')", (item.subject_id, OUTBOX_KIND, item.id)).fetchone()
    state = ExchangeState.PENDING if waiting else ExchangeState.SYNCED
    conn.execute("UPDATE payment_methods SET exchange_state = ? WHERE method_id = ?",
                 (state, item.subject_id))


def on_change_refused(conn: Any, item: OutboxItem) -> None:
    """The exchange refused a change for good: staff must look at the method."""
    conn.execute("UPDATE payment_methods SET exchange_state = ? WHERE method_id = ?",
                 (ExchangeState.NEEDS_ATTENTION, item.subject_id))
    log.warning("the exchange refused a change to saved method %s", item.subject_id)
