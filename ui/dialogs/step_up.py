"""A supervisor signs in again (password and a fresh code) to approve one sensitive action,
optionally giving a reason. The approval is a `StaffSession` handed back by a signal."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAccessible, QAccessibleEvent
from PySide6.QtWidgets import QDialog, QFormLayout, QHBoxLayout, QLabel, QVBoxLayout

from kiosk.domain.staff import StaffSession
from kiosk.i18n import _
from kiosk.services.auth import SignIn, step_up
from ui.context import ScreenContext
from ui.errors import message_for
from ui.screens.base import button, label, line_edit


class StepUpDialog(QDialog):
    sig_approved = Signal(object, str)
    """A supervisor approved: carries their `StaffSession` and the reason typed (or "")."""

    def __init__(self, ctx: ScreenContext, *, title: str, explanation: str, purpose: str,
                 ask_reason: bool = False, parent: QLabel | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.purpose = purpose
        self.setModal(True)
        self.setWindowTitle(title)
        self.explanation = label()
        self.explanation.setText(explanation)
        self.username, self.password, self.code = line_edit(), line_edit(secret=True), line_edit()
        self.reason = line_edit()
        self.reason.setVisible(ask_reason)
        self.error = label("error")
        self.error.hide()
        self.approve, self.cancel = button("done", primary=True), button("back")
        self._labels = [QLabel() for _unused in range(4)]
        form = QFormLayout()
        fields = (self.username, self.password, self.code, self.reason)
        for lab, field in zip(self._labels, fields, strict=True):
            lab.setBuddy(field)
            form.addRow(lab, field)
        self._labels[3].setVisible(ask_reason)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel)
        buttons.addStretch(1)
        buttons.addWidget(self.approve)
        column = QVBoxLayout(self)
        for widget in (self.explanation,):
            column.addWidget(widget)
        column.addLayout(form)
        column.addWidget(self.error)
        column.addLayout(buttons)
        self._connect_signals()
        self.retranslate_ui()
        self.resize(720, self.sizeHint().height())

    def _connect_signals(self) -> None:
        self.approve.clicked.connect(self._on_approve_clicked)
        self.cancel.clicked.connect(self.reject)
        self.code.returnPressed.connect(self._on_approve_clicked)

    def retranslate_ui(self) -> None:
        names = (_("Supervisor username"), _("Password"), _("6-digit code"), _("Reason"))
        for lab, field, name in zip(self._labels, (self.username, self.password, self.code,
                                                   self.reason), names, strict=True):
            lab.setText(name)
            field.setAccessibleName(name)
        self.explanation.setAccessibleName(self.explanation.text())
        self.approve.setText(_("Approve"))
        self.approve.setAccessibleName(_("Approve"))
        self.cancel.setText(_("Cancel"))
        self.cancel.setAccessibleName(_("Cancel, do not approve"))

    def _on_approve_clicked(self) -> None:
        if not self.approve.isEnabled():
            return
        reason = self.reason.text().strip()
        if self.reason.isVisible() and len(reason) < 5:
            self._show(_("Type a short reason (at least 5 characters)."), self.reason)
            return
        cmd = SignIn(username=self.username.text(), password=self.password.text(),
                     code=self.code.text())
        core, purpose = self.ctx.core, self.purpose
        self.approve.setEnabled(False)
        self.ctx.runner.run(
            lambda: step_up(cmd, vault=core.vault, clock=core.clock, purpose=purpose),
            on_done=lambda session: self._on_step_up_done(session, reason),
            on_error=self._on_step_up_failed)

    def _on_step_up_done(self, session: StaffSession, reason: str) -> None:
        self.approve.setEnabled(True)
        self.sig_approved.emit(session, reason)
        self.accept()

    def _on_step_up_failed(self, error: Exception) -> None:
        self.approve.setEnabled(True)
        self.code.clear()
        self._show(message_for(error), self.code)

    def _show(self, text: str, field: QLabel | object) -> None:
        self.error.setText(text)
        self.error.setAccessibleName(text)
        self.error.show()
        if hasattr(field, "setFocus"):
            field.setFocus(Qt.FocusReason.OtherFocusReason)
        QAccessible.updateAccessibility(QAccessibleEvent(self.error, QAccessible.Event.Alert))
