"""The PayPal and Venmo part of the payment screen: the exchange makes a payment link, shown
as a large QR code with a short link (and texted to the member's phone on request); the
screen follows the link while the member pays on their phone. Online only."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QRadioButton, QVBoxLayout, QWidget

from kiosk.domain.money import Money
from kiosk.errors import KioskError
from kiosk.i18n import _, format_datetime
from kiosk.services.hosted import (
    HostedOutcome,
    HostedProvider,
    HostedStatus,
    RequestHostedLink,
    unavailable_reason,
)
from kiosk.services.payments import PaymentContext
from ui.context import ScreenContext
from ui.screens.base import button, label
from ui.widgets.flow import FlowLayout
from ui.widgets.qr_view import QrView

POLL_MS = 3000


class HostedPanel(QWidget):
    sig_paid = Signal(object)
    """The member paid; carries the recorded payment (`HostedPaymentRecorded`)."""
    sig_failed = Signal(object)
    """Something was refused; carries the error."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.member_id = ""
        self.amount: Money | None = None
        self.hosted_id = ""
        self._busy = False
        self.paypal, self.venmo = QRadioButton("PayPal"), QRadioButton("Venmo")
        group = QButtonGroup(self)
        group.addButton(self.paypal)
        group.addButton(self.venmo)
        self.paypal.setChecked(True)
        self.unavailable = label("banner")
        self.create, self.send_text, self.cancel = (button("pay", primary=True),
                                                    button("receipt"), button("back"))
        self.qr = QrView()
        self.status = label()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        providers = QHBoxLayout()
        for widget in (self.paypal, self.venmo):
            providers.addWidget(widget)
        providers.addStretch(1)
        actions = QWidget()  # wraps onto more rows at large text
        flow = FlowLayout(actions)
        for widget in (self.create, self.send_text, self.cancel):
            flow.addWidget(widget)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.unavailable)
        column.addLayout(providers)
        column.addWidget(actions)
        column.addWidget(self.qr)
        column.addWidget(self.status)
        self._show_link(None)

    def _connect_signals(self) -> None:
        self.create.clicked.connect(self._on_create_clicked)
        self.send_text.clicked.connect(self._on_send_text_clicked)
        self.cancel.clicked.connect(self._on_cancel_clicked)
        self._timer.timeout.connect(self._on_timer_timeout)

    def retranslate_ui(self) -> None:
        self.paypal.setAccessibleName("PayPal")
        self.venmo.setAccessibleName("Venmo")
        self.create.setText(_("Show the payment link"))
        self.create.setAccessibleName(_("Show the payment link as a QR code"))
        self.send_text.setText(_("Text the link to the member's phone"))
        self.send_text.setAccessibleName(self.send_text.text())
        self.cancel.setText(_("Cancel the link"))
        self.cancel.setAccessibleName(_("Cancel the payment link"))
        self.unavailable.setText(_("PayPal and Venmo need the connection to the exchange, which "
                                   "is down now. Take a card or bank payment instead."))
        self.unavailable.setAccessibleName(self.unavailable.text())

    def start(self, member_id: str, amount: Money | None) -> None:
        self.stop()
        self.member_id, self.amount = member_id, amount
        self.refresh_availability()

    def set_amount(self, amount: Money | None) -> None:
        self.amount = amount

    def stop(self) -> None:
        self._timer.stop()
        self.hosted_id = ""
        self._show_link(None)

    def refresh_availability(self) -> None:
        """Offline, the option is shown as unavailable, with the reason."""
        offline = bool(unavailable_reason(self.ctx.core.connectivity))
        self.unavailable.setVisible(offline)
        for widget in (self.create, self.paypal, self.venmo):
            widget.setEnabled(not offline and not self.hosted_id)

    def _context(self) -> PaymentContext:
        core, session = self.ctx.core, self.ctx.session
        assert session is not None
        return PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                              staff=session)

    def _run(self, work: object, done: object) -> None:
        if self._busy:
            return
        self._busy = True

        def finished(result: object) -> None:
            self._busy = False
            done(result)  # type: ignore[operator]

        def failed(error: Exception) -> None:
            self._busy = False
            self.sig_failed.emit(error)

        self.ctx.runner.run(work, on_done=finished, on_error=failed)  # type: ignore[arg-type]

    def _on_create_clicked(self) -> None:
        links = self.ctx.hosted_links
        if links is None or self.amount is None:
            self.sig_failed.emit(KioskError(code="hosted_needs_connection"))
            return
        provider = HostedProvider.VENMO if self.venmo.isChecked() else HostedProvider.PAYPAL
        cmd = RequestHostedLink(member_id=self.member_id, amount=self.amount, provider=provider)
        pay_ctx = self._context()
        self._run(lambda: HostedOutcome(link=links.create(cmd, ctx=pay_ctx)), self._on_outcome)

    def _on_outcome(self, outcome: HostedOutcome) -> None:
        self._show_link(outcome)
        if outcome.payment is not None:
            self._timer.stop()
            self.sig_paid.emit(outcome.payment)
        elif outcome.link.status is HostedStatus.PENDING:
            self.hosted_id = outcome.link.hosted_id
            self._timer.start()
        else:
            self._timer.stop()
            self.hosted_id = ""
        self.refresh_availability()

    def _on_timer_timeout(self) -> None:
        links, hosted_id = self.ctx.hosted_links, self.hosted_id
        if links is not None and hosted_id:
            pay_ctx = self._context()
            self._run(lambda: links.check(hosted_id, ctx=pay_ctx), self._on_outcome)

    def _on_cancel_clicked(self) -> None:
        links, hosted_id = self.ctx.hosted_links, self.hosted_id
        if links is not None and hosted_id:
            pay_ctx = self._context()
            self._run(lambda: links.cancel(hosted_id, ctx=pay_ctx), self._on_outcome)

    def _on_send_text_clicked(self) -> None:
        links, hosted_id = self.ctx.hosted_links, self.hosted_id
        if links is not None and hosted_id:
            self._run(lambda: links.text(hosted_id), lambda sent: self.status.setText(
                _("The link was texted to the phone ending in {last4}.").format(
                    last4=sent.to_last4)))

    def _show_link(self, outcome: HostedOutcome | None) -> None:
        link = outcome.link if outcome is not None else None
        pending = link is not None and link.status is HostedStatus.PENDING
        if pending and link is not None:
            self.qr.show_link(link.url, link.short_url)
            self.status.setText(_("Waiting for the member to pay on their phone. The link "
                                  "expires at {time}.").format(
                time=format_datetime(link.expires_at, tz=self.ctx.core.settings.timezone)))
        else:
            self.qr.clear()
            words = {HostedStatus.EXPIRED: _("The link expired. Nothing was taken."),
                     HostedStatus.CANCELLED: _("The link was cancelled. Nothing was taken."),
                     HostedStatus.PAID: _("Paid.")}
            self.status.setText(words.get(link.status, "") if link is not None else "")
        self.status.setAccessibleName(self.status.text())
        for widget in (self.qr, self.send_text, self.cancel):
            widget.setVisible(pending)
        self.status.setVisible(bool(self.status.text()))
