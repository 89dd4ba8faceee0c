"""Demo mode's staff account. Everything here is a published demo value, not a secret.

The demo navigator's TOTP secret is fixed so that `make totp` can print the current code for
whoever is trying the kiosk; real accounts always get a fresh random secret.
"""

from __future__ import annotations

import pyotp

from kiosk.clock import Clock
from kiosk.domain.staff import Role
from kiosk.services.auth import EnrollStaff, enroll_staff
from kiosk.store.vault import Vault

DEMO_USERNAME = "demo.navigator"
DEMO_PASSWORD = "demo-password-not-secret"  # demo only
DEMO_DISPLAY_NAME = "Demo Navigator"
# 160 bits, base32; demo only, published in the README.
DEMO_TOTP_SECRET = "DEMODEMODEMODEMODEMODEMODEMODEMO"


def ensure_demo_staff(*, vault: Vault, clock: Clock) -> None:
    """Create the demo navigator when the demo vault has none."""
    exists = vault.call(
        lambda conn: conn.execute(
            "SELECT 1 FROM staff WHERE username = ?", (DEMO_USERNAME,)
        ).fetchone()
    )
    if not exists:
        enroll_staff(
            EnrollStaff(username=DEMO_USERNAME, display_name=DEMO_DISPLAY_NAME,
                        password=DEMO_PASSWORD, role=Role.NAVIGATOR,
                        totp_secret=DEMO_TOTP_SECRET),
            vault=vault, clock=clock,
        )


def current_demo_code(clock: Clock) -> str:
    """The demo navigator's code for the current 30-second step."""
    return pyotp.TOTP(DEMO_TOTP_SECRET).at(clock.now())


def seconds_left(clock: Clock) -> int:
    """Seconds until the demo code changes."""
    return 30 - int(clock.now().timestamp()) % 30
