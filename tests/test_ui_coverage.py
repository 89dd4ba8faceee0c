"""The plan and coverage page through real widgets, with the sandbox's demo data pulled into a
real vault: the figures are the cache's, the member's standing is the member screen's, fields
an older exchange leaves out read "not known yet", and Print saves a PDF in the member's
language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from kiosk.domain.money import Money
from kiosk.i18n import in_language
from kiosk.services.members import get_account
from kiosk.services.profile import Copay, CoverageSummary, CoveredPerson, coverage_summary
from kiosk.services.standing import standing_of
from tests.test_accessibility import undersized, unnamed
from tests.test_ui_flow import Kiosk, exchange, kiosk, sign_in  # noqa: F401
from ui import theme
from ui.layout_check import layout_problems
from ui.screens.coverage import (
    CoverageScreen,
    copay_rows,
    coverage_html,
    summary_rows,
)
from ui.standing_text import notice_text

MEMBER = "M-100001"  # José Álvarez: Meridian Silver 3000 Copay Plus, gross 524.18, APTC 336.76


def open_screen(kiosk: Kiosk, qtbot: QtBot, member_id: str = MEMBER) -> CoverageScreen:  # noqa: F811
    screen = CoverageScreen(kiosk.ctx)
    qtbot.addWidget(screen)
    screen.resize(1280, 800)
    screen.show()
    screen.show_member(member_id)
    qtbot.waitUntil(lambda: screen.summary is not None, timeout=5000)
    return screen


def shown(screen: CoverageScreen) -> list[str]:
    """What a screen reader hears from the page's visible labels, in order."""
    return [w.accessibleName() for w in screen.content.findChildren(QLabel)
            if w.isVisibleTo(screen) and w.accessibleName()]


def test_the_summary_shows_the_plan_as_the_cache_has_it(kiosk: Kiosk,  # noqa: F811
                                                        qtbot: QtBot) -> None:
    screen = open_screen(kiosk, qtbot)
    texts = shown(screen)
    held = coverage_summary(MEMBER, vault=kiosk.core.vault)
    for name, value in summary_rows(held) + copay_rows(held):
        assert f"{name}: {value}" in texts
    # Literals from the sandbox's demo data, so a wrong field cannot pass unnoticed.
    for expected in ("Plan: Meridian Silver 3000 Copay Plus",
                     "Insurance company: Meridian Mutual Health", "Metal level: Silver",
                     "Monthly premium before the tax credit: $524.18",
                     "Tax credit each month (APTC): $336.76",
                     "The member pays each month: $187.42", "Deductible: $3,000.00",
                     "Out-of-pocket maximum: $7,800.00", "Primary care visit: $40.00 copay",
                     "Emergency room: 30% of the cost after the deductible",
                     "You pay $187.42 a month after a tax credit of $336.76.",
                     "\u2022 José Álvarez (the member)"):
        assert expected in texts
    core = kiosk.core
    today = core.clock.now().astimezone(ZoneInfo(core.settings.timezone)).date()
    standing = standing_of(get_account(MEMBER, vault=core.vault), today=today)
    assert screen.notice.text() == notice_text(standing)  # the member screen's sentence
    assert screen.state.text().startswith("Coverage: In grace")  # José is past due
    screen.clear()
    assert not [t for t in shown(screen) if "José" in t or "$" in t]  # nothing stays behind


def test_fields_an_older_exchange_leaves_out_read_not_known_yet(kiosk: Kiosk,  # noqa: F811
                                                                qtbot: QtBot) -> None:
    def as_older_exchange(conn: object) -> None:  # contract v1.0 had none of these fields
        conn.execute("UPDATE plans SET copays = '[]', issuer = ''")  # type: ignore[attr-defined]
        conn.execute("UPDATE members SET covered_people = '[]', "  # type: ignore[attr-defined]
                     "coverage_end = NULL, plan_effective = NULL")

    kiosk.core.vault.write(as_older_exchange)
    texts = shown(open_screen(kiosk, qtbot))
    for expected in ("Insurance company: not known yet", "Copays: not known yet",
                     "\u2022 José Álvarez (the member)"):
        assert expected in texts
    assert any(t.startswith("Coverage dates: From ") and
               t.endswith("; the end date is not known yet") for t in texts)
    assert not any(t.endswith(": ") for t in texts)  # never a blank value


