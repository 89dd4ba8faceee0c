"""The sandbox card terminal's behaviour, without the web server: it reads a (test) card, plays
the chosen scenario, keeps its own record of every payment request by sale reference, and
writes nexo responses.

The card numbers are the card networks' published test numbers. They stay inside this module:
responses carry the brand, a masked number (first six and last four digits), a token and an
authorization code, and neither the record nor the log ever holds a full number.

Thread-safe (one lock); the web app calls it from its event loop. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from . import wire
from .scenarios import TIMEOUT_SCENARIOS, Scenario, ScenarioSettings

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "3.0"
PARTIAL_OPTION = "AllowPartialAuthorisation"


@dataclass(frozen=True, slots=True)
class SandboxCard:
    """A card the sandbox can read. `number` never leaves this module."""

    brand: str  # nexo PaymentBrand: visa, mc, amex, discover
    number: str

    @property
    def masked(self) -> str:
        return self.number[:6] + "*" * (len(self.number) - 10) + self.number[-4:]


_CHIP_CARDS = (
    SandboxCard("visa", "4111111111111111"),
    SandboxCard("mc", "5555555555554444"),
    SandboxCard("amex", "378282246310005"),
    SandboxCard("discover", "6011111111111117"),
)
_PREPAID_CARD = SandboxCard("visa", "4000056655665556")
# Phone wallets pay with a device account number the network issued to the phone.
_WALLET_CARDS = (SandboxCard("visa", "4895370012003478"), SandboxCard("mc", "5204730000001235"))
_WALLETS = {Scenario.APPLE_PAY: "applepay", Scenario.GOOGLE_PAY: "googlepay"}
CARD_NUMBERS = frozenset(card.number for card in (*_CHIP_CARDS, _PREPAID_CARD, *_WALLET_CARDS))
"""Every number the sandbox can read: what a test searches the kiosk's data for."""
_DECLINES = {  # scenario: (refusalReason, message)
    Scenario.DECLINED_INSUFFICIENT_FUNDS: ("Not enough balance", "NOT_ENOUGH_BALANCE"),
    Scenario.DECLINED_EXPIRED_CARD: ("Expired Card", "CARD_EXPIRED"),
    Scenario.DECLINED_DO_NOT_HONOR: ("Refused", "DO_NOT_HONOR"),
    Scenario.TIMEOUT_DECLINED: ("Refused", "DO_NOT_HONOR"),
}


class BadRequest(ValueError):
    """A request the terminal cannot read; answered with HTTP 400."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the terminal decided about one payment request."""

    result: str  # Success, Partial or Failure
    error_condition: str = ""  # nexo ErrorCondition when not a success
    refusal_reason: str = ""
    message: str = ""
    card: SandboxCard | None = None
    entry_mode: str = ""  # nexo EntryMode: ICC, Contactless
    wallet: str = ""  # the paymentMethodVariant suffix: applepay, googlepay
    approved_cents: int = 0
    auth_code: str = ""
    offline: bool = False

    @property
    def state(self) -> str:
        """The record's word for it: approved, partially_approved, declined, ..."""
        if self.result == "Success":
            return "approved"
        if self.result == "Partial":
            return "partially_approved"
        return _FAILURE_STATES.get(self.error_condition, "failed")


_FAILURE_STATES = {"Refusal": "declined", "Cancel": "card_removed", "Aborted": "aborted",
                   "Busy": "refused_busy"}
_ABORTED = Outcome(result="Failure", error_condition="Aborted", refusal_reason="Cancelled",
                   message="CANCELLED")


@dataclass(slots=True, kw_only=True)
class Transaction:
    """One payment request as the terminal keeps it."""

    sale_id: str
    service_id: str
    poi_id: str
    sale_reference: str
    requested_cents: int
    currency: str
    scenario: Scenario
    poi_transaction_id: str
    timestamp: str
    received_at: float
    settles_at: float
    answer_at: float
    outcome: Outcome
    token: str = ""
    aborted: bool = field(default=False)


