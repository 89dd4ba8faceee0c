"""Card data never reaches the kiosk.

A whole session runs every card scenario through the sandbox terminal process (with the
kiosk's real vault, the sandbox exchange and the sync worker, so the payments are delivered
and confirmed), with logging to files as the kiosk configures it. Then every table of the
vault is read decrypted, every text, number and blob value (the outbox payloads and the
exchange's stored answers too), and every log file, and nothing may hold a number of 13 to 19
digits that passes the Luhn check, nor any of the card numbers the sandbox terminal reads. The
scanner itself is shown to find planted numbers, so the session test can fail.

A "number" here stands on its own: a run of digits (or digits grouped the way cards print them)
not glued to letters or further digits. Digit runs inside hex strings (the audit chain's MACs,
the genesis hash of 64 zeros) pass the Luhn check one time in ten by chance and are not card
numbers; a card number glued into such a string is still caught by the search for the
sandbox's own numbers.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kiosk import logs
from kiosk.bootstrap import Core, build_core
from kiosk.clock import SystemClock
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus
from kiosk.domain.staff import Role, StaffSession
from kiosk.errors import KioskError
from kiosk.services.members import get_account
from kiosk.services.payments import (
    PaymentContext,
    TakeCardPayment,
    open_card_attempts,
    resolve_unknown_attempts,
    take_card_payment,
)
from kiosk.settings import Settings
from kiosk.store.vault import Vault
from sync.client import ExchangeClient
from sync.sandbox.server import SandboxProcess
from sync.terminal.client import HttpTerminal
from sync.terminal.device import CARD_NUMBERS
from sync.terminal.process import TerminalProcess
from sync.terminal.scenarios import Scenario
from sync.worker import SyncWorker

DEMO_TOKEN = "demo-device-token-NOT-A-SECRET"
_ALONE_BEFORE, _ALONE_AFTER = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
# 13 to 19 digits in a row, or grouped as printed on cards (4-4-4-4[-3] or 4-6-5).
_NUMBER = re.compile(
    _ALONE_BEFORE + r"(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{5})" + _ALONE_AFTER)
PLANTED = "4111111111111111"  # a published test number (the sandbox reads it too)


def luhn_ok(number: str) -> bool:
    """The Luhn check every card number passes."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def card_numbers(text: str) -> set[str]:
    """Every stand-alone 13-to-19-digit number in `text` that passes the Luhn check, and
    every sandbox card number found anywhere in it, even glued to other characters."""
    found = {digits for match in _NUMBER.finditer(text)
             if luhn_ok(digits := re.sub(r"[ -]", "", match.group(0)))}
    squeezed = re.sub(r"[ -]", "", text)
    return found | {n for n in CARD_NUMBERS if n in squeezed}


def _as_text(value: object, *, numbers: bool) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")  # every byte kept, so digits in any blob are seen
    if isinstance(value, str) or (numbers and isinstance(value, int)):
        return str(value)
    return ""


def _search_index_tables(conn: Any) -> set[str]:
    """The tables SQLite's full-text index keeps its own data in. Their integer keys encode
    segment numbers (segment << 37), 12 to 13 digits long by design, so only their text and
    blob values are scanned."""
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'")]
    return {f"{name}_{part}" for name in names
            for part in ("data", "idx", "docsize", "config", "content")}


def vault_text(vault: Vault) -> dict[str, str]:
    """Every value of every table, decrypted, as text per table: all text and blob values,
    and the numbers too, but for the search index's own keys."""
    def read(conn: Any) -> dict[str, str]:
        index = _search_index_tables(conn)
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: "\n".join(
            "\t".join(_as_text(v, numbers=table not in index) for v in tuple(row))
            for row in conn.execute(f'SELECT * FROM "{table}"')) for table in tables}
    return vault.call(read)


def cards_in_vault(vault: Vault) -> dict[str, set[str]]:
    return {table: hits for table, text in vault_text(vault).items()
            if (hits := card_numbers(text))}


def cards_in_logs(log_dir: Path) -> dict[str, set[str]]:
    return {path.name: hits for path in sorted(log_dir.iterdir()) if path.is_file()
            if (hits := card_numbers(path.read_text("utf-8", errors="replace")))}


# -- the scanner finds what it must -----------------------------------------------------------

def test_the_scanner_finds_card_numbers_and_nothing_else() -> None:
    assert card_numbers('{"pan":"5105105105105100"}') == {"5105105105105100"}
    assert card_numbers("6011 0009 9013 9424 and 3714-496353-98431") == {
        "6011000990139424", "371449635398431"}
    assert card_numbers(f"tok_{PLANTED}x") == {PLANTED}  # a sandbox number, glued
    assert card_numbers("4111111111111112 411111111111 2026-11-28T15:00:00Z") == set()
    assert card_numbers("5a3c6a0e-1234-4567-8901-123456789012 HCX-261128-000001") == set()
    assert card_numbers("mac 0000000000000000000000000000000000000000 f4111111111111118e") == set()


