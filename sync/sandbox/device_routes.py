"""Routes for device identity and the audit trail: enrollment with a one-time code
(`POST /v1/devices`, unsigned), the audit-trail heads kiosks report and the signed receipts
they get back (`POST /v1/audit-heads`, signed), the exchange's public keys
(`GET /v1/exchange-keys`, unsigned), and the sandbox-only controls that play the exchange's
operations team (minting an enrollment code) and let tests read what was reported.

Handlers are thin, as in `app.py`: each reads its input, calls `devices` through the store in a
thread pool, and answers JSON or a problem.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sync.signing import KIOSK_HEADER

from . import devices
from .deps import Authenticated, Exchange, exchange_of, json_response
from .device_models import AuditHead, AuditReceipt, DeviceEnrolled, EnrollmentRequest, ExchangeKeys
from .openapi import REF_TEMPLATE
from .problems import SIGNATURE_REFUSALS, ProblemError, describe_errors, problem_responses

contract = APIRouter(prefix="/v1", tags=["devices"])
sandbox = APIRouter(prefix="/_sandbox", tags=["sandbox"], include_in_schema=False)
Sandboxed = Annotated[Exchange, Depends(exchange_of)]


@contract.post(
    "/devices",
    summary="Enroll a kiosk with a one-time code (unsigned)",
    description=(
        "Answers the kiosk's own device secret, once; from then on only signatures made with "
        "it are accepted for this kiosk id. A code works once and for 24 hours. A kiosk id "
        "already enrolled is refused (409) and the code stays unused."
    ),
    status_code=201,
    response_model=DeviceEnrolled,
    responses=problem_responses("invalid_request", "enrollment_refused",
                                "device_already_enrolled"),
)
async def enroll_device(exchange: Annotated[Exchange, Depends(exchange_of)],
                        enrollment: EnrollmentRequest) -> Response:
    now = exchange.config.clock()
    answer = await run_in_threadpool(exchange.store.write_with, lambda conn: devices.enroll(
        conn, enrollment.kiosk_id, enrollment.enrollment_code, now=now))
    if isinstance(answer, str):
        detail = ("Ask the exchange for a new enrollment code." if answer == "enrollment_refused"
                  else "This kiosk id is enrolled already.")
        raise ProblemError(answer, detail)
    return json_response(answer, status_code=201)


@contract.post(
    "/audit-heads",
    summary="Report the audit trail's head; get a signed receipt",
    description=(
        "The kiosk reports its audit trail's newest entry after a sync in which it moved. The "
        "exchange keeps it and answers a receipt signed with its own Ed25519 key "
        "(/v1/exchange-keys), which the kiosk keeps: a trail rewritten later no longer "
        "contains the acknowledged head."
    ),
    status_code=201,
    response_model=AuditReceipt,
    responses=problem_responses("invalid_request", *SIGNATURE_REFUSALS),
    openapi_extra={"requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(
            model="AuditHead")}}},
    }},
)
async def report_audit_head(request: Request, exchange: Authenticated) -> Response:
    # Read by hand, after the signature held: an unsigned request learns nothing from a 400.
    try:
        head = AuditHead.model_validate_json(await request.body())
    except ValidationError as exc:
        raise ProblemError("invalid_request", describe_errors(exc.errors())) from None
    kiosk_id = request.headers[KIOSK_HEADER]  # the signature held for this kiosk
    now = exchange.config.clock()
    receipt = await run_in_threadpool(exchange.store.write_with, lambda conn: (
        devices.acknowledge_head(conn, kiosk_id, seq=head.seq, head=head.head,
                                 kiosk_at=head.at, now=now)))
    return json_response(receipt, status_code=201)


@contract.get(
    "/exchange-keys",
    summary="The exchange's receipt-signing public keys (unsigned)",
    description=(
        "A kiosk is given the key it trusts in its settings; this list is for operators and "
        "for the demo, which reads the sandbox's key from it."
    ),
    response_model=ExchangeKeys,
)
async def exchange_keys(exchange: Annotated[Exchange, Depends(exchange_of)]) -> Response:
    keys = await run_in_threadpool(exchange.store.read_with, devices.public_keys)
    return json_response({"keys": keys})


# -- sandbox-only controls ----------------------------------------------------------------------

@sandbox.post("/enrollment-codes", summary="Mint a one-time enrollment code (sandbox only)")
async def mint_enrollment_code(exchange: Sandboxed) -> Response:
    now = exchange.config.clock()
    code = await run_in_threadpool(exchange.store.write_with,
                                   lambda conn: devices.mint_code(conn, now=now))
    return json_response(code, status_code=201)


@sandbox.get("/audit-heads", summary="Every audit head a kiosk reported (sandbox only)")
async def reported_heads(exchange: Sandboxed,
                         kiosk_id: Annotated[str, Query(max_length=64)]) -> Response:
    heads = await run_in_threadpool(exchange.store.read_with,
                                    lambda conn: devices.audit_heads(conn, kiosk_id))
    return json_response({"heads": heads})
