"""The exchange's signed receipts for the audit trail's head: after a sync the head is
reported and the receipt kept, verified under the exchange's key; `audit verify` says what
the exchange acknowledged and finds an acknowledged entry edited, even when the whole trail
was re-sealed with the data key; a receipt whose signature does not hold is kept, flagged and
logged."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.bootstrap import Core
from kiosk.services import audit
from kiosk.settings import Settings
from kiosk.store.vault import AUDIT_GENESIS, AUDIT_HEAD_KEY
from sync import receipts
from sync.audit_heads import AuditHeads
from sync.bootstrap import build_sync
from sync.client import ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.worker import SyncWorker
from tests.scripted_exchange import ScriptedExchange
from tests.test_sync import DEMO_TOKEN, free_port, make_core, pay

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("heads-exchange") / "exchange.db"
    with SandboxProcess(path, port=free_port()) as process:
        yield process


def reported(exchange: SandboxProcess, kiosk_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{exchange.url}/_sandbox/audit-heads", params={"kiosk_id": kiosk_id},
                          timeout=5)
    heads: list[dict[str, Any]] = answer.json()["heads"]
    return heads


def synced_kiosk(exchange: SandboxProcess, settings: Settings, kiosk_id: str,
                 **changes: Any) -> tuple[Core, SyncWorker]:
    """A kiosk that trusts the sandbox's receipt key, has taken two payments and synced."""
    kiosk = replace(settings, **{"kiosk_id": kiosk_id,
                                 "exchange_receipt_key": exchange.receipt_key(), **changes})
    core = make_core(kiosk, exchange.url)
    worker = build_sync(core, on_status=lambda status: None)
    worker.run_once()
    pay(core, 1100)
    pay(core, 1200)
    assert worker.run_once().confirmed == 2
    return core, worker


