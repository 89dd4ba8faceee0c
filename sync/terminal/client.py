"""The HTTP adapter for a semi-integrated terminal: nexo JSON over local HTTP, behind the
kiosk's `CardTerminal` interface, so a real terminal and the sandbox process are one driver.

Every call has a timeout and takes no proxy or CA settings from the environment
(`trust_env = False`). Each call uses its own short-lived session, so `abort` can run on one
thread while `charge` waits on another. The adapter tells apart a request that certainly never
reached the terminal (TerminalError: the connection could not be made, or the terminal refused
the request as unreadable) from one that may have (TerminalTimeout): only the second can have
charged a card, and the kiosk then asks `status` instead of charging again.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
import urllib3.exceptions

from kiosk.domain.money import Money
from kiosk.domain.payments import CardAuthorization
from kiosk.terminal import TerminalBusy, TerminalError, TerminalTimeout

from . import nexo, wire

log = logging.getLogger(__name__)

# Seconds to connect, seconds to wait for the answer. A member may take a while at the
# terminal, and Adyen's terminals end a payment themselves after 120 s.
DEFAULT_CHARGE_TIMEOUT = (3.05, 150.0)
DEFAULT_LOOKUP_TIMEOUT = (3.05, 10.0)
MAX_ANSWER_BYTES = 256 * 1024


class HttpTerminal:
    """A terminal reached at `base_url` (its `/nexo` endpoint). Thread-safe.

    `sale_id` names this kiosk to the terminal (nexo SaleID), `poi_id` the terminal (POIID).
    """

    def __init__(self, base_url: str, *, sale_id: str, poi_id: str,
                 charge_timeout: tuple[float, float] = DEFAULT_CHARGE_TIMEOUT,
                 lookup_timeout: tuple[float, float] = DEFAULT_LOOKUP_TIMEOUT) -> None:
        self.endpoint = base_url.rstrip("/") + "/nexo"
        self.sale_id = sale_id
        self.poi_id = poi_id
        self.charge_timeout = charge_timeout
        self.lookup_timeout = lookup_timeout

    def charge(self, *, sale_reference: str, amount: Money) -> CardAuthorization:
        """Send one PaymentRequest and read its answer. Never resends it."""
        message = nexo.payment_request(sale_id=self.sale_id, poi_id=self.poi_id,
                                       sale_reference=sale_reference, amount=amount)
        answer = self._post(message, timeout=self.charge_timeout)
        try:
            auth = nexo.read_payment(_parse(answer), sale_reference=sale_reference,
                                     requested=amount)
        except nexo.TerminalBusyAnswer as exc:
            raise TerminalBusy() from exc
        except (nexo.UnusableAnswer, wire.WireError) as exc:
            log.error("unusable payment answer for sale %s: %s", sale_reference, exc)
            raise TerminalTimeout(reason="unreadable_answer") from exc
        log.info("terminal answered sale %s: %s", sale_reference, auth.result)
        return auth

    def status(self, sale_reference: str) -> CardAuthorization:
        """Ask what became of the payment of `sale_reference`; never starts a charge."""
        message = nexo.status_request(sale_id=self.sale_id, poi_id=self.poi_id,
                                      sale_reference=sale_reference)
        answer = self._post(message, timeout=self.lookup_timeout)
        try:
            auth = nexo.read_status(_parse(answer), sale_reference=sale_reference,
                                    requested=None)
        except (nexo.UnusableAnswer, nexo.TerminalBusyAnswer, wire.WireError) as exc:
            log.error("unusable status answer for sale %s: %s", sale_reference, exc)
            raise TerminalError(reason="unreadable_answer") from exc
        log.info("terminal status of sale %s: %s", sale_reference, auth.result)
        return auth

    def abort(self, sale_reference: str) -> None:
        """Ask the terminal to stop the payment of `sale_reference` if it is still running."""
        message = nexo.abort_request(sale_id=self.sale_id, poi_id=self.poi_id,
                                     sale_reference=sale_reference)
        self._post(message, timeout=self.lookup_timeout)
        log.info("abort sent for sale %s", sale_reference)

    def _post(self, message: dict[str, Any], *, timeout: tuple[float, float]) -> bytes:
        with requests.Session() as session:
            session.trust_env = False
            try:
                response = session.post(self.endpoint, data=wire.dumps(message),
                                        timeout=timeout, allow_redirects=False, stream=True,
                                        headers={"Content-Type": "application/json"})
                with response:
                    body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
            except requests.RequestException as exc:
                raise _failure(exc) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise TerminalTimeout(reason="connection_lost") from exc
        if 400 <= response.status_code < 500:  # refused as unreadable: nothing was started
            raise TerminalError(reason="request_refused", status=response.status_code)
        if response.status_code != 200 or len(body) > MAX_ANSWER_BYTES:
            raise TerminalTimeout(reason="unreadable_answer", status=response.status_code)
        return bytes(body)


def _parse(body: bytes) -> dict[str, Any]:
    return wire.loads(body)


def _failure(exc: requests.RequestException) -> TerminalError:
    """TerminalError when the request certainly never reached the terminal, else
    TerminalTimeout (it may have arrived and started a charge)."""
    if _never_connected(exc):
        return TerminalError(reason="connection_failed")
    if isinstance(exc, requests.Timeout):
        return TerminalTimeout(reason="timeout")
    return TerminalTimeout(reason="connection_lost")


def _never_connected(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, urllib3.exceptions.NewConnectionError
                      | urllib3.exceptions.ConnectTimeoutError)
