"""The member's plan and coverage, read-only and large: the plan, who it covers, what the member
pays after the tax credit, the deductible, the out-of-pocket maximum, the main copays and the
coverage dates, with where the member stands today. Printed in the member's language on the
kiosk's printer, or saved as a PDF (as the receipt is). A field an older exchange does not send
reads "not known yet", never blank."""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from kiosk.domain.billing import CoverageStanding
from kiosk.i18n import N_, _, format_date, format_money, in_language, isolate
from kiosk.services.members import MemberAccount, get_account
from kiosk.services.profile import Copay, CoverageSummary, CoveredPerson, coverage_summary
from kiosk.services.standing import standing_of
from ui.context import ScreenContext
from ui.printing import print_html, save_html_pdf, system_printer, visit_folder
from ui.screens.base import Screen, button, label
from ui.standing_text import notice_text, state_text
from ui.widgets.flow import FlowLayout

NOT_KNOWN = N_("not known yet")
_METALS = {"Bronze": N_("Bronze"), "Expanded Bronze": N_("Expanded Bronze"),
           "Silver": N_("Silver"), "Gold": N_("Gold"), "Platinum": N_("Platinum"),
           "Catastrophic": N_("Catastrophic")}
_SERVICES = {"primary_care": N_("Primary care visit"), "specialist": N_("Specialist visit"),
             "urgent_care": N_("Urgent care"), "emergency_room": N_("Emergency room"),
             "generic_drugs": N_("Generic drugs")}
_RELATIONSHIPS = {"self": N_("the member"), "spouse": N_("spouse"), "child": N_("child")}


def _known(text: str) -> str:
    return text or _(NOT_KNOWN)


def summary_title() -> str:
    return _("Plan and coverage summary")


def premium_sentence(s: CoverageSummary) -> str:
    """"You pay $187.42 a month after a tax credit of $336.76." """
    if s.tax_credit.cents > 0:
        return _("You pay {net} a month after a tax credit of {aptc}.").format(
            net=format_money(s.member_pays), aptc=format_money(s.tax_credit))
    return _("You pay {net} a month. There is no tax credit.").format(
        net=format_money(s.member_pays))


def copay_words(c: Copay) -> str:
    """"$40.00 copay", "30% of the cost after the deductible" ..."""
    percent = c.coinsurance_percent
    if c.copay is not None and percent:
        cost = _("{copay} copay plus {percent}% of the cost").format(
            copay=format_money(c.copay), percent=percent)
    elif c.copay is not None:
        cost = _("{copay} copay").format(copay=format_money(c.copay))
    elif percent:
        cost = _("{percent}% of the cost").format(percent=percent)
    elif percent == 0 and c.after_deductible:
        return _("The full cost until the deductible is met, then nothing")
    else:
        return _(NOT_KNOWN)
    return _("{cost} after the deductible").format(cost=cost) if c.after_deductible else cost


def person_words(p: CoveredPerson) -> str:
    name = " ".join(part for part in (p.first_name, p.last_name) if part) or _(NOT_KNOWN)
    relationship = _RELATIONSHIPS.get(p.relationship)
    return _("{name} ({relationship})").format(name=name, relationship=_(relationship)) \
        if relationship else name


def coverage_dates(s: CoverageSummary) -> str:
    start = format_date(s.coverage_start, fmt="long")
    if s.coverage_end is None:
        return _("From {start}; the end date is not known yet").format(start=start)
    return _("From {start} to {end}").format(start=start,
                                             end=format_date(s.coverage_end, fmt="long"))


def summary_rows(s: CoverageSummary) -> list[tuple[str, str]]:
    """The plan's facts as (label, value) pairs, in reading order."""
    rows = [(_("Plan"), _known(s.plan_name)), (_("Insurance company"), _known(s.issuer)),
            (_("Metal level"), _(_METALS[s.metal_level]) if s.metal_level in _METALS
             else _known(s.metal_level)),
            (_("Monthly premium before the tax credit"), format_money(s.gross_premium)),
            (_("Tax credit each month (APTC)"), format_money(s.tax_credit)),
            (_("The member pays each month"), format_money(s.member_pays)),
            (_("Deductible"), format_money(s.deductible)),
            (_("Out-of-pocket maximum"), format_money(s.oop_max)),
            (_("Coverage dates"), coverage_dates(s))]
    if s.plan_start != s.coverage_start:
        rows.append((_("On this plan since"), format_date(s.plan_start, fmt="long")))
    return rows


