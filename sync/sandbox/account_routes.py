"""Routes for the member's account: the five idempotent change endpoints of the contract
(profile, preferences, automatic payments, disputes, receipt deliveries) and the sandbox-only
controls that play the exchange's own side (reminders, messages, automatic payment runs, plan
changes, website edits, dispute decisions).

Handlers are thin, as in `app.py`: each reads its input, calls `store.ExchangeStore` in a
thread pool, and answers JSON or a problem.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from . import account, account_sandbox, idempotency, openapi
from .account_models import (
    AddressData,
    AutopayData,
    DisputeData,
    PreferencesAnswer,
    ProfileData,
    ReceiptDeliveryAnswer,
)
from .deps import Authenticated, Exchange, exchange_of, json_response
from .pay_routes import IdempotencyKey, _idempotent_responses
from .payments import reply
from .problems import ProblemError

contract = APIRouter(prefix="/v1", tags=["account"])
sandbox = APIRouter(prefix="/_sandbox", tags=["sandbox"], include_in_schema=False)
Sandboxed = Annotated[Exchange, Depends(exchange_of)]


def _handler(path: str) -> Callable[..., Awaitable[Response]]:
    async def handle(request: Request, exchange: Authenticated,
                     idempotency_key: IdempotencyKey = None) -> Response:
        key = idempotency_key or ""
        refused = idempotency.key_problem(key)
        if refused is not None:
            return reply(refused)
        config = exchange.config
        outcome = await run_in_threadpool(
            exchange.store.perform, key, await request.body(), path=path, now=config.clock(),
            today=config.today)
        return reply(outcome)

    return handle


def _route(path: str, *, summary: str, description: str, request_model: str,
           answer: type[BaseModel], codes: tuple[str, ...]) -> None:
    contract.add_api_route(
        path.removeprefix("/v1"), _handler(path), methods=["POST"], status_code=201,
        summary=summary, description=description, response_model=answer,
        responses=_idempotent_responses("unknown_member", "kiosk_sequence_reused", *codes),
        openapi_extra={"requestBody": openapi.account_body(request_model)},
        name=path.strip("/").replace("/", "_").replace("-", "_"))


_IDEMPOTENT = (" Idempotent like `POST /v1/payments` (a fresh uuid4 key per change, the "
               "byte-identical body on every retry) and accepted in `POST /v1/batch`.")
_route(account.PROFILE_PATH, summary="Change a member's address, phone or email (idempotent)",
       description="Each changed field carries the value the kiosk showed (`from`) and the new "
       "one (`to`). A field changed at the exchange meanwhile to a third value is a conflict: "
       "nothing is applied and the answer is 422 `profile_conflict` with both values."
       + _IDEMPOTENT,
       request_model="ProfileChange", answer=ProfileData, codes=("profile_conflict",))
_route(account.PREFERENCES_PATH, summary="Replace a member's communication preferences",
       description="Channel and language per kind of message, and reminder days before each "
       "due date. The last one received wins." + _IDEMPOTENT,
       request_model="PreferencesChange", answer=PreferencesAnswer, codes=())
_route(account.AUTOPAYS_PATH, summary="Set up or change an automatic or scheduled payment",
       description="`action` is set_up, change, pause, resume, cancel or move_plan, with the "
       "whole record. A member has at most one recurring automatic payment that can run."
       + _IDEMPOTENT,
       request_model="AutopayChange", answer=AutopayData,
       codes=("unknown_method", "unknown_autopay", "autopay_id_reused", "autopay_exists",
              "autopay_closed", "plan_mismatch"))
_route(account.DISPUTES_PATH, summary="File or escalate a dispute about payments",
       description="`action` file (with attachments in base64, each at most 10 MiB) or "
       "escalate. The dispute's status and messages follow in the feed (kind `dispute`)."
       + _IDEMPOTENT,
       request_model="DisputeChange", answer=DisputeData,
       codes=("unknown_payment", "dispute_id_reused", "unknown_dispute", "dispute_resolved",
              "attachment_invalid"))
_route(account.RECEIPTS_PATH, summary="Send a payment's receipt by email, text or mail",
       description="In the language given; `reason` is `requested` (at the counter) or "
       "`confirmation` (sent by the kiosk once the payment was confirmed)." + _IDEMPOTENT,
       request_model="ReceiptDeliveryRequest", answer=ReceiptDeliveryAnswer,
       codes=("unknown_payment",))


# -- sandbox-only controls ----------------------------------------------------------------------

class _OnDay(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    on: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class _PlanChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str
    plan_id: str
    effective: date


class _ProfileEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str
    phone: str | None = None
    email: str | None = None
    address: AddressData | None = None


class _Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(pattern=r"^(under_review|resolved|denied)$")
    message: str = Field(min_length=1, max_length=500)


def _found(value: Any, what: str) -> Any:
    if value is None:
        raise ProblemError("not_found", f"No such {what}.")
    return value


@sandbox.post("/reminders/run", summary="Send the reminders due on a day (sandbox only)")
def run_reminders(exchange: Sandboxed, body: _OnDay) -> Response:
    on = date.fromisoformat(body.on)
    sent = exchange.store.write_with(lambda c: account_sandbox.send_due_reminders(c, on))
    return json_response({"reminders": sent})


@sandbox.get("/reminders", summary="Every reminder the exchange sent (sandbox only)")
def sent_reminders(exchange: Sandboxed) -> Response:
    return json_response({"reminders": exchange.store.read_with(account_sandbox.reminders)})


@sandbox.get("/messages", summary="Every receipt and confirmation sent (sandbox only)")
def sent_messages(exchange: Sandboxed) -> Response:
    return json_response({"messages": exchange.store.read_with(account_sandbox.messages)})


@sandbox.post("/autopays/run", summary="Run the automatic payments due on a day")
def run_autopays(exchange: Sandboxed, body: _OnDay) -> Response:
    on, now = date.fromisoformat(body.on), exchange.config.clock()
    made = exchange.store.write_with(lambda c: account_sandbox.run_autopays(c, on, now))
    return json_response({"payments": made})


def _autopays_of(conn: sqlite3.Connection, member_id: str) -> list[dict[str, Any]]:
    ids = conn.execute("SELECT autopay_id FROM autopays WHERE member_id = ? ORDER BY rowid",
                       (member_id,)).fetchall()
    return [account.autopay_data(conn, row[0]) for row in ids]


@sandbox.get("/autopays", summary="A member's automatic payments (sandbox only)")
def autopays(exchange: Sandboxed,
             member_id: Annotated[str, Query(max_length=32)]) -> Response:
    held = exchange.store.read_with(lambda c: _autopays_of(c, member_id))
    return json_response({"autopays": held})


@sandbox.post("/plan-change", summary="Move a member to another plan (sandbox only)")
def plan_change(exchange: Sandboxed, body: _PlanChange) -> Response:
    member = exchange.store.write_with(lambda c: account_sandbox.change_plan(
        c, body.member_id, body.plan_id, body.effective))
    return json_response(_found(member, "member or plan"))


@sandbox.post("/profile-edits", summary="Change contact details as on the website")
def profile_edit(exchange: Sandboxed, body: _ProfileEdit) -> Response:
    fields = body.model_dump(exclude={"member_id"}, exclude_none=True)
    member = exchange.store.write_with(lambda c: account_sandbox.edit_profile(
        c, body.member_id, fields))
    return json_response(_found(member, "member"))


@sandbox.post("/disputes/{dispute_id}/decision", summary="Move a dispute on (sandbox only)")
def dispute_decision(exchange: Sandboxed, dispute_id: Annotated[str, PathParam(max_length=64)],
                     body: _Decision) -> Response:
    now = exchange.config.clock()
    data = exchange.store.write_with(lambda c: account_sandbox.decide_dispute(
        c, dispute_id, status=body.status, message=body.message, now=now))
    return json_response(_found(data, "dispute"))


def _dispute_with_files(conn: sqlite3.Connection, dispute_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT data FROM disputes WHERE dispute_id = ?", (dispute_id,)).fetchone()
    if row is None:
        return None
    files = [dict(r) for r in conn.execute(
        "SELECT attachment_id, media_type, size, sha256, length(content) AS stored_bytes"
        " FROM dispute_attachments WHERE dispute_id = ? ORDER BY rowid", (dispute_id,))]
    return {**json.loads(row[0]), "stored_attachments": files}


@sandbox.get("/disputes/{dispute_id}", summary="A dispute with its stored files (sandbox)")
def dispute(exchange: Sandboxed,
            dispute_id: Annotated[str, PathParam(max_length=64)]) -> Response:
    held = exchange.store.read_with(lambda c: _dispute_with_files(c, dispute_id))
    return json_response(_found(held, "dispute"))
