"""Test helpers: a settable clock and a seeded source of ids. The only fakes the suite uses."""

from __future__ import annotations

import datetime as dt
import random
import uuid


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 11, 28, 15, 0, 0, tzinfo=dt.UTC)
        self._mono = 1000.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += seconds


class SeededIds:
    """uuid4-shaped ids from a seeded generator, so a test run is repeatable."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = random.Random(seed)

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)
