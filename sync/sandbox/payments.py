"""`POST /v1/payments` with the IETF Idempotency-Key semantics of docs/SYNC_CONTRACT.md.

The order matters. The key is claimed before the body is even parsed, keyed on the SHA-256 of
the raw body bytes: a retry must be byte-identical, so a retry with a different body is a
client bug (422) whatever that body says. Once claimed, the request always ends by storing a
final answer (201, or a 400/422 rejection) in the same transaction as any payment, or, if it
fails on the way, by releasing the key so a retry can run. A 409 is never stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from .config import SandboxConfig
from .models import PaymentRequest
from .posting import StoredAnswer, rejection_answer
from .problems import ProblemError, describe_errors
from .store import ClaimOutcome, ExchangeStore

logger = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


@dataclass(kw_only=True)
class Faults:
    """Sandbox-only fault injection, changed at run time through `/_sandbox/faults`."""

    payment_delay_ms: int = 0


async def submit_payment(
    store: ExchangeStore, key: str | None, body: bytes, *, config: SandboxConfig, faults: Faults
) -> Response:
    """Answer one payment request: replay, refuse, or process it under its key."""
    key = _checked_key(key)
    claim = await run_in_threadpool(
        store.claim_key, key, hashlib.sha256(body).hexdigest(), now=config.clock()
    )
    if claim.outcome is ClaimOutcome.MISMATCH:
        raise ProblemError(
            "idempotency_key_reused", "This Idempotency-Key was first used with a different body."
        )
    if claim.outcome is ClaimOutcome.IN_PROGRESS:
        raise ProblemError(
            "request_in_progress",
            "The first request with this key is still being processed.",
            headers={"Retry-After": "1"},
        )
    if claim.answer is not None:
        logger.info("replaying the stored answer for key %s", key)
        return _reply(claim.answer, replayed=True)
    return _reply(await _process_claimed(store, key, body, config=config, faults=faults))


def _checked_key(key: str | None) -> str:
    if not key:
        raise ProblemError(
            "idempotency_key_missing",
            "Send an Idempotency-Key header (a uuid4) with every payment.",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise ProblemError(
            "invalid_request", f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters."
        )
    return key


async def _process_claimed(
    store: ExchangeStore, key: str, body: bytes, *, config: SandboxConfig, faults: Faults
) -> StoredAnswer:
    """Validate and post a payment whose key this request owns; release the key on failure."""
    try:
        return await _validate_and_post(store, key, body, config=config, faults=faults)
    except BaseException:
        # Synchronous on purpose: this also runs when the task is being cancelled.
        _release_quietly(store, key)
        raise


async def _validate_and_post(
    store: ExchangeStore, key: str, body: bytes, *, config: SandboxConfig, faults: Faults
) -> StoredAnswer:
    try:
        payment = PaymentRequest.model_validate_json(body)
    except ValidationError as exc:
        answer = rejection_answer("invalid_request", describe_errors(exc.errors()))
        await run_in_threadpool(store.complete_key, key, answer, now=config.clock())
        return answer
    if faults.payment_delay_ms > 0:
        await asyncio.sleep(faults.payment_delay_ms / 1000)
    return await run_in_threadpool(
        store.post_payment, key, payment, now=config.clock(), today=config.today
    )


def _release_quietly(store: ExchangeStore, key: str) -> None:
    try:
        store.release_key(key)
    except Exception:
        logger.exception("could not release idempotency key %s; it stays processing", key)


def _reply(answer: StoredAnswer, *, replayed: bool = False) -> Response:
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return Response(
        content=answer.body,
        status_code=answer.status_code,
        media_type=answer.media_type,
        headers=headers,
    )
