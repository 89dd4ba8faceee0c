"""Logging set-up: JSON lines in a rotating, owner-only file (and plain lines on stderr), with
a redaction filter, so secrets and personal data never reach a log.

Redaction masks, in every message, argument, extra field and traceback: card numbers (13 to
19 digits) and other long digit runs (bank account and routing numbers), social security
numbers, values after words for secrets (password, passphrase, code, totp, token, secret,
key, pin, cvv ...) and for account numbers (account, routing, iban ...), values of personal
fields (name, date of birth, address, phone, email ...), bearer tokens and JWTs, PEM private
keys, e-mail addresses, US phone numbers, hex keys, base32 TOTP secrets and base64 blobs.
Extra fields whose names are sensitive are dropped to "[redacted]" whole.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

LOG_FILE = "kiosk.jsonl"
MAX_BYTES = 2_000_000
BACKUPS = 5

# Words after which the next word is always a secret, and words common in ordinary prose
# ("the key stays") after which only a value with a digit is taken for one.
_STRONG_WORDS = r"passwords?|passwd|passphrase|pwd|secret|token|credential|authorization"
_WEAK_WORDS = r"api[_-]?key|key|code|totp|otp|pin|cvv|cvc|signature"
_SECRET_WORDS = f"{_STRONG_WORDS}|{_WEAK_WORDS}"
_ACCOUNT_WORDS = r"account(?:[ _-]?(?:number|no|num))?|acct|routing(?:[ _-]?number)?|aba|iban"
_PERSONAL_WORDS = (r"(?:first|last|full|middle|member|given|family)[ _-]?name|name|"
                   r"date[ _-]?of[ _-]?birth|dob|birth[ _-]?date|birthday|address|street|"
                   r"zip(?:[ _-]?code)?|ssn|phone|email")
_VALUE = r"(\"[^\"]*\"|'[^']*'|[^\s,;}\]]+)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.S), "[private key]"),
    (re.compile(r"(?i)bearer\s+\S+"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), "[token]"),
    # key = value and "key": "value" forms, the key possibly part of a longer name
    (re.compile(rf"(?i)(\b[\w.-]*(?:{_SECRET_WORDS}|{_ACCOUNT_WORDS})[\w.-]*[\"']?\s*[:=]\s*)"
                rf"{_VALUE}"), r"\1[redacted]"),
    (re.compile(rf"(?i)(\b[\w.-]*(?:{_PERSONAL_WORDS})[\"']?\s*[:=]\s*)"
                r"(\"[^\"]*\"|'[^']*'|[^,;}\]\n]+)"), r"\1[personal]"),
    # "password hunter2", "totp code: 492039", "account 0012345678"
    (re.compile(rf"(?i)\b((?:{_STRONG_WORDS})[\s:#]+)\S+"), r"\1[redacted]"),
    (re.compile(rf"(?i)\b((?:{_SECRET_WORDS}|{_ACCOUNT_WORDS})(?:\s+(?:{_SECRET_WORDS}))*"
                r"[\s:#]+)(?=\S*\d)\S+"), r"\1[redacted]"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[ssn]"),
    # digit runs, but never a group inside an id such as a uuid4 ("...-123456789012")
    (re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), "[number]"),
    (re.compile(r"(?<![\w-])\d{9,}(?![\w-])"), "[number]"),
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"(?<![\w-])\+?1?[ (.-]*\d{3}[ ).-]*\d{3}[ .-]*\d{4}(?![\w-])"), "[phone]"),
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), "[hex]"),
    (re.compile(r"\b[A-Z2-7]{26,}=*"), "[secret]"),
    (re.compile(r"(?<![\w/.+-])(?!/)(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Za-z])"
                r"[A-Za-z0-9+/_-]{40,}={0,2}"), "[blob]"),
)
_SENSITIVE_FIELD = re.compile(rf"(?i)(?:{_SECRET_WORDS}|{_ACCOUNT_WORDS}|{_PERSONAL_WORDS}|"
                              r"card|pan)")
_STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def redact(text: str) -> str:
    """Mask everything in `text` that looks like a secret or personal data."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_field(name: str, value: Any) -> Any:
    if _SENSITIVE_FIELD.search(name):
        return "[redacted]"
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's `extra=` fields, redacted."""
    return {name: _redact_field(name, value) for name, value in vars(record).items()
            if name not in _STANDARD_FIELDS and not name.startswith("_")}


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message, and its extra fields, through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for name, value in extra_fields(record).items():
            setattr(record, name, value)
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, thread, message, extra fields
    and any traceback, each redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "msg": redact(record.getMessage()),
            **extra_fields(record),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactingFormatter(logging.Formatter):
    """Plain lines for the console, tracebacks redacted too."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return redact(super().formatStack(stack_info))


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log file that only its owner can read, rotated files included."""

    def _open(self) -> Any:
        stream = super()._open()
        os.chmod(self.baseFilename, 0o600)
        return stream


def configure(log_dir: Path | None, *, level: int = logging.INFO,
              max_bytes: int = MAX_BYTES) -> None:
    """Log to stderr and, when `log_dir` is given, as JSON lines to a rotating file in it
    (`max_bytes` per file, BACKUPS older files kept)."""
    console = logging.StreamHandler()
    console.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [console]
    if log_dir is not None:
        log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        file_handler = PrivateRotatingFileHandler(log_dir / LOG_FILE, maxBytes=max_bytes,
                                                  backupCount=BACKUPS, encoding="utf-8")
        file_handler.setFormatter(JsonLinesFormatter())
        handlers.append(file_handler)
    redactor = RedactingFilter()
    for handler in handlers:
        handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
