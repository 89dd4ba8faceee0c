"""What each answer from the exchange means for an outbox row: the delivery policy.

| answer | action |
|---|---|
| 2xx, including a replay (`Idempotent-Replayed: true`) | confirm |
| 409 request in progress | retry later, same key |
| 422 key reused with another body, kiosk sequence reused | needs attention (a kiosk bug) |
| 400 and other 4xx business refusals | needs attention; rows behind it go on |
| 401, 403 | pause the queue: the device credential (its signature) was refused |
| 429, 503 | retry after `Retry-After` (or backoff when absent) |
| other 5xx, timeout, connection error, answer cut short, unreadable | retry, same key |

Backoff is exponential with full jitter: a random delay between 0 and min(cap, base * 2^n).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random

from kiosk.outbox.outcome import Action, Outcome
from sync.client import Answer

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    """Full-jitter delay before attempt number `attempts + 1`."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(attempts, 20))
    return rng.uniform(0, ceiling)


def retry_after(value: str | None, now: dt.datetime) -> dt.datetime | None:
    """Parse a Retry-After header: seconds, or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + dt.timedelta(seconds=min(int(value), 3600))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(now, min(when, now + dt.timedelta(hours=1)))


def problem_code(body: bytes) -> str:
    """The stable `code` of a problem+json body, or '' when there is none."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) and len(code) < 80 else ""


def classify(answer: Answer, *, attempts: int, now: dt.datetime,
             rng: random.Random) -> Outcome:
    """Decide what to do with a row after the exchange answered `answer`."""
    status = answer.status
    later = now + dt.timedelta(seconds=backoff_seconds(attempts, rng))
    if 200 <= status < 300:
        return Outcome(action=Action.CONFIRM, reason="accepted", status=status, body=answer.body,
                       retry_at=later)
    reason = problem_code(answer.body) or f"http_{status}"
    if status in (401, 403):
        # The row keeps the one reason a person acts on; the body keeps why (for example
        # signature_expired: the kiosk's clock is off), for the worker's status and log.
        return Outcome(action=Action.PAUSE, reason="device_not_authorized", status=status,
                       body=answer.body, retry_at=later)
    if status in (409, 429, 503):
        when = retry_after(answer.headers.get("retry-after"), now) or later
        return Outcome(action=Action.RETRY, reason=reason, status=status, retry_at=when)
    if status >= 500 or status < 400:
        return Outcome(action=Action.RETRY, reason=reason, status=status, retry_at=later)
    return Outcome(action=Action.NEEDS_ATTENTION, reason=reason, status=status,
                   body=answer.body)


def unreachable(reason: str, *, attempts: int, now: dt.datetime,
                rng: random.Random) -> Outcome:
    """No answer at all: the outcome is unknown, so send again later under the same key."""
    later = now + dt.timedelta(seconds=backoff_seconds(attempts, rng))
    return Outcome(action=Action.RETRY, reason=reason, retry_at=later)
