"""The member's account at the counter: contact details, communication preferences, automatic
payments, disputes and the payment history's states, as values with the rules that check them.

Everything here is pure: no clock, no storage. Validators return the normalized value or raise
a `ValidationError` whose code names the rule (`zip_invalid`, `phone_invalid` ...); services
call them before anything is written.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import phonenumbers

from kiosk.domain.money import Money
from kiosk.errors import ValidationError

# -- contact details --------------------------------------------------------------------------

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH"
    " NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
    " PR GU VI AS MP AA AE AP".split()
)
"""States, DC, the territories and the military 'states' the USPS accepts in an address."""

_ZIP = re.compile(r"^(\d{5})(?:[-\s]?(\d{4}))?$")
# A dot-atom local part (RFC 5322 section 3.2.3) and a domain of LDH labels (RFC 1035/5890).
# Quoted local parts and address literals are legal but never typed at a counter: refused.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = re.compile(rf"^{_ATEXT}+(?:\.{_ATEXT}+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
MAX_EMAIL_LENGTH = 254  # RFC 5321 section 4.5.3.1.3, as errata 1690 corrects it
MAX_LINE_LENGTH = 100


class ProfileField(StrEnum):
    ADDRESS = "address"  # the postal address, one value of several parts
    PHONE = "phone"  # the phone number, E.164
    EMAIL = "email"  # the email address


class ConflictChoice(StrEnum):
    KIOSK = "kiosk"  # keep the value typed at the kiosk: it is sent again
    EXCHANGE = "exchange"  # keep the value the exchange has: nothing is sent for the field


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """A US postal address; `zip_code` is 12345 or 12345-6789."""

    line1: str
    line2: str = ""
    city: str
    state: str
    zip_code: str

    def as_data(self) -> dict[str, str]:
        """The address as the contract carries it."""
        return {"line1": self.line1, "line2": self.line2, "city": self.city,
                "state": self.state, "zip": self.zip_code}

    def one_line(self) -> str:
        """For a mailing label or a log-free summary: "1 Main St, Apt 2, Chicago, IL 60601"."""
        parts = [self.line1, self.line2, self.city, f"{self.state} {self.zip_code}"]
        return ", ".join(part for part in parts if part)

    @classmethod
    def from_data(cls, data: Any) -> Address | None:
        """The address in a contract record; None when absent or incomplete (older exchanges)."""
        if not isinstance(data, Mapping):
            return None
        values = {k: data.get(k) for k in ("line1", "line2", "city", "state", "zip")}
        if not all(isinstance(values[k], str) and values[k] for k in ("line1", "city", "state",
                                                                       "zip")):
            return None
        return cls(line1=str(values["line1"]), line2=str(values["line2"] or ""),
                   city=str(values["city"]), state=str(values["state"]),
                   zip_code=str(values["zip"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactProfile:
    """The member's contact details as the kiosk shows them."""

    member_id: str
    address: Address | None
    phone: str  # E.164, or "" when none is on file
    email: str
    version: int  # the exchange's profile version these values started from
    pending: frozenset[ProfileField] = frozenset()  # fields changed here, not yet confirmed

    def value_of(self, field: ProfileField) -> Any:
        """The field's value in the contract's shape (the address as an object)."""
        if field is ProfileField.ADDRESS:
            return self.address.as_data() if self.address else None
        return self.phone if field is ProfileField.PHONE else self.email


def normalize_zip(text: str) -> str:
    """A US ZIP code as 12345 or 12345-6789 (a space or nothing between the parts is taken).

    ValidationError `zip_invalid` otherwise; 00000 is never a real ZIP code.
    """
    match = _ZIP.match(text.strip())
    if match is None or match.group(1) == "00000":
        raise ValidationError(code="zip_invalid", field="zip_code")
    plus4 = match.group(2)
    return f"{match.group(1)}-{plus4}" if plus4 else match.group(1)


