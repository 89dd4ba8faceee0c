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
    "terminal_outcome_unknown": N_(
        "The card reader did not say whether the card was charged. Do not charge again. Look "
        "at the card reader's screen, then press Check the card reader again."
    ),
    "card_removed": N_(
        "The card was taken out too early. No money was taken. Insert the card again and leave "
        "it in until the card reader says to remove it."
    ),
    "payment_aborted": N_("The charge was stopped. No money was taken."),
    "terminal_busy": N_(
        "The card reader is finishing another payment. Wait a moment, then try again."
    ),
    "terminal_timeout": N_(
        "The card reader did not answer in time. Look at its screen, then press Check the card "
        "reader again."
    ),
    "member_unknown": N_("This member is not in the kiosk's list. Search again."),
    "routing_invalid": N_(
        "That routing number is not valid. It has 9 digits and is printed at the bottom left "
        "of a check. Type it again."
    ),
    "account_invalid": N_("The account number should have 4 to 17 digits. Type it again."),
    "account_mismatch": N_(
        "The two account numbers are not the same. Type the account number again in both "
        "fields."
    ),
    "account_type_invalid": N_("Choose checking or savings."),
    "authorization_missing": N_(
        "The member must sign, or type their name and tick the box, to authorize the debit."
    ),
    "authorization_unknown": N_("That authorization is not on this kiosk."),
    "hosted_needs_connection": N_(
        "PayPal and Venmo need the connection to the exchange. Take a card or bank payment, or "
        "try again when the kiosk is online."
    ),
    "hosted_expired": N_("The payment link expired. Nothing was taken. Make a new link."),
    "hosted_not_pending": N_("That payment link is no longer open."),
    "hosted_unknown": N_("The exchange does not know that payment link. Make a new one."),
    "hosted_refused": N_(
        "The exchange could not make a payment link. Take a card or bank payment instead."
    ),
    "hosted_answer_unreadable": N_(
        "The exchange's answer could not be read. Check the link's status again."
    ),
    "phone_invalid": N_("That phone number is not valid. Check it with the member."),
    "method_unknown": N_("That payment method is not saved for this member."),
    "method_expired": N_("That card has expired. Update the expiry date or use another card."),
    "expiry_invalid": N_("Type the expiry month (1 to 12) and a year that has not passed."),
    "method_not_card": N_("Only a card has an expiry date."),
    "method_duplicate": N_("That payment method is already saved."),
    "card_token_missing": N_(
        "The card reader gave no token for this card, so it cannot be saved. Try again."
    ),
    "payment_unknown": N_("That payment is not on this kiosk."),
    "username_invalid": N_(
        "Usernames have 3 to 32 letters, numbers, dots, dashes or underscores."
    ),
    "username_taken": N_("That username is already used. Choose another one."),
    "password_too_short": N_(
        "The password needs at least {minimum} characters. A few unrelated words work well."
    ),
    "display_name_missing": N_("Type the name that should appear on receipts."),
    "passwords_differ": N_("The two passwords are not the same. Type them again."),
    "supervisor_required": N_(
        "Only a supervisor can approve this. Ask a supervisor to sign in here."
    ),
    "offline_limit": N_(
        "The exchange cannot be reached, and this payment is over what the kiosk may hold "
        "while offline: {limits}. Take a smaller amount, wait for the connection, or ask a "
        "supervisor to approve it."
    ),
    "cancel_refused": N_(
        "This payment was already sent to the exchange at least once, so it cannot be "
        "cancelled here. Call the exchange's support line to stop it."
    ),
    "cancel_reason_missing": N_("Type a short reason for cancelling."),
    "account_locked": N_(
        "This account is locked after too many tries. Wait 30 minutes or ask a supervisor "
        "to unlock it."
    ),
    "signin_delayed": N_(
        "Too many tries in a row. Wait {retry_after} seconds, then try again."
    ),
    "password_too_common": N_(
        "That password is too common to be safe. Choose a longer phrase of unrelated words."
    ),
    "password_too_long": N_("That password is too long. Use at most 256 characters."),
    "password_contains_username": N_(
        "The password must not contain the username. Choose another phrase."
    ),
    "step_up_required": N_(
        "A supervisor must sign in again to approve this. Ask a supervisor."
    ),
    "administrator_required": N_("Only an administrator can do this."),
    "session_expired": N_("Your session has ended. Sign in again to continue."),
    "staff_unknown": N_("There is no staff account with that username."),
    "cannot_remove_self": N_("You cannot remove your own account. Ask another administrator."),
    "first_account_role": N_("The first account must be a supervisor or an administrator."),
    "recovery_passphrase_required": N_(
        "Set a recovery passphrase before the kiosk can protect its data. Ask a supervisor."
    ),
    "recovery_passphrase_wrong": N_("The recovery passphrase is not right. Try again."),
    "passphrase_too_short": N_(
        "The recovery passphrase needs at least {minimum} characters. A few unrelated words "
        "work well."
    ),
    "passphrase_too_common": N_("That passphrase is too common. Choose another one."),
    "vault_integrity_failed": N_(
        "The kiosk's secure storage failed its check and was not opened. Nothing was changed. "
        "Call a supervisor to restore the latest backup."
    ),
    "vault_in_use": N_("The kiosk's storage is in use by another program. Close it first."),
    "vault_key_wrong": N_(
        "The kiosk's secure storage could not be opened with its key. Nothing was changed. "
        "Call a supervisor."
    ),
}

