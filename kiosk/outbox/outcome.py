"""What the sync worker decided about one delivery attempt, in terms the core understands.

The worker (in `sync/`) turns an HTTP answer or a network failure into an `Outcome`; the core
records it (`kiosk.services.delivery.record_outcome`) in one vault transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    CONFIRM = "confirm"  # the exchange holds it: finish the row as confirmed
    NEEDS_ATTENTION = "needs_attention"  # refused for good: a person must act
    RETRY = "retry"  # outcome unknown or temporarily refused: send again later, same key
    PAUSE = "pause"  # the kiosk's credential was refused: hold the whole queue


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    action: Action
    reason: str  # a stable code such as "http_503" or "connection_error"; never a sentence
    status: int | None = None
    body: bytes | None = None
    retry_at: dt.datetime | None = None
