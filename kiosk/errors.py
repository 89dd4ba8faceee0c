"""Typed errors of the kiosk core, each with a stable code.

Errors carry codes and data, never sentences: `ui/errors.py` turns each code into a translated
message that says what happened and what to do next.
"""

from __future__ import annotations

from typing import Any


class KioskError(Exception):
    """Base of every error the kiosk core raises on purpose."""

    code = "kiosk_error"

    def __init__(self, *, code: str | None = None, **details: Any) -> None:
        self.code = code or type(self).code
        self.details = details
        super().__init__(self.code, details)


class VaultError(KioskError):
    """The encrypted store cannot be opened or used."""

    code = "vault_error"


class VaultKeyError(VaultError):
    """The vault key is missing or does not open the vault file."""

    code = "vault_key_wrong"


class VaultNotEncryptedError(VaultError):
    """The SQLite library in use has no SQLCipher support."""

    code = "vault_no_cipher"


class AuthError(KioskError):
    """Sign-in or staff enrolment was refused."""

    code = "auth_failed"


class ValidationError(KioskError):
    """Input that breaks a rule; `field` names the input it is about."""

    code = "invalid"

    def __init__(self, *, code: str | None = None, field: str = "", **details: Any) -> None:
        super().__init__(code=code, field=field, **details)
        self.field = field


class NotFoundError(KioskError):
    """A member, invoice or payment that the kiosk does not know."""

    code = "not_found"


class PaymentDeclinedError(KioskError):
    """The card terminal declined; no money was taken."""

    code = "payment_declined"


class TerminalError(KioskError):
    """The card terminal could not be reached or gave no usable answer."""

    code = "terminal_unavailable"
