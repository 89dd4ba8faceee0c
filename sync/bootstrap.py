"""Builds the sync worker beside the core (the core never depends on the network layer), and
the exchange client it and the hosted-link calls share the recipe of.

The client signs with the device secret the kiosk enrolled with (kept in the vault) when there
is one; before enrollment, with `settings.device_token` (the demo secret in demo mode and the
tests). It trusts the CA bundle the settings name, or certifi's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kiosk.bootstrap import Core
from kiosk.services import device
from sync.audit_heads import AuditHeads
from sync.client import ExchangeClient
from sync.signing import DeviceCredential
from sync.worker import SyncStatus, SyncWorker

log = logging.getLogger(__name__)


def device_credential(core: Core) -> DeviceCredential:
    """The credential requests are signed with: the enrolled one, else the settings' secret."""
    settings = core.settings
    stored = device.get_credential(vault=core.vault)
    if stored is None:
        return DeviceCredential(kiosk_id=settings.kiosk_id, secret=settings.device_token)
    if stored.kiosk_id != settings.kiosk_id:
        log.warning("settings name kiosk %s, but this kiosk enrolled as %s; signing as %s",
                    settings.kiosk_id, stored.kiosk_id, stored.kiosk_id)
    return DeviceCredential(kiosk_id=stored.kiosk_id, secret=stored.secret)


def exchange_client(core: Core) -> ExchangeClient:
    """A new client for the exchange the core's settings name. Raises InsecureExchangeUrl
    for plain http to anything but this machine."""
    settings = core.settings
    credential = device_credential(core)
    return ExchangeClient(
        settings.exchange_url,
        device_token=credential.secret,
        kiosk_id=credential.kiosk_id,
        timeout=(3.05, settings.http_timeout_seconds),
        ca_bundle=settings.ca_bundle_path,
    )


def build_sync(core: Core, *, on_status: Callable[[SyncStatus], None]) -> SyncWorker:
    """A sync worker for the core's vault and the exchange its settings name (not started)."""
    settings = core.settings
    heads = AuditHeads(vault=core.vault, clock=core.clock,
                       receipt_key=settings.exchange_receipt_key, fetch_key=settings.demo)
    return SyncWorker(vault=core.vault, clock=core.clock, client=exchange_client(core),
                      on_status=on_status, poll_seconds=settings.sync_poll_seconds,
                      connectivity=core.connectivity, audit_heads=heads)
