"""Time source for the core. Production uses the system clock; tests pass a fake."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    """Where the core reads the time. Every service takes one instead of calling time itself."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for timeouts and backoff."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def to_iso(moment: dt.datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with a trailing Z, to the second."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def from_iso(text: str) -> dt.datetime:
    """Parse what `to_iso` writes (and any ISO 8601 with an offset)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
