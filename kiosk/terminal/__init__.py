"""The boundary to the card terminal. Card numbers never cross it.

A terminal reads the card itself and answers with a token, the brand, the last four digits,
the entry mode, an authorization code and the result, never a card number. Drivers implement
`CardTerminal` (the sandbox in `kiosk.terminal.sandbox`, the HTTP adapter in
`sync.terminal.client`); the kiosk core only ever talks to that interface.

A driver tells two kinds of failure apart, because they mean opposite things for the member's
money: `TerminalError` (and `TerminalBusy`) when the request certainly never started a charge,
`TerminalTimeout` when it may have: then only `status` can say whether money was taken.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.domain.money import Money
from kiosk.domain.payments import CardAuthorization
from kiosk.errors import TerminalError

__all__ = ["CardTerminal", "TerminalBusy", "TerminalError", "TerminalTimeout"]


class TerminalTimeout(TerminalError):
    """The request may have reached the terminal, but no usable answer came back.

    `reason` is a stable code: timeout, connection_lost or unreadable_answer.
    """

    code = "terminal_timeout"


class TerminalBusy(TerminalError):
    """The terminal is still busy with another transaction and did not start this one."""

    code = "terminal_busy"


class CardTerminal(Protocol):
    """A semi-integrated card terminal. Implementations are safe to call from two threads at
    once, so that `abort` can reach a terminal while `charge` waits for it."""

    def charge(self, *, sale_reference: str, amount: Money) -> CardAuthorization:
        """Ask the member to present a card and charge `amount` (or less, for a prepaid card).

        Blocks until the terminal answers. Raises TerminalError or TerminalBusy when no charge
        was started, TerminalTimeout when one may have been.
        """
        ...

    def status(self, sale_reference: str) -> CardAuthorization:
        """What became of the charge with this sale reference; never starts a charge.

        The result may be IN_PROGRESS (not finished yet) or NOT_FOUND (never received).
        Raises TerminalError (or TerminalTimeout) when the terminal cannot say.
        """
        ...

    def abort(self, sale_reference: str) -> None:
        """Ask the terminal to stop the charge with this sale reference if it has not finished.

        Returns once the terminal has taken the request, not when the charge has ended: ask
        `status` afterwards. A finished charge is not undone. Raises TerminalError when the
        terminal cannot be reached.
        """
        ...
