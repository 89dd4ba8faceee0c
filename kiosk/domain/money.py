"""Money as integer cents plus an ISO 4217 currency code; never a float.

Formatting for people happens at the edge (`kiosk.i18n.format_money`), not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kiosk.errors import ValidationError

_AMOUNT_TEXT = re.compile(r"^\s*\$?\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*$")


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Money:
    """An amount of money in the smallest unit of its currency."""

    cents: int
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not isinstance(self.cents, int) or isinstance(self.cents, bool):
            raise TypeError("Money.cents must be an int")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        return cls(cents=0, currency=currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(cents=self.cents + other.cents, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(cents=self.cents - other.cents, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(cents=-self.cents, currency=self.currency)

    def is_positive(self) -> bool:
        return self.cents > 0

    def as_decimal(self) -> Decimal:
        """The amount in whole units, exact (for Babel formatting)."""
        return Decimal(self.cents) / 100

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")


def total(amounts: list[Money], currency: str = "USD") -> Money:
    """Sum a list of amounts of one currency; an empty list sums to zero."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


def parse_amount(text: str, currency: str = "USD") -> Money:
    """Read an amount typed by a person ("123.45", "$ 50", "7,5") into Money.

    Raises ValidationError(code="amount_unreadable") when it is not a plain amount.
    """
    match = _AMOUNT_TEXT.match(text)
    if not match:
        raise ValidationError(code="amount_unreadable", field="amount")
    whole, fraction = match.group(1), (match.group(2) or "0")
    try:
        cents = int(Decimal(f"{whole}.{fraction.ljust(2, '0')}") * 100)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
        raise ValidationError(code="amount_unreadable", field="amount") from exc
    return Money(cents=cents, currency=currency)
