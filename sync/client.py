"""HTTP client for the exchange's sync contract (docs/SYNC_CONTRACT.md).

One `requests.Session` per worker for connection reuse, a timeout on every call, and nothing
taken from the environment (`trust_env = False`: no proxy, no CA bundle). Every request is
signed when it is sent (`DeviceSigner`, see `sync.signing`) with the kiosk's device secret.
TLS trusts exactly one CA bundle (the exchange's, or certifi's when none is configured),
needs TLS 1.2 or newer, and plain HTTP is refused unless the exchange is on this machine.
The client only moves bytes; deciding what an answer means is `sync.policy`'s job.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import certifi
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from kiosk.settings import exchange_url_problem
from sync.signing import DeviceCredential, signed_headers

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (3.05, 10.0)  # seconds to connect, seconds between bytes of the answer
MAX_ANSWER_BYTES = 4 * 1024 * 1024
MIN_TLS_VERSION = ssl.TLSVersion.TLSv1_2


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """An HTTP answer, read in full (up to MAX_ANSWER_BYTES)."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


class ExchangeUnreachable(Exception):
    """No answer: connection refused or reset, timeout, an answer cut short, or a TLS
    connection that could not be trusted.

    `reason` is a stable code: connection_error, timeout, incomplete_answer, tls_error (the
    exchange's certificate is not trusted, names another host, or TLS below 1.2), or
    not_configured (no exchange URL in the settings).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InsecureExchangeUrl(ValueError):
    """The exchange's URL would send requests in the clear over a network (plain http to a
    host other than this machine), or is not an http(s) URL at all."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{problem}: refusing {url!r}; use https:// (plain http only for "
                         "127.0.0.1, ::1 or localhost)")
        self.problem = problem