def normalize_phone(text: str, *, region: str = "US") -> str:
    """A phone number in E.164 (+13125550100), parsed and checked with `phonenumbers`.

    Numbers without a country code are read as `region`'s. ValidationError `phone_invalid`
    when it is not a possible and valid number for its country.
    """
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(code="phone_invalid", field="phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(code="phone_invalid", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _domain_ok(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_domain.split(".")
    return (len(ascii_domain) <= 253 and len(labels) >= 2 and all(map(_LABEL.match, labels))
            and _TLD.match(labels[-1]) is not None)


def normalize_email(text: str) -> str:
    """An email address checked for syntax only (no network): a dot-atom local part of at most
    64 characters, `@`, and a domain of at least two labels whose last is a real-looking TLD.
    The domain is lower-cased; the local part is kept as typed. ValidationError
    `email_invalid` otherwise."""
    value = text.strip()
    local, at, domain = value.rpartition("@")
    if (not at or len(value) > MAX_EMAIL_LENGTH or len(local) > 64 or not _LOCAL.match(local)
            or not _domain_ok(domain)):
        raise ValidationError(code="email_invalid", field="email")
    return f"{local}@{domain.lower()}"


def _line(text: str, field: str, *, required: bool = True) -> str:
    value = " ".join(text.split())
    if (required and not value) or len(value) > MAX_LINE_LENGTH:
        raise ValidationError(code=f"{field}_invalid", field=field)
    return value


def check_address(address: Address) -> Address:
    """The address with its parts trimmed and its ZIP code normalized.

    ValidationError `line1_invalid`, `line2_invalid`, `city_invalid` (empty or longer than 100
    characters), `state_invalid` (not a USPS state code), `zip_invalid`.
    """
    state = address.state.strip().upper()
    if state not in US_STATES:
        raise ValidationError(code="state_invalid", field="state")
    return Address(line1=_line(address.line1, "line1"),
                   line2=_line(address.line2, "line2", required=False),
                   city=_line(address.city, "city"), state=state,
                   zip_code=normalize_zip(address.zip_code))


# -- communication preferences ----------------------------------------------------------------

class MessageKind(StrEnum):
    BILLS = "bills"  # the monthly premium bill
    PAYMENT_REMINDERS = "payment_reminders"  # reminders before a due date
    RECEIPTS = "receipts"  # receipts and payment confirmations
    NOTICES = "notices"  # notices about coverage, grace periods and the plan


class Channel(StrEnum):
    EMAIL = "email"  # to the email address on file
    SMS = "sms"  # a text message to the phone on file
    MAIL = "mail"  # a letter to the postal address on file


DEFAULT_REMINDER_DAYS = (7, 3, 1)
MAX_REMINDER_DAYS_BEFORE = 30
MAX_REMINDERS = 5
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Z][a-z]{3}|_[A-Z]{2})?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePreference:
    kind: MessageKind
    channel: Channel
    language: str  # e.g. en, es, vi, zh_Hant


@dataclass(frozen=True, slots=True, kw_only=True)
class Preferences:
    """How the member wants each kind of message, and reminder days before each due date."""

    messages: tuple[MessagePreference, ...]
    reminder_days: tuple[int, ...] = DEFAULT_REMINDER_DAYS  # days before, largest first

    def for_kind(self, kind: MessageKind) -> MessagePreference | None:
        return next((m for m in self.messages if m.kind is kind), None)

    def as_data(self) -> dict[str, Any]:
        """The contract's shape: {"messages": {kind: {channel, language}}, "reminder_days"}."""
        return {"messages": {m.kind.value: {"channel": m.channel.value, "language": m.language}
                             for m in self.messages},
                "reminder_days": list(self.reminder_days)}

    @classmethod
    def from_data(cls, data: Any) -> Preferences | None:
        """Preferences in a contract record; None when absent or unreadable (older exchanges)."""
        try:
            messages = tuple(
                MessagePreference(kind=MessageKind(kind), channel=Channel(v["channel"]),
                                  language=str(v["language"]))
                for kind, v in dict(data["messages"]).items())
            days = tuple(int(d) for d in data["reminder_days"])
        except (TypeError, KeyError, ValueError):
            return None
        return cls(messages=messages, reminder_days=days)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactOnFile:
    """Which ways of reaching the member exist, for checking a channel choice."""

    email: bool
    phone: bool
    address: bool


