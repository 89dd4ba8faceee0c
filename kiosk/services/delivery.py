"""Delivery of outbox rows to the exchange, as seen from the core.

The sync worker claims due rows here, sends them, and hands back an `Outcome` per row. Recording
an outcome updates the outbox row and the business record it belongs to (for example the
payment and the member's invoices) in the same transaction. A payment's confirmation also
queues, in that transaction, the confirmation message on the member's chosen channel
(`kiosk.services.receipt_delivery`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from kiosk import outbox
from kiosk.clock import Clock, to_iso
from kiosk.domain.payments import PaymentStatus
from kiosk.outbox import OutboxItem, OutboxState, QueueSummary
from kiosk.outbox.outcome import Action, Outcome
from kiosk.services import (
    audit,
    autopay,
    disputes,
    methods,
    preferences,
    profile,
    receipt_delivery,
)
from kiosk.services.cache import BadChangeError, upsert_invoice
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

# Refusals that mean the kiosk itself did something wrong: they raise an alert.
ALERT_REASONS = ("idempotency_key_reused", "kiosk_sequence_reused", "payment_id_reused")


class UnreadableAnswerError(BadChangeError):
    """A success answer whose body does not say what the contract promises."""

    code = "unreadable_answer"


def claim_due(*, vault: Vault, clock: Clock, limit: int = 100) -> list[OutboxItem]:
    """Mark due rows as sending and return them. Only the sync worker calls this."""
    now = clock.now()
    return vault.write(lambda conn: outbox.claim_due(conn, now=now, limit=limit))


def wake_after_reconnect(*, vault: Vault, clock: Clock) -> int:
    """The exchange is reachable again: rows that waited only for that are due now."""
    now = clock.now()
    return vault.write(lambda conn: outbox.wake_unreachable(conn, now=now))


def _confirm_payment(conn: Any, item: OutboxItem, answer: Any, now: str) -> None:
    if not isinstance(answer, dict):
        raise UnreadableAnswerError()
    number = answer.get("confirmation_number")
    invoices = answer.get("invoices", [])
    if not isinstance(number, str) or not number or not isinstance(invoices, list):
        raise UnreadableAnswerError()
    for invoice in invoices:
        if not isinstance(invoice, dict):
            raise UnreadableAnswerError()
        upsert_invoice(conn, invoice)
    conn.execute(
        "UPDATE payments SET status = ?, confirmation_number = ?, confirmed_at = ?"
        " WHERE payment_id = ?",
        (PaymentStatus.CONFIRMED, number, now, item.subject_id),
    )
    receipt_delivery.queue_confirmation(conn, item, now)


def _payment_needs_attention(conn: Any, item: OutboxItem) -> None:
    conn.execute(
        "UPDATE payments SET status = ? WHERE payment_id = ?",
        (PaymentStatus.NEEDS_ATTENTION, item.subject_id),
    )


_ON_CONFIRMED: dict[str, Callable[[Any, OutboxItem, Any, str], None]] = {
    "payment": _confirm_payment,  # card and ACH payments alike
    methods.OUTBOX_KIND: methods.on_change_confirmed,
    profile.OUTBOX_KIND: profile.on_change_confirmed,
    preferences.OUTBOX_KIND: preferences.on_change_confirmed,
    autopay.OUTBOX_KIND: autopay.on_change_confirmed,
    disputes.OUTBOX_KIND: disputes.on_change_confirmed,
    receipt_delivery.OUTBOX_KIND: receipt_delivery.on_delivery_confirmed,
}
_ON_REFUSED: dict[str, Callable[[Any, OutboxItem], None]] = {
    "payment": _payment_needs_attention,
    methods.OUTBOX_KIND: methods.on_change_refused,
    profile.OUTBOX_KIND: profile.on_change_refused,
    preferences.OUTBOX_KIND: preferences.on_change_refused,
    autopay.OUTBOX_KIND: autopay.on_change_refused,
    disputes.OUTBOX_KIND: disputes.on_change_refused,
    receipt_delivery.OUTBOX_KIND: receipt_delivery.on_delivery_refused,
}


def _record(conn: Any, item: OutboxItem, outcome: Outcome, clock: Clock) -> OutboxState:
    now = clock.now()
    if outcome.action is Action.CONFIRM:
        try:
            answer = json.loads(outcome.body or b"")
            _ON_CONFIRMED[item.kind](conn, item, answer, to_iso(now))
        except (ValueError, BadChangeError):
            log.warning("outbox %s: success answer unreadable; will ask again", item.id)
            outbox.retry_later(conn, item.id, at=outcome.retry_at or now,
                               error="unreadable_answer")
            return OutboxState.QUEUED
        outbox.finish(conn, item.id, state=OutboxState.CONFIRMED, now=now,
                      status=outcome.status, body=outcome.body)
        return OutboxState.CONFIRMED
    if outcome.action is Action.NEEDS_ATTENTION:
        _ON_REFUSED[item.kind](conn, item)
        outbox.finish(conn, item.id, state=OutboxState.NEEDS_ATTENTION, now=now,
                      status=outcome.status, body=outcome.body, error=outcome.reason)
        return OutboxState.NEEDS_ATTENTION
    outbox.retry_later(conn, item.id, at=outcome.retry_at or now, error=outcome.reason)
    return OutboxState.QUEUED


def record_outcome(item: OutboxItem, outcome: Outcome, *, vault: Vault,
                   clock: Clock) -> OutboxState:
    """Store what happened to one delivery attempt; returns the row's new state.

    A success answer that cannot be read is kept in the queue (the exchange will replay the
    same answer for the same key), never marked confirmed on a guess.
    """
    return record_outcomes([(item, outcome)], vault=vault, clock=clock)[0]


def record_outcomes(results: list[tuple[OutboxItem, Outcome]], *, vault: Vault,
                    clock: Clock) -> list[OutboxState]:
    """Store the outcomes of a whole batch in one transaction; returns each row's new state."""

    def store(conn: Any) -> list[OutboxState]:
        states = []
        for item, outcome in results:
            if outcome.reason in ALERT_REASONS:
                log.error("ALERT outbox %s refused as %s: a kiosk bug, not re-keyed",
                          item.id, outcome.reason)
                audit.record(conn, at=clock.now(), actor="sync", action="outbox.alert",
                             subject=item.idempotency_key, detail=outcome.reason)
            states.append(_record(conn, item, outcome, clock))
        return states

    return vault.write(store)


def interrupted(*, vault: Vault) -> list[OutboxItem]:
    """Rows left in 'sending': their outcome is unknown until the exchange is asked."""
    return vault.call(lambda conn: outbox.in_state(conn, OutboxState.SENDING))


def send_now(*, vault: Vault, clock: Clock) -> int:
    """Skip the backoff wait for every queued row ("Send now"). Returns how many."""
    now = clock.now()
    return vault.write(lambda conn: outbox.make_all_due(conn, now=now))


def queue_summary(*, vault: Vault) -> QueueSummary:
    """How many rows wait, how many need attention, and since when the oldest waits."""
    return vault.call(outbox.summary)


def next_due_at(*, vault: Vault) -> dt.datetime | None:
    """When the next queued row falls due (None when nothing waits)."""
    due: dt.datetime | None = vault.call(outbox.next_due_at)
    return due
