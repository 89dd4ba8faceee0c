"""Errors of the sandbox exchange as RFC 9457 problem details (`application/problem+json`), each
with a stable `code` the kiosk acts on. One table lists every code with its HTTP status, title
and when it is answered; the handlers, the stored rejections and the OpenAPI document all
read it, so a code cannot drift between them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


@dataclass(frozen=True, kw_only=True)
class ProblemKind:
    """One stable error code: its HTTP status, a short title and when the exchange answers it."""

    status: int
    title: str
    when: str


PROBLEMS: dict[str, ProblemKind] = {
    "signature_missing": ProblemKind(
        status=401,
        title="Request not signed",
        when="X-Kiosk-Id, X-Signature-Timestamp or X-Signature is missing or empty. Every "
        "route but /v1/health, /v1/exchange-keys and /v1/devices must be signed.",
    ),
    "signature_timestamp_invalid": ProblemKind(
        status=401,
        title="Signature timestamp not readable",
        when="X-Signature-Timestamp is not whole seconds since the epoch in ASCII digits.",
    ),
    "signature_expired": ProblemKind(
        status=401,
        title="Signature too old or too new",
        when="The signature's timestamp is more than five minutes from the exchange's clock: "
        "the kiosk's clock is off, or the request was held back and replayed.",
    ),
    "device_unknown": ProblemKind(
        status=401,
        title="Kiosk not enrolled",
        when="No device secret is registered for the kiosk in X-Kiosk-Id (and this exchange "
        "does not accept the demo secret).",
    ),
    "signature_invalid": ProblemKind(
        status=401,
        title="Signature does not hold",
        when="The signature was not made with the kiosk's device secret over this method, "
        "path and query, timestamp, kiosk id and body. Once a kiosk has enrolled, only its "
        "own secret is accepted.",
    ),
    "enrollment_refused": ProblemKind(
        status=403,
        title="Enrollment code refused",
        when="The enrollment code is unknown, was used already, or has expired. Ask the "
        "exchange for a new code.",
    ),
    "device_already_enrolled": ProblemKind(
        status=409,
        title="Kiosk already enrolled",
        when="This kiosk id already has a device secret; enrolling again is refused and the "
        "code stays unused.",
    ),
    "idempotency_key_missing": ProblemKind(
        status=400,
        title="Idempotency-Key header missing",
        when="A payment was posted without an Idempotency-Key header. Nothing was stored.",
    ),
    "invalid_request": ProblemKind(
        status=400,
        title="Request is not valid",
        when="The body or a parameter does not follow the contract. For a payment this answer "
        "is stored under its key and replayed.",
    ),
    "batch_invalid": ProblemKind(
        status=400,
        title="Batch request is not valid",
        when="The body of a batch is not an `operations` list of 1 to 100 operations, each a "
        "POST to /v1/payments with an idempotency_key and a body string. Nothing was done.",
    ),
    "unknown_member": ProblemKind(
        status=400,
        title="Member unknown",
        when="No member has this member_id. Stored under the key and replayed.",
    ),
    "unknown_key": ProblemKind(
        status=404,
        title="Idempotency key unknown",
        when="The exchange holds nothing under this key: never seen, or older than the "
        "retention period.",
    ),
    "not_found": ProblemKind(
        status=404, title="No such resource", when="The path names nothing on this exchange."
    ),
    "method_not_allowed": ProblemKind(
        status=405, title="Method not allowed", when="The path does not take this method."
    ),
    "request_in_progress": ProblemKind(
        status=409,
        title="A request with this key is still being processed",
        when="The first request with this Idempotency-Key has not finished. Retry later with "
        "the same key and body; this answer is never stored.",
    ),
    "idempotency_key_reused": ProblemKind(
        status=422,
        title="Idempotency-Key reused with another body",
        when="The key was first used with a body whose SHA-256 differs from this one.",
    ),
    "kiosk_sequence_reused": ProblemKind(
        status=422,
        title="Kiosk sequence number already used",
        when="A payment with the same kiosk_id and kiosk_seq was accepted under another key. "
        "Stored under the key and replayed.",
    ),
    "payment_id_reused": ProblemKind(
        status=422,
        title="Payment id already used",
        when="A payment with the same payment_id was accepted under another key (sandbox "
        "addition to the contract). Stored under the key and replayed.",
    ),
    "unknown_method": ProblemKind(
        status=400,
        title="Payment method unknown",
        when="The member has no saved payment method with this method_id. Stored under the "
        "key and replayed.",
    ),
    "method_removed": ProblemKind(
        status=400,
        title="Payment method removed",
        when="The saved method was removed, so its expiry cannot change and it cannot be the "
        "default. Stored under the key and replayed.",
    ),
    "method_id_reused": ProblemKind(
        status=422,
        title="Payment method id already used",
        when="A method with this method_id was already added. Stored under the key and "
        "replayed.",
    ),
    "unknown_hosted_payment": ProblemKind(
        status=404,
        title="Hosted payment unknown",
        when="No hosted payment link has this id.",
    ),
    "hosted_expired": ProblemKind(
        status=409,
        title="Hosted payment link expired",
        when="The link passed its expiry unpaid; nothing can be paid through it. Make a new "
        "link.",
    ),
    "hosted_not_pending": ProblemKind(
        status=409,
        title="Hosted payment link no longer pending",
        when="The link was paid or cancelled, so it is not texted again.",
    ),
    "hosted_already_paid": ProblemKind(
        status=409,
        title="Hosted payment link already paid",
        when="The member paid before the link could be cancelled; read the link for its "
        "payment.",
    ),
    "profile_conflict": ProblemKind(
        status=422,
        title="Changed at the exchange meanwhile",
        when="A field of a profile change was changed at the exchange since the kiosk read it, "
        "to a value that is neither the kiosk's old nor its new one. Nothing was applied; the "
        "answer lists `conflicts` (field, base_value, kiosk_value, exchange_value) and the "
        "`profile` as the exchange holds it. Not to be retried: a person chooses. Stored "
        "under the key and replayed.",
    ),
    "unknown_payment": ProblemKind(
        status=400,
        title="Payment unknown",
        when="A payment_id is not one of the member's payments on the exchange's ledger. "
        "Stored under the key and replayed.",
    ),
    "unknown_autopay": ProblemKind(
        status=400,
        title="Automatic payment unknown",
        when="The member has no automatic payment with this autopay_id. Stored and replayed.",
    ),
    "autopay_id_reused": ProblemKind(
        status=422,
        title="Automatic payment id already used",
        when="An automatic payment with this autopay_id was already set up. Stored and "
        "replayed.",
    ),
    "autopay_exists": ProblemKind(
        status=422,
        title="A recurring automatic payment exists",
        when="The member already has a recurring automatic payment (active, paused or waiting "
        "for a plan decision); a second could pay a month twice. Stored and replayed.",
    ),
    "autopay_closed": ProblemKind(
        status=400,
        title="Automatic payment cancelled",
        when="The automatic payment was cancelled; only a cancel is answered. Stored and "
        "replayed.",
    ),
    "plan_mismatch": ProblemKind(
        status=400,
        title="Not the member's current plan",
        when="plan_id of a set-up or a move is not the member's current plan. Stored and "
        "replayed.",
    ),
    "dispute_id_reused": ProblemKind(
        status=422,
        title="Dispute id already used",
        when="A dispute with this dispute_id was already filed. Stored and replayed.",
    ),
    "unknown_dispute": ProblemKind(
        status=400,
        title="Dispute unknown",
        when="The member has no dispute with this dispute_id. Stored and replayed.",
    ),
    "dispute_resolved": ProblemKind(
        status=400,
        title="Dispute already resolved",
        when="The dispute was resolved for the member; there is nothing to escalate.",
    ),
    "attachment_invalid": ProblemKind(
        status=400,
        title="Attachment not valid",
        when="An attachment's decoded size or SHA-256 differs from what it states, or its "
        "first bytes are not those of its media type. Stored and replayed.",
    ),
    "internal_error": ProblemKind(
        status=500, title="Exchange error", when="Something failed inside the exchange."
    ),
}


# What a refused signature can answer (401), for the documentation of each signed route.
SIGNATURE_REFUSALS = ("signature_missing", "signature_timestamp_invalid", "signature_expired",
                      "device_unknown", "signature_invalid")


class ProblemError(Exception):
    """Raised anywhere in a request to answer with the problem `code`."""

    def __init__(self, code: str, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.headers = headers or {}

    @property
    def status(self) -> int:
        """The HTTP status of this problem's code."""
        return PROBLEMS[self.code].status


