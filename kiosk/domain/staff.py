"""Staff who sign in at the kiosk, their roles, and the rules for their passwords."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from kiosk.errors import ValidationError

MIN_PASSWORD_LENGTH = 12


class Role(StrEnum):
    NAVIGATOR = "navigator"  # helps members pay; the everyday role
    SUPERVISOR = "supervisor"  # also approves overrides and cancellations
    ADMINISTRATOR = "administrator"  # also manages staff and settings


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffSession:
    """A signed-in staff member."""

    username: str
    display_name: str
    role: Role
    signed_in_at: dt.datetime


def check_username(username: str) -> str:
    """Usernames are short, lower-case and plain so they are easy to type on any keyboard."""
    name = username.strip().lower()
    if not (3 <= len(name) <= 32) or not all(ch.isalnum() or ch in "._-" for ch in name):
        raise ValidationError(code="username_invalid", field="username")
    return name


def check_new_password(password: str) -> None:
    """Length is what matters (NIST SP 800-63B); no composition rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            code="password_too_short", field="password", minimum=MIN_PASSWORD_LENGTH
        )
