"""Routes for the ways to pay besides a card: hosted PayPal and Venmo links (`/v1/hosted-payments`
and the member's page under `/pay`), saved payment methods (`/v1/payment-methods`), and the
sandbox-only controls that play the bank's and the member's side (ACH returns, link expiry).

Handlers are thin, as in `app.py`: each reads its input, calls `store.ExchangeStore` in a
thread pool, and answers JSON or a problem.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from . import hosted, idempotency, methods, openapi
from .deps import Authenticated, Exchange, exchange_of, json_response
from .models import AchReturnRequest, HostedPayment, HostedText, HostedTextSent, SavedMethodData
from .payments import REPLAYED_HEADER, reply
from .problems import SIGNATURE_REFUSALS, ProblemError, problem_responses

logger = logging.getLogger(__name__)

contract = APIRouter(prefix="/v1", tags=["contract"])
member_pages = APIRouter(include_in_schema=False)
sandbox = APIRouter(prefix="/_sandbox", tags=["sandbox"], include_in_schema=False)

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="A uuid4, the same on every retry.")
]
HostedId = Annotated[str, PathParam(max_length=64)]


def _idempotent_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    responses = problem_responses(
        "idempotency_key_missing", "invalid_request", *SIGNATURE_REFUSALS,
        "idempotency_key_reused", *codes,
    )
    responses[201] = {"description": "Done. The answer is stored under the key."}
    replayed = {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same key and body, sent again.",
        "schema": {"type": "string", "enum": ["true"]},
    }
    for status in (201, 400, 422):
        responses[status]["headers"] = {REPLAYED_HEADER: replayed}
    return responses


@contract.post(
    "/payment-methods",
    summary="Change a member's saved payment methods (idempotent)",
    description=(
        "Add a card (a terminal token) or a bank account, change a card's expiry, remove a "
        "method or make one the default. Idempotent like `POST /v1/payments`: a fresh uuid4 "
        "key per change, reused with the byte-identical body on every retry; also accepted "
        "as an operation of `POST /v1/batch`."
    ),
    status_code=201,
    response_model=SavedMethodData,
    responses=_idempotent_responses(
        "unknown_member", "unknown_method", "method_removed", "method_id_reused",
        "kiosk_sequence_reused",
    ),
    openapi_extra={"requestBody": openapi.method_change_body()},
)
async def post_payment_method(
    request: Request, exchange: Authenticated, idempotency_key: IdempotencyKey = None
) -> Response:
    key = idempotency_key or ""
    refused = idempotency.key_problem(key)
    if refused is not None:
        return reply(refused)
    config = exchange.config
    outcome = await run_in_threadpool(
        exchange.store.perform, key, await request.body(), path=methods.PATH,
        now=config.clock(), today=config.today,
    )
    return reply(outcome)


@contract.post(
    "/hosted-payments",
    summary="Make a PayPal or Venmo payment link (idempotent)",
    description=(
        "The member opens `url` (shown as a QR code) or `short_url` on their phone and pays "
        "there; read the link with `GET /v1/hosted-payments/{id}` to see it paid. Idempotent "
        "under its key: a retry gets the same link."
    ),
    status_code=201,
    response_model=HostedPayment,
    responses=_idempotent_responses("unknown_member"),
    openapi_extra={"requestBody": openapi.hosted_request_body()},
)
async def post_hosted_payment(
    request: Request, exchange: Authenticated, idempotency_key: IdempotencyKey = None
) -> Response:
    key = idempotency_key or ""
    refused = idempotency.key_problem(key)
    if refused is not None:
        return reply(refused)
    outcome = await run_in_threadpool(
        exchange.store.create_hosted, key, await request.body(),
        base_url=str(request.base_url), now=exchange.config.clock(),
    )
    return reply(outcome)


def _found(link: dict[str, Any] | None) -> dict[str, Any]:
    if link is None:
        raise ProblemError("unknown_hosted_payment", "No hosted payment link has this id.")
    return link


@contract.get(
    "/hosted-payments/{hosted_payment_id}",
    summary="Where a hosted payment link stands",
    description=(
        "`pending`, `paid` (with the payment it became on the ledger and the invoices it "
        "changed), `expired` or `cancelled`. Reading it any number of times changes nothing."
    ),
    response_model=HostedPayment,
    responses=problem_responses(*SIGNATURE_REFUSALS, "unknown_hosted_payment"),
)
def get_hosted_payment(exchange: Authenticated, hosted_payment_id: HostedId) -> Response:
    now = exchange.config.clock()
    return json_response(_found(exchange.store.hosted_link(hosted_payment_id, now=now)))


@contract.post(
    "/hosted-payments/{hosted_payment_id}/cancel",
    summary="Cancel a hosted payment link",
    description=(
        "A pending link can no longer be paid. An expired or cancelled link is answered as it "
        "is; a paid one answers 409 `hosted_already_paid`."
    ),
    response_model=HostedPayment,
    responses=problem_responses(
        *SIGNATURE_REFUSALS, "unknown_hosted_payment", "hosted_already_paid"
    ),
)
def cancel_hosted_payment(exchange: Authenticated, hosted_payment_id: HostedId) -> Response:
    now = exchange.config.clock()
    link = _found(exchange.store.cancel_hosted(hosted_payment_id, now=now))
    if link["status"] == "paid":
        raise ProblemError("hosted_already_paid", "The member paid before the cancel arrived.")
    return json_response(link)


@contract.post(
    "/hosted-payments/{hosted_payment_id}/sms",
    summary="Text a pending hosted payment link to the member's phone",
    status_code=202,
    response_model=HostedTextSent,
    responses=problem_responses(
        "invalid_request", *SIGNATURE_REFUSALS, "unknown_hosted_payment", "hosted_expired",
        "hosted_not_pending",
    ),
)
def text_hosted_payment(
    exchange: Authenticated, hosted_payment_id: HostedId, message: HostedText
) -> Response:
    now = exchange.config.clock()
    link, sent = exchange.store.text_hosted(hosted_payment_id, message.phone, now=now)
    link = _found(link)
    if sent is None and link["status"] == "expired":
        raise ProblemError("hosted_expired", "The link expired unpaid; make a new one.")
    if sent is None:
        raise ProblemError("hosted_not_pending", f"The link is {link['status']}.")
    return json_response(sent, status_code=202)


# -- the member's side: the provider's page, played by the sandbox ------------------------------

@member_pages.get("/pay/{hosted_payment_id}")
def payment_page(
    exchange: Annotated[Exchange, Depends(exchange_of)], hosted_payment_id: HostedId
) -> HTMLResponse:
    link = exchange.store.hosted_link(hosted_payment_id, now=exchange.config.clock())
    return HTMLResponse(hosted.page_html(link), status_code=200 if link else 404)


_PAGE_STATUS = {
    hosted.PayOutcome.PAID: 200,
    hosted.PayOutcome.ALREADY_PAID: 200,
    hosted.PayOutcome.EXPIRED: 410,
    hosted.PayOutcome.CANCELLED: 410,
    hosted.PayOutcome.UNKNOWN: 404,
}


@member_pages.post("/pay/{hosted_payment_id}")
def pay_on_page(
    exchange: Annotated[Exchange, Depends(exchange_of)], hosted_payment_id: HostedId
) -> HTMLResponse:
    config = exchange.config
    outcome = exchange.store.pay_hosted(hosted_payment_id, now=config.clock(), today=config.today)
    link = exchange.store.hosted_link(hosted_payment_id, now=config.clock())
    return HTMLResponse(hosted.page_html(link, outcome), status_code=_PAGE_STATUS[outcome])


@member_pages.get("/p/{short_code}")
def short_link(
    exchange: Annotated[Exchange, Depends(exchange_of)],
    short_code: Annotated[str, PathParam(max_length=16)],
) -> Response:
    hosted_id = exchange.store.hosted_by_short_code(short_code)
    if hosted_id is None:
        return HTMLResponse(hosted.page_html(None), status_code=404)
    return RedirectResponse(f"/pay/{hosted_id}", status_code=303)


# -- sandbox-only controls ----------------------------------------------------------------------

@sandbox.post("/ach-returns", summary="The member's bank returns an ACH payment (sandbox only)")
def ach_return(exchange: Annotated[Exchange, Depends(exchange_of)],
               body: AchReturnRequest) -> Response:
    config = exchange.config
    record = exchange.store.return_payment(
        body.payment_id, body.return_code, now=config.clock(), today=config.today
    )
    if record is None:
        raise ProblemError("not_found", "No confirmed ACH payment has this payment_id.")
    return json_response(record)


@sandbox.post("/hosted-payments/{hosted_payment_id}/expire", summary="Expire a link now")
def expire_hosted(
    exchange: Annotated[Exchange, Depends(exchange_of)], hosted_payment_id: HostedId
) -> Response:
    if not exchange.store.expire_hosted(hosted_payment_id, now=exchange.config.clock()):
        raise ProblemError("unknown_hosted_payment", "No hosted payment link has this id.")
    return json_response({"hosted_payment_id": hosted_payment_id})


@sandbox.get("/texts", summary="Every text message the exchange sent (sandbox only)")
def texts(exchange: Annotated[Exchange, Depends(exchange_of)]) -> Response:
    return json_response({"texts": exchange.store.text_messages()})


@sandbox.get("/payment-methods", summary="A member's saved methods (sandbox only)")
def saved_methods(
    exchange: Annotated[Exchange, Depends(exchange_of)],
    member_id: Annotated[str, Query(max_length=32)],
) -> Response:
    return json_response({"methods": exchange.store.payment_methods(member_id)})
