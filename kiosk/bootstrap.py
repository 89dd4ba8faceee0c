"""The composition root of the core: builds the vault, clock, terminal and backups from
settings.

The UI (`ui/app.py`) and the headless tools call `build_core`; the sync worker is built beside
it by `sync.bootstrap`, since the core never depends on the network layer. Before the first
start (or the first start after an upgrade from a plaintext key) the UI asks
`key_setup_needed(settings)` whether to show the recovery-passphrase screen first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keyring.backend import KeyringBackend

from kiosk.clock import Clock, SystemClock
from kiosk.connectivity import Connectivity
from kiosk.services import audit
from kiosk.settings import Settings
from kiosk.store import backup, keys
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
    key_status: keys.KeyStatus  # where the device key lives; whether recovery is set
    backups: backup.Backups

    def close(self) -> None:
        self.vault.close()


def key_setup_needed(settings: Settings) -> keys.KeySetup:
    """Whether the first screen must ask for a recovery passphrase before `build_core`:
    MIGRATE means it must (the plaintext key of an earlier version is wrapped then);
    NEW_VAULT means it should (without one the kiosk starts, but cannot be recovered)."""
    return keys.setup_needed(keys.places(settings))


def build_core(
    settings: Settings, *, clock: Clock | None = None, terminal: CardTerminal | None = None,
    recovery_passphrase: str | None = None, keyring_backend: KeyringBackend | None = None,
) -> Core:
    """Unlock the vault key (creating it on first run, or wrapping an earlier version's
    plaintext key), open the vault, check it, and wire the core together.

    Raises VaultError subclasses when the vault cannot be opened or fails its integrity
    check; nothing is written to the vault then. Demo mode uses the published demo
    recovery passphrase when none is given.
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    clock = clock or SystemClock()
    where = keys.places(settings)
    unlocked = keys.unlock(where, demo=settings.demo, recovery_passphrase=recovery_passphrase,
                           backend=keyring_backend)
    vault = Vault(settings.vault_path, unlocked.key)
    try:
        vault.write(lambda conn: audit.seal_unsealed(conn, at=clock.now()))
    except BaseException:
        vault.close()
        raise
    return Core(
        settings=settings,
        vault=vault,
        clock=clock,
        terminal=terminal or SandboxTerminal(),
        connectivity=Connectivity(),
        key_status=unlocked.status,
        backups=backup.Backups(vault=vault, key=unlocked.key, policy=backup.policy(settings),
                               keystore=where.keystore_path, clock=clock),
    )
