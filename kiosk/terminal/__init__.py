"""The boundary to the card terminal. Card numbers never cross it.

A terminal reads the card itself and answers with a token, the brand, the last four digits,
the entry mode and an authorization code. Drivers implement `CardTerminal`; the kiosk core
only ever talks to that interface.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.domain.money import Money
from kiosk.domain.payments import CardAuthorization


class CardTerminal(Protocol):
    """A semi-integrated card terminal."""

    def charge(self, *, sale_reference: str, amount: Money) -> CardAuthorization:
        """Ask the member to present a card and charge `amount`.

        Blocks until the terminal answers. Raises TerminalError when it cannot be reached.
        """
        ...
