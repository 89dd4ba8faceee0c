"""Staff enrolment, sign-in with a password and a time-based one-time code (TOTP), step-up,
and staff management (add with role checks, unlock, deactivate).

Passwords are hashed with Argon2id at explicit parameters above OWASP's minimum; a hash made
with weaker parameters is upgraded at the next successful sign-in. A TOTP code is accepted for
the current 30-second step or the one before, and each step only once per staff member: the
last accepted step is stored and checked in the same transaction, so a code seen over someone's
shoulder cannot be reused. Consecutive failures are counted in the staff row, in that same
transaction: from the third, attempts wait 2^(n-3) seconds (at most a minute); the tenth locks
the account for 30 minutes or until a supervisor unlocks it. Nothing secret is logged or
audited: refusals record which factor failed, never what was typed.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import math
import secrets
from dataclasses import dataclass, replace
from typing import Any

import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from kiosk.clock import Clock, from_iso, to_iso
from kiosk.domain.staff import (
    MAX_FAILED_SIGNINS,
    MAX_SESSION,
    STEP_UP_VALID,
    Role,
    StaffSession,
    at_least,
    check_new_password,
    check_username,
    enrol_refusal,
    lockout_until,
    session_valid,
    stepped_up_for,
)
from kiosk.errors import AuthError, NotFoundError, ValidationError
from kiosk.services import audit
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

ISSUER = "Health Connector Kiosk"
TOTP_STEP_SECONDS = 30
STAFF_ADD = "staff.add"  # step-up purposes for staff management
STAFF_REMOVE = "staff.remove"
STAFF_UNLOCK = "staff.unlock"
# Argon2id, RFC 9106's second recommended profile (64 MiB, 3 passes, 4 lanes): above OWASP's
# minimum of 19 MiB, 2 passes, 1 lane. Explicit, so a library upgrade cannot lower it.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32,
                         salt_len=16, type=Type.ID)
# A real hash to verify against when the username is unknown, so timing does not tell
# whether a username exists: _HASHER's hash of "not-a-real-password-only-for-timing", made
# once and kept here, because hashing it at import cost every start 0.1 s and 64 MiB.
# Verifying costs what the parameters say, so it is made again if they ever change.
_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$ZN5v12HMJ0ikxcyed5/wDg$"  # pragma: allowlist secret
               "LMHjFuivOE7xavNTNhJCRKM/KvglsCugkVcD94kdw/Q")  # pragma: allowlist secret
if _HASHER.check_needs_rehash(_DUMMY_HASH):
    _DUMMY_HASH = _HASHER.hash("not-a-real-password-only-for-timing")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollStaff:
    username: str
    display_name: str
    password: str
    role: Role = Role.NAVIGATOR
    totp_secret: str | None = None  # only demo set-up passes a fixed secret


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffEnrolled:
    username: str
    totp_secret: str
    provisioning_uri: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignIn:
    username: str
    password: str
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffChanged:
    """What a staff-management action changed."""

    username: str
    action: str  # "unlocked" or "deactivated"


def new_totp_secret() -> str:
    """160 random bits, base32 encoded, as RFC 4226 recommends for the shared secret."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


# -- enrolment ----------------------------------------------------------------------------------

def enroll_staff(cmd: EnrollStaff, *, vault: Vault, clock: Clock) -> StaffEnrolled:
    """Add a staff member without an approver: for the first-run screen and demo set-up.
    Everything else adds staff through `add_staff`. Raises ValidationError for a bad
    username or password."""
    return _enroll(cmd, by=None, checked=False, vault=vault, clock=clock)


def add_staff(cmd: EnrollStaff, *, by: StaffSession | None, vault: Vault,
              clock: Clock) -> StaffEnrolled:
    """Add a staff member, approved by `by`: a session from `step_up(purpose=STAFF_ADD)`.
    Only the very first account needs no approver. Raises AuthError with the refusal's code
    (`step_up_required`, `administrator_required`, `first_account_role`, `session_expired`)."""
    if by is not None and not stepped_up_for(by, STAFF_ADD, clock.now()):
        raise AuthError(code="step_up_required")
    return _enroll(cmd, by=by, checked=True, vault=vault, clock=clock)


def _enroll(cmd: EnrollStaff, *, by: StaffSession | None, checked: bool, vault: Vault,
            clock: Clock) -> StaffEnrolled:
    username = check_username(cmd.username)
    check_new_password(cmd.password, username=username)
    if not cmd.display_name.strip():
        raise ValidationError(code="display_name_missing", field="display_name")
    secret = cmd.totp_secret or new_totp_secret()
    password_hash = _HASHER.hash(cmd.password)
    now = clock.now()

    def insert(conn: Any) -> None:
        if checked:
            _check_may_enrol(conn, by, cmd.role)
        if conn.execute("SELECT 1 FROM staff WHERE username = ?", (username,)).fetchone():
            raise ValidationError(code="username_taken", field="username")
        conn.execute(
            "INSERT INTO staff (username, display_name, role, password_hash, totp_secret,"
            " created_at) VALUES (?,?,?,?,?,?)",
            (username, cmd.display_name.strip(), cmd.role, password_hash, secret, to_iso(now)),
        )
        audit.record(conn, at=now, actor=by.username if by else username,
                     action="staff.enrolled", subject=username, detail=f"role={cmd.role}")

    vault.write(insert)
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return StaffEnrolled(username=username, totp_secret=secret, provisioning_uri=uri)


