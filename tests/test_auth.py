"""Staff sign-in with password and TOTP: right password and code sign in; wrong password,
wrong code and a replayed code are refused."""

from __future__ import annotations

import base64

import pyotp
import pytest

from kiosk.bootstrap import Core
from kiosk.errors import AuthError, ValidationError
from kiosk.services.auth import EnrollStaff, SignIn, StaffEnrolled, enroll_staff, sign_in
from tests.support import FakeClock

PASSWORD = "correct horse battery staple"


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


@pytest.mark.parametrize("password", ["wrong horse battery staple", "", PASSWORD.upper()])
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
