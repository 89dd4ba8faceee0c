"""`POST /v1/batch`: up to 100 payment and payment-method requests in one HTTP request, each
answered exactly as `POST /v1/payments` or `POST /v1/payment-methods` would have answered it
(docs/SYNC_CONTRACT.md).

Each operation's body string is encoded to UTF-8 and goes through the same steps as a single
payment (`idempotency.perform`), so the same key and bytes are the same request whichever way
they arrive. The whole batch is one transaction with a savepoint per operation and one commit
(`ExchangeStore.perform_batch`): a kiosk draining a week of payments pays for one disk flush
per hundred payments, and the stored answers commit with the payments they describe.
"""

from __future__ import annotations

import logging

from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from .config import SandboxConfig
from .idempotency import Outcome
from .models import BatchRequest
from .problems import ProblemError, describe_errors, encode_json
from .store import ExchangeStore

logger = logging.getLogger(__name__)


async def submit_batch(store: ExchangeStore, raw: bytes, *, config: SandboxConfig) -> Response:
    """Answer a batch: 200 with one result per operation, in order, or 400 `batch_invalid`."""
    operations = _operations(raw)
    outcomes = await run_in_threadpool(
        store.perform_batch, operations, now=config.clock(), today=config.today
    )
    results = [
        _result(key, outcome) for (key, _, _), outcome in zip(operations, outcomes, strict=True)
    ]
    replayed = sum(outcome.replayed for outcome in outcomes)
    logger.info("batch of %d operations answered, %d of them replays", len(results), replayed)
    return Response(encode_json({"results": results}), media_type="application/json")


def _operations(raw: bytes) -> list[tuple[str, bytes, str]]:
    """Each operation's key, body bytes and path, or raise 400 `batch_invalid`."""
    try:
        batch = BatchRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise ProblemError("batch_invalid", describe_errors(exc.errors())) from None
    # The JSON parser refuses lone surrogates, so every body string encodes.
    return [(op.idempotency_key, op.body.encode("utf-8"), op.path) for op in batch.operations]


def _result(key: str, outcome: Outcome) -> dict[str, object]:
    answer = outcome.answer
    return {
        "idempotency_key": key,
        "status": answer.status_code,
        "body": answer.body.decode("utf-8"),
        "replayed": outcome.replayed,
    }