# The member's account: contact details, preferences, automatic payments, disputes, receipts.
_MESSAGES.update({
    "zip_invalid": N_("Type the ZIP code as 5 digits, or 5 digits, a dash and 4 more."),
    "state_invalid": N_("Choose the state from the list."),
    "line1_invalid": N_("Type the street address (at most 100 characters)."),
    "line2_invalid": N_("The second address line is too long. Shorten it."),
    "city_invalid": N_("Type the city (at most 100 characters)."),
    "email_invalid": N_("That email address does not look right. Check it with the member, "
                        "for example name@example.com."),
    "profile_unchanged": N_("Nothing was changed. Edit a field first, then save."),
    "change_unknown": N_("That change is no longer waiting. Open the contact details again."),
    "conflict_unknown": N_("That difference was already settled. Open the contact details "
                           "again."),
    "conflict_choice_missing": N_("Choose which value to keep for every field shown."),
    "plan_unknown": N_("The member's plan is not yet in this kiosk. Try again after the "
                       "kiosk is back online."),
    "preference_kinds_incomplete": N_("Choose how the member wants each kind of message."),
    "channel_needs_email": N_("There is no email address on file. Add one under Contact "
                              "details, or choose another way."),
    "channel_needs_phone": N_("There is no phone number on file. Add one under Contact "
                              "details, or choose another way."),
    "channel_needs_address": N_("There is no mailing address on file. Add one under Contact "
                                "details, or choose another way."),
    "language_invalid": N_("Choose a language from the list."),
    "reminder_day_invalid": N_("A reminder can be sent from 30 days before the due date up to "
                               "the due date itself."),
    "reminders_too_many": N_("Choose at most five reminders."),
    "autopay_amount_invalid": N_("Type an amount above $0.00 and at most $100,000.00. A "
                                 "one-time payment needs an amount."),
    "autopay_date_invalid": N_("Choose a date from tomorrow up to one year ahead."),
    "autopay_day_invalid": N_("Choose a day of the month from 1 to 31. In shorter months the "
                              "payment runs on the last day."),
    "autopay_exists": N_("This member already has an automatic payment. Change that one "
                         "instead of adding another."),
    "autopay_unknown": N_("That automatic payment is not on this kiosk."),
    "autopay_closed": N_("That automatic payment was cancelled and cannot be changed. Set up "
                         "a new one."),
    "autopay_state": N_("That automatic payment cannot do this now. Look at its state."),
    "autopay_needs_decision": N_("The member's plan changes soon. First decide what happens "
                                 "to the automatic payment."),
    "autopay_plan_unchanged": N_("The automatic payment is already for the new plan."),
    "dispute_payments_missing": N_("Choose the payment or payments the question is about."),
    "dispute_description_invalid": N_("Describe what went wrong in at least 10 characters "
                                      "(at most 2,000)."),
    "dispute_amount_invalid": N_("The amount must be more than $0.00 and at most what the "
                                 "chosen payments came to, {most}."),
    "payment_already_disputed": N_("One of these payments already has an open question. "
                                   "Follow that one instead."),
    "dispute_unknown": N_("That dispute is not on this kiosk."),
    "escalation_refused": N_("This dispute cannot be escalated now: it is already escalated "
                             "or closed."),
    "attachment_empty": N_("That file is empty. Choose another."),
    "attachment_too_large": N_("That file is larger than 10 MB. Choose a smaller one or take a "
                               "new photo."),
    "attachment_type_invalid": N_("Attach a PDF, JPEG or PNG file."),
    "attachments_too_many": N_("Attach at most {most} files."),
    "attachment_unknown": N_("That file is not on this kiosk."),
    "channel_invalid": N_("Choose email or text message."),
    "terminal_in_progress": N_("The card reader is still busy with this payment. Wait for it "
                               "to finish."),
    "terminal_answer_invalid": N_("The card reader gave an answer the kiosk could not read. "
                                  "Do not charge again. Look at the card reader's screen and "
                                  "call a supervisor."),
    "attempt_unknown": N_("That card reader attempt is not on this kiosk."),
    # Start-up: the vault key and its protection (the kiosk shows these before any screen).
    "vault_device_key_missing": N_(
        "This kiosk's device key is missing ({place}), so its secure storage stays closed. "
        "Nothing was changed. A supervisor can open it with the recovery passphrase: "
        "python -m kiosk keys recover."),
    "vault_device_key_unreadable": N_(
        "This kiosk's device key is damaged, so its secure storage stays closed. Nothing was "
        "changed. A supervisor can open it with the recovery passphrase: "
        "python -m kiosk keys recover."),
    "vault_device_key_wrong": N_(
        "This kiosk's device key does not fit its secure storage. Nothing was changed. A "
        "supervisor can open it with the recovery passphrase: python -m kiosk keys recover."),
    "vault_keyring_unusable": N_(
        "The system keyring did not keep the kiosk's key. Nothing was changed. Call support "
        "to check the keyring service."),
    "vault_keystore_unreadable": N_(
        "The file that protects the kiosk's key is damaged ({path}). Nothing was changed. "
        "Call a supervisor to restore it from a backup."),
    "vault_key_missing": N_(
        "The kiosk's storage exists but the file that protects its key is missing ({path}). "
        "Nothing was changed. Call a supervisor to put it back from a backup."),
    "vault_key_unreadable": N_(
        "The kiosk's key file is damaged ({path}). Nothing was changed. Call a supervisor."),
    "vault_key_wrap_failed": N_(
        "The kiosk could not protect its key safely, so nothing was changed. Try again, or "
        "call support."),
    "recovery_not_set": N_(
        "No recovery passphrase was set on this kiosk, so it cannot be recovered this way. "
        "Restore the latest backup instead."),
    "vault_no_cipher": N_(
        "This installation cannot encrypt the kiosk's storage, so it will not start. Nothing "
        "was written. Reinstall the kiosk with make run, or call support."),
    "vault_closed": N_("The kiosk is shutting down. Start it again to continue."),
    "settings_invalid": N_(
        "The kiosk's settings file has a mistake, so the kiosk will not start. Call support "
        "to correct it."),
    # Backups (the scheduled backup and the backup commands).
    "backup_unreadable": N_("The backup file {path} cannot be read. Choose another backup."),
    "backup_damaged": N_("The backup file {path} is damaged or was made with another key. "
                         "Nothing was changed. Choose an older backup."),
    "backup_too_new": N_("The backup {path} comes from a newer version of the kiosk. Update "
                         "the kiosk first, then restore."),
    "backup_exists": N_("A backup named {path} already exists. Nothing was overwritten. Try "
                        "again in a minute."),
    "backup_failed": N_("The backup could not be made: the disk may be full. The kiosk's data "
                        "is unchanged. Ask the site lead to free space or call support."),
})
_MONEY_DETAILS = {"dispute_amount_invalid": "most"}  # details given in cents

