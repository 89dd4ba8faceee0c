"""The member's payment history: every payment the exchange knows of and those taken here that
it does not have yet, newest first, filtered by dates, method and status; the details of one;
saved as CSV or PDF, printed, or questioned (which opens the disputes screen)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QDate, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter, QPrinterInfo
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.domain.account import HistoryStatus
from kiosk.domain.ach import explain_return
from kiosk.i18n import (
    N_,
    _,
    format_date,
    format_datetime,
    format_money,
    format_month,
    in_language,
    isolate,
)
from kiosk.services.history import (
    HistoryEntry,
    HistoryFilter,
    history_csv,
    payment_details,
    payment_history,
)
from kiosk.services.receipts import get_receipt
from ui.ach_text import explain
from ui.context import ScreenContext
from ui.printing import save_html_pdf, visit_folder
from ui.screens.base import Screen, button, label
from ui.widgets.flow import FlowLayout, flow_row

STATUS_WORDS = {
    HistoryStatus.PENDING: N_("Pending"), HistoryStatus.SUBMITTED: N_("Submitted"),
    HistoryStatus.CONFIRMED: N_("Confirmed"), HistoryStatus.DECLINED: N_("Declined"),
    HistoryStatus.RETURNED: N_("Returned by the bank"), HistoryStatus.REFUNDED: N_("Refunded"),
    HistoryStatus.DISPUTED: N_("Disputed"),
}
STATUS_MEANING = {
    HistoryStatus.PENDING: N_("Saved on this kiosk; it goes to the exchange as soon as the "
                              "connection allows."),
    HistoryStatus.SUBMITTED: N_("Sent; waiting for the exchange to confirm it."),
    HistoryStatus.CONFIRMED: N_("The exchange has this payment."),
    HistoryStatus.DECLINED: N_("This payment did not go through. If the member's card or bank "
                               "shows it, call a supervisor."),
    HistoryStatus.RETURNED: N_("The bank sent this payment back. The premium may still be due."),
    HistoryStatus.REFUNDED: N_("The money was given back to the member."),
    HistoryStatus.DISPUTED: N_("The member questioned this payment; the exchange is looking "
                               "into it."),
}
CELL_PADDING, ROW_PADDING = 32, 14  # a table cell's padding in the stylesheet, and a margin
OTHER = "other"  # the method filter's choice for anything but the four known methods
METHOD_CHOICES = ((N_("All methods"), ""), (N_("Card"), "card"), (N_("Bank account"), "ach"),
                  ("PayPal", "paypal"), ("Venmo", "venmo"), (N_("Other"), OTHER))
WHERE_MADE = {"WEB": N_("On the website"), "PHONE": N_("By phone"),
              "AUTOPAY": N_("Automatic payment")}
DETAIL_ROWS = (N_("Status"), N_("Date and time"), N_("Confirmation number"),
               N_("Receipt number"), N_("Where it was made"), N_("Paid with"), N_("Applied to"),
               N_("Refunded"))


def method_words(entry: HistoryEntry) -> str:
    """The method as the member knows it, with the last four digits when known."""
    last4 = isolate(entry.last4)
    if entry.method == "card" and entry.last4:
        return (_("{brand} card ending in {last4}").format(brand=entry.brand.title(), last4=last4)
                if entry.brand else _("Card ending in {last4}").format(last4=last4))
    if entry.method == "ach":
        return (_("Bank account ending in {last4}").format(last4=last4) if entry.last4
                else _("Bank account"))
    known = {"card": _("Card"), "paypal": "PayPal", "venmo": "Venmo"}
    return known.get(entry.method) or _("Other: {method}").format(method=entry.method)


def status_words(entry: HistoryEntry) -> str:
    words = _(STATUS_WORDS[entry.status])
    return f"{words} ({entry.return_code})" if entry.return_code else words


def meaning(entry: HistoryEntry) -> str:
    """What the status means for the member; a bank return says why and what to do next."""
    if entry.return_code:
        return explain(explain_return(entry.return_code))
    return _(STATUS_MEANING[entry.status])


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> dt.date:
    return dt.date(day.year(), day.month(), day.day())


def _day(entry: HistoryEntry) -> dt.date:
    return entry.paid_at.astimezone(dt.UTC).date()  # the service's days are UTC days


def wrapping_table(columns: int, *, fixed: tuple[int, ...]) -> QTableWidget:
    """A read-only table of whole rows whose text wraps: the `fixed` columns keep their
    content's width and the others share the rest, so it never scrolls sideways at large
    text (as on the queue screen); rows are refitted whenever the columns change width."""
    table = QTableWidget(0, columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.setWordWrap(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    for column in fixed:
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    refit = QTimer(table)  # once the layout has settled the new widths
    refit.setSingleShot(True)
    refit.setInterval(0)
    refit.timeout.connect(lambda: fit_rows(table))
    header.sectionResized.connect(lambda *_args: refit.start())
    return table


def _cell(table: QTableWidget, row: int, col: int) -> str:
    item = table.item(row, col)
    return item.text() if item is not None else ""


def fit_rows(table: QTableWidget, most: int = 10) -> None:
    """Rows as tall as their wrapped text, and the table tall enough for `most` rows, so the
    page scrolls rather than the table. (Qt's own row sizing leaves out the stylesheet's cell
    padding and cuts the last line of a wrapped cell.)"""
    metrics = table.fontMetrics()
    for row in range(table.rowCount()):
        needed = max(metrics.boundingRect(
            QRect(0, 0, max(1, table.columnWidth(col) - CELL_PADDING), 10_000),
            Qt.TextFlag.TextWordWrap, _cell(table, row, col)).height()
            for col in range(table.columnCount()))
        table.setRowHeight(row, needed + ROW_PADDING)
    shown = min(table.rowCount(), most)
    height = sum(table.rowHeight(r) for r in range(shown))
    height += max(0, 3 - shown) * table.verticalHeader().defaultSectionSize()
    table.setMinimumHeight(height + table.horizontalHeader().height()
                           + 2 * table.frameWidth() + 2)


Writer = Callable[[Path], object]


def _write_atomically(path: Path, write: Writer) -> Path:
    """Write to `<name>.part`, then rename: a half-written file never has the real name."""
    part = path.with_name(path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    write(part)
    part.replace(path)
    return path


class HistoryScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member's account."""
    sig_dispute_requested = Signal(str)
    """The navigator wants to question this payment (payment id): open the disputes screen
    with it ticked."""
    sig_dispute_shown = Signal(str)
    """Show this dispute (dispute id) on the disputes screen."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.member_id = ""
        self.entries: list[HistoryEntry] = []
        self.shown: HistoryEntry | None = None  # the entry in the details panel
        self.shown_months: list[str] = []  # the coverage months it paid, when known
        self._reads = 0  # only the latest read is drawn
        self.first, self.last = QDateEdit(), QDateEdit()
        for edit in (self.first, self.last):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")  # as on the closing report
        self.method, self.status = QComboBox(), QComboBox()
        for _words, value in METHOD_CHOICES:
            self.method.addItem("", value)
        self.status.addItem("", "")
        for status in HistoryStatus:
            self.status.addItem("", status.value)
        self.apply = button("search", primary=True)
        self.empty = label("banner")
        self.table = wrapping_table(4, fixed=(1,))  # the amount keeps its width
        self.details = QWidget()
        self.detail_names = [label("muted") for _row in DETAIL_ROWS]
        self.detail_values = [label() for _row in DETAIL_ROWS]
        self.see_dispute = button("dispute")
        self.csv, self.pdf, self.print_ = button("receipt"), button("receipt"), button("print")
        self.question = button("dispute")
        self.saved = label("muted")
        self.back = button("back")
        self.primary, self.back_button = self.apply, self.back
        self._filter_labels = [label() for _unused in range(4)]
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        filters = QWidget()  # label above field, side by side while they fit, then wrapping
        flow = FlowLayout(filters, spacing=16)
        for lab, field in zip(self._filter_labels, (self.first, self.last, self.method,
                                                    self.status), strict=True):
            lab.setBuddy(field)
            group = QWidget()
            column = QVBoxLayout(group)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(lab)
            column.addWidget(field)
            flow.addWidget(group)
        self.detail_form = QFormLayout(self.details)
        self.detail_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.detail_form.setContentsMargins(0, 0, 0, 0)
        for name, value in zip(self.detail_names, self.detail_values, strict=True):
            name.setBuddy(value)
            self.detail_form.addRow(name, value)
        self.detail_form.addRow(self.see_dispute)
        self.details_heading = label("heading")
        for widget in (filters, flow_row(self.apply), self.error, self.empty, self.table,
                       self.details_heading, self.details,
                       flow_row(self.question, self.csv, self.pdf, self.print_),
                       self.saved, flow_row(self.back)):
            self.layout_.addWidget(widget)
        self.empty.hide()
        self._show_details(None)

    def _connect_signals(self) -> None:
        self.apply.clicked.connect(self.refresh)
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.table.currentCellChanged.connect(self._on_table_current_cell_changed)
        self.csv.clicked.connect(self._on_csv_clicked)
        self.pdf.clicked.connect(self._on_pdf_clicked)
        self.print_.clicked.connect(self._on_print_clicked)
        self.question.clicked.connect(self._on_question_clicked)
        self.see_dispute.clicked.connect(self._on_see_dispute_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Payment history"))
        for lab, field, words, name in zip(
                self._filter_labels, (self.first, self.last, self.method, self.status),
                (_("From"), _("To"), _("Method"), _("Status")),
                (_("First day of the history"), _("Last day of the history"),
                 _("Payment method to show"), _("Payment status to show")), strict=True):
            lab.setText(words)
            field.setAccessibleName(name)
        for index, (words, _value) in enumerate(METHOD_CHOICES):
            self.method.setItemText(index, _(words))
        self.status.setItemText(0, _("All statuses"))
        for index, status in enumerate(HistoryStatus, start=1):
            self.status.setItemText(index, _(STATUS_WORDS[status]))
        self.table.setHorizontalHeaderLabels([_("Date"), _("Amount"), _("Method"), _("Status")])
        self.table.setAccessibleName(_("The member's payments, newest first"))
        self.details_heading.setText(_("Payment details"))
        for row_label, words in zip(self.detail_names, DETAIL_ROWS, strict=True):
            row_label.setText(_(words))
        for widget, words, name in (
                (self.apply, _("Show payments"), _("Show the payments with these choices")),
                (self.see_dispute, _("See the dispute"), _("See the dispute about this payment")),
                (self.question, _("Question a payment"), _("Question the chosen payment")),
                (self.csv, _("Save as CSV"), _("Save the payments shown as CSV")),
                (self.pdf, _("Save as PDF"), _("Save the payments shown as PDF")),
                (self.print_, _("Print"), _("Print the payments shown")),
                (self.back, _("Back"), _("Back to the member's account"))):
            widget.setText(words)
            widget.setAccessibleName(name)
        row, shown, months = self.table.currentRow(), self.shown, self.shown_months
        self._render()  # the rows in the new language; the chosen one stays chosen
        if shown is not None and 0 <= row < len(self.entries):
            self.table.blockSignals(True)
            self.table.setCurrentCell(row, 0)
            self.table.blockSignals(False)
            self._show_details(shown, months)

    def on_shown(self) -> None:
        self.table.setFocus()

    # -- reading ----------------------------------------------------------------------------
    def show_member(self, member_id: str) -> None:
        """Show the member's payments of the last year, every method and status."""
        self.clear()
        self.member_id = member_id
        today = self.ctx.core.clock.now().astimezone(dt.UTC).date()
        self.first.setDate(_qdate(today - dt.timedelta(days=365)))
        self.last.setDate(_qdate(today))
        self.refresh()

    def clear(self) -> None:
        """Forget the member (end of visit): nothing of theirs stays on the screen."""
        self.member_id = ""
        self.entries = []
        self._reads += 1  # a read still running is dropped when it arrives
        self.method.setCurrentIndex(0)
        self.status.setCurrentIndex(0)
        self.saved.clear()
        self.clear_error()
        self._render()

    def filters(self) -> HistoryFilter:
        method, status = self.method.currentData(), self.status.currentData()
        return HistoryFilter(
            since=_pydate(self.first.date()), until=_pydate(self.last.date()),
            methods=frozenset({method}) if method and method != OTHER else frozenset(),
            statuses=frozenset({HistoryStatus(status)}) if status else frozenset())

    def refresh(self) -> None:
        """Re-read the payments with the chosen filters, off the UI thread."""
        self.clear_error()
        if not self.member_id:
            return
        keep = self.filters()
        if keep.since and keep.until and keep.until < keep.since:
            self.show_error(_("The last day is before the first day. Choose the days again."),
                            self.last)
            return
        vault, member, others = self.ctx.core.vault, self.member_id, (
            self.method.currentData() == OTHER)
        self._reads += 1
        read_id = self._reads

        def read() -> list[HistoryEntry]:
            entries = payment_history(member, vault=vault, filters=keep)
            known = {value for _words, value in METHOD_CHOICES}
            return [e for e in entries if e.method not in known] if others else entries

        self.ctx.runner.run(read, on_done=lambda entries: self._on_read(read_id, entries),
                            on_error=self.show_error)

    def _on_read(self, read_id: int, entries: list[HistoryEntry]) -> None:
        if read_id == self._reads:
            self.entries = entries
            self._render()

    def _render(self) -> None:
        self.table.blockSignals(True)  # a new list: nothing is chosen until the navigator does
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            for col, text in enumerate((format_date(_day(entry)), format_money(entry.amount),
                                        method_words(entry), status_words(entry))):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.setCurrentCell(-1, -1)
        self.table.blockSignals(False)
        fit_rows(self.table)
        nothing = bool(self.member_id) and not self.entries
        self.empty.setText(_(
            "There are no payments from {first} to {last} with these choices. Try an earlier "
            "first day, or choose all methods and all statuses.").format(
            first=format_date(_pydate(self.first.date())),
            last=format_date(_pydate(self.last.date()))))
        self.empty.setAccessibleName(self.empty.text())
        self.empty.setVisible(nothing)
        self.table.setVisible(not nothing)
        for widget in (self.csv, self.pdf, self.print_):
            widget.setEnabled(bool(self.entries))
        self._show_details(None)

    def selected(self) -> HistoryEntry | None:
        row = self.table.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def _can_question(self, entry: HistoryEntry | None) -> bool:
        """A declined card is no payment, and a payment with an open dispute has one."""
        return entry is not None and entry.status is not HistoryStatus.DECLINED \
            and not entry.dispute_ids

    def _on_table_current_cell_changed(self, *_args: object) -> None:
        entry = self.selected()
        self.question.setEnabled(self._can_question(entry))
        if entry is None:
            self._show_details(None)
            return
        vault, member, pid = self.ctx.core.vault, self.member_id, entry.payment_id

        def read() -> tuple[HistoryEntry, list[str]]:
            fresh = payment_details(member, pid, vault=vault)
            months = get_receipt(pid, vault=vault).coverage_months if fresh.receipt_number \
                else []
            return fresh, months

        self.ctx.runner.run(read, on_done=self._on_details_read, on_error=self.show_error)

    def _on_details_read(self, result: tuple[HistoryEntry, list[str]]) -> None:
        entry, months = result
        current = self.selected()  # the navigator may have moved on meanwhile
        if current is not None and current.payment_id == entry.payment_id \
                and entry.member_id == self.member_id:
            self._show_details(entry, months)

    # -- details ----------------------------------------------------------------------------
    def _where(self, entry: HistoryEntry) -> str:
        settings = self.ctx.core.settings
        if entry.kiosk_id in WHERE_MADE:
            return _(WHERE_MADE[entry.kiosk_id])
        if entry.taken_here or entry.kiosk_id == settings.kiosk_id:
            return _("At this kiosk ({site})").format(site=settings.site_name)
        return _("At kiosk {kiosk}").format(kiosk=isolate(entry.kiosk_id)) if entry.kiosk_id \
            else ""

    def _detail_values(self, entry: HistoryEntry, months: list[str]) -> list[str]:
        refunded = ""
        if entry.refunded is not None:
            refunded = format_money(entry.refunded)
            if entry.refunded_at is not None:
                refunded = _("{amount} on {date}").format(amount=refunded,
                                                         date=format_date(entry.refunded_at.date()))
        status = meaning(entry) if entry.return_code else \
            f"{status_words(entry)}: {meaning(entry)}"
        return [status,
                format_datetime(entry.paid_at, tz=self.ctx.core.settings.timezone),
                entry.confirmation_number, entry.receipt_number, self._where(entry),
                method_words(entry), ", ".join(format_month(m) for m in months), refunded]

    def _show_details(self, entry: HistoryEntry | None, months: list[str] | None = None) -> None:
        self.shown, self.shown_months = entry, months or []
        self.details.setVisible(entry is not None)
        self.details_heading.setVisible(entry is not None)
        self.question.setEnabled(self._can_question(entry))
        if entry is None:
            for value in self.detail_values:
                value.clear()
            return
        values = self._detail_values(entry, months or [])
        for row, (name, value, text) in enumerate(zip(self.detail_names, self.detail_values,
                                                      values, strict=True)):
            value.setText(text)
            value.setAccessibleName(f"{name.text()}: {text}")
            self.detail_form.setRowVisible(row, bool(text))
        self.see_dispute.setVisible(bool(entry.dispute_ids))

    def _on_see_dispute_clicked(self) -> None:
        if self.shown is not None and self.shown.dispute_ids:
            self.sig_dispute_shown.emit(self.shown.dispute_ids[0])

    def _on_question_clicked(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.sig_dispute_requested.emit(entry.payment_id)

    # -- saving and printing ----------------------------------------------------------------
    def _path(self, suffix: str) -> Path:
        keep = self.filters()
        name = f"payment-history-{self.member_id}-{keep.since}-{keep.until}.{suffix}"
        return visit_folder(self.ctx.core.settings.data_dir) / name

    def history_html(self) -> str:
        """The payments shown, as a printable page in the member's language."""
        with in_language(self.ctx.member_language):
            keep = self.filters()
            title = _("Payment history")
            sub = _("Member {member_id}, {first} to {last}").format(
                member_id=isolate(self.member_id), first=format_date(keep.since or dt.date.min),
                last=format_date(keep.until or dt.date.max))
            heads = "".join(f"<th align='left'>{html.escape(h)}</th>" for h in (
                _("Date"), _("Amount"), _("Method"), _("Status")))
            cells = "".join(
                "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in (
                    format_date(_day(e)), format_money(e.amount), method_words(e),
                    meaning(e) if e.return_code else status_words(e))) + "</tr>"
                for e in self.entries)
            site = html.escape(self.ctx.core.settings.site_name)
        return (f"<h1>{html.escape(title)}</h1><p>{html.escape(sub)}</p>"
                f"<table cellpadding='4'><tr>{heads}</tr>{cells}</table><p>{site}</p>")

    def _save(self, suffix: str, write: Writer) -> Path | None:
        self.clear_error()
        try:
            return _write_atomically(self._path(suffix), write)
        except OSError as exc:
            self.show_error(_("The file could not be saved ({reason}). Check the disk has "
                              "space, then try again.").format(reason=exc.strerror or ""))
            return None

    def _save_pdf(self) -> Path | None:
        page = self.history_html()
        return self._save("pdf", lambda part: save_html_pdf(page, part, _("Payment history")))

    def _on_csv_clicked(self) -> None:
        text = history_csv(self.entries)
        path = self._save("csv", lambda part: part.write_text(text, encoding="utf-8",
                                                              newline=""))
        self._say(_("Saved as {path}").format(path=str(path)) if path else "")

    def _on_pdf_clicked(self) -> None:
        path = self._save_pdf()
        self._say(_("Saved as {path}").format(path=str(path)) if path else "")

    def _on_print_clicked(self) -> None:
        """Print on a printer when there is one; otherwise save a PDF and say where."""
        if not QPrinterInfo.availablePrinters():
            path = self._save_pdf()
            self._say(_("No printer is connected. The history was saved as {path}").format(
                path=str(path)) if path else "")
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            document = QTextDocument()
            document.setHtml(self.history_html())
            document.print_(printer)
            self._say(_("Sent to the printer."))

    def _say(self, text: str) -> None:
        self.saved.setText(text)
        self.saved.setAccessibleName(text)

