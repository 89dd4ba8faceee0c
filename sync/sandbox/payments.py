"""`POST /v1/payments` with the IETF Idempotency-Key semantics of docs/SYNC_CONTRACT.md.

The steps are those of `idempotency`, shared with each operation of `POST /v1/batch`. What
is particular to a single payment is its two transactions: the key is claimed and committed
first, so that a second request with the same key sees it `processing` and is answered 409
while this one runs; the payment and its stored answer then commit together. If the request
fails between the two, the key is released so a retry can run. A 409 is never stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from . import idempotency
from .config import SandboxConfig
from .idempotency import ClaimOutcome, Outcome
from .models import PaymentRequest
from .posting import StoredAnswer
from .store import ExchangeStore

logger = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(kw_only=True)
class Faults:
    """Sandbox-only fault injection, changed at run time through `/_sandbox/faults`.

    `payment_delay_ms` holds each new single payment between claiming its key and committing,
    which is what makes a 409 observable. Batches are not held: all their operations commit
    in one transaction, and holding it would hold the exchange's write lock.
    """

    payment_delay_ms: int = 0


async def submit_payment(
    store: ExchangeStore, key: str | None, body: bytes, *, config: SandboxConfig, faults: Faults
) -> Response:
    """Answer one payment request: replay, refuse, or process it under its key."""
    key = key or ""  # a missing header is refused as an empty key is
    refused = idempotency.key_problem(key)
    if refused is not None:
        return reply(refused)
    claim = await run_in_threadpool(
        store.claim_key, key, idempotency.fingerprint(body), now=config.clock()
    )
    if claim.outcome is not ClaimOutcome.CLAIMED:
        logger.info("payment under key %s not processed: %s", key, claim.outcome)
        return reply(idempotency.unclaimed_outcome(claim))
    answer = await _process_claimed(store, key, body, config=config, faults=faults)
    return reply(Outcome(answer=answer))


async def _process_claimed(
    store: ExchangeStore, key: str, body: bytes, *, config: SandboxConfig, faults: Faults
) -> StoredAnswer:
    """Parse and settle a payment whose key this request owns; release the key on failure."""
    try:
        parsed = idempotency.parse_payment(body)
        if isinstance(parsed, PaymentRequest) and faults.payment_delay_ms > 0:
            await asyncio.sleep(faults.payment_delay_ms / 1000)
        return await run_in_threadpool(
            store.settle, key, parsed, now=config.clock(), today=config.today
        )
    except BaseException:
        # Synchronous on purpose: this also runs when the task is being cancelled.
        _release_quietly(store, key)
        raise


def _release_quietly(store: ExchangeStore, key: str) -> None:
    try:
        store.release_key(key)
    except Exception:
        logger.exception("could not release idempotency key %s; it stays processing", key)


def reply(outcome: Outcome) -> Response:
    """The HTTP answer for `outcome`, marked when it is a replay, with Retry-After on 409."""
    headers: dict[str, str] = {}
    if outcome.replayed:
        headers[REPLAYED_HEADER] = "true"
    if outcome.retry_after_seconds is not None:
        headers["Retry-After"] = str(outcome.retry_after_seconds)
    answer = outcome.answer
    return Response(
        content=answer.body,
        status_code=answer.status_code,
        media_type=answer.media_type,
        headers=headers,
    )