_GENERIC = N_("Something went wrong. Nothing was lost. Try again, or call a supervisor.")
_DECLINE_REASONS: dict[str, str] = {
    "insufficient_funds": N_("The bank says there is not enough money on the account."),
    "expired_card": N_("The card has expired."),
    "do_not_honor": N_("The bank refused the card without giving a reason."),
    "wrong_pin": N_("The PIN was not right."),
    "invalid_card": N_("The card reader could not use this card."),
    "not_allowed": N_("This card cannot be used for this payment."),
    "issuer_unreachable": N_("The card reader could not reach the bank."),
}


_LIMITS: dict[str, str] = {
    "offline_per_payment": N_("the amount of one payment"),
    "offline_total": N_("the total of payments waiting"),
    "offline_count": N_("the number of payments waiting"),
    "offline_age": N_("how long the oldest payment has waited"),
}

# Why an item still waits or needs attention, in plain words for the queue screen.
_REASONS: dict[str, str] = {
    "": N_("Not sent yet."),
    "connection_error": N_("The exchange could not be reached. It will be sent again."),
    "timeout": N_("The exchange did not answer in time. It will be sent again."),
    "incomplete_answer": N_("The exchange's answer was cut off. It will be sent again."),
    "unreadable_answer": N_("The exchange's answer could not be read. It will be asked again."),
    "request_in_progress": N_("The exchange is still working on it. It will check again."),
    "exchange_processing": N_("The exchange is still working on it. It will check again."),
    "not_received": N_("The exchange never received it. It will be sent again."),
    "device_not_authorized": N_(
        "The exchange refused this kiosk's credential. A supervisor must renew it."),
    "idempotency_key_reused": N_(
        "The exchange refused it as a conflicting copy. This is a kiosk fault: call support."),
    "kiosk_sequence_reused": N_(
        "The exchange refused it as a conflicting copy. This is a kiosk fault: call support."),
    "unknown_member": N_(
        "The exchange does not know this member. Check the member ID with the exchange."),
    "invalid_request": N_("The exchange refused it as incomplete. Call support."),
    "cancelled": N_("Cancelled by a supervisor."),
    "tls_error": N_("The exchange's secure connection could not be trusted. It waits; call "
                    "support."),
    "not_configured": N_("No exchange address is set up on this kiosk. It waits; call support."),
    "signature_expired": N_("The exchange refused it because this kiosk's clock is wrong. A "
                            "supervisor must set the clock; it will then be sent again."),
    "signature_invalid": N_(
        "The exchange refused this kiosk's credential. A supervisor must renew it."),
    "signature_missing": N_(
        "The exchange refused this kiosk's credential. A supervisor must renew it."),
    "signature_timestamp_invalid": N_(
        "The exchange refused this kiosk's credential. A supervisor must renew it."),
    "device_unknown": N_(
        "The exchange refused this kiosk's credential. A supervisor must renew it."),
}


