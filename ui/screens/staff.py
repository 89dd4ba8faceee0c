"""Staff accounts at this kiosk: who can sign in, their role, locks. A supervisor unlocks an
account; staff are added (supervisor or administrator, by role) and removed (administrator),
each approved by signing in again. A new account's authenticator QR code is shown once."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QHideEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from kiosk.domain.staff import Role, StaffSession
from kiosk.i18n import N_, _
from kiosk.services.auth import (
    STAFF_ADD,
    STAFF_REMOVE,
    STAFF_UNLOCK,
    EnrollStaff,
    StaffEnrolled,
    add_staff,
    deactivate_staff,
    unlock_staff,
)
from kiosk.services.staff_admin import StaffEntry, list_staff
from ui.context import ScreenContext
from ui.dialogs.step_up import StepUpDialog
from ui.screens.base import Screen, button, label, line_edit
from ui.widgets.flow import FlowLayout
from ui.widgets.qr_view import qr_pixmap

ROLE_WORDS = {Role.NAVIGATOR: N_("Navigator"), Role.SUPERVISOR: N_("Supervisor"),
              Role.ADMINISTRATOR: N_("Administrator")}


class StaffScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member search."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.staff: list[StaffEntry] = []
        self.table = QTableWidget(0, 3)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # names get the room
        self.table.setMinimumHeight(240)
        self.unlock, self.remove = button("syncing"), button("problem")
        self.display_name, self.username = line_edit(), line_edit()
        self.password, self.password_again = line_edit(secret=True), line_edit(secret=True)
        self.role = QComboBox()
        for role in Role:
            self.role.addItem("", role)
        self.add = button("enroll", primary=True)
        self.qr = QLabel()
        self.qr_note = label("banner")
        self.back = button("back")
        self.primary, self.back_button = self.add, self.back
        self._labels = [QLabel() for _unused in range(5)]
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        actions = QWidget()
        flow = FlowLayout(actions)
        for widget in (self.unlock, self.remove):
            flow.addWidget(widget)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # labels above fields
        for lab, field in zip(self._labels, (self.display_name, self.username, self.password,
                                             self.password_again, self.role), strict=True):
            lab.setBuddy(field)
            form.addRow(lab, field)
        for widget in (self.error, self.table, actions):
            self.layout_.addWidget(widget)
        self.layout_.addLayout(form)
        for widget in (self.add, self.qr_note, self.qr, self.back):
            self.layout_.addWidget(widget)
        self.qr.hide()
        self.qr_note.hide()

    def _connect_signals(self) -> None:
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.unlock.clicked.connect(lambda: self._approve(STAFF_UNLOCK, self._do_unlock))
        self.remove.clicked.connect(lambda: self._approve(STAFF_REMOVE, self._do_remove))
        self.add.clicked.connect(self._on_add_clicked)
        self.table.currentCellChanged.connect(lambda *_args: self._enable())

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Staff accounts"))
        self.table.setHorizontalHeaderLabels([_("Name"), _("Role"), _("State")])
        self.table.setAccessibleName(_("Staff accounts"))
        names = (_("Name on receipts"), _("Username"), _("Password (at least 12 characters)"),
                 _("Password again"), _("Role"))
        for lab, field, name in zip(self._labels, (self.display_name, self.username,
                                                   self.password, self.password_again,
                                                   self.role), names, strict=True):
            lab.setText(name)
            field.setAccessibleName(name)
        for index, role in enumerate(Role):
            self.role.setItemText(index, _(ROLE_WORDS[role]))
        for widget, words in ((self.unlock, _("Unlock the account")),
                              (self.remove, _("Remove the account")),
                              (self.add, _("Add the staff member")), (self.back, _("Back"))):
            widget.setText(words)
            widget.setAccessibleName(words)
        self.qr.setAccessibleName(_("QR code for the authenticator app"))
        self._render()

    def on_shown(self) -> None:
        self.clear()  # an authenticator secret from an earlier visit is never shown again
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        self.clear()  # nor left behind when the screen is left
        super().hideEvent(event)

    def refresh(self) -> None:
        vault = self.ctx.core.vault
        self.ctx.runner.run(lambda: list_staff(vault=vault), on_done=self._on_read,
                            on_error=self.show_error)

    def _on_read(self, staff: list[StaffEntry]) -> None:
        self.staff = staff
        self._render()

    def _render(self) -> None:
        now = self.ctx.core.clock.now()
        self.table.setRowCount(len(self.staff))
        for row, entry in enumerate(self.staff):
            state = (_("Removed") if not entry.active else
                     _("Locked") if entry.locked(now) else _("Active"))
            for col, text in enumerate((f"{entry.display_name} ({entry.username})",
                                        _(ROLE_WORDS[entry.role]), state)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self._enable()

    def selected(self) -> StaffEntry | None:
        row = self.table.currentRow()
        return self.staff[row] if 0 <= row < len(self.staff) else None

    def _enable(self) -> None:
        entry = self.selected()
        self.unlock.setEnabled(entry is not None and entry.active)
        self.remove.setEnabled(entry is not None and entry.active)

    def _approve(self, purpose: str, then: object) -> None:
        words = {STAFF_ADD: _("Add a staff member"), STAFF_UNLOCK: _("Unlock an account"),
                 STAFF_REMOVE: _("Remove an account")}
        dialog = StepUpDialog(self.ctx, title=words[purpose], purpose=purpose,
                              explanation=_("A supervisor or administrator must sign in again "
                                            "to approve this. The approval is recorded."))
        dialog.sig_approved.connect(lambda session, _reason: then(session))  # type: ignore[operator]
        self.step_up = dialog
        dialog.open()

    def _do_unlock(self, by: StaffSession) -> None:
        entry, core = self.selected(), self.ctx.core
        if entry is not None:
            self.ctx.runner.run(lambda: unlock_staff(entry.username, by=by, vault=core.vault,
                                                     clock=core.clock),
                                on_done=lambda _c: self.refresh(), on_error=self.show_error)

    def _do_remove(self, by: StaffSession) -> None:
        entry, core = self.selected(), self.ctx.core
        if entry is not None:
            self.ctx.runner.run(lambda: deactivate_staff(entry.username, by=by,
                                                         vault=core.vault, clock=core.clock),
                                on_done=lambda _c: self.refresh(), on_error=self.show_error)

    def _on_add_clicked(self) -> None:
        self.clear_error()
        if self.password.text() != self.password_again.text():
            self.show_error(_("The two passwords are not the same. Type them again."),
                            self.password_again)
            return
        self._approve(STAFF_ADD, self._do_add)

    def _do_add(self, by: StaffSession) -> None:
        core = self.ctx.core
        cmd = EnrollStaff(username=self.username.text(), display_name=self.display_name.text(),
                          password=self.password.text(), role=Role(self.role.currentData()))
        self.ctx.runner.run(lambda: add_staff(cmd, by=by, vault=core.vault, clock=core.clock),
                            on_done=self._on_added, on_error=self._on_add_failed)

    def _on_add_failed(self, error: Exception) -> None:
        field = {"username": self.username, "password": self.password,
                 "display_name": self.display_name}.get(getattr(error, "field", ""))
        self.show_error(error, field)

    def _on_added(self, enrolled: StaffEnrolled) -> None:
        for field in (self.display_name, self.username, self.password, self.password_again):
            field.clear()
        self.qr.setPixmap(qr_pixmap(enrolled.provisioning_uri, scale=5))
        self.qr_note.setText(_("{username} is added. They scan this code once with their "
                               "authenticator app; it is not shown again.").format(
            username=enrolled.username))
        self.qr_note.setAccessibleName(self.qr_note.text())
        self.qr.show()
        self.qr_note.show()
        self.refresh()

    def clear(self) -> None:
        self.password.clear()
        self.password_again.clear()
        self.qr.clear()
        self.qr.hide()
        self.qr_note.hide()
