"""The terminal protocol on its own: exact amounts on the wire, the kiosk reading every kind of
answer the sandbox terminal writes, refusing answers that do not fit the question, and telling
"never sent" from "maybe charged" when the network fails.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain.money import Money
from kiosk.domain.payments import TerminalResult
from kiosk.terminal import TerminalError, TerminalTimeout
from sync.terminal import nexo, wire
from sync.terminal.client import HttpTerminal
from sync.terminal.device import CARD_NUMBERS, SandboxDevice
from sync.terminal.scenarios import Scenario, ScenarioSettings
from tests.test_layering import violations

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_SIDE = ("wire", "scenarios", "device", "app", "process", "__main__")


class Ticker:
    """A monotonic clock for the device that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def request(sale_reference: str, cents: int) -> dict[str, Any]:
    """What the adapter sends, passed through the wire both ways as the terminal reads it."""
    message = nexo.payment_request(sale_id="K042", poi_id="SANDBOX-P400",
                                   sale_reference=sale_reference, amount=Money(cents=cents))
    return wire.loads(wire.dumps(message))


def play(scenario: Scenario, cents: int = 100_00, **knobs: Any) -> Any:
    device = SandboxDevice(seed=3, clock=Ticker())
    device.configure(ScenarioSettings(scenario=scenario, **knobs))
    tx = device.pay(request("sale-1", cents))
    answer = wire.loads(wire.dumps(device.payment_response(tx)))
    return nexo.read_payment(answer, sale_reference="sale-1", requested=Money(cents=cents))


# -- the wire ---------------------------------------------------------------------------------

def test_amounts_travel_as_exact_decimal_numbers_and_floats_are_refused() -> None:
    assert wire.dumps({"RequestedAmount": wire.from_cents(12550)}) == b'{"RequestedAmount":125.50}'
    assert wire.loads(b'{"a": 0.1}')["a"] == Decimal("0.1")
    with pytest.raises(TypeError):
        wire.dumps({"RequestedAmount": 125.5})
    with pytest.raises(wire.WireError):
        wire.to_cents(Decimal("1.005"))
    with pytest.raises(wire.WireError):
        wire.to_cents("12.00")


@given(st.integers(min_value=0, max_value=10**10))
def test_every_amount_in_cents_survives_the_wire(cents: int) -> None:
    body = wire.loads(wire.dumps({"amount": wire.from_cents(cents)}))
    assert wire.to_cents(body["amount"]) == cents


def test_the_service_id_fits_nexo_and_names_the_sale_after_a_restart() -> None:
    first = nexo.service_id_for("7d4c8a7e-6f0e-4a8b-9d55-0c7f5d7a1b11")
    assert len(first) == 10 and first == nexo.service_id_for(
        "7d4c8a7e-6f0e-4a8b-9d55-0c7f5d7a1b11")
    assert first != nexo.service_id_for("7d4c8a7e-6f0e-4a8b-9d55-0c7f5d7a1b12")


# -- reading what the terminal says -----------------------------------------------------------

def test_an_approval_gives_brand_last_four_token_code_and_entry_mode() -> None:
    auth = play(Scenario.APPROVED)
    assert auth.result is TerminalResult.APPROVED
    assert auth.approved_amount == Money(cents=100_00) and not auth.offline_approved
    assert auth.brand in {"visa", "mastercard", "amex", "discover"} and len(auth.last4) == 4
    assert auth.token.startswith("tok_") and len(auth.auth_code) == 6
    assert auth.entry_mode == "chip" and auth.wallet == ""


@pytest.mark.parametrize(("scenario", "result", "reason"), [
    (Scenario.DECLINED_INSUFFICIENT_FUNDS, TerminalResult.DECLINED, "insufficient_funds"),
    (Scenario.DECLINED_EXPIRED_CARD, TerminalResult.DECLINED, "expired_card"),
    (Scenario.DECLINED_DO_NOT_HONOR, TerminalResult.DECLINED, "do_not_honor"),
    (Scenario.CARD_REMOVED, TerminalResult.CARD_REMOVED, ""),
])
def test_failures_are_read_with_their_reason(scenario: Scenario, result: TerminalResult,
                                             reason: str) -> None:
    auth = play(scenario)
    assert (auth.result, auth.decline_reason, auth.token) == (result, reason, "")


def test_partial_offline_and_wallet_approvals_are_read_as_such() -> None:
    partial = play(Scenario.PARTIAL_PREPAID, prepaid_balance_cents=40_00)
    assert partial.approved_amount == Money(cents=40_00)
    assert play(Scenario.OFFLINE_APPROVED).offline_approved
    apple, google = play(Scenario.APPLE_PAY), play(Scenario.GOOGLE_PAY)
    assert (apple.wallet, apple.entry_mode) == ("apple_pay", "contactless")
    assert (google.wallet, google.entry_mode) == ("google_pay", "contactless")


