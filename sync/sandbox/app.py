"""The sandbox exchange's HTTP application: the routes of docs/SYNC_CONTRACT.md plus the
sandbox-only `/_sandbox` controls, built by `create_app` around one database file.

Handlers are thin: checking a request's signature is one dependency (`deps.py`), payments go
through `payments.py` and batches through `batch.py` (both take the steps of
`idempotency.py`), hosted links and saved methods have their routes in `pay_routes.py`,
enrollment and audit heads in `device_routes.py`, and the database is `store.ExchangeStore`,
called off the event loop in a thread pool.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from . import account_routes, device_routes, openapi, pay_routes
from .batch import submit_batch
from .config import SandboxConfig
from .deps import Authenticated, Exchange
from .deps import exchange_of as _exchange
from .deps import json_response as _json
from .models import BatchAnswer, ChangesPage, Health, Operation, PaymentAccepted
from .models import Faults as FaultsModel
from .payments import REPLAYED_HEADER, Faults, submit_payment
from .posting import iso_seconds
from .problems import (
    SIGNATURE_REFUSALS,
    ProblemError,
    install_problem_handlers,
    problem_responses,
)
from .store import ExchangeStore

logger = logging.getLogger(__name__)

API_DESCRIPTION = """\
The exchange side of the kiosk's sync contract (docs/SYNC_CONTRACT.md), as implemented by the
sandbox exchange in `sync/sandbox/`.

Every route but `/v1/health`, `/v1/exchange-keys` and `/v1/devices` must be signed: headers
`X-Kiosk-Id`, `X-Signature-Timestamp` (whole seconds since the epoch) and `X-Signature`
(`v1=` and the base64 HMAC-SHA256, keyed with the kiosk's device secret, of the lines
`HCK1-HMAC-SHA256`, the method, the path with its query, the timestamp, the kiosk id and the hex
SHA-256 of the body). A signature more than five minutes from the exchange's clock, or made
with another secret, answers 401 with its refusal code. A kiosk gets its secret once, by
enrolling with a one-time code (`POST /v1/devices`); the sandbox also accepts the demo secret
`demo-device-token-NOT-A-SECRET` from any kiosk id that has not enrolled. Errors are
`application/problem+json` with a stable `code`; act on `status` and `code`, never on `title`
or `detail`.

After a sync in which its audit trail moved, the kiosk reports the trail's head
(`POST /v1/audit-heads`) and keeps the receipt the exchange signs with its Ed25519 key
(`GET /v1/exchange-keys`).

`POST /v1/payments` follows the IETF Idempotency-Key draft: the exchange keeps every key with
the SHA-256 of its request body and its final answer (45 days in the sandbox), replays that
answer for a byte-identical retry with `Idempotent-Replayed: true`, answers 409 while the first
request is still being processed and 422 when the key comes back with another body.

`POST /v1/batch` carries up to 100 such payment (and payment-method) requests, each with its
key and its exact body as a string, and answers each exactly as the single request would have:
the same key and bytes are the same request whether they come alone or in a batch.

A payment's method is a card read at the kiosk's terminal or an ACH debit the member authorized
in person. PayPal and Venmo are paid through hosted links (`/v1/hosted-payments`) the member
opens on their phone; a paid link becomes a payment on the ledger and in the changes feed.
Saved payment methods change through `POST /v1/payment-methods`, idempotent like payments.

The member's account changes the same way: contact details (`POST /v1/profile-changes`, with
422 `profile_conflict` when a field changed at the exchange meanwhile), communication
preferences, automatic and scheduled payments, disputes with attachments, and receipts sent by
email, text or mail. The feed carries disputes (kind `dispute`) and every payment of the
member's history, made anywhere.
"""


class _ExchangeApi(FastAPI):
    """FastAPI whose OpenAPI document also describes the hand-read payment body."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            openapi.complete(super().openapi())
        return self.openapi_schema  # type: ignore[return-value]


