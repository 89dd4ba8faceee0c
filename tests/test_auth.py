"""Staff sign-in with password and TOTP: right password and code sign in; wrong password,
wrong code and a replayed code are refused; repeated failures slow down and then lock the
account; sessions end; common passwords are refused; staff management checks roles and
step-up; nothing secret reaches the log."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re

import pyotp
import pytest

from kiosk.bootstrap import Core
from kiosk.domain.staff import (
    MAX_SESSION,
    Role,
    StaffSession,
    common_passwords,
    session_valid,
)
from kiosk.errors import AuthError, NotFoundError, ValidationError
from kiosk.services.auth import (
    STAFF_ADD,
    STAFF_REMOVE,
    EnrollStaff,
    SignIn,
    StaffEnrolled,
    add_staff,
    deactivate_staff,
    enroll_staff,
    sign_in,
    step_up,
    unlock_staff,
)
from tests.support import FakeClock

PASSWORD = "quill lantern orchard 1957"


@pytest.fixture
def staff(core: Core) -> StaffEnrolled:
    return enroll_staff(
        EnrollStaff(username="Nav.One", display_name="Navigator One", password=PASSWORD),
        vault=core.vault,
        clock=core.clock,
    )


def code_at(enrolled: StaffEnrolled, clock: FakeClock, steps_back: int = 0) -> str:
    return pyotp.TOTP(enrolled.totp_secret).at(clock.now().timestamp() - 30 * steps_back)


def test_secret_has_160_bits_and_a_provisioning_uri(staff: StaffEnrolled) -> None:
    assert len(base64.b32decode(staff.totp_secret)) * 8 == 160
    assert staff.provisioning_uri.startswith("otpauth://totp/")
    assert staff.username == "nav.one"


def test_right_password_and_code_sign_in(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    session = sign_in(
        SignIn(username="nav.one", password=PASSWORD, code=code_at(staff, clock)),
        vault=core.vault,
        clock=clock,
    )
    assert session.username == "nav.one"
    assert session.display_name == "Navigator One"


@pytest.mark.parametrize("password", ["quill lantern orchard 1958", "", PASSWORD.upper()])
def test_wrong_password_is_refused(
    core: Core, staff: StaffEnrolled, clock: FakeClock, password: str
) -> None:
    with pytest.raises(AuthError) as info:
        sign_in(
            SignIn(username="nav.one", password=password, code=code_at(staff, clock)),
            vault=core.vault,
            clock=clock,
        )
    assert info.value.code == "auth_failed"


def test_unknown_user_gets_the_same_refusal(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    with pytest.raises(AuthError) as info:
        sign_in(
            SignIn(username="nobody", password=PASSWORD, code=code_at(staff, clock)),
            vault=core.vault,
            clock=clock,
        )
    assert info.value.code == "auth_failed"


def test_wrong_and_stale_codes_are_refused(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    good = code_at(staff, clock)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for code in (wrong, code_at(staff, clock, steps_back=2), "12345", "abcdef"):
        with pytest.raises(AuthError) as info:
            sign_in(
                SignIn(username="nav.one", password=PASSWORD, code=code),
                vault=core.vault,
                clock=clock,
            )
        assert info.value.code == "auth_failed"
        clock.advance(5)  # past the growing wait that follows the third failure


def test_previous_step_code_is_accepted_once(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    sign_in(
        SignIn(username="nav.one", password=PASSWORD, code=code_at(staff, clock, 1)),
        vault=core.vault,
        clock=clock,
    )


def test_replayed_code_is_refused_even_within_its_window(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    code = code_at(staff, clock)
    sign_in(SignIn(username="nav.one", password=PASSWORD, code=code), vault=core.vault, clock=clock)
    clock.advance(20)
    with pytest.raises(AuthError) as info:
        sign_in(
            SignIn(username="nav.one", password=PASSWORD, code=code), vault=core.vault, clock=clock
        )
    assert info.value.code == "code_reused"
    clock.advance(30)  # the next step's code is new, so it is accepted
    sign_in(
        SignIn(username="nav.one", password=PASSWORD, code=code_at(staff, clock)),
        vault=core.vault,
        clock=clock,
    )


def test_an_older_code_after_a_newer_one_is_refused(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    previous = code_at(staff, clock, 1)
    sign_in(
        SignIn(username="nav.one", password=PASSWORD, code=code_at(staff, clock)),
        vault=core.vault,
        clock=clock,
    )
    with pytest.raises(AuthError) as info:
        sign_in(
            SignIn(username="nav.one", password=PASSWORD, code=previous),
            vault=core.vault,
            clock=clock,
        )
    assert info.value.code == "code_reused"


def test_refusals_are_audited_without_secrets(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    with pytest.raises(AuthError):
        sign_in(
            SignIn(username="nav.one", password="bad password here", code="000000"),
            vault=core.vault,
            clock=clock,
        )
    rows = core.vault.call(lambda c: c.execute("SELECT * FROM audit").fetchall())
    actions = [r["action"] for r in rows]
    assert "signin.refused" in actions
    assert not any("bad password" in r["detail"] or "000000" in r["detail"] for r in rows)


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("ab", PASSWORD, "username_invalid"),
        ("has space", PASSWORD, "username_invalid"),
        ("nav.two", "short", "password_too_short"),
        ("nav.one", PASSWORD, "username_taken"),
    ],
)
def test_enrolment_refuses_bad_input(
    core: Core, staff: StaffEnrolled, username: str, password: str, code: str
) -> None:
    with pytest.raises(ValidationError) as info:
        enroll_staff(
            EnrollStaff(username=username, display_name="X", password=password),
            vault=core.vault,
            clock=core.clock,
        )
    assert info.value.code == code


# -- password rules and hashing -----------------------------------------------------------------

@pytest.mark.parametrize("password", [
    "123456789012", "passwordpassword", "qwertyuiopas", "PassWordPassWord", "QWERTYUIOPAS",
    "correct horse battery staple", "Correct-Horse-Battery-Staple", "iloveyou1234",
    "jennifer1985", "Welcome2025!", "healthconnector1",
])
def test_common_passwords_are_refused_whatever_their_case_or_spacing(
    core: Core, password: str
) -> None:
    with pytest.raises(ValidationError) as info:
        enroll_staff(EnrollStaff(username="nav.two", display_name="X", password=password),
                     vault=core.vault, clock=core.clock)
    assert info.value.code == "password_too_common"


def test_the_shipped_list_holds_thousands_of_long_common_passwords() -> None:
    assert sum(len(p) >= 12 for p in common_passwords()) >= 2000


def test_a_password_built_on_the_username_is_refused(core: Core) -> None:
    with pytest.raises(ValidationError) as info:
        enroll_staff(EnrollStaff(username="rosa.quintero", display_name="Rosa",
                                 password="Rosa.Quintero-at-the-desk"),
                     vault=core.vault, clock=core.clock)
    assert info.value.code == "password_contains_username"


def test_passwords_are_hashed_with_argon2id_above_the_owasp_minimum(
    core: Core, staff: StaffEnrolled
) -> None:
    stored = core.vault.call(lambda c: c.execute(
        "SELECT password_hash FROM staff WHERE username = 'nav.one'").fetchone()[0])
    match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert match, stored
    memory_kib, passes, lanes = (int(g) for g in match.groups())
    assert memory_kib >= 19 * 1024 and passes >= 2 and lanes >= 1
    assert PASSWORD not in stored


# -- failures, delays and lock ------------------------------------------------------------------

def attempt(core: Core, clock: FakeClock, password: str, code: str | None = None,
            staff: StaffEnrolled | None = None) -> str:
    """Sign in once; the refusal's code, or 'ok'."""
    if code is None:
        code = code_at(staff, clock) if staff else "000000"
    try:
        sign_in(SignIn(username="nav.one", password=password, code=code),
                vault=core.vault, clock=clock)
    except AuthError as exc:
        return exc.code
    return "ok"


