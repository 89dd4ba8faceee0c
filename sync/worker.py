"""The background sync worker: pulls the changes feed and drains the outbox.

It runs on its own thread (a plain Python thread; no Qt here) and reports a `SyncStatus` value
through a callback after every pass. The UI turns that callback into a queued Qt signal, so the
worker never touches a widget. `run_once` does one pass synchronously, for tests and tools.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.clock import Clock
from kiosk.errors import KioskError
from kiosk.outbox import OutboxItem
from kiosk.outbox.outcome import Action, Outcome
from kiosk.services import cache, delivery
from kiosk.store.vault import Vault
from sync import policy
from sync.client import ExchangeClient, ExchangeUnreachable

log = logging.getLogger(__name__)

OFFLINE_PROBE_SECONDS = 5.0
MAX_PAGES_PER_PASS = 50


class Connection(StrEnum):
    ONLINE = "online"  # the exchange answers
    OFFLINE = "offline"  # the exchange cannot be reached; payments wait safely
    SYNCING = "syncing"  # a pass is sending or pulling right now
    PAUSED = "paused"  # the exchange refused the device credential; a supervisor must act


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatus:
    """What the header of every screen shows about delivery to the exchange."""

    connection: Connection
    waiting: int = 0
    needs_attention: int = 0
    oldest_waiting_since: dt.datetime | None = None
    last_contact: dt.datetime | None = None


@dataclass(slots=True, kw_only=True)
class PassResult:
    """What one pass did, for tests and logs."""

    online: bool = False
    pulled: int = 0
    sent: int = 0
    confirmed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


class SyncWorker:
    """Delivers the outbox and refreshes the member cache; thread-safe start, stop and nudge."""

    def __init__(self, *, vault: Vault, clock: Clock, client: ExchangeClient,
                 on_status: Callable[[SyncStatus], None] = lambda status: None,
                 rng: random.Random | None = None, poll_seconds: float = 15.0) -> None:
        self._vault = vault
        self._clock = clock
        self._client = client
        self._on_status = on_status
        self._rng = rng or random.Random()
        self._poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._online = False
        self._paused = False
        self._last_contact: dt.datetime | None = None

    # -- control, from any thread -------------------------------------------------------------
    def start(self) -> None:
        """Start the background thread. Rows a crash left in 'sending' are queued again first."""
        delivery.release_interrupted(vault=self._vault, clock=self._clock)
        self._thread = threading.Thread(target=self._loop, name="sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the worker to finish its current request and stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def nudge(self) -> None:
        """Run a pass now (after a payment is taken, or when a person presses Send now)."""
        self._wake.set()

    # -- the passes ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:  # a bug must not kill delivery; log it and try again later
                log.exception("sync pass failed")
            self._wake.wait(self._sleep_seconds())
            self._wake.clear()

    def _sleep_seconds(self) -> float:
        if not self._online:
            return OFFLINE_PROBE_SECONDS
        due = delivery.next_due_at(vault=self._vault)
        if due is None:
            return self._poll_seconds
        wait = (due - self._clock.now()).total_seconds()
        return max(0.05, min(self._poll_seconds, wait))

    def run_once(self) -> PassResult:
        """One pass: check the exchange is there, pull changes, send what is due, report."""
        result = PassResult()
        self._report_syncing()
        result.online = self._client.health()
        self._set_online(result.online)
        if result.online:
            self._pull(result)
            if not self._paused:
                self._drain(result)
        self._report()
        return result

    def _set_online(self, online: bool) -> None:
        if online:
            self._last_contact = self._clock.now()
        if online and not self._online:
            woken = delivery.wake_after_reconnect(vault=self._vault, clock=self._clock)
            log.info("exchange reachable; %d waiting item(s) due now", woken)
        elif not online and self._online:
            log.info("exchange unreachable; payments wait in the vault")
        self._online = online

    def _pull(self, result: PassResult) -> None:
        after = cache.cursor(vault=self._vault)
        for _ in range(MAX_PAGES_PER_PASS):
            try:
                answer = self._client.changes(after=after)
                if answer.status != 200:
                    log.warning("changes feed answered %s; will try again", answer.status)
                    return
                page = json.loads(answer.body)
                changes, after, more = page["changes"], int(page["next_after"]), page["has_more"]
                result.pulled += cache.apply_changes(changes, next_after=after,
                                                     vault=self._vault).applied
            except ExchangeUnreachable:
                self._set_online(False)
                return
            except (ValueError, TypeError, KeyError, KioskError) as exc:
                log.warning("changes feed answer unusable (%s); will try again", type(exc).__name__)
                return
            if not more:
                return

    def _drain(self, result: PassResult) -> None:
        while not self._stopping.is_set():
            items = delivery.claim_due(vault=self._vault, clock=self._clock, limit=1)
            if not items:
                return
            for item in items:
                outcome = self._deliver(item)
                result.sent += 1
                result.outcomes.append(outcome)
                state = delivery.record_outcome(item, outcome, vault=self._vault,
                                                clock=self._clock)
                result.confirmed += state == "confirmed"
                if outcome.action is Action.PAUSE:
                    self._paused = True
                    return
                if outcome.action is Action.RETRY and outcome.status is None:
                    return  # the exchange went away mid-pass; the probe will tell when it is back

    def _deliver(self, item: OutboxItem) -> Outcome:
        now = self._clock.now()
        try:
            answer = self._client.send(endpoint=item.endpoint,
                                       idempotency_key=item.idempotency_key,
                                       payload=item.payload)
        except ExchangeUnreachable as exc:
            log.info("outbox %s not delivered: %s", item.id, exc.reason)
            self._set_online(False)
            return policy.unreachable(exc.reason, attempts=item.attempts, now=now, rng=self._rng)
        outcome = policy.classify(answer, attempts=item.attempts, now=now, rng=self._rng)
        log.info("outbox %s answered %s: %s", item.id, answer.status, outcome.action)
        return outcome

    # -- status -------------------------------------------------------------------------------
    def _report_syncing(self) -> None:
        # Only worth showing when something is waiting to go out.
        if self._online and not self._paused:
            self._emit(Connection.SYNCING, only_if_waiting=True)

    def _report(self) -> None:
        if self._paused:
            self._emit(Connection.PAUSED)
        else:
            self._emit(Connection.ONLINE if self._online else Connection.OFFLINE)

    def _emit(self, connection: Connection, *, only_if_waiting: bool = False) -> None:
        summary = delivery.queue_summary(vault=self._vault)
        if only_if_waiting and not summary.waiting:
            return
        self._on_status(SyncStatus(
            connection=connection, waiting=summary.waiting,
            needs_attention=summary.needs_attention,
            oldest_waiting_since=summary.oldest_created_at, last_contact=self._last_contact,
        ))
