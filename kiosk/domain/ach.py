"""ACH bank transfers: checking a bank account as the member types it, the in-person (Nacha
PPD) authorization they sign, the state an ACH payment is shown in, and what each return code
from the member's bank means for them.

Routing numbers are checked with python-stdnum's ABA checksum; account numbers are 4 to 17
digits (Nacha's field is 17 characters). Nothing here prints or logs an account number: the
only form of one meant for people is `mask` (the last four digits).

An ACH payment keeps the ordinary `PaymentStatus` in the vault (pending until the exchange
confirms it). What the member sees is its `AchState`: "submitted" while pending, "returned"
once the member's bank sent it back, whatever the status said before. `ach_state` derives it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.us import rtn

from kiosk.domain.payments import PaymentStatus
from kiosk.errors import ValidationError

ACCOUNT_MIN_DIGITS = 4
ACCOUNT_MAX_DIGITS = 17
AUTHORIZATION_RETENTION = dt.timedelta(days=2 * 366)
"""At least two years (Nacha Operating Rules, Subsection 1.4.3). The vault refuses to delete
an authorization younger than that (a trigger in migration 0005)."""
MAX_SIGNATURE_BYTES = 512 * 1024
MAX_TYPED_NAME = 120
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SEPARATORS = str.maketrans("", "", " -")


class AccountType(StrEnum):
    CHECKING = "checking"  # a checking (demand deposit) account
    SAVINGS = "savings"  # a savings account


class SignatureMethod(StrEnum):
    """How the member signed the authorization."""

    SIGNATURE = "signature"  # drawn on the signature pad; the image is kept
    TYPED_NAME = "typed_name"  # typed their name and ticked the confirmation box


class AchState(StrEnum):
    """What an ACH payment reads as on the receipt and in the history."""

    SUBMITTED = "submitted"  # taken at the kiosk; the exchange has not confirmed it yet
    CONFIRMED = "confirmed"  # the exchange accepted it for collection from the bank
    RETURNED = "returned"  # the member's bank sent it back; see the return code
    NEEDS_ATTENTION = "needs_attention"  # the exchange refused it; staff must act
    CANCELLED = "cancelled"  # a supervisor cancelled it before it was sent


class RoutingInvalidError(ValidationError):
    """The routing number is not nine digits with a valid ABA check digit."""

    code = "routing_invalid"


class AccountInvalidError(ValidationError):
    """The account number is not 4 to 17 digits."""

    code = "account_invalid"


class AccountMismatchError(ValidationError):
    """The account number typed the second time differs from the first."""

    code = "account_mismatch"


class AccountTypeInvalidError(ValidationError):
    """The account type is neither checking nor savings."""

    code = "account_type_invalid"


class AuthorizationMissingError(ValidationError):
    """No authorization text, or neither a signature nor a confirmed typed name."""

    code = "authorization_missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class BankAccount:
    """A checked bank account. Its `repr` never shows the account number."""

    routing_number: str
    account_number: str
    account_type: AccountType

    def __repr__(self) -> str:
        return f"BankAccount(routing_number=..., account={self.mask}, type={self.account_type})"

    @property
    def last4(self) -> str:
        return self.account_number[-4:]

    @property
    def mask(self) -> str:
        """The only way an account number is shown: the last four digits."""
        return mask(self.account_number)


@dataclass(frozen=True, slots=True, kw_only=True)
class BankAccountEntry:
    """A bank account as the member typed it, the account number twice."""

    routing_number: str
    account_number: str
    account_number_again: str
    account_type: str

    def __repr__(self) -> str:
        return "BankAccountEntry(...)"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationCapture:
    """What the member saw and did to authorize a debit at the kiosk.

    `text` is the exact authorization text shown, in `language`. Either `signature_png` (the
    pad's image) or `typed_name` with `typed_name_confirmed` (the box "I confirm that typing my
    name is my signature") for people who cannot sign on a screen.
    """

    language: str
    text: str
    signature_png: bytes = b""
    typed_name: str = ""
    typed_name_confirmed: bool = False

    def __repr__(self) -> str:
        return f"AuthorizationCapture(language={self.language!r}, method={self.method})"

    @property
    def method(self) -> SignatureMethod:
        return SignatureMethod.SIGNATURE if self.signature_png else SignatureMethod.TYPED_NAME


class ReturnReason(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"  # R01, R09: not enough money in the account
    ACCOUNT_CLOSED = "account_closed"  # R02: the account was closed
    ACCOUNT_NOT_FOUND = "account_not_found"  # R03: the bank cannot find this account
    INVALID_ACCOUNT_NUMBER = "invalid_account_number"  # R04: the number is not a valid one
    DEBIT_TYPE_NOT_ALLOWED = "debit_type_not_allowed"  # R05: wrong kind of debit for it
    RETURNED_ON_REQUEST = "returned_on_request"  # R06: the exchange's bank asked it back
    AUTHORIZATION_REVOKED = "authorization_revoked"  # R07: the member withdrew permission
    PAYMENT_STOPPED = "payment_stopped"  # R08: the member asked the bank to stop it
    NOT_AUTHORIZED = "not_authorized"  # R10: the account holder says they did not allow it
    NOT_AS_AUTHORIZED = "not_as_authorized"  # R11: allowed, but not like this (amount, date)
    ACCOUNT_MOVED = "account_moved"  # R12: the account moved to another bank
    ACCOUNT_HOLDER_DECEASED = "account_holder_deceased"  # R14, R15
    ACCOUNT_FROZEN = "account_frozen"  # R16: the bank froze the account
    ACCOUNT_TYPE_NOT_ALLOWED = "account_type_not_allowed"  # R20: no debits on this account
    DUPLICATE = "duplicate"  # R24: the bank saw the same payment twice
    BUSINESS_NOT_AUTHORIZED = "business_not_authorized"  # R29: a business account refused it
    OTHER = "other"  # any code not in the table


class NextStep(StrEnum):
    ADD_FUNDS_OR_PAY_ANOTHER_WAY = "add_funds_or_pay_another_way"  # retry later, or card/cash
    USE_ANOTHER_ACCOUNT = "use_another_account"  # this account cannot be used again
    CHECK_ACCOUNT_DETAILS = "check_account_details"  # re-enter the numbers from a check
    CONTACT_BANK = "contact_bank"  # the member's bank must clear something first
    PAY_ANOTHER_WAY = "pay_another_way"  # a new payment, by card or another account
    CONTACT_EXCHANGE = "contact_exchange"  # the exchange's member services will sort it out


@dataclass(frozen=True, slots=True, kw_only=True)
class AchReturn:
    """What a return code means, as codes the UI turns into sentences."""

    code: str  # the Nacha return code, e.g. R01
    reason: ReturnReason
    next_step: NextStep
    may_retry: bool  # the same account may be debited again (Nacha allows two re-tries)
    account_unusable: bool  # the account cannot be debited again as it is


def _r(code: str, reason: ReturnReason, step: NextStep, *, retry: bool = False,
       unusable: bool = False) -> AchReturn:
    return AchReturn(code=code, reason=reason, next_step=step, may_retry=retry,
                     account_unusable=unusable)


_Rs, _Ns = ReturnReason, NextStep
ACH_RETURNS: dict[str, AchReturn] = {r.code: r for r in (
    _r("R01", _Rs.INSUFFICIENT_FUNDS, _Ns.ADD_FUNDS_OR_PAY_ANOTHER_WAY, retry=True),
    _r("R02", _Rs.ACCOUNT_CLOSED, _Ns.USE_ANOTHER_ACCOUNT, unusable=True),
    _r("R03", _Rs.ACCOUNT_NOT_FOUND, _Ns.CHECK_ACCOUNT_DETAILS, unusable=True),
    _r("R04", _Rs.INVALID_ACCOUNT_NUMBER, _Ns.CHECK_ACCOUNT_DETAILS, unusable=True),
    _r("R05", _Rs.DEBIT_TYPE_NOT_ALLOWED, _Ns.CONTACT_EXCHANGE),
    _r("R06", _Rs.RETURNED_ON_REQUEST, _Ns.CONTACT_EXCHANGE),
    _r("R07", _Rs.AUTHORIZATION_REVOKED, _Ns.PAY_ANOTHER_WAY),
    _r("R08", _Rs.PAYMENT_STOPPED, _Ns.CONTACT_BANK),
    _r("R09", _Rs.INSUFFICIENT_FUNDS, _Ns.ADD_FUNDS_OR_PAY_ANOTHER_WAY, retry=True),
    _r("R10", _Rs.NOT_AUTHORIZED, _Ns.CONTACT_BANK),
    _r("R11", _Rs.NOT_AS_AUTHORIZED, _Ns.CONTACT_EXCHANGE),
    _r("R12", _Rs.ACCOUNT_MOVED, _Ns.USE_ANOTHER_ACCOUNT, unusable=True),
    _r("R14", _Rs.ACCOUNT_HOLDER_DECEASED, _Ns.CONTACT_EXCHANGE, unusable=True),
    _r("R15", _Rs.ACCOUNT_HOLDER_DECEASED, _Ns.CONTACT_EXCHANGE, unusable=True),
    _r("R16", _Rs.ACCOUNT_FROZEN, _Ns.CONTACT_BANK, unusable=True),
    _r("R20", _Rs.ACCOUNT_TYPE_NOT_ALLOWED, _Ns.USE_ANOTHER_ACCOUNT, unusable=True),
    _r("R24", _Rs.DUPLICATE, _Ns.CONTACT_EXCHANGE),
    _r("R29", _Rs.BUSINESS_NOT_AUTHORIZED, _Ns.USE_ANOTHER_ACCOUNT),
)}


def explain_return(code: str) -> AchReturn:
    """The meaning of a return code; an unknown one reads as OTHER, contact the exchange."""
    return ACH_RETURNS.get(code) or _r(code, ReturnReason.OTHER, NextStep.CONTACT_EXCHANGE)


def is_return_code(code: str) -> bool:
    """Whether `code` has the form of a Nacha return code (R and two digits)."""
    return len(code) == 3 and code[0] == "R" and code[1:].isascii() and code[1:].isdigit()


def ach_state(status: PaymentStatus, return_code: str) -> AchState:
    """What an ACH payment with this status and return code reads as."""
    if return_code:
        return AchState.RETURNED
    if status is PaymentStatus.PENDING:
        return AchState.SUBMITTED
    return AchState(status.value)


def mask(account_number: str) -> str:
    """An account number as people may see it: bullets and the last four digits."""
    return f"••••{account_number[-4:]}"


def _digits(text: str) -> str:
    return text.strip().translate(_SEPARATORS)


def check_routing_number(text: str) -> str:
    """The routing number's nine digits; RoutingInvalidError unless the ABA checksum holds.

    Spaces and dashes are ignored.
    """
    number = _digits(text)
    if not (number.isascii() and number.isdigit()):
        raise RoutingInvalidError(field="routing_number", reason="not_digits")
    try:
        return str(rtn.validate(number))
    except StdnumValidationError as exc:
        raise RoutingInvalidError(field="routing_number",
                                  reason=type(exc).__name__.lower()) from None


def check_account_number(text: str) -> str:
    """The account number's digits; AccountInvalidError unless there are 4 to 17 of them.

    Spaces and dashes are ignored.
    """
    number = _digits(text)
    if not (number.isascii() and number.isdigit()):
        raise AccountInvalidError(field="account_number", reason="not_digits")
    if not ACCOUNT_MIN_DIGITS <= len(number) <= ACCOUNT_MAX_DIGITS:
        raise AccountInvalidError(field="account_number", reason="length")
    return number


def check_account_type(text: str) -> AccountType:
    try:
        return AccountType(text)
    except ValueError:
        raise AccountTypeInvalidError(field="account_type") from None


def check_bank_account(entry: BankAccountEntry) -> BankAccount:
    """The bank account the member typed, checked field by field in screen order."""
    routing = check_routing_number(entry.routing_number)
    account = check_account_number(entry.account_number)
    if _digits(entry.account_number_again) != account:
        raise AccountMismatchError(field="account_number_again")
    return BankAccount(routing_number=routing, account_number=account,
                       account_type=check_account_type(entry.account_type))


def check_authorization(capture: AuthorizationCapture) -> AuthorizationCapture:
    """Refuse an authorization without its text, language, or a way the member signed it."""
    if not capture.text.strip() or not capture.language.strip():
        raise AuthorizationMissingError(field="authorization", reason="text")
    if capture.signature_png:
        if (not capture.signature_png.startswith(_PNG_MAGIC)
                or len(capture.signature_png) > MAX_SIGNATURE_BYTES):
            raise AuthorizationMissingError(field="signature", reason="not_png")
        return capture
    name = capture.typed_name.strip()
    if not name or len(name) > MAX_TYPED_NAME:
        raise AuthorizationMissingError(field="typed_name", reason="name")
    if not capture.typed_name_confirmed:
        raise AuthorizationMissingError(field="typed_name_confirmed", reason="not_confirmed")
    return capture
