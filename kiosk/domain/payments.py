"""Payments taken at the kiosk: their states, what the card terminal reports, and validation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from kiosk.domain.money import Money
from kiosk.errors import ValidationError


class PaymentStatus(StrEnum):
    PENDING = "pending"  # recorded at the kiosk, not yet confirmed by the exchange
    CONFIRMED = "confirmed"  # the exchange holds it and gave a confirmation number
    NEEDS_ATTENTION = "needs_attention"  # the exchange refused it; staff must act
    CANCELLED = "cancelled"  # a supervisor cancelled it before it was sent; refund the card


class TerminalResult(StrEnum):
    APPROVED = "approved"  # approved by the issuer, or by the terminal offline; maybe in part
    DECLINED = "declined"  # refused by the issuer; no money taken
    CARD_REMOVED = "card_removed"  # the card left the reader before the end; no money taken
    ABORTED = "aborted"  # stopped at the terminal or by an abort request; no money taken
    IN_PROGRESS = "in_progress"  # (status only) the terminal has not finished it yet
    NOT_FOUND = "not_found"  # (status only) the terminal never received it; no money taken


class AttemptResult(StrEnum):
    """Where a card attempt (`card_attempts.result`) ended."""

    STARTED = "started"  # written before the terminal is asked; a crash leaves it here
    APPROVED = "approved"  # approved, and the payment is recorded
    DECLINED = "declined"  # refused by the issuer
    CARD_REMOVED = "card_removed"  # the member took the card out too early
    ABORTED = "aborted"  # stopped at the terminal or by an abort request
    NOT_STARTED = "not_started"  # the terminal never took it on (unreachable, busy, not found)
    UNKNOWN = "unknown"  # no answer and the terminal could not say yet: look it up again


OPEN_ATTEMPTS = (AttemptResult.STARTED, AttemptResult.UNKNOWN)
"""Attempts whose outcome the kiosk does not know: money may have been taken."""


class EntryMode(StrEnum):
    CHIP = "chip"  # the card was inserted
    CONTACTLESS = "contactless"  # a card or a phone was tapped
    SWIPE = "swipe"  # the magnetic stripe was read
    KEYED = "keyed"  # the number was typed on the terminal's own keypad


class Wallet(StrEnum):
    APPLE_PAY = "apple_pay"  # an iPhone or Apple Watch was tapped
    GOOGLE_PAY = "google_pay"  # an Android phone was tapped
    SAMSUNG_PAY = "samsung_pay"  # a Samsung phone was tapped


@dataclass(frozen=True, slots=True, kw_only=True)
class CardAuthorization:
    """What the terminal tells the kiosk about a charge. Never a card number.

    `approved_amount` is what the terminal approved when that is less than asked (a prepaid
    card with too little on it); None means the amount asked. `offline_approved` says the
    terminal approved it itself, without reaching the card issuer (store and forward): the
    issuer may still decline it later. `wallet` names the phone wallet, if one was used.
    """

    result: TerminalResult
    sale_reference: str
    token: str = ""
    brand: str = ""
    last4: str = ""
    auth_code: str = ""
    entry_mode: str = ""
    decline_reason: str = ""
    approved_amount: Money | None = None
    offline_approved: bool = False
    wallet: str = ""

    def __post_init__(self) -> None:
        if self.last4 and (len(self.last4) != 4 or not self.last4.isdigit()):
            raise ValueError("last4 must be four digits")
        if self.approved_amount is not None and self.approved_amount.cents <= 0:
            raise ValueError("an approved amount must be above zero")

    def approved_of(self, requested: Money) -> Money:
        """The amount actually approved out of `requested`."""
        approved = self.approved_amount or requested
        if approved.currency != requested.currency or approved.cents > requested.cents:
            raise ValueError("the terminal approved more than was asked")
        return approved


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    payment_id: str
    receipt_number: str
    member_id: str
    amount: Money
    brand: str
    last4: str
    auth_code: str
    navigator: str
    site: str
    captured_at: dt.datetime
    status: PaymentStatus
    confirmation_number: str = ""


def validate_amount(amount: Money, *, allowed: Money) -> None:
    """Refuse amounts of zero or less, and amounts above what the member may pay now."""
    if amount.cents <= 0:
        raise ValidationError(code="amount_not_positive", field="amount")
    if amount.cents > allowed.cents:
        raise ValidationError(code="amount_too_high", field="amount", allowed=allowed.cents)
