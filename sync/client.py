"""HTTP client for the exchange's sync contract (docs/SYNC_CONTRACT.md).

One `requests.Session` per worker for connection reuse, a timeout on every call, and no proxy
or CA settings taken from the environment (`trust_env = False`). The client only moves bytes;
deciding what an answer means is `sync.policy`'s job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
import urllib3.exceptions

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (3.05, 10.0)  # seconds to connect, seconds between bytes of the answer
MAX_ANSWER_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """An HTTP answer, read in full (up to MAX_ANSWER_BYTES)."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


class ExchangeUnreachable(Exception):
    """No answer: connection refused or reset, timeout, or an answer cut short.

    `reason` is a stable code: connection_error, timeout, or incomplete_answer.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExchangeClient:
    """Sends requests to one exchange. Not thread-safe: one client per worker thread."""

    def __init__(self, base_url: str, *, device_token: str, kiosk_id: str,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers.update({
            "Authorization": f"Bearer {device_token}",
            "X-Kiosk-Id": kiosk_id,
            "User-Agent": "health-connector-kiosk/0.1",
        })

    def close(self) -> None:
        self.session.close()

    def clone(self) -> ExchangeClient:
        """Another client for the same exchange with its own connection (one per thread)."""
        twin = ExchangeClient(self.base_url, device_token="", kiosk_id="", timeout=self.timeout)
        twin.session.headers.update(self.session.headers)
        return twin

    def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, stream=True,
                                            allow_redirects=False, **kwargs)
            with response:
                body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
                return Answer(status=response.status_code, headers={k.lower(): v for k, v
                                       in response.headers.items()},
                              body=body)
        except requests.Timeout as exc:
            raise ExchangeUnreachable("timeout") from exc
        except requests.ConnectionError as exc:
            raise ExchangeUnreachable("connection_error") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # urllib3 reports a body cut short (ProtocolError, IncompleteRead) here.
            raise ExchangeUnreachable("incomplete_answer") from exc

    def health(self) -> bool:
        """True when the exchange answers its health check."""
        try:
            return self._request("GET", "/v1/health").status == 200
        except ExchangeUnreachable:
            return False

    def changes(self, *, after: int, limit: int = 500) -> Answer:
        """One page of the changes feed after the cursor `after`."""
        return self._request("GET", "/v1/changes", params={"after": after, "limit": limit})

    def lookup(self, idempotency_key: str) -> Answer:
        """What the exchange did with a key (after a crash, before anything is re-sent)."""
        return self._request("GET", f"/v1/operations/{idempotency_key}")

    def batch(self, operations: list[tuple[str, str, bytes]]) -> Answer:
        """POST up to 100 (endpoint, key, payload) operations in one request.

        Each payload goes as the exact string of its stored bytes, so the exchange hashes the
        same bytes a single POST would carry.
        """
        body = json.dumps({"operations": [
            {"idempotency_key": key, "method": "POST", "path": endpoint,
             "body": payload.decode("utf-8")}
            for endpoint, key, payload in operations
        ]}).encode("utf-8")
        return self._request("POST", "/v1/batch", data=body,
                             headers={"Content-Type": "application/json"})

    def send(self, *, endpoint: str, idempotency_key: str, payload: bytes) -> Answer:
        """POST stored payload bytes under their stored key, exactly as they were queued."""
        return self._request(
            "POST", endpoint, data=payload,
            headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"},
        )

    # -- hosted payment links (PayPal, Venmo): online only, see sync.hosted -------------------

    def create_hosted_payment(self, *, idempotency_key: str, payload: bytes) -> Answer:
        """Ask the exchange for a hosted payment link; the same key and bytes on a retry."""
        return self._request(
            "POST", "/v1/hosted-payments", data=payload,
            headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"},
        )

    def hosted_payment(self, hosted_id: str) -> Answer:
        """Where a hosted payment link stands (pending, paid, expired, cancelled)."""
        return self._request("GET", f"/v1/hosted-payments/{quote(hosted_id, safe='')}")

    def cancel_hosted_payment(self, hosted_id: str) -> Answer:
        """Cancel a pending hosted payment link."""
        return self._request("POST", f"/v1/hosted-payments/{quote(hosted_id, safe='')}/cancel")

    def text_hosted_payment(self, hosted_id: str, *, phone: str) -> Answer:
        """Have the exchange text the link to `phone` (E.164)."""
        return self._request(
            "POST", f"/v1/hosted-payments/{quote(hosted_id, safe='')}/sms",
            data=json.dumps({"phone": phone}).encode(),
            headers={"Content-Type": "application/json"},
        )
