"""The account's pure rules, property-tested: ZIP codes, phone numbers (E.164 through
phonenumbers), email syntax, the next run of an automatic payment, attachment types by their
first bytes, and the date to call the bank about an unauthorized charge."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain.account import (
    BANK_REPORT_DAYS,
    MAX_ATTACHMENT_BYTES,
    AttachmentType,
    AutopayAmount,
    AutopayKind,
    AutopaySchedule,
    AutopayStatus,
    AutopayTiming,
    DisputeReason,
    attachment_type,
    bank_advice,
    check_reminder_days,
    check_schedule,
    next_run_date,
    normalize_email,
    normalize_phone,
    normalize_zip,
)
from kiosk.domain.money import Money
from kiosk.errors import ValidationError

DAYS = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


@given(st.from_regex(r"\A[0-9]{5}\Z"), st.from_regex(r"\A[0-9]{4}\Z"),
       st.sampled_from(["-", " ", ""]))
def test_zip_codes_of_five_or_nine_digits_normalize(five: str, four: str, sep: str) -> None:
    if five == "00000":
        with pytest.raises(ValidationError):
            normalize_zip(five)
        return
    assert normalize_zip(f" {five} ") == five
    assert normalize_zip(f"{five}{sep}{four}") == f"{five}-{four}"


@given(st.text(max_size=12))
def test_anything_else_is_not_a_zip_code(text: str) -> None:
    digits = text.strip().replace("-", "").replace(" ", "")
    if digits.isascii() and digits.isdigit() and len(digits) in (5, 9):
        return
    with pytest.raises(ValidationError) as refused:
        normalize_zip(text)
    assert refused.value.code == "zip_invalid"


AREA_CODES = ("312", "213", "305", "713", "206", "617", "404", "602", "503", "212", "415")


@given(st.sampled_from(AREA_CODES), st.integers(200, 999), st.integers(0, 9999),
       st.sampled_from(["({a}) {x}-{n}", "{a}.{x}.{n}", "+1 {a} {x} {n}", "1-{a}-{x}-{n}",
                        "{a}{x}{n}"]))
def test_us_phone_numbers_in_any_common_form_become_one_e164(area: str, exchange: int,
                                                             line: int, form: str) -> None:
    x, n = str(exchange), f"{line:04d}"
    if exchange in (555,) or x.endswith("11"):
        return  # service codes and 555 outside 0100-0199 are not assignable
    expected = f"+1{area}{x}{n}"
    assert normalize_phone(form.format(a=area, x=x, n=n)) == expected
    assert normalize_phone(expected) == expected


@pytest.mark.parametrize("text", ["911", "555-1234", "+1 555 555 0100", "call me", "", "+44 12"])
def test_impossible_phone_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        normalize_phone(text)
    assert refused.value.code == "phone_invalid"


ATEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789!#$%&'*+/=?^_`{|}~-",
                min_size=1, max_size=12)
LABEL = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\Z")


@given(st.lists(ATEXT, min_size=1, max_size=3), st.lists(LABEL, min_size=1, max_size=3),
       st.from_regex(r"\A[a-zA-Z]{2,6}\Z"))
def test_well_formed_emails_are_kept_with_the_domain_lower_cased(
        local: list[str], labels: list[str], tld: str) -> None:
    address = f"{'.'.join(local)}@{'.'.join([*labels, tld])}"
    normalized = normalize_email(f"  {address} ")
    assert normalized == f"{'.'.join(local)}@{'.'.join([*labels, tld]).lower()}"
    assert normalize_email(normalized) == normalized


@given(ATEXT, LABEL, st.sampled_from([" ", "@", "..", "(", ",", ";"]))
def test_emails_with_a_character_out_of_place_are_refused(local: str, label: str,
                                                          bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        normalize_email(f"{local}{bad}x@{label}.org")
    assert refused.value.code == "email_invalid"


@pytest.mark.parametrize("text", ["plain", "a@b", "a@.org", "a@b..org", "@example.org",
                                  ".a@example.org", "a.@example.org", "a@-b.org",
                                  "a@b.c0m", f"{'x' * 65}@example.org"])
def test_common_email_mistakes_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        normalize_email(text)


# -- the next run of an automatic payment -------------------------------------------------------

@given(DAYS, st.integers(1, 31))
def test_a_day_of_month_runs_next_on_that_day_or_the_months_last(today: dt.date,
                                                                 day: int) -> None:
    schedule = AutopaySchedule(timing=AutopayTiming.DAY_OF_MONTH, day_of_month=day)
    runs = next_run_date(schedule, today=today)
    assert runs is not None and today <= runs
    assert (runs - today).days <= 31
    assert runs.day == min(day, calendar.monthrange(runs.year, runs.month)[1])
    # Nothing in between would have been a run day.
    between = [today + dt.timedelta(d) for d in range((runs - today).days)]
    assert all(d.day != min(day, calendar.monthrange(d.year, d.month)[1]) for d in between)


@given(DAYS, st.lists(st.integers(-40, 60), max_size=4))
def test_on_the_due_date_it_runs_on_the_next_open_due_date(today: dt.date,
                                                          offsets: list[int]) -> None:
    dues = [today + dt.timedelta(o) for o in offsets]
    runs = next_run_date(AutopaySchedule(), today=today, due_dates=dues)
    upcoming = [d for d in dues if d >= today]
    if upcoming:
        assert runs == min(upcoming)
    else:  # a month's premium is due on the last day of the month before it
        assert runs == today.replace(day=calendar.monthrange(today.year, today.month)[1])


@given(DAYS, st.integers(-5, 5), st.sampled_from(list(AutopayStatus)))
def test_only_an_active_payment_runs_and_a_one_time_one_only_on_its_day(
        today: dt.date, offset: int, status: AutopayStatus) -> None:
    run_on = today + dt.timedelta(offset)
    schedule = AutopaySchedule(kind=AutopayKind.ONE_TIME, run_on=run_on,
                               amount_kind=AutopayAmount.FIXED, fixed_amount=Money(cents=100))
    runs = next_run_date(schedule, today=today, status=status)
    expected = run_on if status is AutopayStatus.ACTIVE and offset >= 0 else None
    assert runs == expected


@pytest.mark.parametrize(("schedule", "code"), [
    (AutopaySchedule(timing=AutopayTiming.DAY_OF_MONTH, day_of_month=32), "autopay_day_invalid"),
    (AutopaySchedule(timing=AutopayTiming.DAY_OF_MONTH), "autopay_day_invalid"),
    (AutopaySchedule(amount_kind=AutopayAmount.FIXED), "autopay_amount_invalid"),
    (AutopaySchedule(amount_kind=AutopayAmount.FIXED, fixed_amount=Money(cents=0)),
     "autopay_amount_invalid"),
    (AutopaySchedule(kind=AutopayKind.ONE_TIME, run_on=dt.date(2026, 11, 28),
                     amount_kind=AutopayAmount.FIXED, fixed_amount=Money(cents=5)),
     "autopay_date_invalid"),
    (AutopaySchedule(kind=AutopayKind.ONE_TIME, run_on=dt.date(2026, 12, 1)),
     "autopay_amount_invalid"),
])
def test_schedules_that_cannot_run_are_refused(schedule: AutopaySchedule, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_schedule(schedule, today=dt.date(2026, 11, 28))
    assert refused.value.code == code


@given(st.lists(st.integers(0, 30), max_size=5))
def test_reminder_days_are_unique_and_largest_first(days: list[int]) -> None:
    assert check_reminder_days(days) == tuple(sorted(set(days), reverse=True))


# -- attachments and the bank -------------------------------------------------------------------

@given(st.sampled_from([(b"%PDF-1.7\n", AttachmentType.PDF),
                        (b"\xff\xd8\xff\xe0", AttachmentType.JPEG),
                        (b"\x89PNG\r\n\x1a\n", AttachmentType.PNG),
                        (b"\x00\x00\x00\x18ftypheic", AttachmentType.HEIC)]),
       st.binary(max_size=64))
def test_attachments_are_known_by_their_first_bytes(magic: tuple[bytes, AttachmentType],
                                                    rest: bytes) -> None:
    assert attachment_type(magic[0] + rest) is magic[1]


@given(st.binary(min_size=1, max_size=64))
def test_anything_else_is_refused_whatever_its_name(content: bytes) -> None:
    magics = (b"%PDF-", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
    if content.startswith(magics) or content[4:8] == b"ftyp":
        return
    with pytest.raises(ValidationError) as refused:
        attachment_type(content)
    assert refused.value.code == "attachment_type_invalid"


def test_an_attachment_over_ten_mebibytes_or_empty_is_refused() -> None:
    for content, code in ((b"%PDF-" + bytes(MAX_ATTACHMENT_BYTES), "attachment_too_large"),
                          (b"", "attachment_empty")):
        with pytest.raises(ValidationError) as refused:
            attachment_type(content)
        assert refused.value.code == code


@given(DAYS, st.one_of(st.none(), DAYS), st.sampled_from(list(DisputeReason)))
def test_only_an_unauthorized_charge_says_to_call_the_bank_within_60_days(
        charged: dt.date, statement: dt.date | None, reason: DisputeReason) -> None:
    advice = bank_advice(reason, charged_on=charged, statement_date=statement)
    assert advice.call_bank is (reason is DisputeReason.UNAUTHORIZED)
    if advice.call_bank:
        assert advice.call_by == (statement or charged) + dt.timedelta(days=BANK_REPORT_DAYS)
        assert "1005.6" in advice.rule
