"""What the routes of the sandbox exchange share: the `Exchange` (store, settings, injected
faults), the dependency that checks the device token, and the JSON answer helper.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from . import demo_data
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
        """Prepare the database: schema, demo data on first start, purge of expired keys."""
        config = self.config
        self.store.initialize(
            lambda: demo_data.generate(
                seed=config.seed, members=config.members, today=config.today
            ),
            purge_before=config.clock() - timedelta(days=config.key_retention_days),
        )


def exchange_of(request: Request) -> Exchange:
    """The app's `Exchange` (a dependency for routes that need no credential)."""
    exchange: Exchange = request.app.state.exchange
    return exchange


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="DeviceToken",
    description="The kiosk's device credential. The demo token is "
    "`demo-device-token-NOT-A-SECRET`.",
)


def authenticated(
    exchange: Annotated[Exchange, Depends(exchange_of)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_kiosk_id: Annotated[
        str | None, Header(alias="X-Kiosk-Id", description="The kiosk's id.")
    ] = None,
) -> Exchange:
    """The exchange, once the bearer token is known; otherwise 401 `unauthorized`."""
    expected = exchange.config.token.encode()
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), expected):
        logger.warning("refused a request without a known device token (kiosk %s)", x_kiosk_id)
        raise ProblemError(
            "unauthorized",
            "Send Authorization: Bearer <device token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return exchange


Authenticated = Annotated[Exchange, Depends(authenticated)]


def json_response(document: object, status_code: int = 200) -> Response:
    """`document` as compact UTF-8 JSON."""
    return Response(encode_json(document), status_code=status_code, media_type="application/json")
