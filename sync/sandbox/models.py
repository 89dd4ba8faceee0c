"""The shapes of the sync contract (docs/SYNC_CONTRACT.md) as pydantic models.

`PaymentRequest` validates a payment body after its raw bytes have been hashed, and
`BatchRequest` the envelope of a batch; the other models describe answers for the OpenAPI
document. The exchange builds answers as plain
dictionaries and sends them as they are, so the models document the shape rather than
re-serialise it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from stdnum.us import rtn

from .account_models import DisputeData

_STRICT = ConfigDict(strict=True, frozen=True, extra="ignore")
MAX_BATCH_OPERATIONS = 100


class CardMethod(BaseModel):
    """How the member paid: a card read at the kiosk's terminal."""

    model_config = _STRICT

    type: Literal["card"]
    brand: str = Field(min_length=1, max_length=32, examples=["visa"])
    last4: str = Field(pattern=r"^[0-9]{4}$", examples=["4242"])
    token: str = Field(min_length=1, max_length=256, description="The processor's card token.")
    auth_code: str = Field(min_length=1, max_length=32)
    entry_mode: str = Field(min_length=1, max_length=32, examples=["chip", "contactless"])


class AchAuthorization(BaseModel):
    """The member's in-person (Nacha PPD) authorization, kept at the kiosk for two years."""

    model_config = _STRICT

    authorization_id: str = Field(min_length=1, max_length=64)
    signed_at: AwareDatetime
    method: Literal["signature", "typed_name"]
    language: str = Field(min_length=1, max_length=16, examples=["en", "es"])
    text_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the exact authorization text shown."
    )


class AchMethod(BaseModel):
    """How the member paid: a debit of their bank account (ACH, PPD), authorized in person."""

    model_config = _STRICT

    type: Literal["ach"]
    routing_number: str = Field(
        pattern=r"^[0-9]{9}$", description="ABA routing number; its check digit must hold."
    )
    account_number: str = Field(pattern=r"^[0-9]{4,17}$")
    account_type: Literal["checking", "savings"]
    authorization: AchAuthorization

    @field_validator("routing_number")
    @classmethod
    def _routing_checksum(cls, value: str) -> str:
        if not rtn.is_valid(value):
            raise ValueError("the ABA check digit does not hold")
        return value


PaymentMethod = Annotated[CardMethod | AchMethod, Field(discriminator="type")]


class PaymentRequest(BaseModel):
    """A premium payment taken at a kiosk. The kiosk sends these exact bytes on every retry."""

    model_config = _STRICT

    payment_id: str = Field(description="A UUID the kiosk gave this payment.")
    kiosk_id: str = Field(min_length=1, max_length=64)
    kiosk_seq: int = Field(ge=0, description="The kiosk's own sequence number, never reused.")
    member_id: str = Field(min_length=1, max_length=32, examples=["M-100001"])
    amount_cents: int = Field(gt=0, le=10_000_000, description="Integer cents, at most $100,000.")
    currency: Literal["USD"]
    method: PaymentMethod
    captured_at: AwareDatetime = Field(description="When the kiosk took the payment (ISO 8601).")
    navigator: str = Field(min_length=1, max_length=64, description="Staff username.")

    @field_validator("payment_id")
    @classmethod
    def _payment_id_is_uuid(cls, value: str) -> str:
        uuid.UUID(value)
        return value


class Problem(BaseModel):
    """An error answer (RFC 9457). Act on `status` and `code`, never on `title` or `detail`."""

    type: str = Field(examples=["about:blank"])
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code.")
    detail: str


class Health(BaseModel):
    """The connectivity probe's answer."""

    status: Literal["ok"]
    time: str = Field(
        description="The exchange's clock, ISO 8601 UTC.", examples=["2026-11-28T10:15:00Z"]
    )


