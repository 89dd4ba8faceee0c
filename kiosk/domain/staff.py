"""Staff who sign in at the kiosk, their roles, sessions, and the rules for their passwords,
failed sign-ins and who may add whom."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from kiosk.errors import ValidationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # NIST asks for at least 64; this only bounds the hashing work
MAX_SESSION = dt.timedelta(hours=12)
STEP_UP_VALID = dt.timedelta(minutes=5)  # a step-up approves one action, soon after
MAX_FAILED_SIGNINS = 10
LOCKOUT = dt.timedelta(minutes=30)
DELAY_AFTER_FAILURES = 3
MAX_DELAY_SECONDS = 60
_COMMON_PASSWORDS = Path(__file__).resolve().parents[2] / "resources" / "common-passwords.txt"
_SEPARATORS = re.compile(r"[\s._-]+")


class Role(StrEnum):
    NAVIGATOR = "navigator"  # helps members pay; the everyday role
    SUPERVISOR = "supervisor"  # also approves overrides and cancellations, unlocks accounts
    ADMINISTRATOR = "administrator"  # also manages staff and settings


_RANK = {Role.NAVIGATOR: 0, Role.SUPERVISOR: 1, Role.ADMINISTRATOR: 2}


def at_least(role: Role, minimum: Role) -> bool:
    """Whether `role` may do what `minimum` may."""
    return _RANK[role] >= _RANK[minimum]


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffSession:
    """A signed-in staff member. A session made by a step-up names what it approves."""

    username: str
    display_name: str
    role: Role
    signed_in_at: dt.datetime
    expires_at: dt.datetime | None = None  # None: MAX_SESSION after signing in
    step_up_for: str = ""  # the purpose a step-up approved; "" for an ordinary sign-in

    @property
    def ends_at(self) -> dt.datetime:
        """When the session ends: its own expiry, and never later than MAX_SESSION."""
        limit = self.signed_in_at + MAX_SESSION
        return limit if self.expires_at is None else min(self.expires_at, limit)


def session_valid(session: StaffSession, now: dt.datetime) -> bool:
    """Whether the session may still act at `now`."""
    return session.signed_in_at <= now < session.ends_at


def stepped_up_for(session: StaffSession, purpose: str, now: dt.datetime) -> bool:
    """Whether the session comes from a step-up for `purpose` that is still fresh."""
    return session.step_up_for == purpose and session_valid(session, now)


# What a step-up approves, named in the approving session (`StaffSession.step_up_for`).
OFFLINE_OVERRIDE = "offline_override"  # an offline payment beyond a limit
CANCEL_PAYMENT = "cancel"  # cancelling a queued payment that was never sent
REPORT_EXPORT = "report.export"  # saving a report outside the vault


def approval_refusal(session: StaffSession, purpose: str, now: dt.datetime,
                     minimum: Role = Role.SUPERVISOR) -> str | None:
    """Why `session` may not approve `purpose` at `now`, as an error code; None when it may.
    An approval is a fresh step-up for exactly this purpose by someone of at least `minimum`:
    the navigator's own sign-in, or an approval given for something else, is not one."""
    if not at_least(session.role, minimum):
        return "supervisor_required" if minimum is Role.SUPERVISOR else "administrator_required"
    if not stepped_up_for(session, purpose, now):
        return "step_up_required"
    return None


def lockout_until(failures: int, now: dt.datetime) -> dt.datetime | None:
    """After `failures` consecutive failed sign-ins: no wait before the third, then
    2^(n-3) seconds (at most a minute), and from the tenth a 30-minute lock."""
    if failures >= MAX_FAILED_SIGNINS:
        return now + LOCKOUT
    if failures >= DELAY_AFTER_FAILURES:
        seconds = min(2 ** (failures - DELAY_AFTER_FAILURES), MAX_DELAY_SECONDS)
        return now + dt.timedelta(seconds=seconds)
    return None


def enrol_refusal(*, by: Role | None, role: Role, has_staff: bool,
                  has_administrator: bool) -> str | None:
    """Why `by` may not add an account with `role`, as an error code; None when allowed.

    The first account needs no approval but must be able to approve others (supervisor or
    administrator). After that an administrator adds anyone; a supervisor adds navigators,
    and an administrator on a kiosk that has none yet (sites set up before roles existed).
    """
    if not has_staff:
        return None if at_least(role, Role.SUPERVISOR) else "first_account_role"
    if by is None:
        return "step_up_required"
    if by is Role.ADMINISTRATOR:
        return None
    if by is Role.SUPERVISOR and (role is Role.NAVIGATOR or
                                  (role is Role.ADMINISTRATOR and not has_administrator)):
        return None
    return "administrator_required"


def check_username(username: str) -> str:
    """Usernames are short, lower-case and plain so they are easy to type on any keyboard."""
    name = username.strip().lower()
    if not (3 <= len(name) <= 32) or not all(ch.isalnum() or ch in "._-" for ch in name):
        raise ValidationError(code="username_invalid", field="username")
    return name


def _fold(text: str) -> str:
    return _SEPARATORS.sub("", text.casefold())


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, folded (case, spaces, dots, dashes ignored)."""
    lines = _COMMON_PASSWORDS.read_text("utf-8").splitlines()
    return frozenset(_fold(line) for line in lines if line.strip() and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    return _fold(password) in common_passwords()


def check_new_password(password: str, *, username: str = "") -> None:
    """Length is what matters (NIST SP 800-63B); no composition rules. A password from the
    list of common ones, or one built around the username, is refused."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            code="password_too_short", field="password", minimum=MIN_PASSWORD_LENGTH
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            code="password_too_long", field="password", maximum=MAX_PASSWORD_LENGTH
        )
    if is_common_password(password):
        raise ValidationError(code="password_too_common", field="password")
    if len(username) >= 3 and _fold(username) in _fold(password):
        raise ValidationError(code="password_contains_username", field="password")