def reason_text(code: str) -> str:
    """Why an outbox item waits or was refused, in the navigator's language."""
    if code in _REASONS:
        return _(_REASONS[code])
    if code.startswith("http_5") or code in ("http_429", "http_503"):
        return _("The exchange is busy or down. It will be sent again.")
    return _("The exchange refused it ({code}). Call support.").format(code=code)


class _Details(dict[str, object]):
    """An error's details for a message: a detail the error did not carry reads as "", so a
    message never fails while an error is being shown."""

    def __missing__(self, key: str) -> str:
        log.warning("a message asked for a detail its error did not carry: %s", key)
        return ""


def message_for(error: Exception) -> str:
    """A translated, plain-language message for any error a service raised."""
    if not isinstance(error, KioskError):
        log.error("unexpected error reached the screen: %s", type(error).__name__)
        return _(_GENERIC)
    template = _MESSAGES.get(error.code)
    if template is None:
        return _(_GENERIC)
    details = dict(error.details)
    if "limits" in details:
        details["limits"] = ", ".join(_(_LIMITS.get(code, code)) for code in details["limits"])
    if "allowed" in details:
        details["allowed"] = format_money(Money(cents=int(details["allowed"])))
    money = _MONEY_DETAILS.get(error.code)
    if money and money in details:
        details[money] = format_money(Money(cents=int(details[money])))
    text = _(template).format_map(_Details(details))
    reason = _DECLINE_REASONS.get(str(details.get("reason", "")))
    return f"{_(reason)} {text}" if reason else text
