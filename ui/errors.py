"""Turns the core's typed errors into messages that say what happened and what to do next.

The one place where error codes become sentences, in the navigator's language.
"""

from __future__ import annotations

import logging

from kiosk.domain.money import Money
from kiosk.errors import KioskError
from kiosk.i18n import N_, _, format_money

log = logging.getLogger(__name__)

_MESSAGES: dict[str, str] = {
    "auth_failed": N_(
        "The username, password or code is not right. Check each one and try again. "
        "The code changes every 30 seconds."
    ),
    "code_reused": N_(
        "That code was already used. Wait for the next code in your authenticator app, "
        "then try again."
    ),
    "amount_unreadable": N_("Type the amount in dollars and cents, for example 125.50."),
    "amount_not_positive": N_("The amount must be more than $0.00. Type the amount to pay."),
    "amount_too_high": N_(
        "This is more than can be paid today. The most is {allowed}. Type a smaller amount."
    ),
    "payment_declined": N_(
        "The card was declined. No money was taken. Ask the member for another card, "
        "or to call their bank."
    ),
    "terminal_unavailable": N_(
        "The card reader is not answering. No money was taken. Check that it is switched on "
        "and connected, then try again."
    ),
    "member_unknown": N_("This member is not in the kiosk's list. Search again."),
    "username_invalid": N_(
        "Usernames have 3 to 32 letters, numbers, dots, dashes or underscores."
    ),
    "username_taken": N_("That username is already used. Choose another one."),
    "password_too_short": N_(
        "The password needs at least {minimum} characters. A few unrelated words work well."
    ),
    "display_name_missing": N_("Type the name that should appear on receipts."),
    "passwords_differ": N_("The two passwords are not the same. Type them again."),
    "vault_key_wrong": N_(
        "The kiosk's secure storage could not be opened with its key. Nothing was changed. "
        "Call a supervisor."
    ),
}

_GENERIC = N_("Something went wrong. Nothing was lost. Try again, or call a supervisor.")
_DECLINE_REASONS: dict[str, str] = {
    "insufficient_funds": N_("The bank says there is not enough money on the account."),
    "expired_card": N_("The card has expired."),
    "do_not_honor": N_("The bank refused the card without giving a reason."),
}


def message_for(error: Exception) -> str:
    """A translated, plain-language message for any error a service raised."""
    if not isinstance(error, KioskError):
        log.error("unexpected error reached the screen: %s", type(error).__name__)
        return _(_GENERIC)
    template = _MESSAGES.get(error.code)
    if template is None:
        return _(_GENERIC)
    details = dict(error.details)
    if "allowed" in details:
        details["allowed"] = format_money(Money(cents=int(details["allowed"])))
    text = _(template).format(**details)
    reason = _DECLINE_REASONS.get(str(details.get("reason", "")))
    return f"{_(reason)} {text}" if reason else text