class SandboxDevice:
    """A card terminal that plays scenarios. `clock` is monotonic seconds (tests may pass one)."""

    def __init__(self, *, seed: int = 7, poi_id: str = "SANDBOX-P400",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.poi_id = poi_id
        self._rng = random.Random(seed)
        self._token_key = hashlib.sha256(f"sandbox-terminal-{seed}".encode()).digest()
        self._clock = clock
        self._lock = threading.Lock()
        self._settings = ScenarioSettings()
        self._transactions: list[Transaction] = []

    @property
    def settings(self) -> ScenarioSettings:
        return self._settings

    def configure(self, settings: ScenarioSettings) -> None:
        """Play `settings` for the payments that arrive from now on."""
        with self._lock:
            self._settings = settings
        log.info("scenario now %s", settings.scenario)

    # -- payments -------------------------------------------------------------------------

    def pay(self, message: dict[str, Any]) -> Transaction:
        """Take a PaymentRequest: record it and decide its outcome. Never blocks."""
        header, request = _parts(message, "PaymentRequest")
        sale_reference = _text(request, "SaleData", "SaleTransactionID", "TransactionID")
        currency = _text(request, "PaymentTransaction", "AmountsReq", "Currency")
        try:
            cents = wire.to_cents(wire.path(request, "PaymentTransaction", "AmountsReq",
                                            "RequestedAmount"))
        except wire.WireError as exc:
            raise BadRequest("RequestedAmount") from exc
        if cents <= 0:
            raise BadRequest("RequestedAmount must be above zero")
        partial_ok = PARTIAL_OPTION in str(wire.path(request, "SaleData", "SaleToAcquirerData"))
        with self._lock:
            tx = self._new_transaction(header, sale_reference, cents, currency, partial_ok)
            self._transactions.append(tx)
        log.info("payment %s: %s (%s)", tx.sale_reference, tx.outcome.state, tx.scenario)
        return tx

    def _new_transaction(self, header: dict[str, Any], sale_reference: str, cents: int,
                         currency: str, partial_ok: bool) -> Transaction:
        now, settings = self._clock(), self._settings
        busy = any(self._in_progress(t, now) for t in self._transactions)
        outcome = (Outcome(result="Failure", error_condition="Busy") if busy
                   else self._play(settings.scenario, cents, partial_ok))
        settles_at = now if busy else now + settings.pending_seconds
        held = (settings.scenario in TIMEOUT_SCENARIOS) and not busy
        return Transaction(
            sale_id=header["SaleID"], service_id=header["ServiceID"], poi_id=self.poi_id,
            sale_reference=sale_reference, requested_cents=cents, currency=currency,
            scenario=settings.scenario, poi_transaction_id=self._poi_transaction_id(),
            timestamp=_utc_now(), received_at=now, settles_at=settles_at,
            answer_at=max(settles_at, now + settings.answer_delay_seconds if held else 0.0),
            outcome=outcome, token=self._token(outcome.card),
        )

    def _play(self, scenario: Scenario, cents: int, partial_ok: bool) -> Outcome:
        if scenario in _DECLINES:
            reason, message = _DECLINES[scenario]
            return Outcome(result="Failure", error_condition="Refusal", refusal_reason=reason,
                           message=message, card=self._rng.choice(_CHIP_CARDS), entry_mode="ICC")
        if scenario is Scenario.CARD_REMOVED:
            return Outcome(result="Failure", error_condition="Cancel",
                           refusal_reason="Card removed", message="CARD_REMOVED",
                           card=self._rng.choice(_CHIP_CARDS), entry_mode="ICC")
        if scenario is Scenario.PARTIAL_PREPAID:
            return self._prepaid(cents, partial_ok)
        if scenario in _WALLETS:
            return self._approved(cents, card=self._rng.choice(_WALLET_CARDS),
                                  entry_mode="Contactless", wallet=_WALLETS[scenario])
        approved = self._approved(cents, card=self._rng.choice(_CHIP_CARDS), entry_mode="ICC")
        if scenario is Scenario.OFFLINE_APPROVED:
            return replace(approved, offline=True, auth_code="OFL" + approved.auth_code[3:])
        return approved

    def _prepaid(self, cents: int, partial_ok: bool) -> Outcome:
        balance = self._settings.prepaid_balance_cents or max(1, cents // 2)
        if balance >= cents:
            return self._approved(cents, card=_PREPAID_CARD, entry_mode="ICC")
        if not partial_ok:
            return Outcome(result="Failure", error_condition="Refusal",
                           refusal_reason="Not enough balance", message="NOT_ENOUGH_BALANCE",
                           card=_PREPAID_CARD, entry_mode="ICC")
        return replace(self._approved(balance, card=_PREPAID_CARD, entry_mode="ICC"),
                       result="Partial")

    def _approved(self, cents: int, *, card: SandboxCard, entry_mode: str,
                  wallet: str = "") -> Outcome:
        code = "".join(self._rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(6))
        return Outcome(result="Success", card=card, entry_mode=entry_mode, wallet=wallet,
                       approved_cents=cents, auth_code=code)

    def _token(self, card: SandboxCard | None) -> str:
        """A stable token per card, of letters only (it can never look like a card number)."""
        if card is None:
            return ""
        digest = hmac.new(self._token_key, card.number.encode(), hashlib.sha256).digest()
        return "tok_" + "".join(chr(ord("a") + b % 26) for b in digest[:20])

    def _poi_transaction_id(self) -> str:
        return f"SBX-{len(self._transactions) + 1:06d}-" + "".join(
            self._rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(8))

    def _in_progress(self, tx: Transaction, now: float) -> bool:
        return not tx.aborted and now < tx.settles_at

    def answer_due(self, tx: Transaction) -> bool:
        """Whether the held answer to this payment may go out now."""
        with self._lock:
            return tx.aborted or self._clock() >= tx.answer_at

    # -- status and abort -----------------------------------------------------------------

    def status(self, message: dict[str, Any]) -> dict[str, Any]:
        """Answer a TransactionStatusRequest about an earlier payment (by its ServiceID)."""
        header, request = _parts(message, "TransactionStatusRequest")
        service_id = _text(request, "MessageReference", "ServiceID")
        with self._lock:
            body = self._status_body(header["SaleID"], service_id)
        body["MessageReference"] = {"MessageCategory": "Payment", "SaleID": header["SaleID"],
                                    "ServiceID": service_id}
        return _envelope(header, "TransactionStatus", "TransactionStatusResponse", body)

    def _status_body(self, sale_id: str, service_id: str) -> dict[str, Any]:
        tx = self._find(sale_id, service_id)
        if tx is None or self._in_progress(tx, self._clock()):
            condition = "NotFound" if tx is None else "InProgress"
            return {"Response": {"Result": "Failure", "ErrorCondition": condition}}
        return {"Response": {"Result": "Success"}, "RepeatedMessageResponse": {
            "MessageHeader": _header(tx.sale_id, tx.service_id, tx.poi_id, "Payment"),
            "RepeatedResponseMessageBody": {"PaymentResponse": self._payment_body(tx)}}}

    def abort(self, message: dict[str, Any]) -> None:
        """Take an AbortRequest: stop the payment if it has not settled; else nothing."""
        header, request = _parts(message, "AbortRequest")
        service_id = _text(request, "MessageReference", "ServiceID")
        with self._lock:
            tx = self._find(header["SaleID"], service_id)
            if tx is None or not self._in_progress(tx, self._clock()):
                log.info("abort for %s: nothing in progress", service_id)
                return
            tx.aborted, tx.outcome = True, _ABORTED
        log.info("payment %s aborted", tx.sale_reference)

    def _find(self, sale_id: str, service_id: str) -> Transaction | None:
        for tx in reversed(self._transactions):
            if tx.sale_id == sale_id and tx.service_id == service_id:
                return tx
        return None

    # -- answers --------------------------------------------------------------------------

    def payment_response(self, tx: Transaction) -> dict[str, Any]:
        """The PaymentResponse for a payment whose answer is due."""
        header = _header(tx.sale_id, tx.service_id, tx.poi_id, "Payment")
        with self._lock:
            body = self._payment_body(tx)
        return {"SaleToPOIResponse": {"MessageHeader": header, "PaymentResponse": body}}

    def _payment_body(self, tx: Transaction) -> dict[str, Any]:
        outcome = tx.outcome
        response: dict[str, Any] = {"Result": outcome.result}
        if outcome.error_condition:
            response["ErrorCondition"] = outcome.error_condition
        extra = _additional(outcome)
        if extra:
            response["AdditionalResponse"] = extra
        body: dict[str, Any] = {
            "Response": response,
            "SaleData": {"SaleTransactionID": {"TransactionID": tx.sale_reference,
                                               "TimeStamp": tx.timestamp}},
            "POIData": {"POITransactionID": {"TransactionID": tx.poi_transaction_id,
                                             "TimeStamp": tx.timestamp}},
        }
        if outcome.card is not None:
            body["PaymentResult"] = _payment_result(tx, outcome)
        return body

    def transactions(self) -> list[dict[str, Any]]:
        """The terminal's own record, oldest first: what a test checks "charged once" against."""
        with self._lock:
            now = self._clock()
            return [_record(tx, in_progress=self._in_progress(tx, now))
                    for tx in self._transactions]


def _payment_result(tx: Transaction, outcome: Outcome) -> dict[str, Any]:
    assert outcome.card is not None
    result: dict[str, Any] = {
        "PaymentInstrumentData": {"PaymentInstrumentType": "Card", "CardData": {
            "PaymentBrand": outcome.card.brand,
            "MaskedPan": outcome.card.masked,
            "EntryMode": [outcome.entry_mode],
            "PaymentToken": {"TokenRequestedType": "Customer", "TokenValue": tx.token},
        }},
        "OnlineFlag": not outcome.offline,
    }
    if outcome.result in ("Success", "Partial"):
        result["AmountsResp"] = {"Currency": tx.currency,
                                 "AuthorizedAmount": wire.from_cents(outcome.approved_cents)}
        result["PaymentAcquirerData"] = {"ApprovalCode": outcome.auth_code}
    return result


def _additional(outcome: Outcome) -> str:
    fields: dict[str, str] = {}
    if outcome.refusal_reason:
        fields["refusalReason"] = outcome.refusal_reason
    if outcome.message:
        fields["message"] = outcome.message
    if outcome.wallet and outcome.card is not None:
        fields["paymentMethodVariant"] = f"{outcome.card.brand}_{outcome.wallet}"
    if outcome.offline:
        fields["offline"] = "true"
    return urlencode(fields)


def _record(tx: Transaction, *, in_progress: bool) -> dict[str, Any]:
    outcome, card = tx.outcome, tx.outcome.card
    state = "in_progress" if in_progress else outcome.state
    approved = outcome.approved_cents if state in ("approved", "partially_approved") else 0
    return {
        "sale_reference": tx.sale_reference, "service_id": tx.service_id,
        "sale_id": tx.sale_id, "scenario": str(tx.scenario), "state": state,
        "requested_cents": tx.requested_cents, "approved_cents": approved,
        "currency": tx.currency, "charged": approved > 0,
        "brand": card.brand if card else "", "last4": card.number[-4:] if card else "",
        "entry_mode": outcome.entry_mode, "wallet": outcome.wallet,
        "offline": outcome.offline, "auth_code": outcome.auth_code, "aborted": tx.aborted,
    }


def _parts(message: dict[str, Any], body_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    envelope = message.get("SaleToPOIRequest")
    if not isinstance(envelope, dict):
        raise BadRequest("SaleToPOIRequest")
    header, body = envelope.get("MessageHeader"), envelope.get(body_name)
    if not isinstance(header, dict) or not isinstance(body, dict):
        raise BadRequest(f"MessageHeader and {body_name}")
    for name, limit in (("SaleID", 64), ("ServiceID", 10), ("POIID", 64)):
        value = header.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= limit:
            raise BadRequest(name)
    return header, body


def _text(message: dict[str, Any], *keys: str) -> str:
    value = wire.path(message, *keys)
    if not isinstance(value, str) or not value:
        raise BadRequest(".".join(keys))
    return value


def _header(sale_id: str, service_id: str, poi_id: str, category: str) -> dict[str, str]:
    return {"ProtocolVersion": PROTOCOL_VERSION, "MessageClass": "Service",
            "MessageCategory": category, "MessageType": "Response", "SaleID": sale_id,
            "ServiceID": service_id, "POIID": poi_id}


def _envelope(request_header: dict[str, Any], category: str, body_name: str,
              body: dict[str, Any]) -> dict[str, Any]:
    header = _header(request_header["SaleID"], request_header["ServiceID"],
                     request_header["POIID"], category)
    return {"SaleToPOIResponse": {"MessageHeader": header, body_name: body}}


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