def test_the_scanner_finds_a_number_planted_in_the_vault_or_a_log(
        core: Core, tmp_path: Path) -> None:
    core.vault.write(lambda c: c.executemany(
        "INSERT INTO kiosk_meta (key, value) VALUES (?, ?)",
        [("planted-text", f"card {PLANTED}"), ("planted-blob", f"{{{PLANTED}}}".encode())]))
    core.vault.write(lambda c: c.execute(
        "INSERT INTO card_attempts (sale_reference, member_id, amount_cents, navigator,"
        " started_at) VALUES ('s', 'M-1', ?, 'nav', '2026-11-28T15:00:00Z')", (int(PLANTED),)))
    assert cards_in_vault(core.vault) == {"kiosk_meta": {PLANTED}, "card_attempts": {PLANTED}}
    (tmp_path / "kiosk.log.1").write_text("x 4242 4242 4242 4242\n")
    assert cards_in_logs(tmp_path) == {"kiosk.log.1": {"4242424242424242"}}


# -- a session with every card scenario -------------------------------------------------------

@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    """Logging as the kiosk configures it, to files in a fresh folder; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    folder = tmp_path / "logs"
    logs.configure(folder, level=logging.DEBUG)
    yield folder
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved[0], saved[1]


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[SandboxProcess]:
    with SandboxProcess(db_path=tmp_path / "exchange.db") as sandbox:
        yield sandbox


@pytest.fixture
def terminal_process() -> Iterator[TerminalProcess]:
    with TerminalProcess(seed=13) as process:
        yield process


def navigator(core: Core) -> PaymentContext:
    staff = StaffSession(username="nav.scan", display_name="Nav Scan", role=Role.NAVIGATOR,
                         signed_in_at=core.clock.now())
    return PaymentContext(kiosk_id=core.settings.kiosk_id, site="Test Site", staff=staff)


def members_who_can_pay(core: Core, cents: int) -> Iterator[str]:
    ids = core.vault.call(lambda c: [r[0] for r in c.execute(
        "SELECT DISTINCT member_id FROM invoices WHERE status = 'open' ORDER BY member_id")])
    for member_id in ids:
        if get_account(member_id, vault=core.vault).max_payment.cents >= cents:
            yield member_id


def charge(core: Core, member_id: str, cents: int) -> str:
    """One payment attempt; the error code when it did not end in a payment."""
    try:
        take_card_payment(TakeCardPayment(member_id=member_id, amount=Money(cents=cents),
                                          sale_reference=str(uuid.uuid4())),
                          ctx=navigator(core), vault=core.vault, terminal=core.terminal,
                          clock=core.clock)
    except KioskError as exc:
        return exc.code
    return "paid"


def run_every_scenario(core: Core, terminal: TerminalProcess) -> dict[str, str]:
    payers = members_who_can_pay(core, 30_00)
    outcomes = {}
    for scenario in Scenario:
        terminal.control.set_scenario(scenario, answer_delay_seconds=30)
        outcomes[str(scenario)] = charge(core, next(payers), 30_00)
    # And one the terminal cannot account for at first, recovered afterwards.
    terminal.control.set_scenario(Scenario.TIMEOUT_APPROVED, answer_delay_seconds=30,
                                  pending_seconds=4)
    outcomes["unknown"] = charge(core, next(payers), 30_00)
    deadline = time.monotonic() + 20
    while open_card_attempts(vault=core.vault) and time.monotonic() < deadline:
        time.sleep(0.25)
        resolve_unknown_attempts(ctx=navigator(core), vault=core.vault,
                                 terminal=core.terminal, clock=core.clock)
    return outcomes


def sync_all(core: Core, worker: SyncWorker) -> None:
    for _ in range(5):
        worker.run_once()
        waiting = core.vault.call(lambda c: c.execute(
            "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')").fetchone()[0])
        if not waiting:
            return


def test_a_session_with_every_card_scenario_leaves_no_card_number_in_vault_or_logs(
        settings: Settings, log_dir: Path, exchange: SandboxProcess,
        terminal_process: TerminalProcess) -> None:
    core = build_core(replace(settings, exchange_url=exchange.url, device_token=DEMO_TOKEN),
                      clock=SystemClock(),
                      terminal=HttpTerminal(terminal_process.url, sale_id="K042",
                                            poi_id="SANDBOX-P400", charge_timeout=(2.0, 1.0)))
    worker = SyncWorker(vault=core.vault, clock=core.clock, rng=random.Random(2),
                        client=ExchangeClient(exchange.url, device_token=DEMO_TOKEN,
                                              kiosk_id="K042", timeout=(2.0, 5.0)))
    try:
        assert worker.run_once().pulled > 0  # the member cache
        outcomes = run_every_scenario(core, terminal_process)
        sync_all(core, worker)
        assert outcomes == {
            "approved": "paid", "declined_insufficient_funds": "payment_declined",
            "declined_expired_card": "payment_declined",
            "declined_do_not_honor": "payment_declined", "card_removed": "card_removed",
            "timeout_approved": "paid", "timeout_declined": "payment_declined",
            "partial_prepaid": "paid", "offline_approved": "paid", "apple_pay": "paid",
            "google_pay": "paid", "unknown": "terminal_outcome_unknown"}
        statuses = core.vault.call(lambda c: [r[0] for r in c.execute(
            "SELECT status FROM payments")])
        assert statuses == [PaymentStatus.CONFIRMED] * 7  # six paid and the recovered one
        assert cards_in_vault(core.vault) == {}
        logged = "".join(f.read_text("utf-8") for f in log_dir.iterdir() if f.is_file())
        assert logged and "[number]" not in logged  # the redaction filter had nothing to mask
    finally:
        worker.stop()
        core.close()
    assert cards_in_logs(log_dir) == {}
    assert card_numbers(terminal_process.log_text()) == set()
    assert card_numbers(json.dumps(terminal_process.control.transactions())) == set()
