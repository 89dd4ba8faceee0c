"""First run: enrol the first staff member and show their TOTP secret as a QR code."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel

from kiosk.domain.staff import Role
from kiosk.i18n import _
from kiosk.services.auth import EnrollStaff, StaffEnrolled, enroll_staff
from kiosk.store import keys
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label, line_edit
from ui.widgets.qr_view import qr_pixmap


class EnrollScreen(Screen):
    sig_enrolled = Signal()
    """The first staff member is enrolled and has scanned the code."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.intro = label()
        self.display_name = line_edit()
        self.username = line_edit()
        self.password = line_edit(secret=True)
        self.password_again = line_edit(secret=True)
        self.recovery = line_edit(secret=True)
        self.recovery_again = line_edit(secret=True)
        self.form = QFormLayout()
        self._labels = [QLabel() for _unused in range(6)]
        fields = (self.display_name, self.username, self.password, self.password_again,
                  self.recovery, self.recovery_again)
        for lab, field in zip(self._labels, fields, strict=True):
            lab.setBuddy(field)
            self.form.addRow(lab, field)
        self.submit = button("enroll", primary=True)
        self.primary = self.submit
        self.qr = QLabel()
        self.secret = label()
        self.secret.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.finish = button("done", primary=True)
        for widget in (self.qr, self.secret, self.finish):
            widget.hide()
        for widget in (self.intro,):
            self.layout_.addWidget(widget)
        self.layout_.addLayout(self.form)
        self.layout_.addWidget(self.error)
        self.layout_.addWidget(self.submit, alignment=Qt.AlignmentFlag.AlignLeft)
        self.layout_.addWidget(self.qr)
        self.layout_.addWidget(self.secret)
        self.layout_.addWidget(self.finish, alignment=Qt.AlignmentFlag.AlignLeft)
        self.layout_.addStretch(1)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.submit.clicked.connect(self._on_submit_clicked)
        self.finish.clicked.connect(self.sig_enrolled.emit)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Set up the first staff account"))
        self.intro.setText(_("This kiosk has no staff accounts yet. Create the first one, as a "
                             "supervisor. The recovery passphrase unlocks the kiosk's data if "
                             "this computer is replaced: write it down and keep it locked "
                             "away, apart from the kiosk."))
        names = (_("Name on receipts"), _("Username"), _("Password (at least 12 characters)"),
                 _("Password again"), _("Recovery passphrase for this kiosk's data"),
                 _("Recovery passphrase again"))
        fields = (self.display_name, self.username, self.password, self.password_again,
                  self.recovery, self.recovery_again)
        for lab, field, name in zip(self._labels, fields, names, strict=True):
            lab.setText(name)
            field.setAccessibleName(name)
        self.submit.setText(_("Create account"))
        self.submit.setAccessibleName(_("Create account"))
        self.qr.setAccessibleName(_("QR code for the authenticator app"))
        self.finish.setText(_("I have scanned the code — go to sign-in"))
        self.finish.setAccessibleName(self.finish.text())

    def on_shown(self) -> None:
        self.display_name.setFocus()

    def _on_submit_clicked(self) -> None:
        self.clear_error()
        if self.password.text() != self.password_again.text():
            self.show_error(_("The two passwords are not the same. Type them again."),
                            self.password_again)
            return
        if self.recovery.text() != self.recovery_again.text():
            self.show_error(_("The two recovery passphrases are not the same. Type them "
                              "again."), self.recovery_again)
            return
        cmd = EnrollStaff(username=self.username.text(), display_name=self.display_name.text(),
                          password=self.password.text(), role=Role.SUPERVISOR)
        core, passphrase = self.ctx.core, self.recovery.text()

        def enroll() -> StaffEnrolled:
            keys.check_recovery_passphrase(passphrase)
            enrolled = enroll_staff(cmd, vault=core.vault, clock=core.clock)
            keys.set_recovery_passphrase(keys.places(core.settings), passphrase)
            return enrolled

        self.ctx.runner.run(enroll, on_done=self._on_enrolled, on_error=self._on_enroll_failed)

    def _on_enroll_failed(self, error: Exception) -> None:
        field = getattr(error, "field", "")
        target = {"username": self.username, "password": self.password,
                  "display_name": self.display_name}.get(field)
        if getattr(error, "code", "").startswith(("passphrase", "recovery")):
            target = self.recovery
        self.show_error(error, target)

    def _on_enrolled(self, enrolled: StaffEnrolled) -> None:
        for secret in (self.password, self.password_again, self.recovery, self.recovery_again):
            secret.clear()
        self.qr.setPixmap(qr_pixmap(enrolled.provisioning_uri))
        self.secret.setText(
            _("Scan this code with an authenticator app, or type this key: {secret}").format(
                secret=enrolled.totp_secret)
        )
        for widget in (self.qr, self.secret, self.finish):
            widget.show()
        self.submit.hide()
        self.primary = self.finish
        self.finish.setFocus()