def problem_body(code: str, detail: str) -> dict[str, Any]:
    """The problem document for `code`, shaped as docs/SYNC_CONTRACT.md says."""
    kind = PROBLEMS[code]
    return {
        "type": "about:blank",
        "title": kind.title,
        "status": kind.status,
        "code": code,
        "detail": detail,
    }


def encode_json(document: object) -> bytes:
    """Compact UTF-8 JSON: the exact bytes the exchange sends and stores for replay."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def problem_response(
    code: str, detail: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    """A ready `application/problem+json` response for `code`."""
    return Response(
        content=encode_json(problem_body(code, detail)),
        status_code=PROBLEMS[code].status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error `app` answers a problem document, including framework errors."""
    app.add_exception_handler(ProblemError, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_problem(_request: Request, exc: ProblemError) -> Response:
    return problem_response(exc.code, exc.detail, headers=exc.headers)


async def _on_invalid_request(_request: Request, exc: RequestValidationError) -> Response:
    return problem_response("invalid_request", describe_errors(exc.errors()))


async def _on_http_error(_request: Request, exc: StarletteHTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    return problem_response(code, str(exc.detail), headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error answering %s %s", request.method, request.url.path)
    return problem_response("internal_error", "The exchange failed; retry later.")


def describe_errors(errors: Any) -> str:
    """One line naming each invalid field and why, without echoing the values sent."""
    parts = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "The request is not valid."


def problem_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for `codes`, grouped by status, with one example per code."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        kind = PROBLEMS[code]
        entry = responses.setdefault(kind.status, _empty_problem_response())
        entry["description"] = _join_description(entry["description"], code, kind)
        examples = entry["content"][PROBLEM_MEDIA_TYPE]["examples"]
        examples[code] = {"summary": kind.title, "value": problem_body(code, kind.when)}
    return responses


def _empty_problem_response() -> dict[str, Any]:
    return {
        "description": "",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}, "examples": {}}},
    }


def _join_description(before: str, code: str, kind: ProblemKind) -> str:
    line = f"`{code}`: {kind.when}"
    return f"{before}\n\n{line}" if before else line
