"""Logging set-up with a redaction filter, so secrets and personal data never reach a log.

The filter masks, in every message and argument: runs of 13 to 19 digits (card numbers),
6-digit codes after words like "code" or "totp", bearer tokens, e-mail addresses, US phone
numbers and hex keys.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

_SECRET_WORDS = "code|totp|otp|password|passwd|secret|token|key"
_PATTERNS = (
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[number]"),
    (re.compile(rf"(?i)\b((?:{_SECRET_WORDS})(?:[\s:=]+(?:{_SECRET_WORDS}))*[\s:=]+)\S+"),
     r"\1[redacted]"),
    (re.compile(r"(?i)bearer\s+\S+"), "Bearer [redacted]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"\+?1?[ (.-]*\d{3}[ ).-]*\d{3}[ .-]*\d{4}\b"), "[phone]"),
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), "[hex]"),
)


def redact(text: str) -> str:
    """Mask everything in `text` that looks like a secret or personal data."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def configure(log_dir: Path | None, *, level: int = logging.INFO) -> None:
    """Log to stderr and, when `log_dir` is given, to a rotating file in it."""
    from logging.handlers import RotatingFileHandler

    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(RotatingFileHandler(log_dir / "kiosk.log", maxBytes=2_000_000,
                                            backupCount=5, encoding="utf-8"))
    redactor = RedactingFilter()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.addFilter(redactor)
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
