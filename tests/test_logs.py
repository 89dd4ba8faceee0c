"""The redaction filter keeps secrets and personal data out of every log line."""

from __future__ import annotations

import logging

import pytest

from kiosk.logs import RedactingFilter, redact


@pytest.mark.parametrize(("text", "secret"), [
    ("card 4111 1111 1111 1111 read", "4111 1111 1111 1111"),
    ("pan=4111111111111111", "4111111111111111"),
    ("totp code: 492039 accepted", "492039"),
    ("password=hunter2hunter2", "hunter2hunter2"),
    ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ("mail to ana.perez@example.org failed", "ana.perez@example.org"),
    ("call +1 (312) 555-0100 now", "555-0100"),
    ("key 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c"),
])
def test_secrets_are_masked(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_ordinary_words_and_ids_survive() -> None:
    text = "outbox 12 answered 201: confirm"
    assert redact(text) == text


def test_the_filter_rewrites_formatted_arguments() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "paid with %s",
                               ("4111111111111111",), None)
    RedactingFilter().filter(record)
    assert "4111111111111111" not in record.getMessage()
