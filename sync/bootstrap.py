"""Builds the sync worker beside the core (the core never depends on the network layer)."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.bootstrap import Core
from sync.client import ExchangeClient
from sync.worker import SyncStatus, SyncWorker


def build_sync(core: Core, *, on_status: Callable[[SyncStatus], None]) -> SyncWorker:
    """A sync worker for the core's vault and the exchange its settings name (not started)."""
    settings = core.settings
    client = ExchangeClient(
        settings.exchange_url,
        device_token=settings.device_token,
        kiosk_id=settings.kiosk_id,
        timeout=(3.05, settings.http_timeout_seconds),
    )
    return SyncWorker(vault=core.vault, clock=core.clock, client=client, on_status=on_status,
                      poll_seconds=settings.sync_poll_seconds,
                      connectivity=core.connectivity)
