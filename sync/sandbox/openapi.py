"""The OpenAPI document of the exchange (docs/openapi.json): what FastAPI derives from the
routes, completed with what it cannot see because the payment and batch routes read their raw
bodies themselves, and written with sorted keys so the committed file only changes when the
API does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from .account_models import (
    AutopayChange,
    EscalateDispute,
    FileDispute,
    PreferencesChange,
    ProfileChange,
    ProfileConflictProblem,
    ReceiptDeliveryRequest,
)
from .device_models import AuditHead
from .models import (
    AddMethod,
    BatchRequest,
    HostedPaymentRequest,
    PaymentRequest,
    Problem,
    RemoveMethod,
    SetDefault,
    UpdateExpiry,
)

REF_TEMPLATE = "#/components/schemas/{model}"
_FRAMEWORK_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# Declared optional on the routes, so that a missing one is answered by the route itself (400
# idempotency_key_missing, 401 signature_missing), yet every client must send them.
_REQUIRED_HEADERS = ("Idempotency-Key", "X-Kiosk-Id", "X-Signature-Timestamp", "X-Signature")


def payment_request_body() -> dict[str, Any]:
    """The `requestBody` of POST /v1/payments, for the route's `openapi_extra`."""
    return {
        "required": True,
        "description": "The payment. The kiosk stores these bytes and sends them unchanged on "
        "every retry; the exchange compares their SHA-256.",
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="PaymentRequest")}}
        },
    }


def batch_request_body() -> dict[str, Any]:
    """The `requestBody` of POST /v1/batch, for the route's `openapi_extra`."""
    return {
        "required": True,
        "description": "The payment requests, in the order to apply them.",
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="BatchRequest")}}
        },
    }


_METHOD_CHANGES = (AddMethod, UpdateExpiry, RemoveMethod, SetDefault)


def method_change_body() -> dict[str, Any]:
    """The `requestBody` of POST /v1/payment-methods: one change, chosen by `action`."""
    refs = [{"$ref": REF_TEMPLATE.format(model=model.__name__)} for model in _METHOD_CHANGES]
    mapping = {
        action: REF_TEMPLATE.format(model=model.__name__)
        for action, model in zip(
            ("add", "update_expiry", "remove", "set_default"), _METHOD_CHANGES, strict=True
        )
    }
    return {
        "required": True,
        "description": "One change. The kiosk stores these bytes and sends them unchanged on "
        "every retry; the exchange compares their SHA-256.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": refs,
                    "discriminator": {"propertyName": "action", "mapping": mapping},
                }
            }
        },
    }


def hosted_request_body() -> dict[str, Any]:
    """The `requestBody` of POST /v1/hosted-payments."""
    return {
        "required": True,
        "description": "The member, amount and provider of the link.",
        "content": {
            "application/json": {
                "schema": {"$ref": REF_TEMPLATE.format(model="HostedPaymentRequest")}
            }
        },
    }


_ACCOUNT_MODELS = (ProfileChange, PreferencesChange, AutopayChange, FileDispute,
                   EscalateDispute, ReceiptDeliveryRequest)


def account_body(model: str) -> dict[str, Any]:
    """The `requestBody` of an account change route; `DisputeChange` is file or escalate."""
    schema: dict[str, Any] = {"$ref": REF_TEMPLATE.format(model=model)}
    if model == "DisputeChange":
        refs = {"file": "FileDispute", "escalate": "EscalateDispute"}
        schema = {"oneOf": [{"$ref": REF_TEMPLATE.format(model=m)} for m in refs.values()],
                  "discriminator": {"propertyName": "action", "mapping": {
                      a: REF_TEMPLATE.format(model=m) for a, m in refs.items()}}}
    return {
        "required": True,
        "description": "One change. The kiosk stores these bytes and sends them unchanged on "
        "every retry; the exchange compares their SHA-256.",
        "content": {"application/json": {"schema": schema}},
    }


def complete(document: dict[str, Any]) -> None:
    """Add the hand-read models and drop FastAPI's 422 validation answers, which the exchange
    never sends: it answers invalid parameters with 400 `invalid_request`."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _, extra = models_json_schema(
        [
            (PaymentRequest, "validation"),
            (BatchRequest, "validation"),
            (HostedPaymentRequest, "validation"),
            *((model, "validation") for model in _METHOD_CHANGES),
            *((model, "validation") for model in _ACCOUNT_MODELS),
            (AuditHead, "validation"),
            (Problem, "serialization"),
            (ProfileConflictProblem, "serialization"),
        ],
        ref_template=REF_TEMPLATE,
    )
    schemas.update(extra["$defs"])
    for operation in _operations(document):
        _drop_framework_validation(operation)
        _mark_required_headers(operation)
    for name in _FRAMEWORK_VALIDATION_SCHEMAS:
        schemas.pop(name, None)


def render(app: FastAPI) -> str:
    """The document as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(app.openapi(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(app: FastAPI, path: Path) -> None:
    """Write the rendered document to `path`."""
    path.write_text(render(app), encoding="utf-8")


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path in document.get("paths", {}).values() for operation in path.values()]


def _drop_framework_validation(operation: dict[str, Any]) -> None:
    answer = operation.get("responses", {}).get("422", {})
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    if schema.get("$ref", "").endswith("/HTTPValidationError"):
        del operation["responses"]["422"]


def _mark_required_headers(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") in _REQUIRED_HEADERS:
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "maxLength": 255}
