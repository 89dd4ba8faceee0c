"""The background sync worker: pulls the changes feed and drains the outbox.

It runs on its own thread (a plain Python thread; no Qt here) and reports a `SyncStatus` value
through a callback after every pass. The UI turns that callback into a queued Qt signal, so the
worker never touches a widget. `run_once` does one pass synchronously, for tests and tools.

A pass: probe the exchange; look up rows a crash left in 'sending' (by key) before anything is
re-sent; pull the changes feed; send due rows in batches of up to 100 and record each batch's
outcomes in one vault transaction; then, if the audit trail moved, report its head and keep the
exchange's signed receipt (`sync.audit_heads`).

A refused signature (401, 403) on a send or an audit head pauses sending until a person acts;
the status carries the refusal's code. No answer, or a TLS connection that cannot be trusted
(`tls_error`), is "offline": the worker probes every few seconds and sends nothing, and logs
the cause once per change.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.clock import Clock
from kiosk.connectivity import Connectivity
from kiosk.errors import KioskError
from kiosk.outbox import OutboxItem
from kiosk.outbox.outcome import Action, Outcome
from kiosk.services import cache, delivery
from kiosk.store.vault import Vault
from sync import policy
from sync.audit_heads import AuditHeads
from sync.batch import MAX_BATCH, UnreadableBatch, lookup_answer, split_batch_answer
from sync.client import Answer, ExchangeClient, ExchangeUnreachable

log = logging.getLogger(__name__)

OFFLINE_PROBE_SECONDS = 5.0
MAX_PAGES_PER_PASS = 50
STALL_ATTEMPTS = 5  # the head of the queue failing this often, while online, is a problem


# A batch on its way: its rows, the lane thread's pending answers, and the lane's client.
_InFlight = tuple[list[OutboxItem], "Future[list[Answer]]", ExchangeClient]


class Connection(StrEnum):
    ONLINE = "online"  # the exchange answers
    OFFLINE = "offline"  # the exchange cannot be reached; payments wait safely
    SYNCING = "syncing"  # a pass is sending right now
    PROBLEM = "problem"  # online, but the queue does not move or items need attention
    PAUSED = "paused"  # the exchange refused the device credential; a supervisor must act


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatus:
    """What the header of every screen shows about delivery to the exchange."""

    connection: Connection
    waiting: int = 0
    needs_attention: int = 0
    oldest_waiting_since: dt.datetime | None = None
    last_contact: dt.datetime | None = None
    stalled: bool = False
    # Why OFFLINE or PAUSED, as a stable code: an unreachable reason (tls_error,
    # connection_error, timeout, ...) or the exchange's refusal (signature_expired,
    # signature_invalid, ...); "" otherwise.
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class PassResult:
    """What one pass did, for tests and logs."""

    online: bool = False
    pulled: int = 0
    recovered: int = 0
    sent: int = 0
    requests: int = 0
    confirmed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


class SyncWorker:
    """Delivers the outbox and refreshes the member cache; thread-safe start, stop and nudge."""

    def __init__(self, *, vault: Vault, clock: Clock, client: ExchangeClient,
                 on_status: Callable[[SyncStatus], None] = lambda status: None,
                 rng: random.Random | None = None, poll_seconds: float = 15.0,
                 connectivity: Connectivity | None = None, batch_size: int = MAX_BATCH,
                 audit_heads: AuditHeads | None = None) -> None:
        self._vault = vault
        self._clock = clock
        self._client = client
        self._on_status = on_status
        self._rng = rng or random.Random()
        self._poll_seconds = poll_seconds
        self._connectivity = connectivity or Connectivity()
        self._batch_size = max(1, min(batch_size, MAX_BATCH))
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._online = False
        self._offline_reason = ""
        self._paused = False
        self._pause_reason = ""
        self._use_batch = True
        self._second_lane: ExchangeClient | None = None
        self._audit_heads = audit_heads

    # -- control, from any thread -------------------------------------------------------------
    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._loop, name="sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the worker to finish its current request and stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()
        if self._second_lane is not None:
            self._second_lane.close()

    def nudge(self) -> None:
        """Run a pass now (after a payment is taken)."""
        self._wake.set()

    def send_now(self) -> None:
        """A person pressed "Send now": skip every backoff wait, resume if paused, run a pass."""
        delivery.send_now(vault=self._vault, clock=self._clock)
        self._paused = False
        self._pause_reason = ""
        self._wake.set()

    def publish_status(self) -> None:
        """Report the queue as it is now, without a pass (after a payment is recorded)."""
        self._emit(syncing=False)

    @property
    def paused(self) -> bool:
        return self._paused

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
        if due is None or self._paused:
            return self._poll_seconds
        wait = (due - self._clock.now()).total_seconds()
        return max(0.05, min(self._poll_seconds, wait))

    def run_once(self, *, max_send: int | None = None) -> PassResult:
        """One pass: probe, recover interrupted rows, pull changes, send what is due (at most
        `max_send` rows when given), report."""
        result = PassResult()
        self._report_syncing()
        unreachable = self._client.probe()
        result.online = not unreachable
        self._set_online(result.online, unreachable)
        if result.online and not self._paused:
            self._recover(result)
        if self._online:
            self._pull(result)
        if self._online and not self._paused:
            self._drain(result, max_send)
        if self._online and not self._paused:
            self._report_audit_head()
        self._report()
        return result

    def _set_online(self, online: bool, reason: str = "") -> None:
        """Record whether the exchange answers; log only when that, or why not, changes."""
        now = self._clock.now()
        self._connectivity.mark(online=online, at=now)
        if online and not self._online:
            woken = delivery.wake_after_reconnect(vault=self._vault, clock=self._clock)
            log.info("exchange reachable; %d waiting item(s) due now", woken)
        elif not online and (self._online or reason != self._offline_reason):
            _log_unreachable(reason)
        self._online = online
        self._offline_reason = "" if online else reason

    def _pause(self, code: str) -> None:
        """The exchange refused this kiosk's signature (`code`, e.g. signature_expired): hold
        the queue until a person acts."""
        if not self._paused or code != self._pause_reason:
            log.error("the exchange refused this kiosk's device credential (%s); sending "
                      "paused until a supervisor acts", code)
        self._paused = True
        self._pause_reason = code

    def _report_audit_head(self) -> None:
        if self._audit_heads is None:
            return
        try:
            refused = self._audit_heads.report(self._client)
        except ExchangeUnreachable as exc:
            self._set_online(False, exc.reason)
            return
        if refused is not None:
            self._pause(_refusal(refused.status, refused.body))

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
            except ExchangeUnreachable as exc:
                self._set_online(False, exc.reason)
                return
            except (ValueError, TypeError, KeyError, KioskError) as exc:
                log.warning("changes feed answer unusable (%s); will try again", type(exc).__name__)
                return
            if not more:
                return

    # -- recovery after a crash ---------------------------------------------------------------
    def _recover(self, result: PassResult) -> None:
        """Rows a previous run left in 'sending': ask the exchange what happened to each key."""
        for item in delivery.interrupted(vault=self._vault):
            outcome = self._looked_up(item)
            if outcome is None:
                return  # unreachable again; the rows stay in 'sending' until the next pass
            delivery.record_outcome(item, outcome, vault=self._vault, clock=self._clock)
            result.recovered += 1

    def _looked_up(self, item: OutboxItem) -> Outcome | None:
        now = self._clock.now()
        try:
            answer = self._client.lookup(item.idempotency_key)
        except ExchangeUnreachable as exc:
            self._set_online(False, exc.reason)
            return None
        if answer.status == 404:
            log.info("outbox %s never reached the exchange; sending it again", item.id)
            return Outcome(action=Action.RETRY, reason="not_received", retry_at=now)
        if answer.status != 200:
            return policy.classify(answer, attempts=item.attempts, now=now, rng=self._rng)
        try:
            stored = lookup_answer(answer)
        except UnreadableBatch:
            return policy.unreachable("unreadable_answer", attempts=item.attempts, now=now,
                                      rng=self._rng)
        if stored is None:
            return Outcome(action=Action.RETRY, reason="exchange_processing",
                           retry_at=now + dt.timedelta(seconds=2))
        return policy.classify(stored, attempts=item.attempts, now=now, rng=self._rng)

    # -- sending ------------------------------------------------------------------------------
    def _drain(self, result: PassResult, max_send: int | None) -> None:
        """Claim, send and record batches, keeping up to `lanes` requests in flight.

        Two lanes hide the network's round trip: one batch travels while the previous one is
        recorded. Claims stay safe with several in flight, because a member's next row is not
        claimable while an earlier one is 'sending'. Outcomes are classified and recorded on
        this thread, in the order the batches were claimed.
        """
        in_flight: deque[_InFlight] = deque()
        free = deque(self._lanes())
        claiming = True
        with ThreadPoolExecutor(max_workers=len(free), thread_name_prefix="sync-lane") as pool:
            while True:
                while claiming and free and not self._stopping.is_set():
                    items = self._claim(result, max_send, in_flight)
                    if not items:
                        # With batches in flight, rows behind them become due when they land.
                        claiming = bool(in_flight)
                        break
                    lane = free.popleft()
                    in_flight.append((items, pool.submit(self._send, items, lane), lane))
                if not in_flight:
                    return
                items, future, lane = in_flight.popleft()
                outcomes = self._outcomes(items, future)
                free.append(lane)
                keep_going = self._record(result, items, outcomes)
                claiming = claiming and keep_going

    def _lanes(self) -> list[ExchangeClient]:
        if self._second_lane is None and self._use_batch and self._batch_size > 1:
            self._second_lane = self._client.clone()
        return [self._client] + ([self._second_lane] if self._second_lane else [])

    def _claim(self, result: PassResult, max_send: int | None,
               in_flight: deque[_InFlight]) -> list[OutboxItem]:
        limit = self._batch_size if self._use_batch else 1
        if max_send is not None:
            limit = min(limit, max_send - result.sent - sum(len(f[0]) for f in in_flight))
        if limit <= 0:
            return []
        return delivery.claim_due(vault=self._vault, clock=self._clock, limit=limit)

    def _record(self, result: PassResult, items: list[OutboxItem],
                outcomes: list[Outcome]) -> bool:
        """Store one batch's outcomes; False when the pass should stop claiming."""
        result.requests += 1
        result.sent += len(items)
        result.outcomes += outcomes
        states = delivery.record_outcomes(list(zip(items, outcomes, strict=True)),
                                          vault=self._vault, clock=self._clock)
        result.confirmed += sum(state == "confirmed" for state in states)
        paused = [o for o in outcomes if o.action is Action.PAUSE]
        if paused:
            self._pause(_refusal(paused[0].status, paused[0].body))
            return False
        # Unreachable, busy or unsure: stop claiming rather than press on; rows still due are
        # picked up by the next pass, which comes at once.
        return not any(o.action is Action.RETRY for o in outcomes)

    def _outcomes(self, items: list[OutboxItem], future: Future[list[Answer]]) -> list[Outcome]:
        now = self._clock.now()
        try:
            answers = future.result()
        except ExchangeUnreachable as exc:
            log.info("%d item(s) not delivered: %s", len(items), exc.reason)
            self._set_online(False, exc.reason)
            return [policy.unreachable(exc.reason, attempts=i.attempts, now=now, rng=self._rng)
                    for i in items]
        except UnreadableBatch as exc:
            log.warning("batch answer unreadable (%s); outcome unknown, will ask again", exc)
            return [policy.unreachable("unreadable_answer", attempts=i.attempts, now=now,
                                       rng=self._rng) for i in items]
        return [policy.classify(answer, attempts=item.attempts, now=now, rng=self._rng)
                for item, answer in zip(items, answers, strict=True)]

    def _send(self, items: list[OutboxItem], client: ExchangeClient) -> list[Answer]:
        """Runs on a lane thread: network only, no vault and no shared state but the flag."""
        if not self._use_batch or len(items) == 1:
            return [self._send_one(item, client) for item in items]
        answer = client.batch([(i.endpoint, i.idempotency_key, i.payload) for i in items])
        if answer.status in (404, 405):
            log.warning("the exchange has no batch endpoint; sending one at a time")
            self._use_batch = False
            return [self._send_one(item, client) for item in items]
        if answer.status != 200:
            # The whole request was refused (credential, overload): each operation gets that
            # answer, so the policy table decides for all of them alike.
            return [answer] * len(items)
        return split_batch_answer(answer, [i.idempotency_key for i in items])

    @staticmethod
    def _send_one(item: OutboxItem, client: ExchangeClient) -> Answer:
        return client.send(endpoint=item.endpoint, idempotency_key=item.idempotency_key,
                           payload=item.payload)

    # -- status -------------------------------------------------------------------------------
    def _report_syncing(self) -> None:
        # Only worth showing when something is waiting to go out.
        if self._online and not self._paused:
            self._emit(syncing=True)

    def _report(self) -> None:
        self._emit(syncing=False)

    def _emit(self, *, syncing: bool) -> None:
        summary = delivery.queue_summary(vault=self._vault)
        if syncing and not summary.waiting:
            return
        stalled = self._online and summary.head_attempts >= STALL_ATTEMPTS
        if self._paused:
            connection = Connection.PAUSED
        elif not self._online:
            connection = Connection.OFFLINE
        elif syncing:
            connection = Connection.SYNCING
        elif stalled or summary.needs_attention:
            connection = Connection.PROBLEM
        else:
            connection = Connection.ONLINE
        reason = self._pause_reason if self._paused else self._offline_reason
        self._on_status(SyncStatus(
            connection=connection, waiting=summary.waiting,
            needs_attention=summary.needs_attention,
            oldest_waiting_since=summary.oldest_created_at,
            last_contact=self._connectivity.last_contact, stalled=stalled, reason=reason,
        ))


def _refusal(status: int | None, body: bytes | None) -> str:
    """Why the exchange refused the credential: its problem code, else the status."""
    return policy.problem_code(body or b"") or f"http_{status}"


def _log_unreachable(reason: str) -> None:
    if reason == "tls_error":
        log.error("the exchange's TLS connection cannot be trusted (a certificate not from the "
                  "configured authority, another host's name, or TLS below 1.2); payments "
                  "wait in the vault")
    else:
        log.info("exchange unreachable (%s); payments wait in the vault", reason or "unknown")
