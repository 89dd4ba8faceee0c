"""The member's contact details: mailing address, phone and email. A change is saved at once,
marked "waiting to be sent" until the exchange has it; when the exchange changed the same
detail meanwhile, a panel shows both values and the navigator chooses, with the member, which
one to keep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.account import (
    US_STATES,
    Address,
    ConflictChoice,
    ContactProfile,
    ProfileField,
)
from kiosk.domain.members import display_phone
from kiosk.i18n import N_, _
from kiosk.services.payments import PaymentContext
from kiosk.services.profile import (
    ConflictResolved,
    ProfileConflict,
    ProfileEdit,
    change_profile,
    contact_profile,
    profile_conflicts,
    resolve_profile_conflict,
)
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label, line_edit
from ui.widgets.flow import FlowLayout

# Proper names, shown as the USPS writes them; only the descriptions are translated.
_STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
    "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
    "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}
_MILITARY = {"AA": N_("Armed Forces Americas"), "AE": N_("Armed Forces Europe"),
             "AP": N_("Armed Forces Pacific")}
_FIELD_WORDS = {ProfileField.ADDRESS: N_("Mailing address"), ProfileField.PHONE: N_("Phone"),
                ProfileField.EMAIL: N_("Email")}


def _state_text(code: str) -> str:
    name = _(_MILITARY[code]) if code in _MILITARY else _STATE_NAMES.get(code, code)
    return f"{name} ({code})"


def _value_text(field: ProfileField, value: Any) -> str:
    """A field's value from the contract, as a person reads it."""
    if field is ProfileField.ADDRESS:
        address = Address.from_data(value)
        return address.one_line() if address else _("Nothing on file")
    if not value:
        return _("Nothing on file")
    return display_phone(str(value)) if field is ProfileField.PHONE else str(value)


def _bold(widget: QLabel) -> QLabel:
    font = widget.font()
    font.setBold(True)
    widget.setFont(font)
    return widget


def _titled(title: QLabel, marker: QLabel) -> QWidget:
    """A field's or section's name with its "waiting to be sent" marker beside it."""
    holder = QWidget()
    flow = FlowLayout(holder, spacing=12)
    flow.addWidget(title)
    flow.addWidget(marker)
    return holder


class _ConflictPanel(QFrame):
    """One change the exchange refused: for each field both values and a choice between them.
    Nothing is chosen at first: the navigator asks the member."""

    def __init__(self, conflict: ProfileConflict, on_apply: Callable[[_ConflictPanel], None]
                 ) -> None:
        super().__init__()
        self.conflict = conflict
        self.setFrameShape(QFrame.Shape.Box)
        self.setLineWidth(3)
        box = QVBoxLayout(self)
        box.setContentsMargins(16, 16, 16, 16)
        box.setSpacing(12)
        self.title = label("banner")
        box.addWidget(self.title)
        self.choices: dict[ProfileField, tuple[QRadioButton, QRadioButton]] = {}
        self._names: list[tuple[QLabel, ProfileField]] = []
        self._values: list[tuple[QRadioButton, QRadioButton, QLabel, QLabel, Any, Any,
                                 ProfileField]] = []
        for item in conflict.conflicts:
            box.addWidget(self._field_row(item.field, item.kiosk_value, item.exchange_value))
        self.apply = button("done")
        self.apply.clicked.connect(lambda: on_apply(self))
        row = QHBoxLayout()
        row.addWidget(self.apply)
        row.addStretch(1)
        box.addLayout(row)
        self.retranslate_ui()

    def _field_row(self, field: ProfileField, mine: Any, theirs: Any) -> QWidget:
        holder = QWidget()
        grid = QGridLayout(holder)
        grid.setContentsMargins(0, 0, 0, 0)
        name = _bold(label())
        kiosk, exchange = QRadioButton(), QRadioButton()
        group = QButtonGroup(holder)
        group.addButton(kiosk)
        group.addButton(exchange)
        mine_text, theirs_text = label(), label()
        grid.addWidget(name, 0, 0, 1, 2)
        for column, (radio, text) in enumerate(((kiosk, mine_text), (exchange, theirs_text))):
            grid.addWidget(radio, 1, column)
            grid.addWidget(text, 2, column)
            grid.setColumnStretch(column, 1)
        self.choices[field] = (kiosk, exchange)
        self._names.append((name, field))
        self._values.append((kiosk, exchange, mine_text, theirs_text, mine, theirs, field))
        return holder

    def retranslate_ui(self) -> None:
        self.title.setText(_("The exchange has different contact details. Someone changed "
                             "them there while this change waited. Ask the member which is "
                             "right and choose one for each."))
        self.title.setAccessibleName(self.title.text())
        for name, field in self._names:
            name.setText(_(_FIELD_WORDS[field]))
        for kiosk, exchange, mine_text, theirs_text, mine, theirs, field in self._values:
            kiosk.setText(_("At this kiosk"))
            exchange.setText(_("At the exchange"))
            mine_text.setText(_value_text(field, mine))
            theirs_text.setText(_value_text(field, theirs))
            kiosk.setAccessibleName(_("{field} at this kiosk: {value}").format(
                field=_(_FIELD_WORDS[field]), value=mine_text.text()))
            exchange.setAccessibleName(_("{field} at the exchange: {value}").format(
                field=_(_FIELD_WORDS[field]), value=theirs_text.text()))
        self.apply.setText(_("Keep the chosen values"))
        self.apply.setAccessibleName(self.apply.text())

    def chosen(self) -> dict[ProfileField, ConflictChoice]:
        """The choices made so far; a field without one is left out (the service says so)."""
        picked = {}
        for field, (kiosk, exchange) in self.choices.items():
            if kiosk.isChecked() or exchange.isChecked():
                picked[field] = ConflictChoice.KIOSK if kiosk.isChecked() else \
                    ConflictChoice.EXCHANGE
        return picked


class ProfileScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member's account."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.member_id = ""
        self.profile: ContactProfile | None = None
        self.panels: list[_ConflictPanel] = []
        self.conflict_box = QVBoxLayout()
        self.notice = label("status-ok")
        self.line1, self.line2, self.city, self.zip_code = (line_edit() for _n in range(4))
        self.state = QComboBox()
        self.state.addItem("", "")
        for code in sorted(US_STATES, key=_state_text):
            self.state.addItem("", code)
        self.phone, self.email = line_edit(), line_edit()
        self.address_title = label(wrap=False)
        self.pending = {field: label("status-pending", wrap=False) for field in ProfileField}
        self._labels = [label(wrap=False) for _n in range(7)]
        self.save = button("done", primary=True)
        self.back = button("back")
        self.primary, self.back_button = self.save, self.back
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _fields(self) -> tuple[QWidget, ...]:
        return (self.line1, self.line2, self.city, self.state, self.zip_code, self.phone,
                self.email)

    def _build(self) -> None:
        _bold(self.address_title)
        self.layout_.addLayout(self.conflict_box)
        for widget in (self.notice, self.error):
            self.layout_.addWidget(widget)
        self.layout_.addWidget(_titled(self.address_title, self.pending[ProfileField.ADDRESS]))
        self.form = form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # labels above fields
        for index, field in enumerate(self._fields()):
            self._labels[index].setBuddy(field)
            holder: QWidget = self._labels[index]
            if field is self.phone or field is self.email:
                which = ProfileField.PHONE if field is self.phone else ProfileField.EMAIL
                holder = _titled(self._labels[index], self.pending[which])
            form.addRow(holder, field)
        self.layout_.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addStretch(1)
        row.addWidget(self.save)
        self.layout_.addLayout(row)
        self.layout_.addStretch(1)
        self.notice.hide()
        for marker in self.pending.values():
            marker.hide()

    def _connect_signals(self) -> None:
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.save.clicked.connect(self._on_save_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Contact details"))
        self.address_title.setText(_("Mailing address"))
        names = (_("Street address"), _("Apartment or unit (if any)"), _("City"),
                 _("U.S. state"), _("ZIP code"), _("Phone"), _("Email"))
        for lab, field, name in zip(self._labels, self._fields(), names, strict=True):
            lab.setText(name)
            field.setAccessibleName(name)
        self.state.setItemText(0, _("Choose the state"))
        for index in range(1, self.state.count()):
            self.state.setItemText(index, _state_text(str(self.state.itemData(index))))
        for which, marker in self.pending.items():
            marker.setText(_("Waiting to be sent"))
            marker.setAccessibleName(_("{field}: waiting to be sent to the exchange").format(
                field=_(_FIELD_WORDS[which])))
        for widget, words in ((self.save, _("Save the changes")), (self.back, _("Back"))):
            widget.setText(words)
            widget.setAccessibleName(words)
        for panel in self.panels:
            panel.retranslate_ui()

    # -- reading ----------------------------------------------------------------------------

    def show_member(self, member_id: str) -> None:
        """Show this member's contact details (read off the UI thread)."""
        self.clear()
        self.member_id = member_id
        self.refresh()

    def refresh(self) -> None:
        """Read the details and any conflicts again (after a change or a sync pass)."""
        vault, member_id = self.ctx.core.vault, self.member_id
        if not member_id:
            return

        def read() -> tuple[ContactProfile, list[ProfileConflict]]:
            return (contact_profile(member_id, vault=vault),
                    profile_conflicts(member_id, vault=vault))

        self.ctx.runner.run(read, on_done=self._on_read, on_error=self.show_error)

    def _on_read(self, result: tuple[ContactProfile, list[ProfileConflict]]) -> None:
        profile, conflicts = result
        if profile.member_id != self.member_id:
            return  # a late answer for a member no longer shown
        self.profile = profile
        address = profile.address or Address(line1="", city="", state="", zip_code="")
        for field, text in ((self.line1, address.line1), (self.line2, address.line2),
                            (self.city, address.city), (self.zip_code, address.zip_code),
                            (self.phone, display_phone(profile.phone) if profile.phone else ""),
                            (self.email, profile.email)):
            field.setText(text)
        self.state.setCurrentIndex(max(0, self.state.findData(address.state)))
        for which, marker in self.pending.items():
            marker.setVisible(which in profile.pending)
        self._show_conflicts(conflicts)

    def _show_conflicts(self, conflicts: list[ProfileConflict]) -> None:
        for panel in self.panels:
            self.conflict_box.removeWidget(panel)
            panel.deleteLater()
        self.panels = [_ConflictPanel(c, self._on_panel_apply) for c in conflicts]
        for panel in self.panels:
            self.conflict_box.addWidget(panel)

    def clear(self) -> None:
        """Forget the member: nothing of theirs stays on the screen."""
        self.member_id = ""
        self.profile = None
        for field in (self.line1, self.line2, self.city, self.zip_code, self.phone, self.email):
            field.clear()
        self.state.setCurrentIndex(0)
        for marker in self.pending.values():
            marker.hide()
        self._show_conflicts([])
        self.notice.hide()
        self.clear_error()

    def on_shown(self) -> None:
        self.line1.setFocus()

    # -- changing ---------------------------------------------------------------------------

    def _context(self) -> PaymentContext:
        core, session = self.ctx.core, self.ctx.session
        assert session is not None
        return PaymentContext(kiosk_id=core.settings.kiosk_id, site=core.settings.site_name,
                              staff=session)

    def edit(self) -> ProfileEdit:
        """What the navigator changed: only the fields that differ from what is shown."""
        shown = self.profile
        typed = Address(line1=self.line1.text(), line2=self.line2.text(), city=self.city.text(),
                        state=str(self.state.currentData() or ""),
                        zip_code=self.zip_code.text())
        before = (shown.address if shown and shown.address else
                  Address(line1="", city="", state="", zip_code=""))
        parts = ("line1", "line2", "city", "state", "zip_code")
        address_changed = any(getattr(typed, p).strip() != getattr(before, p) for p in parts)
        phone, email = self.phone.text().strip(), self.email.text().strip()
        old_phone = display_phone(shown.phone) if shown and shown.phone else ""
        return ProfileEdit(member_id=self.member_id,
                           address=typed if address_changed else None,
                           phone=phone if phone != old_phone else None,
                           email=email if email != (shown.email if shown else "") else None)

    def _on_save_clicked(self) -> None:
        if not self.member_id:
            return
        self.clear_error()
        self.notice.hide()
        core, pay_ctx, edit = self.ctx.core, self._context(), self.edit()
        self.ctx.runner.run(
            lambda: change_profile(edit, ctx=pay_ctx, vault=core.vault, clock=core.clock),
            on_done=lambda _changed: self._changed(_(
                "Saved. The change goes to the exchange now, or when the connection returns. "
                "Until then it shows as waiting to be sent.")),
            on_error=self._on_save_failed)

    def _on_save_failed(self, error: Exception) -> None:
        fields = {"line1": self.line1, "line2": self.line2, "city": self.city,
                  "state": self.state, "zip_code": self.zip_code, "phone": self.phone,
                  "email": self.email}
        self.show_error(error, fields.get(str(getattr(error, "field", "") or "")))

    def show_error(self, error: Exception | str, field: QWidget | None = None) -> None:
        self._take_error_out_of_form()
        super().show_error(error, field)

    def clear_error(self) -> None:
        self._take_error_out_of_form()
        super().clear_error()

    def _take_error_out_of_form(self) -> None:
        """Take the message's whole row out of the form: moving the message alone leaves an
        empty row behind, and the next message would land one row above its field."""
        row, _role = cast(tuple[int, Any], self.form.getWidgetPosition(self.error))
        if row < 0:
            return
        taken = self.form.takeRow(row)
        blank = taken.labelItem.widget() if taken.labelItem is not None else None
        if blank is not None:
            blank.deleteLater()

    def _changed(self, words: str) -> None:
        self.notice.setText(words)
        self.notice.setAccessibleName(words)
        self.notice.show()
        self.ctx.narrator.say(words)
        self.ctx.nudge_sync()
        self.refresh()

    def _on_panel_apply(self, panel: _ConflictPanel) -> None:
        self.clear_error()
        self.notice.hide()
        core, pay_ctx = self.ctx.core, self._context()
        change_id, choices = panel.conflict.change_id, panel.chosen()
        self.ctx.runner.run(
            lambda: resolve_profile_conflict(change_id, choices, ctx=pay_ctx, vault=core.vault,
                                             clock=core.clock),
            on_done=self._on_resolved,
            on_error=lambda error: self._on_panel_failed(error, panel))

    def _on_panel_failed(self, error: Exception, panel: _ConflictPanel) -> None:
        self.show_error(error, panel)  # under the panel it is about
        panel.apply.setFocus()

    def _on_resolved(self, resolved: ConflictResolved) -> None:
        self._changed(_("Your choice is saved. What you kept from this kiosk goes to the "
                        "exchange now, or when the connection returns.")
                      if resolved.new_change else
                      _("The exchange's values are kept. Nothing more needs to be sent."))
