"""The shapes of the account part of the sync contract (docs/SYNC_CONTRACT.md, "The member's
account"): profile changes, communication preferences, automatic payments, disputes and
receipt deliveries, as pydantic models.

Each request model validates a body after its raw bytes were hashed under its Idempotency-Key
(see `idempotency.OPERATIONS`); every request carries what a method change carries: the
member, the kiosk and its sequence number, when and by whom.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

_STRICT = ConfigDict(strict=True, frozen=True, extra="ignore")
E164 = r"^\+[1-9][0-9]{7,14}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
ZIP = r"^[0-9]{5}(-[0-9]{4})?$"
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def _uuid(value: str) -> str:
    uuid.UUID(value)
    return value


class _Change(BaseModel):
    """What every account change carries."""

    model_config = _STRICT

    member_id: str = Field(min_length=1, max_length=32)
    kiosk_id: str = Field(min_length=1, max_length=64)
    kiosk_seq: int = Field(ge=0, description="The kiosk's own sequence number, never reused.")
    changed_at: AwareDatetime
    navigator: str = Field(min_length=1, max_length=64)


# -- profile ------------------------------------------------------------------------------------

class AddressData(BaseModel):
    """A US postal address."""

    model_config = _STRICT

    line1: str = Field(min_length=1, max_length=100)
    line2: str = Field(max_length=100)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    zip: str = Field(pattern=ZIP, examples=["60601", "60601-1234"])


class AddressEdit(BaseModel):
    model_config = _STRICT

    from_: AddressData | None = Field(alias="from", description="The value shown before.")
    to: AddressData


class PhoneEdit(BaseModel):
    model_config = _STRICT

    from_: str = Field(alias="from", description="The value shown before (may be empty).")
    to: str = Field(pattern=E164)


class EmailEdit(BaseModel):
    model_config = _STRICT

    from_: str = Field(alias="from", description="The value shown before (may be empty).")
    to: str = Field(pattern=EMAIL, max_length=254)


class ProfileEdits(BaseModel):
    """The changed fields only; each with the value the kiosk showed and the new one."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    address: AddressEdit | None = None
    phone: PhoneEdit | None = None
    email: EmailEdit | None = None


class ProfileChange(_Change):
    """A change to the member's contact details."""

    change_id: str = Field(description="A UUID the kiosk gave the change.")
    base_version: int = Field(ge=0, description="The profile version the kiosk last saw.")
    changes: ProfileEdits

    @field_validator("change_id")
    @classmethod
    def _change_id_is_uuid(cls, value: str) -> str:
        return _uuid(value)


class ProfileData(BaseModel):
    """The member's contact details as the exchange holds them."""

    member_id: str
    profile_version: int
    address: AddressData | None
    phone: str
    email: str
    change_id: str | None = Field(default=None, description="The change just applied.")
    updated_at: str | None = None


class FieldConflictData(BaseModel):
    field: Literal["address", "phone", "email"]
    base_value: object = Field(description="What the kiosk showed before the edit.")
    kiosk_value: object = Field(description="What was typed at the kiosk.")
    exchange_value: object = Field(description="What the exchange holds now.")


class ProfileConflictProblem(BaseModel):
    """422 `profile_conflict`: a problem document with both values of each field."""

    type: str
    title: str
    status: Literal[422]
    code: Literal["profile_conflict"]
    detail: str
    conflicts: list[FieldConflictData]
    profile: ProfileData


# -- preferences --------------------------------------------------------------------------------

class MessagePreferenceData(BaseModel):
    model_config = _STRICT

    channel: Literal["email", "sms", "mail"]
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z][a-z]{3}|_[A-Z]{2})?$")


