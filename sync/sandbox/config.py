"""Settings of one sandbox exchange: the demo device secret it accepts from kiosks that have
not enrolled, the demo data it seeds, how long it keeps idempotency keys, and its clocks.

This module imports nothing beyond the standard library, so that the kiosk's demo mode can read
the demo token and defaults (through `sync.sandbox.server`) without loading the web stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

DEMO_TOKEN = "demo-device-token-NOT-A-SECRET"
"""The demo device secret (docs/SYNC_CONTRACT.md). Deliberately not a secret: the sandbox
accepts signatures made with it from any kiosk id that has not enrolled, a convenience a real
exchange never offers."""

DEFAULT_SEED = 7
DEFAULT_MEMBERS = 240
DEFAULT_KEY_RETENTION_DAYS = 45
MIN_MEMBERS = 10


def utc_now() -> datetime:
    """The current time as an aware UTC datetime; the default clock of the exchange."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class SandboxConfig:
    """How one sandbox exchange behaves.

    `today` anchors the demo data (coverage months, due dates, past-due status) and member
    status after payments; `clock` stamps payments and idempotency keys. Tests fix both.
    `wall_time` (seconds since the epoch) is what request signatures are checked against:
    always the real time unless a test injects another, never the business clock.
    `token` is the demo device secret, accepted for kiosks not enrolled while
    `accept_demo_secret` holds.
    """

    token: str = DEMO_TOKEN
    accept_demo_secret: bool = True
    seed: int = DEFAULT_SEED
    members: int = DEFAULT_MEMBERS
    today: date = field(default_factory=date.today)
    key_retention_days: int = DEFAULT_KEY_RETENTION_DAYS
    clock: Callable[[], datetime] = utc_now
    wall_time: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.members < MIN_MEMBERS:
            raise ValueError(f"members must be at least {MIN_MEMBERS}, got {self.members}")
        if self.key_retention_days < 1:
            raise ValueError("key_retention_days must be at least 1")
        if not self.token:
            raise ValueError("token must not be empty")