_CHANNEL_NEEDS = {Channel.EMAIL: "email", Channel.SMS: "phone", Channel.MAIL: "address"}


def check_language(code: str, *, field: str = "language") -> str:
    """A language code for messages (en, es, vi, zh_Hant ...). ValidationError
    `language_invalid` otherwise."""
    if not _LANGUAGE.match(code):
        raise ValidationError(code="language_invalid", field=field)
    return code


def _check_message(pref: MessagePreference, on_file: ContactOnFile) -> None:
    needed = _CHANNEL_NEEDS[pref.channel]
    if not getattr(on_file, needed):
        raise ValidationError(code=f"channel_needs_{needed}", field=pref.kind.value)
    check_language(pref.language, field=pref.kind.value)


def check_reminder_days(days: Sequence[int]) -> tuple[int, ...]:
    """Reminder days, unique and largest first: each 0 (on the due date) to 30, at most five.

    ValidationError `reminder_day_invalid` or `reminders_too_many`.
    """
    unique = sorted(set(days), reverse=True)
    if any(not isinstance(d, int) or not 0 <= d <= MAX_REMINDER_DAYS_BEFORE for d in unique):
        raise ValidationError(code="reminder_day_invalid", field="reminder_days")
    if len(unique) > MAX_REMINDERS:
        raise ValidationError(code="reminders_too_many", field="reminder_days")
    return tuple(unique)


def check_preferences(prefs: Preferences, *, on_file: ContactOnFile) -> Preferences:
    """Every kind of message exactly once, each on a channel the member can be reached by.

    ValidationError `preference_kinds_incomplete`, `channel_needs_email`, `channel_needs_phone`,
    `channel_needs_address`, `language_invalid`, and those of `check_reminder_days`.
    """
    kinds = [m.kind for m in prefs.messages]
    if sorted(kinds) != sorted(MessageKind):
        raise ValidationError(code="preference_kinds_incomplete", field="messages")
    for pref in prefs.messages:
        _check_message(pref, on_file)
    ordered = tuple(sorted(prefs.messages, key=lambda m: list(MessageKind).index(m.kind)))
    return replace(prefs, messages=ordered, reminder_days=check_reminder_days(prefs.reminder_days))


# -- automatic and scheduled payments ---------------------------------------------------------

class AutopayKind(StrEnum):
    RECURRING = "recurring"  # every month until changed, paused or cancelled
    ONE_TIME = "one_time"  # once, on a chosen later date


class AutopayTiming(StrEnum):
    DUE_DATE = "due_date"  # on each premium's due date
    DAY_OF_MONTH = "day_of_month"  # on a chosen day of every month


class AutopayAmount(StrEnum):
    FULL_DUE = "full_due"  # whatever is due at that moment
    FIXED = "fixed"  # the same amount every time


class AutopayStatus(StrEnum):
    ACTIVE = "active"  # runs on its next date
    PAUSED = "paused"  # kept, but does not run until resumed
    CANCELLED = "cancelled"  # stopped for good
    COMPLETED = "completed"  # a one-time payment that has run


MAX_SCHEDULE_DAYS_AHEAD = 365


@dataclass(frozen=True, slots=True, kw_only=True)
class AutopaySchedule:
    """When and how much. `day_of_month` for DAY_OF_MONTH (1 to 31; a short month runs on its
    last day); `run_on` for a one-time payment; `fixed_amount` for FIXED."""

    kind: AutopayKind = AutopayKind.RECURRING
    timing: AutopayTiming = AutopayTiming.DUE_DATE
    day_of_month: int | None = None
    run_on: dt.date | None = None
    amount_kind: AutopayAmount = AutopayAmount.FULL_DUE
    fixed_amount: Money | None = None


def _check_amount(schedule: AutopaySchedule) -> None:
    if schedule.amount_kind is AutopayAmount.FIXED:
        amount = schedule.fixed_amount
        if amount is None or not 0 < amount.cents <= 10_000_000:
            raise ValidationError(code="autopay_amount_invalid", field="amount")


