"""Reporting the audit trail's head to the exchange and keeping its signed receipt.

After a sync pass in which the trail moved since the last receipt, the worker sends the head
(`POST /v1/audit-heads`) and the exchange answers a receipt signed with its Ed25519 key. The
receipt is checked against the key the kiosk trusts (`exchange_receipt_key` in settings) and
kept in the vault either way: verified, or flagged unverified and logged. Only in demo mode,
with no key configured, is the key read from the exchange itself (`GET /v1/exchange-keys`),
which proves nothing against an impostor and is said so in the log.

Runs on the sync worker's thread, between passes' other work; the vault calls are short.
"""

from __future__ import annotations

import json
import logging

from kiosk.clock import Clock, to_iso
from kiosk.services import audit
from kiosk.store.vault import Vault
from sync import receipts
from sync.client import Answer, ExchangeClient

log = logging.getLogger(__name__)


class AuditHeads:
    """Sends the head when it moved and stores each receipt. One per worker; not
    thread-safe (the worker's thread only)."""

    def __init__(self, *, vault: Vault, clock: Clock, receipt_key: str = "",
                 fetch_key: bool = False) -> None:
        """`receipt_key`: the exchange's public key (base64 raw Ed25519), "" when none is
        configured. `fetch_key`: read the key from the exchange when none is configured
        (demo mode only)."""
        self._vault = vault
        self._clock = clock
        self._keys = {receipts.key_id(receipt_key): receipt_key} if receipt_key else {}
        self._fetch_key = fetch_key and not receipt_key
        self._unsupported = False
        self._last_problem = ""

    def report(self, client: ExchangeClient) -> Answer | None:
        """Send the head if the exchange has not acknowledged it; keep the receipt. Returns
        the answer when the exchange refused the request's credential (401, 403), for the
        worker to pause; None otherwise. Raises ExchangeUnreachable."""
        head = None if self._unsupported else self._vault.call(audit.unacknowledged_head)
        if head is None:
            return None
        seq, mac = head
        answer = client.audit_head(seq=seq, head=mac, at=to_iso(self._clock.now()))
        if answer.status in (401, 403):
            return answer
        if answer.status in (404, 405):
            self._unsupported = True
            log.warning("the exchange takes no audit heads; not reporting them this run")
        elif answer.status != 201:
            self._problem(f"http_{answer.status}")
        else:
            self._keep(answer, client, seq=seq, head=mac)
        return None

    def _keep(self, answer: Answer, client: ExchangeClient, *, seq: int, head: str) -> None:
        try:
            receipt = receipts.parse(answer.body)
        except ValueError:
            self._problem("receipt_unreadable")
            return
        if (receipt.kiosk_id, receipt.seq, receipt.head) != (client.kiosk_id, seq, head):
            self._problem("receipt_for_another_head")  # not about our head: not kept
            return
        verified = self._verifies(receipt, client)
        if not verified:
            log.error("the exchange's receipt for audit entry %d does not verify (key %s); "
                      "kept, flagged unverified", seq, receipt.key_id)
        now = self._clock.now()
        self._vault.write(lambda conn: audit.store_receipt(conn, audit.AuditReceipt(
            kiosk_id=receipt.kiosk_id, seq=receipt.seq, head=receipt.head,
            received_at=receipt.received_at, key_id=receipt.key_id,
            signature=receipt.signature, verified=verified), at=now))
        self._last_problem = ""
        log.info("the exchange acknowledged audit entry %d", seq)

    def _verifies(self, receipt: receipts.Receipt, client: ExchangeClient) -> bool:
        if receipt.key_id not in self._keys and self._fetch_key:
            self._learn_keys(client)
        key = self._keys.get(receipt.key_id)
        if key is None:
            self._problem("receipt_key_unknown", "no trusted key checks the exchange's receipts "
                          "(set exchange_receipt_key); receipts are kept unverified")
            return False
        return receipts.verifies(receipt, key)

    def _learn_keys(self, client: ExchangeClient) -> None:
        """Demo mode only: trust the keys the exchange lists, as read (trust on first use)."""
        answer = client.exchange_keys()
        try:
            listed = json.loads(answer.body)["keys"] if answer.status == 200 else []
            found = {str(k["key_id"]): str(k["public_key"]) for k in listed}
        except (ValueError, TypeError, KeyError):
            found = {}
        for kid, key in found.items():
            if receipts.is_key(key) and receipts.key_id(key) == kid:  # the key's own id
                self._keys[kid] = key
                log.warning("demo mode: trusting the exchange's receipt key %s as it lists it",
                            kid)

    def _problem(self, code: str,
                 what: str = "audit head not acknowledged; will try after the next pass") -> None:
        """Log a problem once per change: the same one every pass says nothing new."""
        if code != self._last_problem:
            log.warning("%s (%s)", what, code)
        self._last_problem = code
