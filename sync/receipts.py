"""Signed receipts for the audit trail's head (docs/SYNC_CONTRACT.md, "Audit heads").

After a sync the kiosk tells the exchange the newest entry of its audit trail (its sequence
number and MAC); the exchange answers a receipt signed with its own Ed25519 key. Whoever later
holds the kiosk's data key can recompute every MAC of the trail, but cannot make the exchange's
signature over a head that the rewritten trail no longer contains.

Pure functions only, shared by the sandbox exchange (which signs) and the sync worker (which
verifies). A key is named by its `key_id`: the first 16 hex digits of the SHA-256 of the raw
public key, so a receipt names the key that can check it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SCHEME = "HCK1-AUDIT-RECEIPT"
ALGORITHM = "Ed25519"
KEY_BYTES = 32
_RAW = serialization.Encoding.Raw
_FIELDS = ("kiosk_id", "seq", "head", "received_at", "key_id", "signature")


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """The exchange's word that it saw the kiosk's audit trail reach `seq` with MAC `head`."""

    kiosk_id: str
    seq: int
    head: str  # the MAC of entry `seq`, 64 hex digits
    received_at: str  # ISO 8601 UTC, the exchange's clock
    key_id: str
    signature: str  # base64 Ed25519 signature over `message(...)`

    def as_data(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


def message(*, kiosk_id: str, seq: int, head: str, received_at: str, key_id: str) -> bytes:
    """The exact bytes the exchange signs: one line per field, after the scheme name."""
    return "\n".join((SCHEME, kiosk_id, str(seq), head, received_at, key_id)).encode("utf-8")


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    """The base64 raw public key of `private_key` (what settings and /v1/exchange-keys hold)."""
    raw = private_key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def is_key(public_key: str) -> bool:
    """Whether `public_key` is base64 of a raw Ed25519 public key (32 bytes)."""
    try:
        return len(base64.b64decode(public_key, validate=True)) == KEY_BYTES
    except (binascii.Error, ValueError):
        return False


def key_id(public_key: str) -> str:
    """The id of a base64 raw public key (check it with `is_key` first)."""
    return hashlib.sha256(base64.b64decode(public_key, validate=True)).hexdigest()[:16]


def sign(private_key: Ed25519PrivateKey, *, kiosk_id: str, seq: int, head: str,
         received_at: str) -> Receipt:
    """The receipt for one head, signed by the exchange's key."""
    kid = key_id(public_key_text(private_key))
    signed = private_key.sign(message(kiosk_id=kiosk_id, seq=seq, head=head,
                                      received_at=received_at, key_id=kid))
    return Receipt(kiosk_id=kiosk_id, seq=seq, head=head, received_at=received_at, key_id=kid,
                   signature=base64.b64encode(signed).decode("ascii"))


def verifies(receipt: Receipt, public_key: str) -> bool:
    """Whether `receipt` was signed by the private half of `public_key` (base64 raw
    Ed25519). False for a receipt naming another key, or for a malformed key or signature."""
    try:
        if receipt.key_id != key_id(public_key):
            return False
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(receipt.signature, validate=True), message(
            kiosk_id=receipt.kiosk_id, seq=receipt.seq, head=receipt.head,
            received_at=receipt.received_at, key_id=receipt.key_id))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def parse(body: bytes) -> Receipt:
    """The receipt in an answer body; ValueError when the body is not one."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("a receipt is a JSON object")
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError("seq must be an integer")
    texts = {name: data.get(name) for name in _FIELDS if name != "seq"}
    for name, value in texts.items():
        if not (isinstance(value, str) and 0 < len(value) < 200):
            raise ValueError(f"{name} must be a short string")
    return Receipt(kiosk_id=str(texts["kiosk_id"]), seq=seq, head=str(texts["head"]),
                   received_at=str(texts["received_at"]), key_id=str(texts["key_id"]),
                   signature=str(texts["signature"]))
