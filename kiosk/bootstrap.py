"""The composition root of the core: builds the vault, clock and terminal from settings.

The UI (`ui/app.py`) and the headless tools call `build_core`; the sync worker is built beside
it by `sync.bootstrap`, since the core never depends on the network layer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiosk.clock import Clock, SystemClock
from kiosk.connectivity import Connectivity
from kiosk.settings import Settings
from kiosk.store.keys import key_for_vault
from kiosk.store.vault import Vault
from kiosk.terminal import CardTerminal
from kiosk.terminal.sandbox import SandboxTerminal

log = logging.getLogger(__name__)


@dataclass(slots=True, kw_only=True)
class Core:
    """Everything the services need, built once per run."""

    settings: Settings
    vault: Vault
    clock: Clock
    terminal: CardTerminal
    connectivity: Connectivity

    def close(self) -> None:
        self.vault.close()


def build_core(
    settings: Settings, *, clock: Clock | None = None, terminal: CardTerminal | None = None
) -> Core:
    """Open the vault (creating it and its key on first run) and wire the core together.

    Raises VaultError subclasses when the vault cannot be opened; nothing is written then.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = key_for_vault(settings.vault_path, settings.key_path)
    vault = Vault(settings.vault_path, key)
    return Core(
        settings=settings,
        vault=vault,
        clock=clock or SystemClock(),
        terminal=terminal or SandboxTerminal(),
        connectivity=Connectivity(),
    )