class PlanData(BaseModel):
    """A health plan; `kind` is `plan`."""

    plan_id: str
    name: str
    issuer: str
    metal_level: str = Field(examples=["Bronze", "Silver", "Gold", "Platinum", "Catastrophic"])
    gross_premium_cents: int
    deductible_cents: int
    oop_max_cents: int
    copays: list[CopayData] = Field(
        default_factory=list,
        description="Main copays (v1.1, may be absent): primary_care, specialist, urgent_care, "
        "emergency_room, generic_drugs ...",
    )


class CopayData(BaseModel):
    """What the member pays for one kind of care."""

    service: str = Field(examples=["primary_care", "specialist", "urgent_care", "generic_drugs"])
    copay_cents: int | None = Field(description="A fixed copay; null when coinsurance applies.")
    coinsurance_percent: int | None = Field(description="A share of the cost; null for a copay.")
    after_deductible: bool


class CoveredPersonData(BaseModel):
    first_name: str
    last_name: str
    relationship: Literal["self", "spouse", "child", "other"]


class MemberData(BaseModel):
    """An enrolled member; `kind` is `member`."""

    member_id: str
    first_name: str
    last_name: str
    date_of_birth: str = Field(description="YYYY-MM-DD")
    phone: str = Field(description="E.164", examples=["+13125550100"])
    email: str
    plan_id: str
    aptc_cents: int = Field(description="Advance premium tax credit per month.")
    net_premium_cents: int = Field(description="Gross premium less APTC, never below 0.")
    preferred_language: str = Field(examples=["en", "es", "vi"])
    coverage_start: str = Field(description="YYYY-MM-DD")
    status: Literal["binder_due", "active", "grace"]
    # Account fields of contract v1.1: an older exchange sends none of them.
    address: dict[str, str] | None = Field(
        default=None, description="line1, line2, city, state, zip (v1.1)."
    )
    profile_version: int = Field(default=0, description="Grows with each contact change (v1.1).")
    covered_people: list[CoveredPersonData] = Field(default_factory=list, description="(v1.1)")
    coverage_end: str | None = Field(default=None, description="YYYY-MM-DD (v1.1)")
    plan_effective: str | None = Field(
        default=None, description="YYYY-MM-DD: when the current plan began (v1.1)."
    )
    preferences: dict[str, object] | None = Field(
        default=None, description="Communication preferences; null until chosen (v1.1)."
    )


class InvoiceData(BaseModel):
    """One coverage month's premium bill; `kind` is `invoice`."""

    invoice_id: str
    member_id: str
    coverage_month: str = Field(description="YYYY-MM")
    amount_due_cents: int
    amount_paid_cents: int
    due_date: str = Field(description="YYYY-MM-DD")
    is_binder: bool = Field(description="The first payment that starts coverage.")
    status: Literal["open", "paid"]


class PaymentData(BaseModel):
    """A payment the exchange accepted; `kind` is `payment`. Published again when its bank
    returns it (ACH): `status` becomes `returned` with the Nacha `return_code`."""

    payment_id: str
    member_id: str
    amount_cents: int
    confirmation_number: str
    status: Literal["confirmed", "returned", "refunded", "disputed"]
    kiosk_id: str
    received_at: str = Field(description="ISO 8601 UTC")
    method: Literal["card", "ach", "paypal", "venmo"]
    return_code: str = Field(description="Nacha return code (R01 ...); empty unless returned.")
    returned_at: str | None = Field(description="ISO 8601 UTC; null unless returned.")
    hosted_payment_id: str | None = Field(
        description="The hosted link it was paid through (PayPal, Venmo); null otherwise."
    )
    refunded_at: str | None = Field(default=None, description="ISO 8601 UTC (v1.1).")
    refunded_cents: int = Field(default=0, description="(v1.1)")
    last4: str = Field(default="", description="Of the card or account, when known (v1.1).")
    dispute_id: str = Field(default="", description="The dispute about it, if any (v1.1).")


class Change(BaseModel):
    """One record in the changes feed, carrying the whole current record to upsert."""

    seq: int
    kind: Literal["plan", "member", "invoice", "payment", "dispute"]
    id: str
    data: PlanData | MemberData | InvoiceData | PaymentData | DisputeData


