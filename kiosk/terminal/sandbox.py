"""An in-process sandbox card terminal for the quick tests and the demo without a terminal.

It plays the outcome chosen beforehand (approve, or decline with a reason) and answers the way
a real semi-integrated terminal does: a token, brand, last four digits and an authorization
code, never a card number. It answers at once, so it never has an unknown outcome; the richer
sandbox that runs as its own process and speaks the terminal protocol over HTTP is
`sync.terminal` (timeouts, partial and offline approvals, phone wallets, card removed).
"""

from __future__ import annotations

import random
import threading
from enum import StrEnum

from kiosk.domain.money import Money
from kiosk.domain.payments import CardAuthorization, TerminalResult

# Brands and last four digits of the card networks' published test cards.
_TEST_CARDS = (("visa", "1111"), ("mastercard", "4444"), ("amex", "8431"), ("discover", "1117"))


class Scenario(StrEnum):
    APPROVE = "approve"  # the issuer approves
    DECLINE_INSUFFICIENT_FUNDS = "insufficient_funds"  # not enough money on the account
    DECLINE_EXPIRED_CARD = "expired_card"  # the card is past its expiry date
    DECLINE_DO_NOT_HONOR = "do_not_honor"  # the issuer refuses without saying why


class SandboxTerminal:
    """An in-process stand-in for a card terminal. Thread-safe."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._scenario = Scenario.APPROVE
        self.charges: list[tuple[str, Money]] = []
        self._answers: dict[str, CardAuthorization] = {}

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    def set_scenario(self, scenario: Scenario) -> None:
        """Choose how the next charges end (the demo offers this to the navigator)."""
        with self._lock:
            self._scenario = Scenario(scenario)

    def charge(self, *, sale_reference: str, amount: Money) -> CardAuthorization:
        with self._lock:
            self.charges.append((sale_reference, amount))
            answer = self._play(sale_reference)
            self._answers[sale_reference] = answer
            return answer

    def status(self, sale_reference: str) -> CardAuthorization:
        """The answer the charge with this sale reference got; NOT_FOUND if there was none."""
        with self._lock:
            found = self._answers.get(sale_reference)
        return found or CardAuthorization(result=TerminalResult.NOT_FOUND,
                                          sale_reference=sale_reference)

    def abort(self, sale_reference: str) -> None:
        """Nothing to stop: every charge here has finished by the time `charge` returns."""

    def _play(self, sale_reference: str) -> CardAuthorization:
        brand, last4 = self._rng.choice(_TEST_CARDS)
        if self._scenario is not Scenario.APPROVE:
            return CardAuthorization(
                result=TerminalResult.DECLINED,
                sale_reference=sale_reference,
                brand=brand,
                last4=last4,
                entry_mode="chip",
                decline_reason=str(self._scenario),
            )
        return CardAuthorization(
            result=TerminalResult.APPROVED,
            sale_reference=sale_reference,
            token=f"tok_sandbox_{self._rng.getrandbits(64):016x}",
            brand=brand,
            last4=last4,
            auth_code=f"{self._rng.randrange(10**6):06d}",
            entry_mode=self._rng.choice(("chip", "contactless")),
        )