def copay_rows(s: CoverageSummary) -> list[tuple[str, str]]:
    if not s.copays:
        return [(_("Copays"), _(NOT_KNOWN))]
    return [(_(_SERVICES[c.service]) if c.service in _SERVICES
             else c.service.replace("_", " ").capitalize(), copay_words(c)) for c in s.copays]


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td><b>{html.escape(name)}</b></td><td>{html.escape(value)}</td></tr>"
                    for name, value in rows)
    return f"<table cellpadding='6' style='font-size:14pt'>{cells}</table>"


def coverage_html(s: CoverageSummary, standing: str = "") -> str:
    """The printable summary, in the current language (wrap the call in `in_language`)."""
    people = "".join(f"<li>{html.escape(person_words(p))}</li>" for p in s.people_covered)
    member = _("Member ID {member_id}").format(member_id=s.member_id)
    parts = [f"<h1>{html.escape(summary_title())}</h1>",
             f"<p style='font-size:12pt'>{html.escape(member)}</p>",
             f"<p style='font-size:16pt'><b>{html.escape(premium_sentence(s))}</b></p>"]
    if standing:
        parts.append(f"<p style='font-size:14pt'>{html.escape(standing)}</p>")
    parts += [_table(summary_rows(s)), f"<h2>{html.escape(_('People covered'))}</h2>",
              f"<ul style='font-size:14pt'>{people}</ul>",
              f"<h2>{html.escape(_('Main copays'))}</h2>", _table(copay_rows(s)),
              f"<p>{html.escape(_('Health Connector Kiosk'))}</p>"]
    return "".join(parts)


def _bold(text: str) -> str:
    return f"<b>{html.escape(text)}</b>"