class ChangesPage(BaseModel):
    """A page of the changes feed. Store `next_after` and ask again while `has_more`."""

    changes: list[Change]
    next_after: int = Field(description="The cursor to send as `after` next time.")
    has_more: bool


class AppliedAmount(BaseModel):
    """Money from the payment put towards one invoice."""

    invoice_id: str
    amount_cents: int


class PaymentAccepted(BaseModel):
    """The answer to an accepted payment."""

    payment_id: str
    confirmation_number: str
    status: Literal["confirmed"]
    applied: list[AppliedAmount] = Field(description="Oldest open invoice first.")
    credit_cents: int = Field(description="What no open invoice took.")
    invoices: list[InvoiceData] = Field(description="Every invoice the payment changed.")


class Operation(BaseModel):
    """What the exchange did with an idempotency key."""

    idempotency_key: str
    state: Literal["processing", "done"]
    status_code: int | None = Field(
        description="The stored answer's status; null while processing."
    )
    body: dict[str, object] | None = Field(
        description="The stored answer's body; null while processing."
    )


class BatchOperation(BaseModel):
    """One request of a batch: what a single `POST /v1/payments` or
    `POST /v1/payment-methods` would carry."""

    model_config = _STRICT

    idempotency_key: str = Field(description="The request's Idempotency-Key, a uuid4.")
    method: Literal["POST"]
    path: Literal[
        "/v1/payments", "/v1/payment-methods", "/v1/profile-changes", "/v1/preferences",
        "/v1/autopays", "/v1/disputes", "/v1/receipt-deliveries",
    ]
    body: str = Field(
        description="The exact request body as a string; its UTF-8 bytes are what a single "
        "request would carry, and what the key's SHA-256 is taken of."
    )


class BatchRequest(BaseModel):
    """Up to 100 payment and payment-method requests, applied in order, each under its own
    key."""

    model_config = _STRICT

    operations: list[BatchOperation] = Field(min_length=1, max_length=MAX_BATCH_OPERATIONS)


class BatchResult(BaseModel):
    """What the single request would have answered, for one operation of a batch."""

    idempotency_key: str
    status: int = Field(description="The single request's HTTP status (201, 400, 409, 422 ...).")
    body: str = Field(description="The single request's answer body, as a JSON string.")
    replayed: bool = Field(
        description="True when this is the stored answer to an earlier request with the same "
        "key and body (the single request's `Idempotent-Replayed: true`)."
    )


class BatchAnswer(BaseModel):
    """One result per operation, in the order of the operations."""

    results: list[BatchResult]


class Faults(BaseModel):
    """Sandbox-only fault injection."""

    model_config = ConfigDict(strict=True, extra="forbid")

    payment_delay_ms: int = Field(ge=0, le=60_000)


# -- hosted payment links (PayPal, Venmo) ---------------------------------------------------------

HostedStatus = Literal["pending", "paid", "expired", "cancelled"]


class HostedPaymentRequest(BaseModel):
    """Ask for a link the member pays on their phone. Idempotent under its key."""

    model_config = _STRICT

    member_id: str = Field(min_length=1, max_length=32)
    amount_cents: int = Field(gt=0, le=10_000_000)
    currency: Literal["USD"]
    provider: Literal["paypal", "venmo"]
    kiosk_id: str = Field(min_length=1, max_length=64)
    navigator: str = Field(min_length=1, max_length=64)
    expires_in_seconds: int = Field(
        default=900, ge=60, le=3600, description="How long the link can be paid; 15 minutes."
    )


class HostedPaid(BaseModel):
    """The payment a paid link became, on the exchange's ledger."""

    payment_id: str
    confirmation_number: str
    paid_at: str = Field(description="ISO 8601 UTC")
    applied: list[AppliedAmount]
    credit_cents: int
    invoices: list[InvoiceData] = Field(description="Every invoice the payment changed.")


