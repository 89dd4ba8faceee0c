"""The shapes of enrollment, audit heads and the exchange's keys (docs/SYNC_CONTRACT.md) as
pydantic models: `EnrollmentRequest` and `AuditHead` validate what a kiosk sends; the others
describe answers for the OpenAPI document.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(strict=True, frozen=True, extra="ignore")


class EnrollmentRequest(BaseModel):
    """A kiosk asking for its device secret with a code the exchange's operations gave out."""

    model_config = _STRICT

    kiosk_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$",
                          examples=["K042"])
    enrollment_code: str = Field(min_length=1, max_length=64, examples=["ABCD-EFGH-JKMN-PQRS"])


class DeviceEnrolled(BaseModel):
    """The kiosk's device secret, given once: the kiosk keeps it in its encrypted vault."""

    kiosk_id: str
    device_secret: str = Field(description="URL-safe base64 of 32 random bytes.")
    enrolled_at: str = Field(description="ISO 8601 UTC.")


class AuditHead(BaseModel):
    """The newest entry of the kiosk's audit trail."""

    model_config = _STRICT

    seq: int = Field(ge=1, description="The entry's number in the kiosk's trail.")
    head: str = Field(pattern=r"^[0-9a-f]{64}$", description="The entry's MAC (hex).")
    at: str = Field(min_length=1, max_length=40, description="The kiosk's clock, ISO 8601.")


class AuditReceipt(BaseModel):
    """The exchange's signed word that it saw the kiosk's trail reach `seq` with `head`."""

    kiosk_id: str
    seq: int
    head: str
    received_at: str = Field(description="The exchange's clock, ISO 8601 UTC.")
    key_id: str = Field(description="Which of /v1/exchange-keys checks the signature.")
    signature: str = Field(
        description="base64 Ed25519 over the lines HCK1-AUDIT-RECEIPT, kiosk_id, seq, head, "
        "received_at, key_id (joined by \\n, UTF-8)."
    )


class ExchangeKey(BaseModel):
    """One receipt-signing public key of the exchange."""

    key_id: str
    algorithm: str = Field(examples=["Ed25519"])
    public_key: str = Field(description="base64 of the raw 32-byte public key.")
    created_at: str


class ExchangeKeys(BaseModel):
    """The exchange's public keys, newest first."""

    keys: list[ExchangeKey]
