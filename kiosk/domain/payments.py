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
    APPROVED = "approved"  # the card issuer approved the charge
    DECLINED = "declined"  # refused; no money taken


@dataclass(frozen=True, slots=True, kw_only=True)
class CardAuthorization:
    """What the terminal tells the kiosk about a charge. Never a card number."""

    result: TerminalResult
    sale_reference: str
    token: str = ""
    brand: str = ""
    last4: str = ""
    auth_code: str = ""
    entry_mode: str = ""
    decline_reason: str = ""

    def __post_init__(self) -> None:
        if self.last4 and (len(self.last4) != 4 or not self.last4.isdigit()):
            raise ValueError("last4 must be four digits")


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
