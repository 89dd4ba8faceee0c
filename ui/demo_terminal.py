"""The demo's control over how the sandbox card terminal answers, for the payment screen.

Two kinds of sandbox terminal exist: the in-process one (tests of the screens) and the one in
its own process (the demo, reached over local HTTP). Both offer the same short list of
choices, labelled for the navigator; `choose` may block briefly, so call it off the UI thread.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.i18n import N_
from kiosk.terminal.sandbox import SandboxTerminal
from kiosk.terminal.sandbox import Scenario as LocalScenario
from sync.terminal.process import TerminalControl
from sync.terminal.scenarios import Scenario

LABELS: dict[str, str] = {
    Scenario.APPROVED: N_("Approved"),
    Scenario.DECLINED_INSUFFICIENT_FUNDS: N_("Declined: not enough money"),
    Scenario.DECLINED_EXPIRED_CARD: N_("Declined: expired card"),
    Scenario.DECLINED_DO_NOT_HONOR: N_("Declined: bank refuses"),
    Scenario.CARD_REMOVED: N_("Card removed too early"),
    Scenario.TIMEOUT_APPROVED: N_("No answer (the card was charged)"),
    Scenario.TIMEOUT_DECLINED: N_("No answer (the card was not charged)"),
    Scenario.PARTIAL_PREPAID: N_("Prepaid card pays only part"),
    Scenario.OFFLINE_APPROVED: N_("Approved offline by the card reader"),
    Scenario.APPLE_PAY: N_("Apple Pay"),
    Scenario.GOOGLE_PAY: N_("Google Pay"),
}

_LOCAL = {
    Scenario.APPROVED: LocalScenario.APPROVE,
    Scenario.DECLINED_INSUFFICIENT_FUNDS: LocalScenario.DECLINE_INSUFFICIENT_FUNDS,
    Scenario.DECLINED_EXPIRED_CARD: LocalScenario.DECLINE_EXPIRED_CARD,
    Scenario.DECLINED_DO_NOT_HONOR: LocalScenario.DECLINE_DO_NOT_HONOR,
}


class DemoTerminal(Protocol):
    def choices(self) -> list[str]:
        """Scenario codes, in the order the picker lists them."""
        ...

    def choose(self, code: str) -> None:
        """Make the next payments play `code`. May block on the network."""
        ...


class InProcessDemo:
    """The in-process sandbox terminal: approvals and declines only."""

    def __init__(self, terminal: SandboxTerminal) -> None:
        self.terminal = terminal

    def choices(self) -> list[str]:
        return [str(code) for code in _LOCAL]

    def choose(self, code: str) -> None:
        self.terminal.set_scenario(_LOCAL[Scenario(code)])


class ProcessDemo:
    """The sandbox terminal process: every scenario it can play."""

    def __init__(self, control: TerminalControl, *, answer_delay_seconds: float = 20.0) -> None:
        self.control = control
        self.answer_delay_seconds = answer_delay_seconds

    def choices(self) -> list[str]:
        return [str(code) for code in Scenario]

    def choose(self, code: str) -> None:
        self.control.set_scenario(code, answer_delay_seconds=self.answer_delay_seconds)