def check_schedule(schedule: AutopaySchedule, *, today: dt.date) -> AutopaySchedule:
    """ValidationError `autopay_day_invalid` (day of month not 1..31), `autopay_date_invalid`
    (a one-time date not after today or more than a year ahead), `autopay_amount_invalid`
    (a fixed amount missing, not above zero or above $100,000)."""
    _check_amount(schedule)
    if schedule.kind is AutopayKind.ONE_TIME:
        run_on = schedule.run_on
        if run_on is None or not today < run_on <= today + dt.timedelta(MAX_SCHEDULE_DAYS_AHEAD):
            raise ValidationError(code="autopay_date_invalid", field="run_on")
        if schedule.amount_kind is not AutopayAmount.FIXED:
            raise ValidationError(code="autopay_amount_invalid", field="amount")
    elif schedule.timing is AutopayTiming.DAY_OF_MONTH:
        if schedule.day_of_month is None or not 1 <= schedule.day_of_month <= 31:
            raise ValidationError(code="autopay_day_invalid", field="day_of_month")
    return schedule


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def day_in_month(year: int, month: int, wanted: int) -> dt.date:
    """Day `wanted` of a month, or its last day when the month is shorter."""
    return dt.date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


def _next_day_of_month(wanted: int, today: dt.date) -> dt.date:
    this_month = day_in_month(today.year, today.month, wanted)
    if this_month >= today:
        return this_month
    following = month_end(today) + dt.timedelta(days=1)
    return day_in_month(following.year, following.month, wanted)


def next_run_date(schedule: AutopaySchedule, *, today: dt.date,
                  status: AutopayStatus = AutopayStatus.ACTIVE,
                  due_dates: Sequence[dt.date] = ()) -> dt.date | None:
    """The next day, on or after `today`, the payment runs; None when it will not run.

    Paused, cancelled and completed ones never run. A one-time payment runs on its date. On the
    due date: the earliest of `due_dates` (the member's open invoices) on or after today, or,
    without one, the exchange's rule that a month's premium is due on the last day of the month
    before it, so the end of this month. On a day of the month: that day this month if it has
    not passed, else next month (the last day of a shorter month).
    """
    if status is not AutopayStatus.ACTIVE:
        return None
    if schedule.kind is AutopayKind.ONE_TIME:
        return schedule.run_on if schedule.run_on and schedule.run_on >= today else None
    if schedule.timing is AutopayTiming.DAY_OF_MONTH and schedule.day_of_month:
        return _next_day_of_month(schedule.day_of_month, today)
    upcoming = [d for d in due_dates if d >= today]
    return min(upcoming) if upcoming else month_end(today)


# -- disputes ---------------------------------------------------------------------------------

class DisputeReason(StrEnum):
    DUPLICATE_CHARGE = "duplicate_charge"  # charged twice for the same thing
    WRONG_AMOUNT = "wrong_amount"  # charged a different amount than agreed
    NOT_CREDITED = "not_credited"  # paid, but the payment does not show on the account
    UNAUTHORIZED = "unauthorized"  # a charge the member did not make
    OTHER = "other"  # anything else, explained in the description


class DisputeStatus(StrEnum):
    PENDING = "pending"  # filed here, not yet received by the exchange
    SUBMITTED = "submitted"  # the exchange received it
    UNDER_REVIEW = "under_review"  # the exchange is looking into it
    RESOLVED = "resolved"  # decided for the member
    DENIED = "denied"  # decided against the member


OPEN_DISPUTES = (DisputeStatus.PENDING, DisputeStatus.SUBMITTED, DisputeStatus.UNDER_REVIEW)


class AttachmentType(StrEnum):
    PDF = "application/pdf"  # a statement saved or scanned as PDF
    JPEG = "image/jpeg"  # a photo
    PNG = "image/png"  # a screenshot
    HEIC = "image/heic"  # a photo from a recent iPhone


MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
MIN_DESCRIPTION = 10
MAX_DESCRIPTION = 2000
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")


