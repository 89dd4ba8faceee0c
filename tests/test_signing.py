"""Request signatures: a signed request holds; any change to what was signed, another
kiosk's secret, or a clock more than five minutes off is refused with its own code; odd
headers from outside never crash the check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.signing import (
    MAX_SKEW_SECONDS,
    SIGNATURE_HEADER,
    TIME_HEADER,
    DeviceCredential,
    new_secret,
    refusal,
    signed_headers,
)

NOW = 1_795_000_000.0
CRED = DeviceCredential(kiosk_id="K042", secret=new_secret())
BODY = b'{"payment_id": "p-1", "amount_cents": 12345}'


def check(headers: dict[str, str], *, secret: str | None = CRED.secret, method: str = "POST",
          path: str = "/v1/payments", body: bytes = BODY, now: float = NOW) -> str | None:
    return refusal(headers, secret=secret, method=method, path=path, body=body, now=now)


def signed(**changes: object) -> dict[str, str]:
    args: dict[str, object] = {"method": "POST", "path": "/v1/payments", "now": NOW,
                               "body": BODY}
    args.update(changes)
    return signed_headers(CRED, **args)  # type: ignore[arg-type]


def test_a_signed_request_holds_and_its_headers_name_the_kiosk() -> None:
    headers = signed()
    assert check(headers) is None
    assert headers["X-Kiosk-Id"] == "K042" and headers[TIME_HEADER] == str(int(NOW))
    assert headers[SIGNATURE_HEADER].startswith("v1=")
    assert CRED.secret not in repr(CRED)


@pytest.mark.parametrize("changed", [
    {"method": "PUT"}, {"path": "/v1/payments?x=1"}, {"body": BODY + b" "},
    {"body": b""},
])
def test_any_change_to_what_was_signed_is_refused(changed: dict[str, object]) -> None:
    assert check(signed(), **changed) == "signature_invalid"  # type: ignore[arg-type]


def test_a_changed_timestamp_or_kiosk_or_secret_is_refused() -> None:
    headers = signed()
    assert check({**headers, TIME_HEADER: str(int(NOW) + 1)}) == "signature_invalid"
    assert check({**headers, "X-Kiosk-Id": "K043"}) == "signature_invalid"
    assert check(headers, secret=new_secret()) == "signature_invalid"
    assert check(headers, secret=None) == "device_unknown"


def test_a_clock_more_than_five_minutes_off_is_refused_either_way() -> None:
    for offset in (MAX_SKEW_SECONDS, -MAX_SKEW_SECONDS):
        assert check(signed(now=NOW + offset)) is None
    for offset in (MAX_SKEW_SECONDS + 1, -MAX_SKEW_SECONDS - 1):
        assert check(signed(now=NOW + offset)) == "signature_expired"


def test_missing_or_malformed_headers_have_their_own_codes() -> None:
    headers = signed()
    for name in headers:
        assert check({k: v for k, v in headers.items() if k != name}) == "signature_missing"
    for bad in ("-5", "1e9", "٣٣٣", "9" * 40, " 1"):
        assert check({**headers, TIME_HEADER: bad}) == "signature_timestamp_invalid"
    lowered = {k.lower(): v for k, v in headers.items()}
    assert check(lowered) is None  # header names are not case-sensitive


@given(st.dictionaries(st.sampled_from(["X-Kiosk-Id", "X-Signature-Timestamp", "X-Signature",
                                        "x-signature", "Other"]),
                       st.text(max_size=80)),
       st.binary(max_size=200))
def test_whatever_arrives_the_check_answers_with_a_code(headers: dict[str, str],
                                                        body: bytes) -> None:
    answer = check(headers, body=body)  # random text never makes a valid signature
    assert answer in {"signature_missing", "signature_timestamp_invalid", "signature_expired",
                      "signature_invalid"}