def _clear(layout: QVBoxLayout) -> None:
    """Remove and delete every widget of the layout."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.hide()
            widget.deleteLater()


class CoverageScreen(Screen):
    sig_back_requested = Signal()
    """Back to the member's account."""

    def __init__(self, ctx: ScreenContext) -> None:
        super().__init__(ctx)
        self.member_id = ""
        self.summary: CoverageSummary | None = None
        self.standing: CoverageStanding | None = None
        self.premium = label()
        self.premium.setTextFormat(Qt.TextFormat.RichText)
        self.notice, self.state = label("banner"), label()
        # Label above value, each pair apart from the next: read-only, so no form is needed.
        self.facts, self.people, self.copays = QVBoxLayout(), QVBoxLayout(), QVBoxLayout()
        self.people_title, self.copays_title = label(), label()
        self.saved = label("muted")
        self.print_paper, self.print_pdf = button("print"), button("receipt")
        self.back = button("back", primary=True)
        self.primary, self.back_button = self.back, self.back
        self._build()
        self._connect_signals()
        self.retranslate_ui()

    def _build(self) -> None:
        for title in (self.people_title, self.copays_title):
            title.setTextFormat(Qt.TextFormat.RichText)
        for shown in (self.error, self.premium, self.notice, self.state):
            self.layout_.addWidget(shown)
        self.layout_.addLayout(self.facts)
        self.layout_.addWidget(self.people_title)
        self.layout_.addLayout(self.people)
        self.layout_.addWidget(self.copays_title)
        self.layout_.addLayout(self.copays)
        self.layout_.addWidget(self.saved)
        actions = QWidget()
        flow = FlowLayout(actions, spacing=16)
        for control in (self.back, self.print_paper, self.print_pdf):
            flow.addWidget(control)
        self.layout_.addWidget(actions)
        self.layout_.addStretch(1)

    def _connect_signals(self) -> None:
        self.back.clicked.connect(self.sig_back_requested.emit)
        self.print_paper.clicked.connect(lambda: self._on_print_clicked())
        self.print_pdf.clicked.connect(self._on_print_pdf_clicked)

    def retranslate_ui(self) -> None:
        self.heading.setText(_("Plan and coverage"))
        self.print_paper.setText(_("Print"))
        self.print_paper.setAccessibleName(
            _("Print the plan and coverage summary on the kiosk's printer"))
        self.print_pdf.setText(_("Save as PDF"))
        self.print_pdf.setAccessibleName(_("Save the plan and coverage summary as a PDF file"))
        self.back.setText(_("Back"))
        self.back.setAccessibleName(_("Back"))
        self._render()

    def show_member(self, member_id: str) -> None:
        """Read the member's coverage off the UI thread and show it."""
        self.clear()
        self.member_id = member_id
        self.refresh()

    def refresh(self) -> None:
        if not self.member_id:
            return
        vault, member_id = self.ctx.core.vault, self.member_id

        def read() -> tuple[CoverageSummary, MemberAccount]:
            return coverage_summary(member_id, vault=vault), get_account(member_id, vault=vault)

        self.ctx.runner.run(read, on_done=lambda found: self._on_read(member_id, found),
                            on_error=self.show_error)

    def clear(self) -> None:
        """Forget the member (end of visit; a shared machine)."""
        self.member_id, self.summary, self.standing = "", None, None
        self.saved.clear()
        self.clear_error()
        self._render()

    def _on_read(self, member_id: str, found: tuple[CoverageSummary, MemberAccount]) -> None:
        if member_id != self.member_id:
            return  # a late answer about a member who is gone
        settings = self.ctx.core.settings
        today = self.ctx.core.clock.now().astimezone(ZoneInfo(settings.timezone)).date()
        self.summary, account = found
        self.standing = standing_of(account, today=today)
        self._render()
        self.back.setFocus()

    def _render(self) -> None:
        for layout in (self.facts, self.people, self.copays):
            _clear(layout)
        s = self.summary
        for widget in (self.premium, self.notice, self.state, self.people_title,
                       self.copays_title, self.print_paper, self.print_pdf):
            widget.setVisible(s is not None)
        if s is None:
            return
        self._say(self.premium, premium_sentence(s), rich=True)
        if self.standing is not None:
            self._say(self.notice, notice_text(self.standing))
            self._say(self.state, _("Coverage: {state}").format(state=state_text(self.standing)))
        self._say(self.people_title, _("People covered"), rich=True)
        self._say(self.copays_title, _("Main copays"), rich=True)
        self._fill(self.facts, summary_rows(s))
        for person in s.people_covered:
            line = self._said(f"\u2022 {person_words(person)}")
            self.people.addWidget(line)
            line.show()
        self._fill(self.copays, copay_rows(s))

    def _say(self, widget: QLabel, text: str, *, rich: bool = False) -> None:
        widget.setText(_bold(text) if rich else text)
        widget.setAccessibleName(text)

    def _said(self, text: str) -> QLabel:
        widget = label()
        self._say(widget, text)
        return widget

    def _fill(self, pairs: QVBoxLayout, rows: list[tuple[str, str]]) -> None:
        """Each value in bold under its name; a screen reader hears "Deductible: $3,000.00"."""
        for name, value in rows:
            pair = QWidget()
            column = QVBoxLayout(pair)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            name_label, value_label = self._said(name), label()
            value_label.setTextFormat(Qt.TextFormat.RichText)
            self._say(value_label, value, rich=True)
            value_label.setAccessibleName(f"{name}: {value}")
            name_label.setBuddy(value_label)
            column.addWidget(name_label)
            column.addWidget(value_label)
            pairs.addWidget(pair)
            pair.show()  # at once, not when the layout gets round to it

    def _document(self, s: CoverageSummary) -> tuple[str, str]:
        """(HTML, title) in the member's language: the summary is the member's to keep."""
        with in_language(self.ctx.member_language):
            standing = notice_text(self.standing) if self.standing else ""
            return coverage_html(s, standing), summary_title()

    def _on_print_clicked(self, printer: QPrinter | None = None) -> None:
        """On the kiosk's printer; without one, as a PDF, saying so."""
        s = self.summary
        if s is None:
            return
        chosen = printer or system_printer()
        if chosen is None:
            if self._on_print_pdf_clicked():
                self._tell(_("No printer is set up on this kiosk. {saved}").format(
                    saved=self.saved.text()))
            return
        name = print_html(*self._document(s), chosen)
        self._tell(_("Sent to the printer {printer}.").format(printer=isolate(name)))

    def _on_print_pdf_clicked(self) -> bool:
        """Save it as a PDF in the visit's folder (wiped when the visit ends)."""
        s = self.summary
        if s is None:
            return False
        path = visit_folder(self.ctx.core.settings.data_dir) / f"coverage-{s.member_id}.pdf"
        self.clear_error()
        try:
            page, title = self._document(s)
            save_html_pdf(page, path, title)
        except OSError as exc:
            self.show_error(_("The PDF could not be saved ({reason}). Check the disk has space, "
                              "then try again.").format(reason=exc.strerror or ""))
            return False
        self._tell(_("Saved as {path}").format(path=str(path)))
        return True

    def _tell(self, text: str) -> None:
        self.saved.setText(text)
        self.saved.setAccessibleName(text)
