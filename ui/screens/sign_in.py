"""Staff sign-in: username, password and the 6-digit code from an authenticator app."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel

from kiosk.demo import DEMO_PASSWORD, DEMO_USERNAME
from kiosk.domain.staff import StaffSession
from kiosk.i18n import _
from kiosk.services.auth import SignIn, sign_in
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label, line_edit, tab_chain
from ui.widgets.keypad import Keypad
from ui.widgets.responsive import SideBySide


class SignInScreen(Screen):
    sig_signed_in = Signal(object)
    """A staff member signed in; carries the `StaffSession`."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.username = line_edit()
        self.password = line_edit(secret=True)
        self.code = line_edit()
        self.code.setMaxLength(6)
        self.code.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)
        self.submit = button("sign_in", primary=True)
        self.primary = self.submit
        self.demo_hint = label("banner")
        self.demo_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.demo_hint.setVisible(ctx.core.settings.demo)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._labels = [QLabel(), QLabel(), QLabel()]
        for lab, field in zip(self._labels, (self.username, self.password, self.code),
                              strict=True):
            lab.setBuddy(field)
            self.form.addRow(lab, field)
        self.layout_.addWidget(self.demo_hint)
        self.keypad = Keypad(self.code, decimal=False)
        self.layout_.addWidget(SideBySide(self.form, self.keypad))
        self.layout_.addWidget(self.error)
        self.layout_.addWidget(self.submit, alignment=Qt.AlignmentFlag.AlignLeft)
        self.layout_.addStretch(1)
        tab_chain(self.username, self.password, self.code, self.keypad.tab_stop(),
                  self.submit)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.submit.clicked.connect(self._on_submit_clicked)
        for field in (self.username, self.password, self.code):
            field.returnPressed.connect(self._on_submit_clicked)
        self.keypad.sig_done.connect(self._on_submit_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Staff sign-in"))
        self._labels[0].setText(_("&Username"))
        self._labels[1].setText(_("&Password"))
        self._labels[2].setText(_("6-digit &code"))
        self.username.setAccessibleName(_("Username"))
        self.password.setAccessibleName(_("Password"))
        self.code.setAccessibleName(_("6-digit code"))
        self.code.setAccessibleDescription(_("The code shown in your authenticator app"))
        self.keypad.retranslate_ui()
        self.submit.setText(_("Sign in"))
        self.submit.setAccessibleName(_("Sign in"))
        self.demo_hint.setText(
            _("Demo mode. Username: {username}. Password: {password}. "
              "Code: run “make totp” or read the console.").format(
                username=DEMO_USERNAME, password=DEMO_PASSWORD)
        )
        self.demo_hint.setAccessibleName(self.demo_hint.text())

    def show_locked(self) -> None:
        """After an idle lock: say why, keep the username, ask for password and code."""
        self.show_error(_("The kiosk was locked after a time without use. Type your password "
                          "and a new code to continue."), self.password)

    def on_shown(self) -> None:
        self.password.clear()
        self.code.clear()
        self.clear_error()
        self.submit.setEnabled(True)
        (self.password if self.username.text() else self.username).setFocus()

    def _on_submit_clicked(self) -> None:
        if not self.submit.isEnabled():
            return
        self.clear_error()
        cmd = SignIn(username=self.username.text(), password=self.password.text(),
                     code=self.code.text())
        core = self.ctx.core
        self.submit.setEnabled(False)
        self.ctx.runner.run(lambda: sign_in(cmd, vault=core.vault, clock=core.clock),
                            on_done=self._on_sign_in_done, on_error=self._on_sign_in_failed)

    def _on_sign_in_done(self, session: StaffSession) -> None:
        self.submit.setEnabled(True)
        self.password.clear()
        self.code.clear()
        self.sig_signed_in.emit(session)

    def _on_sign_in_failed(self, error: Exception) -> None:
        self.submit.setEnabled(True)
        self.code.clear()
        self.show_error(error, self.code if self.password.text() else self.password)