class HostedPayment(BaseModel):
    """A hosted payment link and where it stands."""

    hosted_payment_id: str
    member_id: str
    amount_cents: int
    currency: Literal["USD"]
    provider: Literal["paypal", "venmo"]
    status: HostedStatus
    url: str = Field(description="The page the member opens (shown as a QR code).")
    short_url: str = Field(description="A short form of `url` to type or to text.")
    short_code: str = Field(description="The code at the end of `short_url`.")
    created_at: str
    expires_at: str
    payment: HostedPaid | None = Field(description="Set once the link is paid.")


class HostedText(BaseModel):
    """Text the link to the member's phone."""

    model_config = _STRICT

    phone: str = Field(pattern=r"^\+[1-9][0-9]{7,14}$", description="E.164")


class HostedTextSent(BaseModel):
    """The link was handed to the text-message service."""

    hosted_payment_id: str
    to_last4: str
    sent_at: str


# -- saved payment methods ----------------------------------------------------------------------


class SavedCard(BaseModel):
    """A card saved as the terminal processor's token. Never a card number."""

    model_config = _STRICT

    type: Literal["card"]
    token: str = Field(min_length=1, max_length=256)
    brand: str = Field(min_length=1, max_length=32)
    last4: str = Field(pattern=r"^[0-9]{4}$")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)


class SavedBankAccount(BaseModel):
    """A bank account saved for ACH debits."""

    model_config = _STRICT

    type: Literal["bank_account"]
    routing_number: str = Field(pattern=r"^[0-9]{9}$")
    account_number: str = Field(pattern=r"^[0-9]{4,17}$")
    account_type: Literal["checking", "savings"]

    @field_validator("routing_number")
    @classmethod
    def _routing_checksum(cls, value: str) -> str:
        if not rtn.is_valid(value):
            raise ValueError("the ABA check digit does not hold")
        return value


class _MethodChange(BaseModel):
    """What every change to a saved method carries."""

    model_config = _STRICT

    method_id: str = Field(description="A UUID the kiosk gave the method.")
    member_id: str = Field(min_length=1, max_length=32)
    kiosk_id: str = Field(min_length=1, max_length=64)
    kiosk_seq: int = Field(ge=0, description="The kiosk's own sequence number, never reused.")
    changed_at: AwareDatetime
    navigator: str = Field(min_length=1, max_length=64)

    @field_validator("method_id")
    @classmethod
    def _method_id_is_uuid(cls, value: str) -> str:
        uuid.UUID(value)
        return value


class AddMethod(_MethodChange):
    """Save a new method; `make_default` makes it the member's default."""

    action: Literal["add"]
    method: Annotated[SavedCard | SavedBankAccount, Field(discriminator="type")]
    make_default: bool


class UpdateExpiry(_MethodChange):
    """A saved card's new expiry date."""

    action: Literal["update_expiry"]
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)


class RemoveMethod(_MethodChange):
    """Remove a saved method (removing a removed one changes nothing)."""

    action: Literal["remove"]


class SetDefault(_MethodChange):
    """Make a saved method the member's default."""

    action: Literal["set_default"]


MethodChange = Annotated[
    AddMethod | UpdateExpiry | RemoveMethod | SetDefault, Field(discriminator="action")
]
METHOD_CHANGES: TypeAdapter[MethodChange] = TypeAdapter(MethodChange)
"""Reads one change to a member's saved payment methods, as the kiosk queued it."""


class SavedMethodData(BaseModel):
    """A saved method as the exchange holds it after a change."""

    method_id: str
    member_id: str
    kind: Literal["card", "bank_account"]
    status: Literal["active", "removed"]
    is_default: bool
    last4: str
    exp_month: int | None
    exp_year: int | None
    updated_at: str


class AchReturnRequest(BaseModel):
    """Sandbox only: the member's bank returns an ACH payment."""

    model_config = ConfigDict(strict=True, extra="forbid")

    payment_id: str
    return_code: str = Field(pattern=r"^R[0-9]{2}$")