def test_after_a_sync_the_head_is_acknowledged_with_a_verified_receipt(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core, worker = synced_kiosk(exchange, settings, "K-HEAD-1")
    try:
        seq, head = core.vault.call(audit.chain_head)
        receipt = core.vault.call(audit.latest_receipt)
        assert receipt is not None and receipt.verified
        assert (receipt.kiosk_id, receipt.seq, receipt.head) == ("K-HEAD-1", seq, head)
        assert [(h["seq"], h["head"]) for h in reported(exchange, "K-HEAD-1")] == [(seq, head)]
        worker.run_once()  # the head did not move: nothing new to acknowledge
        assert len(reported(exchange, "K-HEAD-1")) == 1
        pay(core, 1300)
        worker.run_once()
        assert core.vault.call(audit.latest_receipt).seq > seq  # type: ignore[union-attr]
        assert core.vault.call(audit.acknowledgement).holds  # type: ignore[union-attr]
    finally:
        worker.stop()
        core.close()


def run_kiosk(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def edit_entry(core: Core, entry_id: int, detail: str, *, reseal: bool) -> None:
    """What someone with the data key and a SQL prompt could do: drop the guards, change an
    entry and, with `reseal`, recompute every MAC from it on so the trail verifies again."""

    def run(conn: Any) -> None:
        conn.execute("DROP TRIGGER IF EXISTS audit_entries_are_never_deleted")
        conn.execute("DROP TRIGGER IF EXISTS audit_entries_never_change")
        conn.execute("UPDATE audit SET detail = ? WHERE id = ?", (detail, entry_id))
        if not reseal:
            return
        before = conn.execute("SELECT mac FROM audit WHERE id = ?", (entry_id - 1,)).fetchone()
        prev = before[0] if before else AUDIT_GENESIS
        rows = conn.execute("SELECT id, at, actor, action, subject, detail FROM audit"
                            " WHERE id >= ? ORDER BY id", (entry_id,)).fetchall()
        for row in rows:
            mac = conn.execute("SELECT audit_mac(?, ?, ?, ?, ?, ?, ?)",
                               (*tuple(row), prev)).fetchone()[0]
            conn.execute("UPDATE audit SET prev_hash = ?, mac = ? WHERE id = ?",
                         (prev, mac, row[0]))
            prev = mac
        conn.execute("UPDATE kiosk_meta SET value = ? WHERE key = ?",
                     (f"{rows[-1][0]} {prev}", AUDIT_HEAD_KEY))

    core.vault.write(run)


def test_audit_verify_finds_an_acknowledged_entry_edited_even_when_resealed(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core, worker = synced_kiosk(exchange, settings, "K-HEAD-2")
    worker.stop()
    receipt = core.vault.call(audit.latest_receipt)
    assert receipt is not None and receipt.seq >= 2
    core.close()
    (settings.data_dir / "settings.json").write_text(json.dumps({"key_store": "file"}), "utf-8")
    clean = run_kiosk(settings.data_dir, "audit", "verify")
    assert clean.returncode == 0, clean.stderr
    assert (f"the exchange acknowledged entry {receipt.seq} (head {receipt.head[:16]}) at "
            f"{receipt.received_at} (signature verified") in clean.stdout

    core = make_core(replace(settings, kiosk_id="K-HEAD-2"), exchange.url)
    edit_entry(core, 1, "amount=1", reseal=False)
    core.close()
    edited = run_kiosk(settings.data_dir, "audit", "verify")
    assert edited.returncode == 1
    assert "entry #1: edited, after the exchange acknowledged it" in edited.stdout

    core = make_core(replace(settings, kiosk_id="K-HEAD-2"), exchange.url)
    edit_entry(core, 1, "amount=1", reseal=True)
    assert core.vault.call(audit.verify).intact  # the key re-sealed the trail...
    core.close()
    resealed = run_kiosk(settings.data_dir, "audit", "verify")
    assert resealed.returncode == 1  # ...but not what the exchange signed
    assert "audit trail intact" in resealed.stdout
    assert (f"entry #{receipt.seq}: not the entry the exchange acknowledged: the trail was "
            "rewritten after acknowledgement") in resealed.stdout


def key_pair() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    return key, receipts.public_key_text(key)


def scripted_receipt(script_exchange: ScriptedExchange, receipt: receipts.Receipt) -> None:
    script_exchange.script.status = 201
    script_exchange.script.body = json.dumps(receipt.as_data()).encode()


def test_a_receipt_whose_signature_does_not_hold_is_kept_flagged_and_logged(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    key, public = key_pair()
    scripted = ScriptedExchange().start()
    client = ExchangeClient(scripted.url, device_token=DEMO_TOKEN, kiosk_id="K042")
    heads = AuditHeads(vault=core.vault, clock=core.clock, receipt_key=public)
    try:
        audit.record_event(core.vault, core.clock, actor="nav", action="payment.taken")
        seq, head = core.vault.call(audit.chain_head)
        good = receipts.sign(key, kiosk_id="K042", seq=seq, head=head,
                             received_at="2026-11-28T15:00:00Z")
        other = receipts.sign(key, kiosk_id="K042", seq=seq, head="f" * 64,
                              received_at=good.received_at)
        scripted_receipt(scripted, replace(good, signature=other.signature))
        with caplog.at_level(logging.ERROR, logger="sync.audit_heads"):
            assert heads.report(client) is None
        kept = core.vault.call(audit.latest_receipt)
        assert kept is not None and (kept.seq, kept.head) == (seq, head)
        assert not kept.verified
        assert any("does not verify" in r.getMessage() for r in caplog.records)
        assert heads.report(client) is None  # acknowledged, even if unverified: not re-sent
        assert [p for _, p, _ in scripted.script.requests] == ["/v1/audit-heads"]

        audit.record_event(core.vault, core.clock, actor="nav", action="payment.taken")
        seq, head = core.vault.call(audit.chain_head)
        scripted_receipt(scripted, receipts.sign(key, kiosk_id="K042", seq=seq, head=head,
                                                 received_at="2026-11-28T15:01:00Z"))
        heads.report(client)
        assert core.vault.call(audit.latest_receipt).verified  # type: ignore[union-attr]
    finally:
        client.close()
        scripted.stop()


def test_without_a_configured_key_receipts_are_unverified_except_in_demo(
    exchange: SandboxProcess, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sync.audit_heads"):
        core, worker = synced_kiosk(exchange, settings, "K-HEAD-3", exchange_receipt_key="")
    try:
        assert not core.vault.call(audit.latest_receipt).verified  # type: ignore[union-attr]
        assert any("receipt_key_unknown" in r.getMessage() for r in caplog.records)
    finally:
        worker.stop()
        core.close()
    demo = replace(settings, data_dir=settings.data_dir.parent / "demo-data", demo=True)
    core, worker = synced_kiosk(exchange, demo, "K-HEAD-4", exchange_receipt_key="")
    try:
        assert core.vault.call(audit.latest_receipt).verified  # type: ignore[union-attr]
    finally:
        worker.stop()
        core.close()


def test_a_receipt_holds_only_for_what_was_signed_and_by_whom() -> None:
    key, public = key_pair()
    _, stranger = key_pair()
    receipt = receipts.sign(key, kiosk_id="K1", seq=7, head="a" * 64,
                            received_at="2026-11-28T15:00:00Z")
    assert receipts.verifies(receipt, public)
    assert receipts.parse(json.dumps(receipt.as_data()).encode()) == receipt
    for changed in ({"seq": 8}, {"head": "b" * 64}, {"kiosk_id": "K2"},
                    {"received_at": "2026-11-28T15:00:01Z"},
                    {"signature": base64.b64encode(b"\0" * 64).decode()},
                    {"signature": "not base64!"}):
        assert not receipts.verifies(replace(receipt, **changed), public)
    assert not receipts.verifies(receipt, stranger)  # another key: not the one named
    assert not receipts.verifies(replace(receipt, key_id=receipts.key_id(stranger)), stranger)
    for body in (b"[]", b"{}", b'{"seq": "7"}', b"not json"):
        with pytest.raises(ValueError):
            receipts.parse(body)