def test_a_prepaid_card_is_declined_when_the_kiosk_does_not_allow_part_payment() -> None:
    device = SandboxDevice(clock=Ticker())
    device.configure(ScenarioSettings(scenario=Scenario.PARTIAL_PREPAID))
    message = request("sale-2", 100_00)
    del message["SaleToPOIRequest"]["PaymentRequest"]["SaleData"]["SaleToAcquirerData"]
    tx = device.pay(message)
    assert tx.outcome.state == "declined" and tx.outcome.approved_cents == 0


def test_an_answer_about_another_sale_or_above_the_amount_asked_is_refused() -> None:
    device = SandboxDevice(clock=Ticker())
    answer = device.payment_response(device.pay(request("sale-1", 100_00)))
    with pytest.raises(nexo.UnusableAnswer):
        nexo.read_payment(answer, sale_reference="sale-9", requested=Money(cents=100_00))
    with pytest.raises(nexo.UnusableAnswer):
        nexo.read_payment(answer, sale_reference="sale-1", requested=Money(cents=99_99))


def test_status_says_in_progress_then_the_outcome_and_an_abort_stops_it() -> None:
    ticker = Ticker()
    device = SandboxDevice(clock=ticker)
    device.configure(ScenarioSettings(scenario=Scenario.APPROVED, pending_seconds=5))
    device.pay(request("sale-1", 10_00))
    device.pay(request("sale-2", 10_00))  # busy: the first is still in progress

    def status(ref: str) -> Any:
        asked = nexo.status_request(sale_id="K042", poi_id="P", sale_reference=ref)
        return nexo.read_status(device.status(asked), sale_reference=ref, requested=None)

    assert status("sale-1").result is TerminalResult.IN_PROGRESS
    assert status("sale-3").result is TerminalResult.NOT_FOUND
    assert [t["state"] for t in device.transactions()] == ["in_progress", "refused_busy"]
    ticker.now += 5
    assert status("sale-1").result is TerminalResult.APPROVED
    device.abort(nexo.abort_request(sale_id="K042", poi_id="P", sale_reference="sale-1"))
    assert status("sale-1").result is TerminalResult.APPROVED  # too late to stop it


def test_no_answer_of_the_sandbox_terminal_carries_a_card_number() -> None:
    device = SandboxDevice(clock=Ticker())
    sent = []
    for number, scenario in enumerate(Scenario):
        device.configure(ScenarioSettings(scenario=scenario))
        ref = f"sale-{number}"
        sent.append(wire.dumps(device.payment_response(device.pay(request(ref, 50_00)))))
        asked = nexo.status_request(sale_id="K042", poi_id="P", sale_reference=ref)
        sent.append(wire.dumps(device.status(asked)))
    sent.append(str(device.transactions()).encode())
    assert len(CARD_NUMBERS) == 7 and all(len(n) >= 15 for n in CARD_NUMBERS)
    assert [n for n in CARD_NUMBERS for body in sent if n.encode() in body] == []


def test_the_sandbox_terminal_imports_nothing_of_the_kiosk() -> None:
    found = [v for v in violations("sync/terminal", ("kiosk", "ui", "PySide6"))
             if v.split()[0].rsplit("/", 1)[1].removesuffix(".py") in SANDBOX_SIDE]
    assert found == []


# -- the adapter when the network fails -------------------------------------------------------

def test_nothing_listening_means_the_charge_never_started() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the charge: connection refused
    terminal = HttpTerminal(f"http://127.0.0.1:{port}", sale_id="K042", poi_id="P",
                            charge_timeout=(1.0, 1.0))
    with pytest.raises(TerminalError) as info:
        terminal.charge(sale_reference="s", amount=Money(cents=100))
    assert not isinstance(info.value, TerminalTimeout)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and reads requests but never answers: a charge that may be running."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def test_no_answer_after_sending_means_the_outcome_is_unknown(silent_server: str) -> None:
    terminal = HttpTerminal(silent_server, sale_id="K042", poi_id="P",
                            charge_timeout=(1.0, 0.3), lookup_timeout=(1.0, 0.3))
    with pytest.raises(TerminalTimeout) as info:
        terminal.charge(sale_reference="s", amount=Money(cents=100))
    assert info.value.details["reason"] == "timeout"
    with pytest.raises(TerminalError):
        terminal.status("s")
