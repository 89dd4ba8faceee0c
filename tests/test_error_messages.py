"""Every error code the core raises has a plain-language message (never the generic "Something
went wrong"), and every message's placeholders are filled by the details the error carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.errors import KioskError, ValidationError
from ui.errors import _MESSAGES, message_for

ROOT = Path(__file__).resolve().parent.parent
RAISED = re.compile(r'\bcode\s*=\s*"([a-z0-9_]+)"')
# Codes built from a field name: f"{field}_invalid" and f"channel_needs_{needed}".
BUILT = {"line1_invalid", "line2_invalid", "city_invalid", "channel_needs_email",
         "channel_needs_phone", "channel_needs_address"}
# Class defaults that are never raised as they are, and codes that never reach a person:
# they are mapped to a new outcome (a queue reason) before anything is shown.
NEVER_SHOWN = {"kiosk_error", "vault_error", "not_found", "invalid", "visit_flow",
               "bad_change", "unreadable_answer", "audit_chain_broken"}


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "kiosk").rglob("*.py"):
        codes.update(RAISED.findall(path.read_text(encoding="utf-8")))
    return codes | BUILT


def test_the_scan_finds_codes_from_every_area() -> None:
    found = raised_codes()
    for code in ("auth_failed", "offline_limit", "zip_invalid", "autopay_exists",
                 "vault_key_missing", "attachment_too_large"):
        assert code in found


@pytest.mark.parametrize("code", sorted(raised_codes() - NEVER_SHOWN))
def test_every_raised_code_has_its_own_message(code: str) -> None:
    assert code in _MESSAGES, f"add a message for {code!r} to ui/errors.py"


def test_money_and_counts_in_details_read_as_words() -> None:
    amount = ValidationError(code="dispute_amount_invalid", field="amount", most=12345)
    assert "$123.45" in message_for(amount)
    too_many = ValidationError(code="attachments_too_many", field="attachments", most=5)
    assert message_for(too_many) == "Attach at most 5 files."
    missing = KioskError(code="vault_key_missing", path="keys.json")
    assert "keys.json" in message_for(missing) and "Nothing was changed" in message_for(missing)


def test_a_message_is_shown_even_when_its_error_lacks_a_detail() -> None:
    text = message_for(KioskError(code="backup_unreadable"))  # no path given
    assert text.startswith("The backup file") and "{path}" not in text
