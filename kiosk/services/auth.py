"""Staff enrolment and sign-in with a password and a time-based one-time code (TOTP).

Passwords are hashed with Argon2id. A TOTP code is accepted for the current 30-second step or
the one before, and each step only once per staff member: the last accepted step is stored
and checked in the same transaction, so a code seen over someone's shoulder cannot be reused.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kiosk.clock import Clock, to_iso
from kiosk.domain.staff import Role, StaffSession, check_new_password, check_username
from kiosk.errors import AuthError, ValidationError
from kiosk.services import audit
from kiosk.store.vault import Vault

ISSUER = "Health Connector Kiosk"
TOTP_STEP_SECONDS = 30
_HASHER = PasswordHasher()  # argon2-cffi defaults: Argon2id, RFC 9106 low-memory profile
# A real hash to verify against when the username is unknown, so timing does not tell
# whether a username exists.
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


def new_totp_secret() -> str:
    """160 random bits, base32 encoded, as RFC 4226 recommends for the shared secret."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def enroll_staff(cmd: EnrollStaff, *, vault: Vault, clock: Clock) -> StaffEnrolled:
    """Add a staff member. Raises ValidationError for a bad username or password."""
    username = check_username(cmd.username)
    check_new_password(cmd.password)
    if not cmd.display_name.strip():
        raise ValidationError(code="display_name_missing", field="display_name")
    secret = cmd.totp_secret or new_totp_secret()
    password_hash = _HASHER.hash(cmd.password)
    now = clock.now()

    def insert(conn: Any) -> None:
        if conn.execute("SELECT 1 FROM staff WHERE username = ?", (username,)).fetchone():
            raise ValidationError(code="username_taken", field="username")
        conn.execute(
            "INSERT INTO staff (username, display_name, role, password_hash, totp_secret,"
            " created_at) VALUES (?,?,?,?,?,?)",
            (username, cmd.display_name.strip(), cmd.role, password_hash, secret, to_iso(now)),
        )
        audit.record(conn, at=now, actor=username, action="staff.enrolled", subject=username)

    vault.write(insert)
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return StaffEnrolled(username=username, totp_secret=secret, provisioning_uri=uri)


def staff_count(*, vault: Vault) -> int:
    """How many staff accounts exist; zero means the kiosk needs its first-run enrolment."""
    return int(vault.call(lambda conn: conn.execute("SELECT count(*) FROM staff").fetchone()[0]))


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
    so the screen cannot tell an attacker which part was wrong) and `code_reused` for a code
    that was already used. The slow password hash runs on the caller's thread, not the vault's.
    """
    username = cmd.username.strip().lower()
    code = "".join(cmd.code.split())
    now = clock.now()
    row = vault.call(
        lambda conn: conn.execute(
            "SELECT password_hash FROM staff WHERE username = ? AND active = 1", (username,)
        ).fetchone()
    )
    password_ok = _password_ok(row["password_hash"] if row else _DUMMY_HASH, cmd.password)
    outcome = vault.write(lambda conn: _accept_code(conn, username, code, now, password_ok,
                                                    action))
    if isinstance(outcome, AuthError):
        raise outcome
    return outcome


_RANK = {Role.NAVIGATOR: 0, Role.SUPERVISOR: 1, Role.ADMINISTRATOR: 2}


def step_up(cmd: SignIn, *, vault: Vault, clock: Clock, purpose: str,
            min_role: Role = Role.SUPERVISOR) -> StaffSession:
    """Ask for password and a fresh code again before a sensitive action (an override, a
    cancellation). The code is consumed like a sign-in code. Raises AuthError as `sign_in`
    does, or with code `supervisor_required` when the person's role is too low."""
    session = sign_in(cmd, vault=vault, clock=clock, action=f"stepup.{purpose}")
    if _RANK[session.role] < _RANK[min_role]:
        raise AuthError(code="supervisor_required")
    return session


def _accept_code(
    conn: Any, username: str, code: str, now: dt.datetime, password_ok: bool, action: str
) -> StaffSession | AuthError:
    """Inside one transaction: check the code's step is new, store it, audit the outcome.

    Returns the refusal instead of raising it so that its audit entry is committed.
    """
    row = conn.execute(
        "SELECT * FROM staff WHERE username = ? AND active = 1", (username,)
    ).fetchone()
    if row is None or not password_ok:
        audit.record(conn, at=now, actor=username, action=f"{action}.refused", detail="password")
        return AuthError(code="auth_failed")
    step = _matching_step(row["totp_secret"], code, now) if len(code) == 6 else None
    if step is None:
        audit.record(conn, at=now, actor=username, action=f"{action}.refused", detail="code")
        return AuthError(code="auth_failed")
    if step <= row["last_totp_step"]:
        audit.record(conn, at=now, actor=username, action=f"{action}.refused", detail="replay")
        return AuthError(code="code_reused")
    conn.execute("UPDATE staff SET last_totp_step = ? WHERE username = ?", (step, username))
    audit.record(conn, at=now, actor=username, action=action)
    return StaffSession(
        username=username,
        display_name=row["display_name"],
        role=Role(row["role"]),
        signed_in_at=now,
    )
