"""The sandbox terminal's HTTP application: the nexo endpoint (`POST /nexo`, as Adyen's
terminals serve it on the local network) and the sandbox-only `/_sandbox` controls.

`POST /nexo` takes a `SaleToPOIRequest` holding a PaymentRequest, a TransactionStatusRequest or
an AbortRequest. A payment's answer is held while its scenario says so (without blocking other
requests: a status lookup or an abort gets through meanwhile); an abort answers 200 with an
empty body, as the real terminal does. Requests it cannot read get 400 and start nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from . import wire
from .device import BadRequest, SandboxDevice, Transaction
from .scenarios import ScenarioSettings

log = logging.getLogger(__name__)

HOLD_POLL_SECONDS = 0.02


def create_app(device: SandboxDevice) -> FastAPI:
    """The app around one device (its record lives as long as the process)."""
    app = FastAPI(title="Sandbox card terminal", openapi_url=None, docs_url=None,
                  redoc_url=None)
    app.state.device = device
    app.include_router(_nexo)
    app.include_router(_sandbox)
    return app


def _device(request: Request) -> SandboxDevice:
    device = request.app.state.device
    assert isinstance(device, SandboxDevice)
    return device


def _json(message: dict[str, Any]) -> Response:
    return Response(content=wire.dumps(message), media_type="application/json")


def _bad(reason: str) -> Response:
    return JSONResponse({"error": "bad_request", "field": reason}, status_code=400)


_nexo = APIRouter()


@_nexo.post("/nexo")
async def nexo(request: Request) -> Response:
    device = _device(request)
    try:
        message = wire.loads(await request.body())
        envelope = message.get("SaleToPOIRequest")
        if not isinstance(envelope, dict):
            raise BadRequest("SaleToPOIRequest")
        if "PaymentRequest" in envelope:
            return _json(device.payment_response(await _held(device, device.pay(message))))
        if "TransactionStatusRequest" in envelope:
            return _json(device.status(message))
        if "AbortRequest" in envelope:
            device.abort(message)
            return Response(status_code=200)
        raise BadRequest("no request this terminal knows")
    except (wire.WireError, BadRequest) as exc:
        log.warning("unreadable request: %s", exc)
        return _bad(str(exc))


async def _held(device: SandboxDevice, tx: Transaction) -> Transaction:
    """Wait until the payment's answer is due (an abort makes it due at once)."""
    while not device.answer_due(tx):
        await asyncio.sleep(HOLD_POLL_SECONDS)
    return tx


_sandbox = APIRouter(prefix="/_sandbox")


@_sandbox.post("/scenario")
async def set_scenario(request: Request) -> Response:
    """Choose how the next payments end (see `scenarios.ScenarioSettings`)."""
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON object")
        settings = ScenarioSettings.from_json(body)
    except ValueError as exc:
        return JSONResponse({"error": "bad_scenario", "detail": str(exc)}, status_code=400)
    _device(request).configure(settings)
    return JSONResponse(settings.to_json())


@_sandbox.get("/scenario")
async def get_scenario(request: Request) -> Response:
    return JSONResponse(_device(request).settings.to_json())


@_sandbox.get("/transactions")
async def transactions(request: Request) -> Response:
    """The terminal's record of every payment request, oldest first. Never a card number."""
    return JSONResponse({"transactions": _device(request).transactions()})


@_sandbox.get("/health")
async def health() -> Response:
    return JSONResponse({"status": "ok"})
