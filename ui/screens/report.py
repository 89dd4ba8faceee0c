"""The site reconciliation report: counts and totals by payment method, state and navigator
for a day or a range of days; saved as PDF or CSV for the site lead at closing."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QHideEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
)

from kiosk.domain.staff import REPORT_EXPORT, StaffSession, stepped_up_for
from kiosk.errors import KioskError
from kiosk.i18n import N_, _, format_date, format_money
from kiosk.services.reports import (
    ReportState,
    SiteReport,
    Tally,
    export_report,
    site_report,
    write_csv,
)
from ui.context import ScreenContext
from ui.dialogs.step_up import StepUpDialog
from ui.printing import save_html_pdf
from ui.screens.base import Screen, button, label

STATE_WORDS = {
    ReportState.QUEUED: N_("Queued, not sent"),
    ReportState.SENT: N_("Sent, not confirmed"),
    ReportState.CONFIRMED: N_("Confirmed"),
    ReportState.DECLINED: N_("Declined by the card reader"),
    ReportState.NEEDS_ATTENTION: N_("Needs attention"),
    ReportState.CANCELLED: N_("Cancelled"),
}


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> dt.date:
    return dt.date(day.year(), day.month(), day.day())


class ReportScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member search."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.report: SiteReport | None = None
        self.approval: StaffSession | None = None  # a supervisor's approval to save reports
        self.first, self.last = QDateEdit(), QDateEdit()
        for edit in (self.first, self.last):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self._labels = [QLabel(), QLabel()]
        form = QFormLayout()
        for lab, edit in zip(self._labels, (self.first, self.last), strict=True):
            lab.setBuddy(edit)
            form.addRow(lab, edit)
        self.show_button = button("search", primary=True)
        self.table = QTableWidget(0, 4)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.saved = label("muted")
        self.pdf, self.csv, self.back = button("print"), button("receipt"), button("back")
        self.primary, self.back_button = self.show_button, self.back
        row = QHBoxLayout()
        for widget in (self.back,):
            row.addWidget(widget)
        row.addStretch(1)
        for widget in (self.csv, self.pdf):
            row.addWidget(widget)
        self.layout_.addLayout(form)
        self.layout_.addWidget(self.show_button, alignment=Qt.AlignmentFlag.AlignLeft)
        for widget in (self.error, self.table, self.saved):
            self.layout_.addWidget(widget)
        self.layout_.addLayout(row)
        self._connect_signals()
        self.retranslate_ui()

    def _connect_signals(self) -> None:
        self.show_button.clicked.connect(self._on_show_clicked)
        self.pdf.clicked.connect(self._on_pdf_clicked)
        self.csv.clicked.connect(self._on_csv_clicked)
        self.back.clicked.connect(self.sig_back_requested.emit)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Closing report"))
        self._labels[0].setText(_("From"))
        self._labels[1].setText(_("To"))
        self.first.setAccessibleName(_("First day of the report"))
        self.last.setAccessibleName(_("Last day of the report"))
        self.show_button.setText(_("Show report"))
        self.show_button.setAccessibleName(_("Show report"))
        self.table.setHorizontalHeaderLabels([_("Group"), _("State"), _("Count"), _("Total")])
        self.table.setAccessibleName(_("Report totals"))
        self.pdf.setText(_("Save as PDF"))
        self.pdf.setAccessibleName(_("Save the report as PDF"))
        self.csv.setText(_("Save as CSV"))
        self.csv.setAccessibleName(_("Save every line of the report as CSV"))
        self.back.setText(_("Back"))
        self.back.setAccessibleName(_("Back to the member search"))
        if self.report is not None:
            self._render(self.report)

    def on_shown(self) -> None:
        settings = self.ctx.core.settings
        today = self.ctx.core.clock.now().astimezone(ZoneInfo(settings.timezone)).date()
        self.first.setDate(_qdate(today))
        self.last.setDate(_qdate(today))
        self._on_show_clicked()

    def _on_show_clicked(self) -> None:
        self.clear_error()
        first, last = _pydate(self.first.date()), _pydate(self.last.date())
        if last < first:
            self.show_error(_("The last day is before the first day. Choose the days again."),
                            self.last)
            return
        core = self.ctx.core
        self.ctx.runner.run(
            lambda: site_report(first, last, tz=core.settings.timezone, vault=core.vault),
            on_done=self._render, on_error=self.show_error)

    def rows(self, report: SiteReport) -> list[tuple[str, str, Tally]]:
        """(group, state, tally) in reading order: all, by method, by navigator."""
        out = [(_("All payments"), _(STATE_WORDS[state]), tally)
               for state, tally in sorted(report.by_state.items())]
        out += [(_("Method: {method}").format(method=method), _(STATE_WORDS[state]), tally)
                for (method, state), tally in sorted(report.by_method.items())]
        out += [(_("Navigator: {name}").format(name=name), _(STATE_WORDS[state]), tally)
                for (name, state), tally in sorted(report.by_navigator.items())]
        return out

    def _render(self, report: SiteReport) -> None:
        self.report = report
        rows = self.rows(report)
        self.table.setRowCount(len(rows))
        for index, (group, state, tally) in enumerate(rows):
            for col, text in enumerate((group, state, str(tally.count),
                                        format_money(tally.total))):
                self.table.setItem(index, col, QTableWidgetItem(text))
        self.pdf.setEnabled(True)
        self.csv.setEnabled(True)

    def _path(self, suffix: str) -> Path:
        assert self.report is not None
        name = f"report-{self.report.first_day}-{self.report.last_day}.{suffix}"
        return self.ctx.core.settings.data_dir / "reports" / name

    def _on_csv_clicked(self) -> None:
        if self.report is not None:
            report, path = self.report, self._path("csv")
            self._export("csv", lambda: write_csv(report, path))

    def _on_pdf_clicked(self) -> None:
        if self.report is not None:
            self._export("pdf", self._write_pdf)

    def _export(self, kind: str, write: Callable[[], Path]) -> None:
        """Save once a supervisor approves; one approval covers both files for five minutes."""
        core = self.ctx.core
        approval = self.approval
        if approval is not None and stepped_up_for(approval, REPORT_EXPORT, core.clock.now()):
            self._save(kind, write, approval)
            return
        dialog = StepUpDialog(self.ctx, title=_("Save the closing report"),
                              purpose=REPORT_EXPORT,
                              explanation=_("A report leaves the encrypted vault when it is "
                                            "saved, so a supervisor approves. The export is "
                                            "recorded."))
        dialog.sig_approved.connect(lambda session, _reason: self._save(kind, write, session))
        self.step_up = dialog
        dialog.open()

    def _save(self, kind: str, write: Callable[[], Path], by: StaffSession) -> None:
        assert self.report is not None
        self.approval = by
        self.clear_error()
        core = self.ctx.core
        try:
            path = export_report(self.report, kind, write, by=by, vault=core.vault,
                                 clock=core.clock)
        except KioskError as error:
            self.show_error(error)
            return
        except OSError:
            self.show_error(_("The report could not be saved: the disk may be full or the "
                              "reports folder is not writable. Ask the site lead to check the "
                              "kiosk's storage, then try again."))
            return
        self._say_saved(path)

    def _write_pdf(self) -> Path:
        assert self.report is not None
        report = self.report
        title = _("Closing report, {first} to {last}").format(
            first=format_date(report.first_day), last=format_date(report.last_day))
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in (g, s, str(t.count),
                                                                 format_money(t.total)))
            + "</tr>" for g, s, t in self.rows(report))
        heads = "".join(f"<th align='left'>{html.escape(h)}</th>"
                        for h in (_("Group"), _("State"), _("Count"), _("Total")))
        body = (f"<h1>{html.escape(title)}</h1><p>{html.escape(self.ctx.core.settings.site_name)}"
                f"</p><table cellpadding='4'><tr>{heads}</tr>{cells}</table>")
        return save_html_pdf(body, self._path("pdf"), title)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        self.approval = None  # an approval is for this visit to the report only
        super().hideEvent(event)

    def _say_saved(self, path: Path) -> None:
        self.saved.setText(_("Saved as {path}").format(path=str(path)))
        self.saved.setAccessibleName(self.saved.text())