def create_app(db_path: Path, *, config: SandboxConfig) -> FastAPI:
    """Build the exchange app over the database at `db_path`.

    Nothing touches the file until the app starts (its lifespan), so building an app only to
    render the OpenAPI document has no effect on disk.
    """
    app = _ExchangeApi(
        title="Health Connector exchange (sandbox)",
        version="1.0.0",
        summary="Sync contract between the premium payment kiosk and the exchange.",
        description=API_DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.exchange = Exchange(store=ExchangeStore(db_path), config=config, faults=Faults())
    install_problem_handlers(app)
    app.include_router(_contract)
    app.include_router(pay_routes.contract)
    app.include_router(account_routes.contract)
    app.include_router(device_routes.contract)
    app.include_router(pay_routes.member_pages)
    app.include_router(_sandbox)
    app.include_router(pay_routes.sandbox)
    app.include_router(account_routes.sandbox)
    app.include_router(device_routes.sandbox)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(app.state.exchange.initialize)
    yield


_contract = APIRouter(prefix="/v1", tags=["contract"])
_sandbox = APIRouter(prefix="/_sandbox", tags=["sandbox"], include_in_schema=False)


@_contract.get(
    "/health",
    summary="Connectivity probe",
    description="Needs no credential. Answers while the exchange can serve requests.",
    response_model=Health,
)
def health(exchange: Annotated[Exchange, Depends(_exchange)]) -> Response:
    return _json({"status": "ok", "time": iso_seconds(exchange.config.clock())})


@_contract.get(
    "/changes",
    summary="Changes feed",
    description=(
        "Records changed after the cursor `after`, ascending by `seq`. Each change carries the "
        "whole current record; upsert it. The feed keeps only each record's latest version, so "
        "`seq` has gaps and reading from 0 yields every record exactly once."
    ),
    response_model=ChangesPage,
    responses=problem_responses("invalid_request", *SIGNATURE_REFUSALS),
)
def changes(
    exchange: Authenticated,
    after: Annotated[int, Query(ge=0, description="The cursor last stored; 0 at first.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most changes to return.")] = 500,
) -> Response:
    page = exchange.store.changes_after(after, limit)
    return _json(
        {"changes": page.changes, "next_after": page.next_after, "has_more": page.has_more}
    )


def _payment_responses() -> dict[int | str, dict[str, Any]]:
    """The documented answers of POST /v1/payments, with the headers each can carry."""
    responses = problem_responses(
        "idempotency_key_missing",
        "invalid_request",
        "unknown_member",
        *SIGNATURE_REFUSALS,
        "request_in_progress",
        "idempotency_key_reused",
        "kiosk_sequence_reused",
        "payment_id_reused",
    )
    responses[201] = {"description": "Payment accepted. The answer is stored under the key."}
    replayed = {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same key and body, sent again.",
        "schema": {"type": "string", "enum": ["true"]},
    }
    for status in (201, 400, 422):
        responses[status]["headers"] = {REPLAYED_HEADER: replayed}
    responses[409]["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait before retrying with the same key.",
            "schema": {"type": "integer"},
        },
    }
    return responses


@_contract.post(
    "/payments",
    summary="Submit a premium payment (idempotent)",
    description=(
        "Applies the payment to the member's oldest open invoice first; what is left over is "
        "a credit. Send a fresh uuid4 `Idempotency-Key` per payment and reuse it, with the "
        "byte-identical body, on every retry."
    ),
    status_code=201,
    response_model=PaymentAccepted,
    responses=_payment_responses(),
    openapi_extra={"requestBody": openapi.payment_request_body()},
)
async def post_payment(
    request: Request,
    exchange: Authenticated,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="A uuid4, the same on every retry."),
    ] = None,
) -> Response:
    body = await request.body()
    return await submit_payment(
        exchange.store, idempotency_key, body, config=exchange.config, faults=exchange.faults
    )


@_contract.post(
    "/batch",
    summary="Submit up to 100 payments, each under its own key",
    description=(
        "Each operation is answered exactly as `POST /v1/payments` with that `Idempotency-Key` "
        "and the UTF-8 bytes of `body` would have been (201, 400, 409, 422 ...), in order; some "
        "may succeed while others fail. The batch itself answers 200."
    ),
    response_model=BatchAnswer,
    responses={
        200: {"description": "One result per operation, in the order of the operations."},
        **problem_responses("batch_invalid", *SIGNATURE_REFUSALS),
    },
    openapi_extra={"requestBody": openapi.batch_request_body()},
)
async def post_batch(request: Request, exchange: Authenticated) -> Response:
    return await submit_batch(exchange.store, await request.body(), config=exchange.config)


@_contract.get(
    "/operations/{idempotency_key}",
    summary="What the exchange did with an idempotency key",
    description=(
        "For recovery after a kiosk crash: `done` with the stored answer, `processing` while the "
        "first request runs, or 404 `unknown_key`."
    ),
    response_model=Operation,
    responses=problem_responses(*SIGNATURE_REFUSALS, "unknown_key"),
)
def operation(
    exchange: Authenticated,
    idempotency_key: Annotated[str, PathParam(max_length=255)],
) -> Response:
    found = exchange.store.operation(idempotency_key)
    if found is None:
        raise ProblemError("unknown_key", "The exchange holds nothing under this key.")
    answer = found.answer
    return _json(
        {
            "idempotency_key": found.idempotency_key,
            "state": found.state,
            "status_code": answer.status_code if answer else None,
            "body": json.loads(answer.body) if answer else None,
        }
    )


@_sandbox.post("/faults", summary="Inject faults (sandbox only)")
def set_faults(exchange: Annotated[Exchange, Depends(_exchange)], faults: FaultsModel) -> Response:
    exchange.faults.payment_delay_ms = faults.payment_delay_ms
    logger.info("payment delay set to %d ms", faults.payment_delay_ms)
    return _json({"payment_delay_ms": exchange.faults.payment_delay_ms})


@_sandbox.get("/ledger", summary="Every payment the exchange holds (sandbox only)")
def ledger(exchange: Annotated[Exchange, Depends(_exchange)]) -> Response:
    return _json({"payments": exchange.store.ledger()})