class MessagePreferences(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    bills: MessagePreferenceData
    payment_reminders: MessagePreferenceData
    receipts: MessagePreferenceData
    notices: MessagePreferenceData


class PreferencesData(BaseModel):
    """How the member wants each kind of message, and reminder days before each due date."""

    model_config = _STRICT

    messages: MessagePreferences
    reminder_days: list[Annotated[int, Field(ge=0, le=30)]] = Field(max_length=5)


class PreferencesChange(_Change):
    """Replace the member's communication preferences."""

    change_id: str
    preferences: PreferencesData

    @field_validator("change_id")
    @classmethod
    def _change_id_is_uuid(cls, value: str) -> str:
        return _uuid(value)


class PreferencesAnswer(BaseModel):
    change_id: str
    member_id: str
    preferences: PreferencesData
    updated_at: str


# -- automatic payments -------------------------------------------------------------------------

class ScheduleData(BaseModel):
    model_config = _STRICT

    kind: Literal["recurring", "one_time"]
    timing: Literal["due_date", "day_of_month"]
    day_of_month: int | None = Field(ge=1, le=31)
    run_on: str | None = Field(description="YYYY-MM-DD, for a one-time payment.")
    amount_kind: Literal["full_due", "fixed"]
    amount_cents: int | None = Field(gt=0, le=10_000_000)


class AutopayChange(_Change):
    """One action on an automatic or scheduled payment, with its whole record."""

    action: Literal["set_up", "change", "pause", "resume", "cancel", "move_plan"]
    autopay_id: str
    plan_id: str = Field(min_length=1, max_length=64)
    method_id: str
    status: Literal["active", "paused", "cancelled", "completed"]
    schedule: ScheduleData
    from_plan_id: str | None = Field(default=None, description="For move_plan: the old plan.")

    @field_validator("autopay_id")
    @classmethod
    def _autopay_id_is_uuid(cls, value: str) -> str:
        return _uuid(value)


class AutopayData(BaseModel):
    """An automatic or scheduled payment as the exchange holds it."""

    autopay_id: str
    member_id: str
    plan_id: str
    method_id: str
    status: Literal["active", "paused", "cancelled", "completed"]
    plan_changed: bool = Field(description="The member's plan changed; waiting for a decision.")
    schedule: ScheduleData
    updated_at: str


# -- disputes -----------------------------------------------------------------------------------

class AttachmentUpload(BaseModel):
    model_config = _STRICT

    attachment_id: str
    filename: str = Field(min_length=1, max_length=120)
    media_type: Literal["application/pdf", "image/jpeg", "image/png", "image/heic"]
    size: int = Field(gt=0, le=MAX_ATTACHMENT_BYTES)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_base64: str = Field(description="The file, base64 (RFC 4648 section 4).")


class FileDispute(_Change):
    """File a dispute about one or more payments."""

    action: Literal["file"]
    dispute_id: str
    reason: Literal["duplicate_charge", "wrong_amount", "not_credited", "unauthorized", "other"]
    amount_cents: int = Field(gt=0, le=10_000_000)
    currency: Literal["USD"]
    payment_ids: list[str] = Field(min_length=1, max_length=20)
    description: str = Field(min_length=10, max_length=2000)
    statement_date: str | None = None
    attachments: list[AttachmentUpload] = Field(max_length=5)

    @field_validator("dispute_id")
    @classmethod
    def _dispute_id_is_uuid(cls, value: str) -> str:
        return _uuid(value)


class EscalateDispute(_Change):
    """Ask for a dispute to be escalated."""

    action: Literal["escalate"]
    dispute_id: str
    note: str = Field(min_length=10, max_length=2000)


DisputeChange = Annotated[FileDispute | EscalateDispute, Field(discriminator="action")]
DISPUTE_CHANGES: TypeAdapter[DisputeChange] = TypeAdapter(DisputeChange)


class DisputeMessageData(BaseModel):
    at: str
    text: str


class DisputeData(BaseModel):
    """A dispute as the exchange holds it; also a change of kind `dispute` in the feed."""

    dispute_id: str
    member_id: str
    reason: str
    amount_cents: int
    payment_ids: list[str]
    status: Literal["submitted", "under_review", "resolved", "denied"]
    escalated: bool
    messages: list[DisputeMessageData]
    attachments: list[dict[str, object]] = Field(
        description="attachment_id, filename, media_type, size and sha256; never the content."
    )
    updated_at: str


# -- receipts -----------------------------------------------------------------------------------

class ReceiptDeliveryRequest(_Change):
    """Send a payment's receipt by email, text or mail."""

    delivery_id: str
    payment_id: str = Field(min_length=1, max_length=64)
    channel: Literal["email", "sms", "mail"]
    to: str = Field(min_length=3, max_length=300)
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z][a-z]{3}|_[A-Z]{2})?$")
    reason: Literal["requested", "confirmation"]

    @field_validator("delivery_id")
    @classmethod
    def _delivery_id_is_uuid(cls, value: str) -> str:
        return _uuid(value)


class ReceiptDeliveryAnswer(BaseModel):
    delivery_id: str
    payment_id: str
    channel: Literal["email", "sms", "mail"]
    to: str
    language: str
    status: Literal["sent"]
    sent_at: str