def _check_may_enrol(conn: Any, by: StaffSession | None, role: Role) -> None:
    roles = [r[0] for r in conn.execute("SELECT role FROM staff WHERE active = 1")]
    if by is not None:
        _require_active(conn, by.username)
    refusal = enrol_refusal(by=by.role if by else None, role=role, has_staff=bool(roles),
                            has_administrator=Role.ADMINISTRATOR in roles)
    if refusal is not None:
        raise AuthError(code=refusal)


def staff_count(*, vault: Vault) -> int:
    """How many staff accounts exist; zero means the kiosk needs its first-run enrolment."""
    return int(vault.call(lambda conn: conn.execute("SELECT count(*) FROM staff").fetchone()[0]))


# -- sign-in ------------------------------------------------------------------------------------

def _matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step whose code equals `code`: the current step or the one before."""
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)
    step = int(now.timestamp()) // TOTP_STEP_SECONDS
    for candidate in (step, step - 1):
        expected = totp.at(candidate * TOTP_STEP_SECONDS)
        if secrets.compare_digest(expected, code):
            return candidate
    return None


def _password_ok(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in(cmd: SignIn, *, vault: Vault, clock: Clock, action: str = "signin") -> StaffSession:
    """Check password and code; on success record the code's step so it is never accepted again.

    Raises AuthError with code `auth_failed` for a wrong username, password or code (one code,
    so the screen cannot tell an attacker which part was wrong), `code_reused` for a code
    that was already used, `signin_delayed` (with `retry_after` seconds) while an account
    waits after repeated failures, and `account_locked` (with `until`) once it is locked.
    The slow password hash runs on the caller's thread, not the vault's.
    """
    username = cmd.username.strip().lower()
    code = "".join(cmd.code.split())
    now = clock.now()
    row = vault.call(
        lambda conn: conn.execute(
            "SELECT password_hash, failed_signins, locked_until FROM staff"
            " WHERE username = ? AND active = 1", (username,)
        ).fetchone()
    )
    waiting = row is not None and _refusal_while_locked(row, now) is not None
    password_ok = not waiting and _password_ok(
        row["password_hash"] if row else _DUMMY_HASH, cmd.password)
    outcome = vault.write(lambda conn: _accept_code(conn, username, code, now, password_ok,
                                                    action))
    if isinstance(outcome, AuthError):
        raise outcome
    if row is not None and password_ok and _HASHER.check_needs_rehash(row["password_hash"]):
        _upgrade_hash(vault, username, cmd.password)
    return outcome


def _upgrade_hash(vault: Vault, username: str, password: str) -> None:
    new_hash = _HASHER.hash(password)
    vault.write(lambda conn: conn.execute(
        "UPDATE staff SET password_hash = ? WHERE username = ?", (new_hash, username)))


def step_up(cmd: SignIn, *, vault: Vault, clock: Clock, purpose: str,
            min_role: Role = Role.SUPERVISOR) -> StaffSession:
    """Ask for password and a fresh code again before a sensitive action (an override, a
    cancellation, staff management, a restore). The code is consumed like a sign-in code.
    The session returned names `purpose` and lasts STEP_UP_VALID. Raises AuthError as
    `sign_in` does, or with code `supervisor_required` when the person's role is too low."""
    session = sign_in(cmd, vault=vault, clock=clock, action=f"stepup.{purpose}")
    if not at_least(session.role, min_role):
        raise AuthError(code="supervisor_required" if min_role is Role.SUPERVISOR
                        else "administrator_required")
    return replace(session, step_up_for=purpose,
                   expires_at=session.signed_in_at + STEP_UP_VALID)


def _refusal_while_locked(row: Any, now: dt.datetime) -> AuthError | None:
    """The refusal for an account that must wait or is locked at `now`; None otherwise."""
    if not row["locked_until"]:
        return None
    until = from_iso(row["locked_until"])
    if now >= until:
        return None
    if row["failed_signins"] >= MAX_FAILED_SIGNINS:
        return AuthError(code="account_locked", until=row["locked_until"])
    return AuthError(code="signin_delayed",
                     retry_after=math.ceil((until - now).total_seconds()))


def _failed_factor(row: Any, code: str, now: dt.datetime,
                   password_ok: bool) -> tuple[int, str]:
    """The code's time step, and which factor failed ("" when none did)."""
    if not password_ok:
        return 0, "password"
    step = _matching_step(row["totp_secret"], code, now) if len(code) == 6 else None
    if step is None:
        return 0, "code"
    if step <= row["last_totp_step"]:
        return 0, "replay"
    return step, ""