def fail_times(core: Core, clock: FakeClock, n: int) -> list[str]:
    """n failed sign-ins, each after any wait the previous one imposed."""
    outcomes = []
    for _ in range(n):
        outcomes.append(attempt(core, clock, "not the password at all"))
        clock.advance(61)
    return outcomes


def test_waits_grow_after_the_third_failure(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    assert attempt(core, clock, "wrong password one") == "auth_failed"
    assert attempt(core, clock, "wrong password two") == "auth_failed"
    assert attempt(core, clock, "wrong password three") == "auth_failed"
    with pytest.raises(AuthError) as info:  # even the right password must wait a second
        sign_in(SignIn(username="nav.one", password=PASSWORD, code=code_at(staff, clock)),
                vault=core.vault, clock=clock)
    assert info.value.code == "signin_delayed" and info.value.details["retry_after"] == 1
    clock.advance(1)
    assert attempt(core, clock, "wrong password four") == "auth_failed"
    clock.advance(1)  # the fourth failure asks for two seconds
    assert attempt(core, clock, PASSWORD, staff=staff) == "signin_delayed"
    clock.advance(1)
    assert attempt(core, clock, PASSWORD, staff=staff) == "ok"


def test_ten_failures_lock_the_account_for_thirty_minutes(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    outcomes = fail_times(core, clock, 10)
    assert outcomes[:9] == ["auth_failed"] * 9 and outcomes[9] == "account_locked"
    clock.advance(29 * 60 - 61 * 1)
    assert attempt(core, clock, PASSWORD, staff=staff) == "account_locked"
    clock.advance(61)
    assert attempt(core, clock, PASSWORD, staff=staff) == "ok"
    rows = core.vault.call(lambda c: c.execute(
        "SELECT failed_signins, locked_until FROM staff WHERE username = 'nav.one'").fetchone())
    assert (rows[0], rows[1]) == (0, None)
    actions = core.vault.call(lambda c: [r[0] for r in c.execute("SELECT action FROM audit")])
    assert "staff.locked" in actions


def test_a_success_resets_the_count(core: Core, staff: StaffEnrolled, clock: FakeClock) -> None:
    fail_times(core, clock, 9)
    assert attempt(core, clock, PASSWORD, staff=staff) == "ok"
    clock.advance(30)
    assert fail_times(core, clock, 9) == ["auth_failed"] * 9


def enrol(core: Core, username: str, role: Role) -> StaffEnrolled:
    return enroll_staff(EnrollStaff(username=username, display_name=username,
                                    password=PASSWORD, role=role),
                        vault=core.vault, clock=core.clock)


def session_of(enrolled: StaffEnrolled, core: Core, clock: FakeClock, *,
               purpose: str = "", min_role: Role = Role.SUPERVISOR) -> StaffSession:
    cmd = SignIn(username=enrolled.username, password=PASSWORD,
                 code=code_at(enrolled, clock))
    if purpose:
        return step_up(cmd, vault=core.vault, clock=clock, purpose=purpose, min_role=min_role)
    return sign_in(cmd, vault=core.vault, clock=clock)


def test_a_supervisor_unlocks_a_locked_account(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    supervisor = enrol(core, "sup.one", Role.SUPERVISOR)
    fail_times(core, clock, 10)
    clock.advance(30)
    changed = unlock_staff("nav.one", by=session_of(supervisor, core, clock), vault=core.vault,
                           clock=clock)
    assert changed.username == "nav.one"
    assert attempt(core, clock, PASSWORD, staff=staff) == "ok"


def test_a_navigator_cannot_unlock_and_unknown_accounts_are_named(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    navigator = session_of(staff, core, clock)
    with pytest.raises(AuthError) as info:
        unlock_staff("nav.one", by=navigator, vault=core.vault, clock=clock)
    assert info.value.code == "supervisor_required"
    clock.advance(30)
    supervisor = session_of(enrol(core, "sup.one", Role.SUPERVISOR), core, clock)
    with pytest.raises(NotFoundError) as missing:
        unlock_staff("nobody.here", by=supervisor, vault=core.vault, clock=clock)
    assert missing.value.code == "staff_unknown"


# -- sessions -----------------------------------------------------------------------------------

def test_a_session_lasts_at_most_twelve_hours(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    session = session_of(staff, core, clock)
    start = clock.now()
    assert session.ends_at == start + MAX_SESSION
    assert session_valid(session, start + dt.timedelta(hours=11, minutes=59))
    assert not session_valid(session, start + dt.timedelta(hours=12))
    forever = StaffSession(username="x", display_name="X", role=Role.NAVIGATOR,
                           signed_in_at=start, expires_at=start + dt.timedelta(days=30))
    assert not session_valid(forever, start + dt.timedelta(hours=13))


def test_a_step_up_session_names_its_purpose_and_ends_soon(
    core: Core, clock: FakeClock
) -> None:
    supervisor = enrol(core, "sup.one", Role.SUPERVISOR)
    session = session_of(supervisor, core, clock, purpose="queue.cancel")
    assert session.step_up_for == "queue.cancel"
    assert not session_valid(session, clock.now() + dt.timedelta(minutes=6))


# -- staff management ---------------------------------------------------------------------------

def test_the_first_account_must_be_able_to_approve_others(core: Core) -> None:
    with pytest.raises(AuthError) as info:
        add_staff(EnrollStaff(username="nav.first", display_name="N", password=PASSWORD),
                  by=None, vault=core.vault, clock=core.clock)
    assert info.value.code == "first_account_role"
    add_staff(EnrollStaff(username="sup.first", display_name="S", password=PASSWORD,
                          role=Role.SUPERVISOR), by=None, vault=core.vault, clock=core.clock)


def test_adding_staff_needs_a_step_up_and_the_right_role(core: Core, clock: FakeClock) -> None:
    supervisor = enrol(core, "sup.one", Role.SUPERVISOR)

    def add(username: str, role: Role, by: StaffSession | None) -> str:
        try:
            add_staff(EnrollStaff(username=username, display_name=username,
                                  password=PASSWORD, role=role),
                      by=by, vault=core.vault, clock=clock)
        except AuthError as exc:
            return exc.code
        return "ok"

    assert add("nav.two", Role.NAVIGATOR, None) == "step_up_required"
    assert add("nav.two", Role.NAVIGATOR, session_of(supervisor, core, clock)) == (
        "step_up_required")
    clock.advance(30)
    approval = session_of(supervisor, core, clock, purpose=STAFF_ADD)
    assert add("nav.two", Role.NAVIGATOR, approval) == "ok"
    assert add("sup.two", Role.SUPERVISOR, approval) == "administrator_required"
    assert add("adm.one", Role.ADMINISTRATOR, approval) == "ok"  # the kiosk had none
    assert add("adm.two", Role.ADMINISTRATOR, approval) == "administrator_required"
    clock.advance(6 * 60)
    assert add("nav.three", Role.NAVIGATOR, approval) == "step_up_required"  # stale


def test_an_administrator_removes_staff_after_a_step_up(
    core: Core, staff: StaffEnrolled, clock: FakeClock
) -> None:
    admin = enrol(core, "adm.one", Role.ADMINISTRATOR)
    supervisor = enrol(core, "sup.one", Role.SUPERVISOR)
    with pytest.raises(AuthError) as plain:
        deactivate_staff("nav.one", by=session_of(admin, core, clock), vault=core.vault,
                         clock=clock)
    assert plain.value.code == "step_up_required"
    with pytest.raises(AuthError) as low:
        session_of(supervisor, core, clock, purpose=STAFF_REMOVE, min_role=Role.ADMINISTRATOR)
    assert low.value.code == "administrator_required"
    clock.advance(30)
    approval = session_of(admin, core, clock, purpose=STAFF_REMOVE, min_role=Role.ADMINISTRATOR)
    with pytest.raises(ValidationError) as own:
        deactivate_staff("adm.one", by=approval, vault=core.vault, clock=clock)
    assert own.value.code == "cannot_remove_self"
    deactivate_staff("nav.one", by=approval, vault=core.vault, clock=clock)
    clock.advance(30)
    assert attempt(core, clock, PASSWORD, staff=staff) == "auth_failed"
    actor = core.vault.call(lambda c: c.execute(
        "SELECT actor FROM audit WHERE action = 'staff.deactivated'").fetchone()[0])
    assert actor == "adm.one"


# -- logs ---------------------------------------------------------------------------------------

def test_nothing_secret_reaches_the_log(
    core: Core, staff: StaffEnrolled, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = code_at(staff, clock)
    fail_times(core, clock, 10)
    clock.advance(31 * 60)
    attempt(core, clock, PASSWORD, code=code_at(staff, clock))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "locked" in text  # the lock itself is logged
    for secret in (PASSWORD, "not the password at all", code, staff.totp_secret):
        assert secret not in text
