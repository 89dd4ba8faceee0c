"""Find the member at the counter by name, member ID, date of birth or phone.

Searches the local cache, so it works the same when the exchange is unreachable. Typing is
debounced and each search runs off the UI thread; only the newest answer is shown.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from kiosk.domain.members import display_phone
from kiosk.i18n import _, format_date, isolate, ngettext
from kiosk.services.members import MemberHit, search_members
from ui.context import ScreenContext
from ui.screens.base import Screen, button, label, line_edit
from ui.widgets.flow import FlowLayout

DEBOUNCE_MS = 150


class SearchScreen(Screen):
    sig_member_chosen = Signal(str)
    """The navigator opened a member; carries the member ID."""
    sig_queue_requested = Signal()
    """The navigator opened the queue of payments waiting for the exchange."""
    sig_report_requested = Signal()
    """The navigator opened the closing report."""
    sig_staff_requested = Signal()
    """Staff accounts."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.hint = label("muted")
        self.query = line_edit()
        self.query.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.count = label("muted")
        self.open_button = button("member", primary=True)
        self.open_button.setEnabled(False)
        self.primary = self.open_button
        self.queue_button = button("syncing")
        self.report_button = button("receipt")
        self.staff_button = button("member")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._generation = 0
        self._hits: list[MemberHit] = []
        for widget in (self.hint, self.query, self.error, self.count, self.results):
            self.layout_.addWidget(widget)
        self.layout_.addWidget(self.open_button, alignment=Qt.AlignmentFlag.AlignLeft)
        tools = QWidget()  # staff tools on their own rows, wrapping when the text is large
        flow = FlowLayout(tools, spacing=16)
        for widget in (self.queue_button, self.report_button, self.staff_button):
            flow.addWidget(widget)
        self.layout_.addWidget(tools)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.query.textChanged.connect(self._on_query_text_changed)
        self.query.returnPressed.connect(self._on_query_return_pressed)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.results.itemActivated.connect(self._on_results_item_activated)
        self.results.currentRowChanged.connect(self._on_results_current_row_changed)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.queue_button.clicked.connect(self.sig_queue_requested.emit)
        self.report_button.clicked.connect(self.sig_report_requested.emit)
        self.staff_button.clicked.connect(self.sig_staff_requested.emit)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Find the member"))
        self.hint.setText(_("Type part of a name, a member ID, a date of birth (MM/DD/YYYY) "
                            "or a phone number."))
        self.query.setPlaceholderText(_("Name, member ID, date of birth or phone"))
        self.query.setAccessibleName(_("Search for a member"))
        self.query.setAccessibleDescription(self.hint.text())
        self.results.setAccessibleName(_("Members found"))
        self.open_button.setText(_("Open member"))
        self.open_button.setAccessibleName(_("Open member"))
        self.queue_button.setText(_("Waiting payments"))
        self.queue_button.setAccessibleName(_("Payments waiting for the exchange"))
        self.report_button.setText(_("Closing report"))
        self.report_button.setAccessibleName(_("Closing report"))
        self.staff_button.setText(_("Staff accounts"))
        self.staff_button.setAccessibleName(_("Staff accounts"))
        self._show_hits(self._hits)

    def on_shown(self) -> None:
        self.query.setFocus()
        self.query.selectAll()

    def reset(self) -> None:
        """Forget the last member searched for (at the end of a visit)."""
        self.query.clear()
        self._show_hits([])

    def _on_query_text_changed(self, _text: str) -> None:
        self._timer.start()

    def _on_query_return_pressed(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self._search(open_single=True)
        elif self.results.count():
            self.results.setFocus()
            if self.results.currentRow() < 0:
                self.results.setCurrentRow(0)

    def _on_timer_timeout(self) -> None:
        self._search(open_single=False)

    def _search(self, *, open_single: bool) -> None:
        self._generation += 1
        generation, text, vault = self._generation, self.query.text(), self.ctx.core.vault

        def done(hits: list[MemberHit]) -> None:
            if generation == self._generation:
                self._show_hits(hits)
                if open_single and len(hits) == 1:
                    self.sig_member_chosen.emit(hits[0].member_id)

        self.ctx.runner.run(lambda: search_members(text, vault=vault), on_done=done,
                            on_error=self.show_error)

    def _show_hits(self, hits: list[MemberHit]) -> None:
        self._hits = hits
        self.results.clear()
        for hit in hits:
            text = _("{name} · born {birth} · {member_id} · {phone}").format(
                name=hit.full_name, birth=format_date(hit.date_of_birth),
                member_id=isolate(hit.member_id), phone=isolate(display_phone(hit.phone)))
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, hit.member_id)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, text)
            self.results.addItem(item)
        if self.query.text().strip():
            self.count.setText(ngettext("{n} member found", "{n} members found",
                                        len(hits)).format(n=len(hits)))
        else:
            self.count.setText("")
        self.open_button.setEnabled(False)

    def _on_results_current_row_changed(self, row: int) -> None:
        self.open_button.setEnabled(row >= 0)

    def _on_results_item_activated(self, item: QListWidgetItem) -> None:
        self.sig_member_chosen.emit(str(item.data(Qt.ItemDataRole.UserRole)))

    def _on_open_clicked(self) -> None:
        item = self.results.currentItem()
        if item is not None:
            self._on_results_item_activated(item)