def _accept_code(
    conn: Any, username: str, code: str, now: dt.datetime, password_ok: bool, action: str
) -> StaffSession | AuthError:
    """Inside one transaction: check lock, factors and the code's step; count a failure or
    store the step; audit the outcome. Returns a refusal instead of raising it so that its
    audit entry and failure count are committed."""
    row = conn.execute(
        "SELECT * FROM staff WHERE username = ? AND active = 1", (username,)
    ).fetchone()
    if row is None:
        audit.record(conn, at=now, actor=username, action=f"{action}.refused", detail="password")
        return AuthError(code="auth_failed")
    waiting = _refusal_while_locked(row, now)
    if waiting is not None:
        audit.record(conn, at=now, actor=username, action=f"{action}.refused",
                     detail=waiting.code)
        return waiting
    step, failed = _failed_factor(row, code, now, password_ok)
    if failed:
        return _count_failure(conn, row, now, action, failed)
    conn.execute("UPDATE staff SET last_totp_step = ?, failed_signins = 0, locked_until = NULL"
                 " WHERE username = ?", (step, username))
    audit.record(conn, at=now, actor=username, action=action)
    return StaffSession(username=username, display_name=row["display_name"],
                        role=Role(row["role"]), signed_in_at=now, expires_at=now + MAX_SESSION)


def _count_failure(conn: Any, row: Any, now: dt.datetime, action: str,
                   failed: str) -> AuthError:
    username = row["username"]
    failures = int(row["failed_signins"]) + 1
    until = lockout_until(failures, now)
    conn.execute("UPDATE staff SET failed_signins = ?, locked_until = ? WHERE username = ?",
                 (failures, to_iso(until) if until else None, username))
    audit.record(conn, at=now, actor=username, action=f"{action}.refused", detail=failed)
    if until is not None and failures >= MAX_FAILED_SIGNINS:
        audit.record(conn, at=now, actor=username, action="staff.locked", subject=username,
                     detail=f"failures={failures}")
        log.warning("a staff account was locked after %d failed sign-ins", failures)
        return AuthError(code="account_locked", until=to_iso(until))
    return AuthError(code="code_reused" if failed == "replay" else "auth_failed")


# -- staff management ---------------------------------------------------------------------------

def _require_active(conn: Any, username: str) -> None:
    if not conn.execute("SELECT 1 FROM staff WHERE username = ? AND active = 1",
                        (username,)).fetchone():
        raise AuthError(code="session_expired")


def _target(conn: Any, username: str) -> Any:
    row = conn.execute("SELECT * FROM staff WHERE username = ? AND active = 1",
                       (username,)).fetchone()
    if row is None:
        raise NotFoundError(code="staff_unknown", username=username)
    return row


def unlock_staff(username: str, *, by: StaffSession, vault: Vault,
                 clock: Clock) -> StaffChanged:
    """A supervisor (or administrator) clears an account's failed sign-ins and lock.
    Raises AuthError `session_expired` or `supervisor_required`, NotFoundError
    `staff_unknown`."""
    now = clock.now()
    if not session_valid(by, now):
        raise AuthError(code="session_expired")
    if not at_least(by.role, Role.SUPERVISOR):
        raise AuthError(code="supervisor_required")
    name = username.strip().lower()

    def clear(conn: Any) -> StaffChanged:
        _require_active(conn, by.username)
        _target(conn, name)
        conn.execute("UPDATE staff SET failed_signins = 0, locked_until = NULL"
                     " WHERE username = ?", (name,))
        audit.record(conn, at=now, actor=by.username, action="staff.unlocked", subject=name)
        return StaffChanged(username=name, action="unlocked")

    return vault.write(clear)


def deactivate_staff(username: str, *, by: StaffSession, vault: Vault,
                     clock: Clock) -> StaffChanged:
    """An administrator removes an account: it can no longer sign in; its row stays, since
    payments and the audit trail name it. `by` must come from `step_up(purpose=STAFF_REMOVE,
    min_role=Role.ADMINISTRATOR)`. Raises AuthError `step_up_required` or
    `administrator_required`, ValidationError `cannot_remove_self`, NotFoundError
    `staff_unknown`."""
    now = clock.now()
    if not stepped_up_for(by, STAFF_REMOVE, now):
        raise AuthError(code="step_up_required")
    if by.role is not Role.ADMINISTRATOR:
        raise AuthError(code="administrator_required")
    name = username.strip().lower()
    if name == by.username:
        raise ValidationError(code="cannot_remove_self", field="username")

    def deactivate(conn: Any) -> StaffChanged:
        _require_active(conn, by.username)
        _target(conn, name)
        conn.execute("UPDATE staff SET active = 0, deactivated_at = ?, deactivated_by = ?"
                     " WHERE username = ?", (to_iso(now), by.username, name))
        audit.record(conn, at=now, actor=by.username, action="staff.deactivated",
                     subject=name)
        return StaffChanged(username=name, action="deactivated")

    return vault.write(deactivate)
