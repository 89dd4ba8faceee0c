"""The kiosk's side of the terminal protocol: nexo retailer messages as Adyen's Terminal API
carries them in JSON, built from and read into the kiosk's own values.

Four messages. A payment request (`MessageCategory` Payment) carries the sale reference as
`SaleData.SaleTransactionID.TransactionID`, the amount as `AmountsReq` (currency and a decimal
`RequestedAmount`) and opts in to partial approval through `SaleToAcquirerData`. Its response
says `Result` (Success, Partial or Failure) with an `ErrorCondition` on failure, and, when a
card was read, `PaymentResult`: brand, masked number, entry mode, token, `AuthorizedAmount`,
`ApprovalCode`, and `OnlineFlag` false for an approval the terminal gave offline (store and
forward). `AdditionalResponse` (form-encoded) adds the refusal reason, the phone wallet
(`paymentMethodVariant`, e.g. visa_applepay) and `offline=true`. A transaction status request
names the payment by its `ServiceID` and gets the original response back, or InProgress or
NotFound. An abort request names it the same way.

Only the last four digits of the masked number are kept; nothing else of the card is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from kiosk.domain.money import Money
from kiosk.domain.payments import CardAuthorization, EntryMode, TerminalResult, Wallet

from . import wire

PROTOCOL_VERSION = "3.0"
ALLOW_PARTIAL = "tenderOption=AllowPartialAuthorisation"

_ENTRY_MODES = {"ICC": EntryMode.CHIP, "Contactless": EntryMode.CONTACTLESS,
                "Tapped": EntryMode.CONTACTLESS, "MagStripe": EntryMode.SWIPE,
                "Keyed": EntryMode.KEYED, "Manual": EntryMode.KEYED}
_WALLETS = {"applepay": Wallet.APPLE_PAY, "googlepay": Wallet.GOOGLE_PAY,
            "paywithgoogle": Wallet.GOOGLE_PAY, "samsungpay": Wallet.SAMSUNG_PAY}
_BRANDS = {"mc": "mastercard"}
_REFUSALS = {"NOT_ENOUGH_BALANCE": "insufficient_funds", "CARD_EXPIRED": "expired_card",
             "DO_NOT_HONOR": "do_not_honor"}
# Failures that mean the card issuer or the terminal refused the card: no money taken.
_REFUSING_CONDITIONS = {"Refusal": "", "WrongPIN": "wrong_pin", "InvalidCard": "invalid_card",
                        "NotAllowed": "not_allowed", "PaymentRestriction": "not_allowed",
                        "UnreachableHost": "issuer_unreachable"}


class UnusableAnswer(ValueError):
    """An answer that does not say clearly what happened to the payment asked about."""


class TerminalBusyAnswer(Exception):
    """The terminal refused the payment because it is busy with another one."""


def service_id_for(sale_reference: str) -> str:
    """The ServiceID of a sale's payment request (nexo allows 10 characters).

    Derived from the sale reference, so a status request or an abort can name the payment
    even after a crash, from the attempt row alone.
    """
    return hashlib.sha256(sale_reference.encode()).hexdigest()[:10]


def _header(category: str, *, service_id: str, sale_id: str, poi_id: str) -> dict[str, str]:
    return {"ProtocolVersion": PROTOCOL_VERSION, "MessageClass": "Service",
            "MessageCategory": category, "MessageType": "Request", "SaleID": sale_id,
            "ServiceID": service_id, "POIID": poi_id}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def payment_request(*, sale_id: str, poi_id: str, sale_reference: str,
                    amount: Money) -> dict[str, Any]:
    """A PaymentRequest for `amount`, allowing a partial approval."""
    header = _header("Payment", service_id=service_id_for(sale_reference), sale_id=sale_id,
                     poi_id=poi_id)
    return {"SaleToPOIRequest": {"MessageHeader": header, "PaymentRequest": {
        "SaleData": {"SaleTransactionID": {"TransactionID": sale_reference, "TimeStamp": _now()},
                     "SaleToAcquirerData": ALLOW_PARTIAL},
        "PaymentTransaction": {"AmountsReq": {"Currency": amount.currency,
                                              "RequestedAmount": wire.from_cents(amount.cents)}},
    }}}


def _reference(sale_reference: str, sale_id: str) -> dict[str, str]:
    return {"MessageCategory": "Payment", "SaleID": sale_id,
            "ServiceID": service_id_for(sale_reference)}


def status_request(*, sale_id: str, poi_id: str, sale_reference: str) -> dict[str, Any]:
    """A TransactionStatusRequest about the payment of `sale_reference`."""
    header = _header("TransactionStatus", service_id=secrets.token_hex(5), sale_id=sale_id,
                     poi_id=poi_id)
    return {"SaleToPOIRequest": {"MessageHeader": header, "TransactionStatusRequest": {
        "ReceiptReprintFlag": False, "DocumentQualifier": ["CashierReceipt"],
        "MessageReference": _reference(sale_reference, sale_id)}}}


def abort_request(*, sale_id: str, poi_id: str, sale_reference: str) -> dict[str, Any]:
    """An AbortRequest for the payment of `sale_reference`."""
    header = _header("Abort", service_id=secrets.token_hex(5), sale_id=sale_id, poi_id=poi_id)
    return {"SaleToPOIRequest": {"MessageHeader": header, "AbortRequest": {
        "AbortReason": "MerchantAbort",
        "MessageReference": _reference(sale_reference, sale_id)}}}


# -- reading answers ------------------------------------------------------------------------

def read_payment(message: dict[str, Any], *, sale_reference: str,
                 requested: Money) -> CardAuthorization:
    """The PaymentResponse in `message` as the kiosk's CardAuthorization.

    Raises UnusableAnswer when it is malformed or about another sale, TerminalBusyAnswer when
    the terminal refused to start because it is busy.
    """
    body = wire.path(message, "SaleToPOIResponse", "PaymentResponse")
    if not isinstance(body, dict):
        raise UnusableAnswer("no PaymentResponse")
    return _payment_body(body, sale_reference=sale_reference, requested=requested)


def read_status(message: dict[str, Any], *, sale_reference: str,
                requested: Money | None) -> CardAuthorization:
    """The TransactionStatusResponse in `message`: the payment's own answer when it finished,
    else IN_PROGRESS or NOT_FOUND. Raises UnusableAnswer for anything else."""
    body = wire.path(message, "SaleToPOIResponse", "TransactionStatusResponse")
    if not isinstance(body, dict):
        raise UnusableAnswer("no TransactionStatusResponse")
    asked = wire.path(body, "MessageReference", "ServiceID")
    if asked is not None and asked != service_id_for(sale_reference):
        raise UnusableAnswer("status of another payment")
    result, condition = _result(body)
    if result == "Failure":
        found = {"InProgress": TerminalResult.IN_PROGRESS, "NotFound": TerminalResult.NOT_FOUND}
        if condition not in found:
            raise UnusableAnswer(f"status failed: {condition}")
        return CardAuthorization(result=found[condition], sale_reference=sale_reference)
    payment = wire.path(body, "RepeatedMessageResponse", "RepeatedResponseMessageBody",
                        "PaymentResponse")
    if not isinstance(payment, dict):
        raise UnusableAnswer("status without the payment's answer")
    return _payment_body(payment, sale_reference=sale_reference, requested=requested)


def _result(body: dict[str, Any]) -> tuple[str, str]:
    result = wire.path(body, "Response", "Result")
    if result not in ("Success", "Partial", "Failure"):
        raise UnusableAnswer("no Result")
    condition = wire.path(body, "Response", "ErrorCondition")
    return str(result), str(condition or "")


def _payment_body(body: dict[str, Any], *, sale_reference: str,
                  requested: Money | None) -> CardAuthorization:
    if wire.path(body, "SaleData", "SaleTransactionID", "TransactionID") != sale_reference:
        raise UnusableAnswer("answer about another sale")
    result, condition = _result(body)
    extra = _additional(body)
    card = _card(body)
    if result == "Failure":
        return _failure(condition, extra, sale_reference=sale_reference, card=card)
    approved = _authorized(body, requested)
    wallet = _WALLETS.get(extra.get("paymentMethodVariant", "").rpartition("_")[2], "")
    auth_code = wire.path(body, "PaymentResult", "PaymentAcquirerData", "ApprovalCode")
    if not card.token or not isinstance(auth_code, str) or not auth_code:
        raise UnusableAnswer("an approval without token or approval code")
    return CardAuthorization(
        result=TerminalResult.APPROVED, sale_reference=sale_reference, token=card.token,
        brand=card.brand, last4=card.last4, entry_mode=card.entry_mode, auth_code=auth_code,
        approved_amount=approved, wallet=wallet,
        offline_approved=wire.path(body, "PaymentResult", "OnlineFlag") is False)


def _failure(condition: str, extra: dict[str, str], *, sale_reference: str,
             card: _Card) -> CardAuthorization:
    if condition == "Busy":
        raise TerminalBusyAnswer()
    result, reason = _failure_result(condition, extra)
    return CardAuthorization(result=result, sale_reference=sale_reference, brand=card.brand,
                             last4=card.last4, entry_mode=card.entry_mode,
                             decline_reason=reason)


def _failure_result(condition: str, extra: dict[str, str]) -> tuple[TerminalResult, str]:
    if condition in _REFUSING_CONDITIONS:
        reason = _REFUSALS.get(extra.get("message", ""), _REFUSING_CONDITIONS[condition])
        return TerminalResult.DECLINED, reason
    if condition == "Cancel" and extra.get("message") == "CARD_REMOVED":
        return TerminalResult.CARD_REMOVED, ""
    if condition in ("Cancel", "Aborted"):
        return TerminalResult.ABORTED, ""
    if condition == "InProgress":
        return TerminalResult.IN_PROGRESS, ""
    if condition == "NotFound":
        return TerminalResult.NOT_FOUND, ""
    raise UnusableAnswer(f"failure the kiosk cannot place: {condition}")


def _authorized(body: dict[str, Any], requested: Money | None) -> Money:
    amounts = wire.path(body, "PaymentResult", "AmountsResp")
    if not isinstance(amounts, dict):
        raise UnusableAnswer("an approval without AmountsResp")
    try:
        cents = wire.to_cents(amounts.get("AuthorizedAmount"))
        approved = Money(cents=cents, currency=str(amounts.get("Currency")))
    except (wire.WireError, ValueError) as exc:
        raise UnusableAnswer("unreadable AuthorizedAmount") from exc
    if cents <= 0 or (requested is not None and (approved.currency != requested.currency
                                                 or cents > requested.cents)):
        raise UnusableAnswer("an approved amount above the amount asked")
    return approved


@dataclass(frozen=True, slots=True, kw_only=True)
class _Card:
    """What the kiosk keeps of the card the terminal read."""

    brand: str = ""
    last4: str = ""
    entry_mode: str = ""
    token: str = ""


def _card(body: dict[str, Any]) -> _Card:
    """Brand, last four digits, entry mode and token; nothing else of the card."""
    data = wire.path(body, "PaymentResult", "PaymentInstrumentData", "CardData")
    if not isinstance(data, dict):
        return _Card()
    masked = str(data.get("MaskedPan") or "")
    modes = data.get("EntryMode")
    mode = str(modes[0]) if isinstance(modes, list) and modes else ""
    brand = str(data.get("PaymentBrand") or "")
    return _Card(brand=_BRANDS.get(brand, brand),
                 last4=masked[-4:] if len(masked) >= 4 and masked[-4:].isdigit() else "",
                 entry_mode=_ENTRY_MODES.get(mode, mode.lower()),
                 token=str(wire.path(data, "PaymentToken", "TokenValue") or ""))


def _additional(body: dict[str, Any]) -> dict[str, str]:
    text = wire.path(body, "Response", "AdditionalResponse")
    if not isinstance(text, str):
        return {}
    return {key: values[0] for key, values in parse_qs(text).items()}
