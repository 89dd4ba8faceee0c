"""JSON on the terminal wire, with amounts as exact decimal numbers.

The nexo messages carry amounts as JSON numbers in whole currency units (``"RequestedAmount":
125.5``). Both sides read them as `Decimal` and write them from `Decimal`, so no amount is ever a
float; `to_cents` and `from_cents` convert at the edge. Standard library only.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
_MAX_CENTS = 10**12  # far above any premium; keeps absurd exponents out


class WireError(ValueError):
    """A message that is not well-formed JSON of the expected shape."""


def dumps(message: Any) -> bytes:
    """UTF-8 JSON for `message`; a `Decimal` is written as a plain number, a float refused."""
    return _encode(message).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("amounts must be finite")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats never go on the wire; use Decimal")
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def loads(body: bytes) -> dict[str, Any]:
    """A JSON object from `body`, with every non-integer number read as a `Decimal`."""
    try:
        message = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError("not JSON") from exc
    if not isinstance(message, dict):
        raise WireError("not a JSON object")
    return message


def from_cents(cents: int) -> Decimal:
    """Whole units for an amount in cents: 12550 -> Decimal("125.50")."""
    return (Decimal(cents) / 100).quantize(CENT)


def to_cents(amount: Any) -> int:
    """Cents for an amount read off the wire; WireError unless it is exact to the cent."""
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise WireError("an amount must be a number")
    cents = Decimal(amount) * 100
    if not cents.is_finite() or abs(cents) > _MAX_CENTS:
        raise WireError("not an amount")
    try:
        exact = cents == cents.to_integral_value()
    except InvalidOperation as exc:
        raise WireError("not an amount") from exc
    if not exact:
        raise WireError("an amount must be exact to the cent")
    return int(cents)


def path(message: dict[str, Any], *keys: str) -> Any:
    """The value under `keys` (nested objects), or None where any level is missing."""
    value: Any = message
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
