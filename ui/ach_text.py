"""Plain explanations of bank (ACH) returns and what the member can do next, for receipts and
the payment history."""

from __future__ import annotations

from kiosk.domain.ach import AchReturn, NextStep, ReturnReason
from kiosk.i18n import N_, _

REASONS = {
    ReturnReason.INSUFFICIENT_FUNDS: N_("There was not enough money in the account."),
    ReturnReason.ACCOUNT_CLOSED: N_("The bank account is closed."),
    ReturnReason.ACCOUNT_NOT_FOUND: N_("The bank could not find this account."),
    ReturnReason.INVALID_ACCOUNT_NUMBER: N_("The account number is not valid at this bank."),
    ReturnReason.DEBIT_TYPE_NOT_ALLOWED: N_("The bank does not allow this kind of debit."),
    ReturnReason.RETURNED_ON_REQUEST: N_("The payment was returned on request."),
    ReturnReason.AUTHORIZATION_REVOKED: N_("The permission for this debit was withdrawn."),
    ReturnReason.PAYMENT_STOPPED: N_("The account holder asked the bank to stop this payment."),
    ReturnReason.NOT_AUTHORIZED: N_("The account holder told the bank they did not allow it."),
    ReturnReason.NOT_AS_AUTHORIZED: N_(
        "The account holder told the bank it was not what they allowed."),
    ReturnReason.ACCOUNT_MOVED: N_("The account moved to another bank."),
    ReturnReason.ACCOUNT_HOLDER_DECEASED: N_("The bank reports the account holder has died."),
    ReturnReason.ACCOUNT_FROZEN: N_("The bank has frozen the account."),
    ReturnReason.ACCOUNT_TYPE_NOT_ALLOWED: N_("This account cannot be debited."),
    ReturnReason.DUPLICATE: N_("The bank saw the same payment twice."),
    ReturnReason.BUSINESS_NOT_AUTHORIZED: N_("The business account refused this debit."),
    ReturnReason.OTHER: N_("The bank sent the payment back."),
}

NEXT_STEPS = {
    NextStep.ADD_FUNDS_OR_PAY_ANOTHER_WAY: N_(
        "The premium is still due. Pay again when there is money in the account, or pay by "
        "card."),
    NextStep.USE_ANOTHER_ACCOUNT: N_(
        "The premium is still due. Pay by card or from another bank account."),
    NextStep.CHECK_ACCOUNT_DETAILS: N_(
        "The premium is still due. Check the numbers on a check or with the bank, then pay "
        "again."),
    NextStep.CONTACT_BANK: N_(
        "The premium is still due. Call the bank first, or pay by card today."),
    NextStep.PAY_ANOTHER_WAY: N_("The premium is still due. Pay by card or another account."),
    NextStep.CONTACT_EXCHANGE: N_(
        "The premium may still be due. Call the exchange's member services."),
}


def explain(returned: AchReturn) -> str:
    """"Returned (R01): There was not enough money… The premium is still due…"."""
    return _("Returned ({code}): {reason} {next}").format(
        code=returned.code, reason=_(REASONS[returned.reason]),
        next=_(NEXT_STEPS[returned.next_step]))
