"""The receipt of a payment, as shown on screen and printed for the member."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from kiosk.clock import from_iso
from kiosk.domain.ach import AchReturn, AchState, ach_state, explain_return
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus
from kiosk.errors import NotFoundError
from kiosk.store.vault import Vault


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    payment_id: str
    receipt_number: str
    member_id: str
    member_name: str
    coverage_months: list[str]
    amount: Money
    brand: str
    last4: str
    auth_code: str
    captured_at: dt.datetime
    site: str
    navigator: str
    status: PaymentStatus
    confirmation_number: str
    requested: Money  # what the member asked to pay; more than `amount` after a partial approval
    offline_approved: bool = False  # the card reader approved it alone; may still be declined
    wallet: str = ""  # e.g. apple_pay, when a phone paid
    method: str = "card"  # card, ach, paypal or venmo
    account_type: str = ""  # ACH: checking or savings (last4 is the account's last four)
    authorization_id: str = ""  # ACH: the signed authorization, for its printable copy
    return_code: str = ""  # ACH: the bank's return code (R01 ...) once it sent the payment back
    returned_at: dt.datetime | None = None

    @property
    def ach_state(self) -> AchState | None:
        """For ACH: submitted until confirmed, then confirmed or returned; None otherwise."""
        return ach_state(self.status, self.return_code) if self.method == "ach" else None

    @property
    def ach_return(self) -> AchReturn | None:
        """For a returned ACH payment: the reason and what the member can do next."""
        return explain_return(self.return_code) if self.return_code else None


def _read(conn: Any, payment_id: str) -> Receipt:
    row = conn.execute(
        "SELECT p.*, m.first_name, m.last_name, s.display_name, a.account_type,"
        " a.authorization_id FROM payments p"
        " LEFT JOIN members m ON m.member_id = p.member_id"
        " LEFT JOIN ach_payments a ON a.payment_id = p.payment_id"
        " LEFT JOIN staff s ON s.username = p.navigator WHERE p.payment_id = ?",
        (payment_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(code="payment_unknown", payment_id=payment_id)
    return Receipt(
        payment_id=row["payment_id"],
        receipt_number=row["receipt_number"],
        member_id=row["member_id"],
        member_name=f"{row['first_name'] or ''} {row['last_name'] or ''}".strip(),
        coverage_months=list(json.loads(row["coverage_months"])),
        amount=Money(cents=row["amount_cents"], currency=row["currency"]),
        brand=row["brand"],
        last4=row["last4"],
        auth_code=row["auth_code"],
        captured_at=from_iso(row["captured_at"]),
        site=row["site"],
        navigator=row["display_name"] or row["navigator"],
        status=PaymentStatus(row["status"]),
        confirmation_number=row["confirmation_number"],
        requested=Money(cents=row["requested_cents"], currency=row["currency"]),
        offline_approved=bool(row["offline_approved"]),
        wallet=row["wallet"] or "",
        method=row["method"],
        account_type=row["account_type"] or "",
        authorization_id=row["authorization_id"] or "",
        return_code=row["return_code"],
        returned_at=from_iso(row["returned_at"]) if row["returned_at"] else None,
    )


def get_receipt(payment_id: str, *, vault: Vault) -> Receipt:
    """The receipt as it stands now: pending until the exchange confirms the payment."""
    return vault.call(lambda conn: _read(conn, payment_id))
