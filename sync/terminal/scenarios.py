"""How the sandbox terminal answers the next payments: the scenario the demo or a test picks.

Standard library only, so the kiosk's demo screen can list the choices without the web stack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

# Adyen's terminals give up on a payment after 120 s; a held answer waits a little longer, so
# it always comes after any sensible client timeout unless the test shortens it.
DEFAULT_ANSWER_DELAY_SECONDS = 150.0


class Scenario(StrEnum):
    APPROVED = "approved"  # the issuer approves the whole amount; a chip card
    DECLINED_INSUFFICIENT_FUNDS = "declined_insufficient_funds"  # not enough money on it
    DECLINED_EXPIRED_CARD = "declined_expired_card"  # the card is past its expiry date
    DECLINED_DO_NOT_HONOR = "declined_do_not_honor"  # the issuer refuses without a reason
    CARD_REMOVED = "card_removed"  # the member pulls the card out before the end
    TIMEOUT_APPROVED = "timeout_approved"  # approved, but the answer is held past the timeout
    TIMEOUT_DECLINED = "timeout_declined"  # declined, but the answer is held past the timeout
    PARTIAL_PREPAID = "partial_prepaid"  # a prepaid card with too little on it: part approved
    OFFLINE_APPROVED = "offline_approved"  # the terminal approves it itself (store and forward)
    APPLE_PAY = "apple_pay"  # an iPhone tapped with Apple Pay
    GOOGLE_PAY = "google_pay"  # an Android phone tapped with Google Pay


TIMEOUT_SCENARIOS = frozenset({Scenario.TIMEOUT_APPROVED, Scenario.TIMEOUT_DECLINED})


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSettings:
    """The scenario and its knobs, as `POST /_sandbox/scenario` takes them.

    `answer_delay_seconds`: how long a timeout scenario holds its answer. `pending_seconds`:
    how long after the card is read the transaction stays in progress (status lookups answer
    InProgress and an abort still stops it) before its outcome is final. `prepaid_balance_cents`:
    what is on the prepaid card of `partial_prepaid`; None means half the amount asked.
    """

    scenario: Scenario = Scenario.APPROVED
    answer_delay_seconds: float = DEFAULT_ANSWER_DELAY_SECONDS
    pending_seconds: float = 0.0
    prepaid_balance_cents: int | None = None

    def __post_init__(self) -> None:
        if self.answer_delay_seconds < 0 or self.pending_seconds < 0:
            raise ValueError("delays cannot be negative")
        if self.prepaid_balance_cents is not None and self.prepaid_balance_cents < 1:
            raise ValueError("a prepaid balance must be at least one cent")

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ScenarioSettings:
        """Settings from a control request body; ValueError when a field is wrong."""
        unknown = set(body) - {"scenario", "answer_delay_seconds", "pending_seconds",
                               "prepaid_balance_cents"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        balance = body.get("prepaid_balance_cents")
        if balance is not None and (isinstance(balance, bool) or not isinstance(balance, int)):
            raise ValueError("prepaid_balance_cents must be an integer")
        return cls(
            scenario=Scenario(body.get("scenario", Scenario.APPROVED)),
            answer_delay_seconds=_seconds(body, "answer_delay_seconds",
                                          DEFAULT_ANSWER_DELAY_SECONDS),
            pending_seconds=_seconds(body, "pending_seconds", 0.0),
            prepaid_balance_cents=balance,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _seconds(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds")
    return float(value)
