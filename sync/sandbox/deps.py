"""What the routes of the sandbox exchange share: the `Exchange` (store, settings, injected
faults), the dependency that checks each request's device signature, and the JSON answer
helper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sync.signing import KIOSK_HEADER, SCHEME, SIGNATURE_HEADER, TIME_HEADER, refusal

from . import demo_data, devices
from .config import SandboxConfig
from .payments import Faults
from .problems import ProblemError, encode_json
from .store import ExchangeStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """What the routes of one app share: its store, settings and injected faults."""

    store: ExchangeStore
    config: SandboxConfig
    faults: Faults

    def initialize(self) -> None:
        """Prepare the database: schema, demo data and the receipt-signing key on first
        start, purge of expired idempotency keys."""
        config = self.config
        self.store.initialize(
            lambda: demo_data.generate(
                seed=config.seed, members=config.members, today=config.today
            ),
            purge_before=config.clock() - timedelta(days=config.key_retention_days),
        )
        self.store.write_with(lambda conn: devices.ensure_signing_key(conn, now=config.clock()))


def exchange_of(request: Request) -> Exchange:
    """The app's `Exchange` (a dependency for routes that need no credential)."""
    exchange: Exchange = request.app.state.exchange
    return exchange


def _signed_path(request: Request) -> str:
    """The path and query exactly as they came on the request line (percent-encoding kept),
    which is what the kiosk signed."""
    raw = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    query = request.scope.get("query_string") or b""
    path = bytes(raw).decode("latin-1")
    return f"{path}?{bytes(query).decode('latin-1')}" if query else path


def _secret_for(exchange: Exchange, kiosk_id: str) -> str | None:
    """The secret `kiosk_id` must sign with: its own once enrolled; before that, the demo
    secret (a sandbox-only convenience, when the config allows it)."""
    enrolled = exchange.store.read_with(lambda conn: devices.device_secret(conn, kiosk_id))
    if enrolled is not None:
        return enrolled
    return exchange.config.token if exchange.config.accept_demo_secret else None


async def authenticated(
    request: Request,
    exchange: Annotated[Exchange, Depends(exchange_of)],
    x_kiosk_id: Annotated[
        str | None, Header(alias=KIOSK_HEADER, description="The kiosk's id, as enrolled.")
    ] = None,
    x_signature_timestamp: Annotated[
        str | None,
        Header(alias=TIME_HEADER, description="Whole seconds since the epoch when signed."),
    ] = None,
    x_signature: Annotated[
        str | None,
        Header(alias=SIGNATURE_HEADER,
               description=f"`v1=` and the base64 {SCHEME} of the request (SYNC_CONTRACT.md)."),
    ] = None,
) -> Exchange:
    """The exchange, once the request's signature holds for the kiosk it names; otherwise 401
    with the refusal's code. The raw body read here is the one the route reads (cached)."""
    body = await request.body()
    secret = None
    if x_kiosk_id:
        secret = await run_in_threadpool(_secret_for, exchange, x_kiosk_id)
    now = exchange.config.wall_time()
    code = refusal(request.headers, secret=secret, method=request.method,
                   path=_signed_path(request), body=body, now=now)
    if code is not None:
        logger.warning("refused %s %s from kiosk %r: %s", request.method, request.url.path,
                       x_kiosk_id, code)
        raise ProblemError(code, _REFUSAL_DETAIL.format(now=int(now)),
                           headers={"WWW-Authenticate": SCHEME})
    return exchange


_REFUSAL_DETAIL = ("Sign every request with the kiosk's device secret (docs/SYNC_CONTRACT.md, "
                   "'Every request'). The exchange's clock reads {now}.")


Authenticated = Annotated[Exchange, Depends(authenticated)]


def json_response(document: object, status_code: int = 200) -> Response:
    """`document` as compact UTF-8 JSON."""
    return Response(encode_json(document), status_code=status_code, media_type="application/json")