def test_print_and_save_as_pdf_in_the_members_language(kiosk: Kiosk,  # noqa: F811
                                                        qtbot: QtBot) -> None:
    screen = open_screen(kiosk, qtbot)
    kiosk.ctx.member_language = "es"  # José reads Spanish; the navigator keeps English
    spanish = "Resumen del plan y la cobertura".encode("utf-16-be")  # the document's title
    pdf = kiosk.core.settings.data_dir / "visit-tmp" / f"coverage-{MEMBER}.pdf"
    qtbot.mouseClick(screen.print_pdf, Qt.MouseButton.LeftButton, pos=QPoint(8, 8))
    assert screen.saved.text() == f"Saved as {pdf}"
    content = pdf.read_bytes()
    assert content.startswith(b"%PDF") and len(content) > 1000 and spanish in content
    pdf.unlink()
    qtbot.mouseClick(screen.print_paper, Qt.MouseButton.LeftButton, pos=QPoint(8, 8))
    assert screen.saved.text() == f"No printer is set up on this kiosk. Saved as {pdf}"
    assert pdf.read_bytes().startswith(b"%PDF")  # offscreen there is no printer
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)  # a printer that writes a file
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printed = kiosk.core.settings.data_dir / "printed.pdf"
    printer.setOutputFileName(str(printed))
    screen._on_print_clicked(printer)
    assert screen.saved.text().startswith("Sent to the printer")
    assert printed.read_bytes().startswith(b"%PDF") and spanish in printed.read_bytes()
    assert screen.print_pdf.text() == "Save as PDF"  # the page itself stays English


def summary(**changes: object) -> CoverageSummary:
    values: dict[str, object] = dict(
        member_id="M-1", plan_id="P-1", plan_name="Meridian Silver 3000 Copay Plus",
        issuer="Meridian Mutual Health", metal_level="Silver",
        people_covered=(CoveredPerson(first_name="Rosa", last_name="Álvarez",
                                      relationship="spouse"),),
        gross_premium=Money(cents=52418), tax_credit=Money(cents=33676),
        member_pays=Money(cents=18742), deductible=Money(cents=300000),
        oop_max=Money(cents=780000),
        copays=(Copay(service="primary_care", copay=Money(cents=4000), coinsurance_percent=None,
                      after_deductible=False),),
        coverage_start=dt.date(2026, 1, 1), coverage_end=dt.date(2026, 12, 31),
        plan_start=dt.date(2026, 1, 1))
    values.update(changes)
    return CoverageSummary(**values)  # type: ignore[arg-type]


def test_the_printed_summary_in_spanish() -> None:
    with in_language("es"):
        page = coverage_html(summary(), "Pague $10.00")
    assert page.startswith("<h1>Resumen del plan y la cobertura</h1>")
    assert "1 de enero de 2026" in page and "31 de diciembre de 2026" in page  # dates in words
    assert "Rosa Álvarez (cónyuge)" in page and "Plata" in page
    assert "Pague $10.00" in page
    english = coverage_html(summary())
    assert english.startswith("<h1>Plan and coverage summary</h1>")
    assert "You pay $187.42 a month after a tax credit of $336.76." in english


def test_the_printed_summary_escapes_what_the_exchange_sent() -> None:
    page = coverage_html(summary(plan_name="Silver <b>Plus</b> & more"))
    assert "Silver &lt;b&gt;Plus&lt;/b&gt; &amp; more" in page
    assert "You pay $187.42 a month. There is no tax credit." in coverage_html(
        summary(tax_credit=Money(cents=0)))


@pytest.fixture
def big_text() -> Iterator[None]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    yield
    theme.apply(app, theme.Appearance())


def test_named_large_enough_and_nothing_cut_off(kiosk: Kiosk, qtbot: QtBot,  # noqa: F811
                                                big_text: None) -> None:
    sign_in(kiosk, qtbot)
    screen = open_screen(kiosk, qtbot, "M-100004")  # two people or more, a zero premium
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    found = []
    for scale in (1.0, 2.0):
        theme.apply(app, theme.Appearance(scale=scale))
        for width, height in ((1024, 768), (1280, 800), (1920, 1080)):
            screen.resize(width, height)
            app.processEvents()
            found += [f"{width}x{height}@{scale}: {p}" for p in layout_problems(screen)]
            assert unnamed(screen) == []
            assert undersized(screen) == [], (width, height, scale)
    assert found == []