def attachment_type(content: bytes) -> AttachmentType:
    """What a file is, by its first bytes (never by its name). ValidationError
    `attachment_empty`, `attachment_too_large` (over 10 MiB), `attachment_type_invalid`."""
    if not content:
        raise ValidationError(code="attachment_empty", field="attachments")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationError(code="attachment_too_large", field="attachments",
                              limit=MAX_ATTACHMENT_BYTES)
    if content.startswith(b"%PDF-"):
        return AttachmentType.PDF
    if content.startswith(b"\xff\xd8\xff"):
        return AttachmentType.JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return AttachmentType.PNG
    if content[4:8] == b"ftyp" and content[8:12] in _HEIF_BRANDS:
        return AttachmentType.HEIC
    raise ValidationError(code="attachment_type_invalid", field="attachments")


BANK_REPORT_DAYS = 60
"""Days after the statement showing an unauthorized charge within which the member should tell
their bank or card issuer.

- Electronic fund transfers (ACH debits, debit cards): Regulation E, 12 CFR 1005.6(b)(3) -
  a consumer who reports within 60 days of the transmittal of the periodic statement on
  which the transfer first appears is not liable for later transfers the bank could have
  stopped; after that, liability can be unlimited.
- Credit cards: Regulation Z, 12 CFR 1026.13(b)(1) - a billing-error notice must reach the
  card issuer within 60 days after it sent the first statement showing the error.

Both count from the statement; when the member does not know its date, the kiosk counts from
the day of the charge, which is never later than the statement, so the date it gives is safe.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class BankAdvice:
    """What the screen tells the member about their bank for a dispute."""

    call_bank: bool
    call_by: dt.date | None = None
    rule: str = ""  # the regulation behind the date, for the help text


def bank_advice(reason: DisputeReason, *, charged_on: dt.date,
                statement_date: dt.date | None = None) -> BankAdvice:
    """For a charge the member did not make: call the bank within 60 days of the statement
    (see BANK_REPORT_DAYS); for every other reason nothing is asked of the bank."""
    if reason is not DisputeReason.UNAUTHORIZED:
        return BankAdvice(call_bank=False)
    start = statement_date or charged_on
    return BankAdvice(call_bank=True, call_by=start + dt.timedelta(days=BANK_REPORT_DAYS),
                      rule="12 CFR 1005.6(b)(3); 12 CFR 1026.13(b)(1)")


def check_description(text: str, reason: DisputeReason) -> str:
    """The description trimmed; 10 to 2000 characters. ValidationError
    `dispute_description_invalid`. Every reason needs one: the exchange reads it."""
    value = text.strip()
    if not MIN_DESCRIPTION <= len(value) <= MAX_DESCRIPTION:
        raise ValidationError(code="dispute_description_invalid", field="description",
                              reason=reason.value)
    return value


def check_dispute_amount(amount: Money, *, paid: Money) -> Money:
    """Above zero and at most what the linked payments came to. ValidationError
    `dispute_amount_invalid`."""
    if not 0 < amount.cents <= paid.cents or amount.currency != paid.currency:
        raise ValidationError(code="dispute_amount_invalid", field="amount", most=paid.cents)
    return amount


# -- payment history --------------------------------------------------------------------------

class HistoryStatus(StrEnum):
    PENDING = "pending"  # taken here; not yet sent to the exchange
    SUBMITTED = "submitted"  # sent (or an ACH debit in collection); not yet confirmed
    CONFIRMED = "confirmed"  # the exchange holds it
    DECLINED = "declined"  # the card was declined, or the exchange refused the payment
    RETURNED = "returned"  # the member's bank sent an ACH payment back
    REFUNDED = "refunded"  # money given back (after a dispute, or cancelled before sending)
    DISPUTED = "disputed"  # the member disputes it; the exchange is looking into it


class ChangeState(StrEnum):
    """Where a change made at the kiosk stands with the exchange."""

    PENDING = "pending"  # in the outbox; shown as pending
    CONFIRMED = "confirmed"  # the exchange applied it
    REFUSED = "refused"  # the exchange refused it (a profile conflict among others): act on it
    RESOLVED = "resolved"  # refused, then a person decided what to keep
