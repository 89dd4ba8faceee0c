"""The online calls for PayPal and Venmo links: make a link, check it, cancel it, text it.

The UI calls these through its task runner, off the UI thread: each blocks on the network for
at most the client's timeout. `HostedLinks` owns its own `ExchangeClient` (separate from the
sync worker's) behind a lock, so calls from the runner's two threads take turns. What the
exchange answers is checked and recorded by `kiosk.services.hosted`; a paid link is recorded
as one payment however many times it is checked.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.bootstrap import Core
from kiosk.clock import Clock
from kiosk.connectivity import Connectivity
from kiosk.errors import ValidationError
from kiosk.services import hosted
from kiosk.services.hosted import (
    HostedExpiredError,
    HostedLink,
    HostedNeedsConnectionError,
    HostedNotPendingError,
    HostedOutcome,
    HostedRefusedError,
    HostedUnknownError,
    RequestHostedLink,
)
from kiosk.services.members import get_account
from kiosk.services.payments import PaymentContext
from kiosk.store.vault import Vault
from sync.bootstrap import exchange_client
from sync.client import Answer, ExchangeClient, ExchangeUnreachable
from sync.policy import problem_code

log = logging.getLogger(__name__)

_E164_DIGITS = range(8, 16)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextSent:
    """The link went to the text-message service for the phone ending in `to_last4`."""

    hosted_id: str
    to_last4: str


class HostedLinks:
    """Hosted payment links for one kiosk. Thread-safe; every method blocks on the network."""

    def __init__(self, client: ExchangeClient, *, vault: Vault, clock: Clock,
                 connectivity: Connectivity) -> None:
        self._client = client
        self._vault = vault
        self._clock = clock
        self._connectivity = connectivity
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def create(self, cmd: RequestHostedLink, *, ctx: PaymentContext,
               new_key: Callable[[], uuid.UUID] = uuid.uuid4) -> HostedLink:
        """Ask the exchange for a link and remember it. Retries once, under the same key,
        when the first answer does not come.

        Refuses: `hosted_needs_connection` (offline, or no answer twice: retry with
        `cmd.idempotency_key` set to the same key to get the same link), `member_unknown`,
        `amount_not_positive`, `amount_too_high`, HostedRefusedError `hosted_refused`.
        """
        request = hosted.prepare_link(cmd, ctx=ctx, vault=self._vault,
                                      connectivity=self._connectivity, new_key=new_key)
        answer = self._call(lambda c: c.create_hosted_payment(
            idempotency_key=request.idempotency_key, payload=request.body), retry=True)
        update = hosted.read_answer(_json(answer, expect=201))
        hosted.remember_link(update, idempotency_key=request.idempotency_key, ctx=ctx,
                             vault=self._vault, clock=self._clock)
        return update.link

    def check(self, hosted_id: str, *, ctx: PaymentContext) -> HostedOutcome:
        """Where the link stands now; once paid, its payment, recorded exactly once.
        Poll it every few seconds while the QR code shows."""
        answer = self._call(lambda c: c.hosted_payment(hosted_id))
        return self._record(_json(answer, expect=200), ctx=ctx)

    def cancel(self, hosted_id: str, *, ctx: PaymentContext) -> HostedOutcome:
        """Cancel the link. If the member paid first, the payment is recorded and returned:
        check `outcome.payment` (a paid link is never undone here)."""
        answer = self._call(lambda c: c.cancel_hosted_payment(hosted_id))
        if answer.status == 409 and problem_code(answer.body) == "hosted_already_paid":
            return self.check(hosted_id, ctx=ctx)
        return self._record(_json(answer, expect=200), ctx=ctx)

    def text(self, hosted_id: str, *, phone: str = "") -> TextSent:
        """Text the link to `phone` (E.164), by default the member's phone on file.

        Refuses: ValidationError `phone_invalid`; HostedExpiredError `hosted_expired`;
        HostedNotPendingError `hosted_not_pending` (paid or cancelled).
        """
        link = hosted.get_link(hosted_id, vault=self._vault)
        number = phone or get_account(link.member_id, vault=self._vault).member.phone
        if not (number.startswith("+") and number[1:].isdigit()
                and len(number) - 1 in _E164_DIGITS):
            raise ValidationError(code="phone_invalid", field="phone")
        answer = self._call(lambda c: c.text_hosted_payment(hosted_id, phone=number))
        _json(answer, expect=202)
        return TextSent(hosted_id=hosted_id, to_last4=number[-4:])

    def check_open(self, *, ctx: PaymentContext) -> list[HostedOutcome]:
        """Check every link still pending as far as the vault knows (after a restart).
        Stops at the first unanswered call (HostedNeedsConnectionError)."""
        links = hosted.open_links(vault=self._vault)
        return [self.check(link.hosted_id, ctx=ctx) for link in links]

    def _record(self, data: Any, *, ctx: PaymentContext) -> HostedOutcome:
        update = hosted.read_answer(data)
        return hosted.record_update(update, ctx=ctx, vault=self._vault, clock=self._clock)

    def _call(self, send: Callable[[ExchangeClient], Answer], *, retry: bool = False) -> Answer:
        reason = ""
        with self._lock:
            for attempt in range(2 if retry else 1):
                try:
                    return send(self._client)
                except ExchangeUnreachable as exc:
                    log.info("hosted link call unanswered (%s), attempt %d", exc.reason,
                             attempt + 1)
                    reason = exc.reason
        raise HostedNeedsConnectionError(reason=reason)


_PROBLEMS: dict[str, Callable[[], Exception]] = {
    "unknown_hosted_payment": HostedUnknownError,
    "hosted_expired": HostedExpiredError,
    "hosted_not_pending": HostedNotPendingError,
}


def _json(answer: Answer, *, expect: int) -> Any:
    """The answer's JSON body when its status is `expect`; otherwise the matching error."""
    if answer.status == expect:
        try:
            return json.loads(answer.body)
        except ValueError:
            raise hosted.HostedAnswerError(field="body") from None
    code = problem_code(answer.body)
    if code in _PROBLEMS:
        raise _PROBLEMS[code]()
    if answer.status >= 500 or answer.status in (409, 429):
        raise HostedNeedsConnectionError(reason=f"http_{answer.status}")
    raise HostedRefusedError(problem=code or f"http_{answer.status}")


def build_hosted_links(core: Core) -> HostedLinks:
    """Hosted links for the exchange the core's settings name, with a client of their own
    (signed and trusting exactly as the sync worker's, see `sync.bootstrap`)."""
    return HostedLinks(exchange_client(core), vault=core.vault, clock=core.clock,
                       connectivity=core.connectivity)