class DeviceSigner(AuthBase):
    """Signs each prepared request just before it goes out: method, path with query, body.

    Signing at send time means a payment that waited offline for days still carries a fresh
    timestamp, while its stored bytes and idempotency key stay exactly as queued.
    """

    def __init__(self, credential: DeviceCredential,
                 signing_time: Callable[[], float] = time.time) -> None:
        self.credential = credential
        self._signing_time = signing_time

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        if body is not None and not isinstance(body, bytes | str):
            raise TypeError("only whole bodies (bytes or str) can be signed, not a stream")
        request.headers.update(signed_headers(
            self.credential, method=request.method or "GET", path=request.path_url,
            now=self._signing_time(), body=body))
        return request


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A client context that trusts only `ca_bundle` (certifi's bundle when None), checks the
    host name and refuses anything below TLS 1.2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname check and CERT_REQUIRED
    context.minimum_version = MIN_TLS_VERSION
    context.load_verify_locations(cafile=str(ca_bundle or certifi.where()))
    return context


class _TlsAdapter(HTTPAdapter):
    """Connections through one SSL context of our own, whatever a request says about trust."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block=block, ssl_context=self.context,
                                 **pool_kwargs)

    def build_connection_pool_key_attributes(
            self, request: requests.PreparedRequest, verify: Any,
            cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        # The context already holds the one bundle trusted; nothing else may be loaded.
        pool.pop("ca_certs", None)
        pool.pop("ca_cert_dir", None)
        pool.update(ssl_context=self.context, cert_reqs="CERT_REQUIRED")
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        # Left set, urllib3 would load the bundle into the shared context on every connect.
        conn.ca_certs = conn.ca_cert_dir = None


class ExchangeClient:
    """Sends requests to one exchange. Not thread-safe: one client per worker thread."""

    def __init__(self, base_url: str, *, device_token: str, kiosk_id: str,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, ca_bundle: Path | None = None,
                 signing_time: Callable[[], float] = time.time) -> None:
        """`device_token` is the kiosk's device secret (requests are signed with it, it is
        never sent); `ca_bundle` the exchange's CA bundle (None: certifi's); `signing_time`
        the wall clock the signatures are stamped with (seconds since the epoch).

        Raises InsecureExchangeUrl for plain http to anything but this machine.
        """
        problem = exchange_url_problem(base_url) if base_url else None  # "" = none set yet
        if problem:
            raise InsecureExchangeUrl(base_url, problem)
        if not device_token.isascii():
            raise ValueError("the device secret must be ASCII")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.ca_bundle = ca_bundle
        self.credential = DeviceCredential(kiosk_id=kiosk_id, secret=device_token)
        self._signing_time = signing_time
        self.tls_context = tls_context(ca_bundle)
        self.session = requests.Session()
        self.session.trust_env = False
        # The adapter's context decides trust; `verify` names the same bundle for requests'
        # own checks (it must exist) and never adds to it.
        self.session.verify = str(ca_bundle) if ca_bundle else certifi.where()
        self.session.mount("https://", _TlsAdapter(self.tls_context))
        self.session.auth = DeviceSigner(self.credential, signing_time)
        self.session.headers.update({"User-Agent": "health-connector-kiosk/0.1"})

    @property
    def kiosk_id(self) -> str:
        return self.credential.kiosk_id

    def close(self) -> None:
        self.session.close()

    def clone(self) -> ExchangeClient:
        """Another client for the same exchange, credential and trust, with its own
        connection (one per thread)."""
        return ExchangeClient(self.base_url, device_token=self.credential.secret,
                              kiosk_id=self.credential.kiosk_id, timeout=self.timeout,
                              ca_bundle=self.ca_bundle, signing_time=self._signing_time)

    def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        if not self.base_url:
            raise ExchangeUnreachable("not_configured")
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, stream=True,
                                            allow_redirects=False, **kwargs)
            with response:
                body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
                return Answer(status=response.status_code, headers={k.lower(): v for k, v
                                       in response.headers.items()},
                              body=body)
        except requests.exceptions.SSLError as exc:
            raise ExchangeUnreachable("tls_error") from exc
        except requests.Timeout as exc:
            raise ExchangeUnreachable("timeout") from exc
        except requests.ConnectionError as exc:
            raise ExchangeUnreachable("connection_error") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # urllib3 reports a body cut short (ProtocolError, IncompleteRead) here.
            raise ExchangeUnreachable("incomplete_answer") from exc

    def health(self) -> bool:
        """True when the exchange answers its health check."""
        return not self.probe()

    def probe(self) -> str:
        """"" when the exchange answers its health check; otherwise why not, as a stable code
        (an ExchangeUnreachable reason such as tls_error, or http_<status>)."""
        try:
            status = self._request("GET", "/v1/health").status
        except ExchangeUnreachable as exc:
            return exc.reason
        return "" if status == 200 else f"http_{status}"

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

    # -- the audit trail's head and the exchange's keys (see sync.audit_heads) ----------------

    def audit_head(self, *, seq: int, head: str, at: str) -> Answer:
        """Tell the exchange the audit trail's newest entry; it answers a signed receipt."""
        return self._request(
            "POST", "/v1/audit-heads",
            data=json.dumps({"seq": seq, "head": head, "at": at}).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )

    def exchange_keys(self) -> Answer:
        """The exchange's receipt-signing public keys (trusted as read in demo mode only)."""
        return self._request("GET", "/v1/exchange-keys")

    def enroll(self, *, kiosk_id: str, enrollment_code: str) -> Answer:
        """Trade a one-time code for the kiosk's device secret (unsigned: there is none yet)."""
        return self._request(
            "POST", "/v1/devices",
            data=json.dumps({"kiosk_id": kiosk_id,
                             "enrollment_code": enrollment_code}).encode("utf-8"),
            headers={"Content-Type": "application/json"}, auth=_unsigned,
        )


def _unsigned(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A per-request `auth` that leaves the request as it is (the session's would sign it)."""
    return request

