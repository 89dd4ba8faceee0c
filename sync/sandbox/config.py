"""Settings of one sandbox exchange: the device token it accepts, the demo data it seeds and
how long it keeps idempotency keys.

This module imports nothing beyond the standard library, so that the kiosk's demo mode can read
the demo token and defaults (through `sync.sandbox.server`) without loading the web stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

DEMO_TOKEN = "demo-device-token-NOT-A-SECRET"
"""The device token of the demo kiosk (docs/SYNC_CONTRACT.md). Deliberately not a secret."""

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
    """

    token: str = DEMO_TOKEN
    seed: int = DEFAULT_SEED
    members: int = DEFAULT_MEMBERS
    today: date = field(default_factory=date.today)
    key_retention_days: int = DEFAULT_KEY_RETENTION_DAYS
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        if self.members < MIN_MEMBERS:
            raise ValueError(f"members must be at least {MIN_MEMBERS}, got {self.members}")
        if self.key_retention_days < 1:
            raise ValueError("key_retention_days must be at least 1")
        if not self.token:
            raise ValueError("token must not be empty")
