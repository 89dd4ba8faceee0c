"""Request signatures between a kiosk and the exchange (docs/SYNC_CONTRACT.md, "Signed
requests").

Each kiosk holds its own device secret, given once at device enrollment. Every request is
signed when it is sent, not when its payload was queued: a payment that waited offline for
two days still carries a fresh timestamp, while its stored bytes and idempotency key stay the
same. The signature is HMAC-SHA256 over one line each of: the scheme name, the method, the path
with its query, the timestamp (whole seconds since the epoch), the kiosk id, and the SHA-256 of
the body. The exchange refuses a wrong signature and a timestamp more than five minutes away
from its own clock.

Pure functions only: the client (`sync.client`) and the sandbox exchange both use them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

SCHEME = "HCK1-HMAC-SHA256"
MAX_SKEW_SECONDS = 300
KIOSK_HEADER = "X-Kiosk-Id"
TIME_HEADER = "X-Signature-Timestamp"
SIGNATURE_HEADER = "X-Signature"
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceCredential:
    """A kiosk's identity at the exchange: its id and the secret only the two of them know."""

    kiosk_id: str
    secret: str  # URL-safe base64 of SECRET_BYTES random bytes

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"DeviceCredential(kiosk_id={self.kiosk_id!r}, secret=<hidden>)"


def new_secret() -> str:
    """A fresh device secret, made by the exchange at enrollment."""
    return base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _body_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else body


def signing_string(*, method: str, path: str, timestamp: int, kiosk_id: str,
                   body: bytes | str | None) -> bytes:
    """The exact bytes that are signed. `path` includes the query string, as sent."""
    digest = hashlib.sha256(_body_bytes(body)).hexdigest()
    return "\n".join((SCHEME, method.upper(), path, str(timestamp), kiosk_id,
                      digest)).encode("utf-8")


def signature(secret: str, *, method: str, path: str, timestamp: int, kiosk_id: str,
              body: bytes | str | None) -> str:
    """The signature header's value for one request."""
    mac = hmac.new(secret.encode("ascii"), signing_string(
        method=method, path=path, timestamp=timestamp, kiosk_id=kiosk_id, body=body),
        hashlib.sha256).digest()
    return "v1=" + base64.b64encode(mac).decode("ascii")


def signed_headers(credential: DeviceCredential, *, method: str, path: str, now: float,
                   body: bytes | str | None) -> dict[str, str]:
    """The three headers a request carries, signed at `now` (seconds since the epoch)."""
    timestamp = int(now)
    return {
        KIOSK_HEADER: credential.kiosk_id,
        TIME_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(credential.secret, method=method, path=path,
                                    timestamp=timestamp, kiosk_id=credential.kiosk_id,
                                    body=body),
    }


def refusal(headers: Mapping[str, str], *, secret: str | None, method: str, path: str,
            body: bytes, now: float) -> str | None:
    """Why the exchange refuses a request's signature, as a stable code; None when it holds.

    `headers` are looked up by the names above, in any case. `secret` is the one registered
    for the kiosk the request names (None when the kiosk is unknown).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    kiosk_id = lowered.get(KIOSK_HEADER.lower(), "")
    stamp = lowered.get(TIME_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not kiosk_id or not stamp or not given:
        return "signature_missing"
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return "signature_timestamp_invalid"
    if abs(now - int(stamp)) > MAX_SKEW_SECONDS:
        return "signature_expired"
    if secret is None:
        return "device_unknown"
    expected = signature(secret, method=method, path=path, timestamp=int(stamp),
                         kiosk_id=kiosk_id, body=body)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        return "signature_invalid"
    return None
