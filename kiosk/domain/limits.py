"""Limits on payments taken while the exchange is unreachable.

A payment taken offline is a promise the kiosk makes before the exchange has seen it, so the
exposure is capped, as card systems do for their own offline modes. The defaults sit between
what common payment systems ship with:

| system | per payment | total queued | oldest |
|---|---|---|---|
| Square offline payments | $100 (default) | set by the seller | 24 hours |
| Clover offline payments | $500 | $5,000 | 7 days |
| Stripe Terminal offline | set by the business | $10,000 cap | until reconnect |

Premiums are often $100 to $600 a month, so the per-payment default follows Clover ($500);
rural sites can be offline for days, so the age limit is Clover's 7 days. A supervisor may
override any limit for one payment after signing in again; the override is recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk.domain.money import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineLimits:
    per_payment: Money = Money(cents=500_00)
    total_queued: Money = Money(cents=5_000_00)
    queued_count: int = 50
    max_age: dt.timedelta = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedPayments:
    """What already waits for the exchange."""

    count: int
    total: Money
    oldest: dt.datetime | None


def breaches(amount: Money, queued: QueuedPayments, limits: OfflineLimits,
             now: dt.datetime) -> list[str]:
    """The limits a new offline payment of `amount` would break, as stable codes."""
    found = []
    if amount.cents > limits.per_payment.cents:
        found.append("offline_per_payment")
    if queued.total.cents + amount.cents > limits.total_queued.cents:
        found.append("offline_total")
    if queued.count + 1 > limits.queued_count:
        found.append("offline_count")
    if queued.oldest is not None and now - queued.oldest > limits.max_age:
        found.append("offline_age")
    return found
