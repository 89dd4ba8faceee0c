"""Receipts as printable documents: HTML laid out by Qt, written to PDF or sent to the
kiosk's printer."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

from kiosk.domain.ach import AchState
from kiosk.domain.payments import PaymentStatus
from kiosk.i18n import _, format_datetime, format_money, format_month
from kiosk.services.receipts import Receipt
from ui.ach_text import explain


def visit_folder(data_dir: Path) -> Path:
    """Where files made for the member during a visit go; wiped when the visit ends."""
    return data_dir / "visit-tmp"


def status_text(receipt: Receipt) -> str:
    """The receipt's status line, as printed and as shown on screen."""
    ach = receipt.ach_state
    if ach is AchState.RETURNED and receipt.ach_return is not None:
        return explain(receipt.ach_return)
    if ach is AchState.SUBMITTED:
        return _("Submitted — the bank payment is on its way; not yet confirmed by the "
                 "exchange")
    if receipt.status is PaymentStatus.CONFIRMED:
        return _("Confirmed — confirmation number {number}").format(
            number=receipt.confirmation_number)
    if receipt.status is PaymentStatus.NEEDS_ATTENTION:
        return _("Not accepted by the exchange — staff will contact the member")
    return _("Pending — not yet confirmed by the exchange")


_WALLETS = {"apple_pay": "Apple Pay", "google_pay": "Google Pay",
            "samsung_pay": "Samsung Pay"}


def paid_with(receipt: Receipt) -> str:
    """The method as the member knows it: "Visa card ending in 1111", the phone wallet, the
    bank account, or PayPal / Venmo."""
    if receipt.method == "ach":
        return _("Bank account ending in {last4}").format(last4=receipt.last4)
    if receipt.method in ("paypal", "venmo"):
        return "PayPal" if receipt.method == "paypal" else "Venmo"
    card = _("{brand} card ending in {last4}").format(brand=receipt.brand.title(),
                                                      last4=receipt.last4)
    wallet = _WALLETS.get(receipt.wallet, "")
    return f"{wallet} ({card})" if wallet else card


def receipt_notes(receipt: Receipt) -> list[str]:
    """What the member must know beyond the figures: a part payment, an offline approval."""
    notes = []
    if receipt.requested.cents > receipt.amount.cents:
        notes.append(_("The card paid {approved} of {requested}. {remaining} is still due.")
                     .format(approved=format_money(receipt.amount),
                             requested=format_money(receipt.requested),
                             remaining=format_money(receipt.requested - receipt.amount)))
    if receipt.offline_approved:
        notes.append(_("Approved offline by the card reader: the bank may still decline it."))
    return notes


def receipt_rows(receipt: Receipt, tz: str) -> list[tuple[str, str]]:
    """The receipt's fields as (label, value) pairs, in reading order."""
    months = ", ".join(format_month(m) for m in receipt.coverage_months) or _("Credit on account")
    return [
        (_("Receipt number"), receipt.receipt_number),
        (_("Member"), f"{receipt.member_name} ({receipt.member_id})"),
        (_("Coverage month(s)"), months),
        (_("Amount paid"), format_money(receipt.amount)),
        (_("Paid with"), paid_with(receipt)),
        (_("Authorization code"), receipt.auth_code or "—"),
        (_("Date and time"), format_datetime(receipt.captured_at, tz=tz)),
        (_("Site"), receipt.site),
        (_("Navigator"), receipt.navigator),
        (_("Status"), status_text(receipt)),
    ]


def receipt_html(receipt: Receipt, tz: str) -> str:
    rows = "".join(
        f"<tr><td><b>{html.escape(name)}</b></td><td>{html.escape(value)}</td></tr>"
        for name, value in receipt_rows(receipt, tz)
    )
    title = html.escape(_("Payment receipt"))
    notes = "".join(f"<p><b>{html.escape(note)}</b></p>" for note in receipt_notes(receipt))
    return (f"<h1>{title}</h1><table cellpadding='6' style='font-size:14pt'>{rows}</table>"
            f"{notes}"
            f"<p>{html.escape(_('Keep this receipt. Health Connector Kiosk.'))}</p>")


def save_html_pdf(html_text: str, path: Path, title: str) -> Path:
    """Lay out HTML on Letter pages and write them as a PDF at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.Letter))
    writer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    writer.setResolution(300)
    writer.setTitle(title)
    document = QTextDocument()
    document.setHtml(html_text)
    document.setPageSize(QSizeF(writer.width(), writer.height()))
    document.print_(writer)
    return path


def system_printer() -> QPrinter | None:
    """The kiosk's default printer, or None when none is set up."""
    info = QPrinterInfo.defaultPrinter()
    return None if info.isNull() else QPrinter(info, QPrinter.PrinterMode.HighResolution)


def print_html(html_text: str, title: str, printer: QPrinter) -> str:
    """Print HTML on `printer` (Letter, the same margins as the PDF); returns the printer's
    name for the message that says where it went."""
    printer.setPageSize(QPageSize(QPageSize.PageSizeId.Letter))
    printer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    printer.setDocName(title)
    document = QTextDocument()
    document.setHtml(html_text)
    document.print_(printer)
    return printer.printerName() or printer.outputFileName()


def save_pdf(receipt: Receipt, path: Path, tz: str) -> Path:
    """Write the receipt as a one-page Letter PDF at `path`."""
    return save_html_pdf(receipt_html(receipt, tz), path, _("Payment receipt"))
