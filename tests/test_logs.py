"""The redaction filter keeps secrets and personal data out of every log line; the log file is
JSON lines, owner-only and rotated."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import logs
from kiosk.logs import JsonLinesFormatter, RedactingFilter, redact

# One line of every kind the filter must catch, and the secret inside it.
SECRETS = [
    # card numbers
    ("card 4111 1111 1111 1111 read", "4111 1111 1111 1111"),
    ("pan=4111111111111111", "4111111111111111"),
    ("charged 5500-0000-0000-0004 ok", "5500-0000-0000-0004"),
    # bank account and routing numbers
    ("routing 021000021 account 000123456789", "000123456789"),
    ("routing_number=021000021", "021000021"),
    ("acct #7734221", "7734221"),
    ("iban DE89370400440532013000", "DE89370400440532013000"),
    ('{"account_number": "99887766"}', "99887766"),
    # personal data
    ("mail to ana.perez@example.org failed", "ana.perez@example.org"),
    ("call +1 (312) 555-0100 now", "555-0100"),
    ("ssn 123-45-6789 on file", "123-45-6789"),
    ("name=Søren Quillfeather, plan=P-1", "Quillfeather"),
    ('{"first_name": "Søren", "last_name": "Quillfeather"}', "Søren"),
    ("date_of_birth=1951-04-09", "1951-04-09"),
    ("dob: 1951-04-09", "1951-04-09"),
    ("address='12 Oak Street, Taos'", "Oak Street"),
    # codes
    ("totp code: 492039 accepted", "492039"),
    ("otp=492039", "492039"),
    ("auth_code=A1B2C3", "A1B2C3"),
    ("pin 8841 entered", "8841"),
    # passwords and passphrases
    ("password=hunter2hunter2", "hunter2hunter2"),
    ("password swordfishswordfish tried", "swordfishswordfish"),
    ("recovery_passphrase: 'quill lantern orchard'", "quill lantern"),
    # tokens
    ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ("device_token=demo-device-token-value", "demo-device-token-value"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJzdWIiOiIxIn0"),
    ("sent dGhpcyBpcyBhIHZlcnkgbG9uZyBzZWNyZXQgdG9rZW4xMjM0NTY3OA== upstream",
     "dGhpcyBpcyBhIHZlcnkgbG9uZyBzZWNyZXQgdG9rZW4xMjM0NTY3OA"),
    # keys and secrets
    ("key 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c"),
    ("PRAGMA key = \"x'00112233445566778899aabbccddeeff'\"", "00112233445566778899"),
    ("totp secret DEMODEMODEMODEMODEMODEMODEMODEMO", "DEMODEMODEMODEMO"),
    ("enrolled with JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
]

# Lines the kiosk really writes: they must come out unchanged.
ORDINARY = [
    "outbox 12 answered 201: confirm",
    "sync pass failed",
    "exchange reachable; 3 waiting item(s) due now",
    "applying vault migration 0006_security",
    "vault backup made: vault-20261128T150000Z.db (3 payments)",
    "a staff account was locked after 10 failed sign-ins",
    "an interrupted re-key never reached the vault; the old key stays",
    "outbox 7 never reached the exchange; sending it again",
    "idempotency 3f1c2b8e-9c4d-4b7a-8f3e-2a1b0c9d8e7f sent for member M-900001",
    "sale 12345678-1234-4567-8901-234567890123 approved",  # a uuid4 that is all digits
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secrets_are_masked(text: str, secret: str) -> None:
    assert secret not in redact(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_lines_survive(text: str) -> None:
    assert redact(text) == text


def test_the_filter_rewrites_formatted_arguments() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "paid with %s",
                               ("4111111111111111",), None)
    RedactingFilter().filter(record)
    assert "4111111111111111" not in record.getMessage()


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    folder = tmp_path / "logs"
    logs.configure(folder, level=logging.DEBUG, max_bytes=20_000)
    yield folder
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved[0], saved[1]


def read_lines(folder: Path) -> list[dict[str, object]]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (folder / logs.LOG_FILE).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_every_kind_reaches_the_file_masked_as_json_lines(log_dir: Path) -> None:
    log = logging.getLogger("kiosk.test")
    for text, _secret in SECRETS:
        log.info("seen: %s", text)
    entries = read_lines(log_dir)
    assert len(entries) == len(SECRETS)
    assert {e["level"] for e in entries} == {"INFO"} and entries[0]["logger"] == "kiosk.test"
    raw = (log_dir / logs.LOG_FILE).read_text("utf-8")
    for _text, secret in SECRETS:
        assert secret not in raw


def test_extra_fields_and_tracebacks_are_masked(log_dir: Path) -> None:
    log = logging.getLogger("kiosk.test")
    log.info("member change", extra={"member_name": "Søren Quillfeather", "amount_cents": 1200,
                                     "note": "card 4111111111111111"})
    try:
        raise ValueError("password=hunter2hunter2 rejected")
    except ValueError:
        log.exception("failed")
    first, second = read_lines(log_dir)
    assert first["member_name"] == "[redacted]" and first["amount_cents"] == 1200
    assert "4111111111111111" not in str(first["note"])
    assert "ValueError" in str(second["exc"]) and "hunter2hunter2" not in str(second["exc"])


def test_the_log_file_is_private_and_rotates(log_dir: Path) -> None:
    log = logging.getLogger("kiosk.test")
    for _ in range(300):  # about 180 kB: more than the file and its five older ones hold
        log.info("x" * 500)
    files = sorted(log_dir.iterdir())
    assert log_dir / f"{logs.LOG_FILE}.1" in files and log_dir / f"{logs.LOG_FILE}.2" in files
    assert len(files) == 1 + logs.BACKUPS
    assert all(f.stat().st_size <= 20_000 for f in files)
    assert all(f.stat().st_mode & 0o077 == 0 for f in [log_dir, *files])


def test_a_formatted_entry_is_one_json_object() -> None:
    record = logging.LogRecord("kiosk.x", logging.WARNING, __file__, 1, "code %s", ("492039",),
                               None)
    entry = json.loads(JsonLinesFormatter().format(record))
    assert entry["msg"] == "code [redacted]" and entry["ts"].endswith("Z")
