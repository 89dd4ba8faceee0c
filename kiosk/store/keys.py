"""The vault's raw 256-bit key, kept for now in a key file only the owner can read.

A later change wraps the key under the operating system's keyring and a recovery passphrase;
callers only see `load_key` and `create_key`, so that change stays inside this module.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from kiosk.errors import VaultKeyError

KEY_BYTES = 32


def load_key(key_path: Path) -> bytes:
    """Read the key file. Raises VaultKeyError with a code saying what is wrong with it."""
    try:
        text = key_path.read_text(encoding="ascii").strip()
    except FileNotFoundError as exc:
        raise VaultKeyError(code="vault_key_missing", path=str(key_path)) from exc
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise VaultKeyError(code="vault_key_unreadable", path=str(key_path)) from exc
    if len(key) != KEY_BYTES:
        raise VaultKeyError(code="vault_key_unreadable", path=str(key_path))
    return key


def create_key(key_path: Path) -> bytes:
    """Make a new random key and write it, readable by the owner only. Never overwrites."""
    key = secrets.token_bytes(KEY_BYTES)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex())
        handle.flush()
        os.fsync(handle.fileno())
    return key


def key_for_vault(vault_path: Path, key_path: Path) -> bytes:
    """The key for this vault: the stored one, or a new one when neither file exists yet.

    A vault without its key is never given a fresh key: that would lose every payment in it.
    """
    if key_path.exists() or vault_path.exists():
        return load_key(key_path)
    return create_key(key_path)
