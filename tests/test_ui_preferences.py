"""The messages and reminders screen through real widgets against the real sandbox exchange:
the choices made on the screen reach the exchange and its reminder run follows them (channel,
language, days); offline they wait and show as waiting to be sent; a channel the member cannot
be reached by is explained under its row and nothing is saved; the summary sentence reads
right for one day, several days and the due date itself."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QVBoxLayout
from pytestqt.qtbot import QtBot

from kiosk.domain.account import Channel, MessageKind
from kiosk.i18n import set_language
from sync.sandbox.server import SandboxProcess
from tests.test_accessibility import unnamed
from tests.test_ui_flow import Kiosk, exchange, kiosk, sign_in  # noqa: F401
from ui import theme
from ui.layout_check import layout_problems
from ui.screens.preferences import PreferencesScreen, reminder_summary

MEMBER = "M-100001"


@pytest.fixture
def screen(kiosk: Kiosk, qtbot: QtBot) -> Iterator[PreferencesScreen]:  # noqa: F811
    sign_in(kiosk, qtbot)
    shown = PreferencesScreen(kiosk.ctx)
    qtbot.addWidget(shown)
    shown.resize(1280, 800)
    shown.show()
    yield shown
    kiosk.runner.wait_all()


def load(screen: PreferencesScreen, qtbot: QtBot, member: str = MEMBER) -> None:
    screen.show_member(member)
    qtbot.waitUntil(lambda: screen.view is not None, timeout=5000)


def choose(combo: Any, value: object) -> None:
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)


def tick(qtbot: QtBot, screen: PreferencesScreen, wanted: set[int]) -> None:
    """Click the reminder days so that exactly `wanted` are ticked (adding any missing)."""
    for days in wanted - set(screen.days):
        choose(screen.another, days)
        qtbot.mouseClick(screen.add_day, Qt.MouseButton.LeftButton)
    for days, box in screen.days.items():
        if box.isChecked() != (days in wanted):
            qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert set(screen.chosen_days()) == wanted


def save(screen: PreferencesScreen, qtbot: QtBot) -> None:
    qtbot.mouseClick(screen.save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.notice.isVisible() or screen.error.isVisible(),
                    timeout=5000)
    screen.ctx.runner.wait_all()
    QApplication.processEvents()


def outbox(kiosk: Kiosk) -> list[dict[str, Any]]:  # noqa: F811
    rows = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT kind, state, payload FROM outbox ORDER BY id").fetchall())
    return [{**dict(r), "payload": json.loads(bytes(r["payload"]))} for r in rows]


def exchange_db(exchange: SandboxProcess) -> sqlite3.Connection:  # noqa: F811
    return sqlite3.connect(f"file:{exchange.db_path}?mode=ro", uri=True)


def held_at_exchange(exchange: SandboxProcess, member: str) -> dict[str, Any]:  # noqa: F811
    with exchange_db(exchange) as conn:
        row = conn.execute("SELECT data FROM members WHERE member_id = ?", (member,)).fetchone()
    return dict(json.loads(row[0]))


def run_reminders(exchange: SandboxProcess, on: dt.date) -> list[dict[str, Any]]:  # noqa: F811
    answer = requests.post(f"{exchange.url}/_sandbox/reminders/run", timeout=5,
                           json={"on": on.isoformat()})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["reminders"])


def test_reminders_follow_the_preferences_chosen_on_the_screen(
        screen: PreferencesScreen, qtbot: QtBot, kiosk: Kiosk,  # noqa: F811
        exchange: SandboxProcess) -> None:  # noqa: F811
    load(screen, qtbot)
    reminders = screen.rows[MessageKind.PAYMENT_REMINDERS]
    choose(reminders.channel, Channel.SMS.value)
    choose(reminders.language, "vi")
    choose(screen.rows[MessageKind.RECEIPTS].channel, Channel.MAIL.value)
    tick(qtbot, screen, {14, 5, 3})  # 5 is not a usual choice: added from the list
    flow = screen.days_flow
    assert [flow.itemAt(i).widget().text() for i in range(flow.count())] == [
        "14 days before", "7 days before", "5 days before", "3 days before", "1 day before",
        "On the due date"]  # in order, the added day among the others
    assert screen.summary.text() == ("Reminders by text message 14, 5, and 3 days before "
                                     "each due date, in Vietnamese.")
    save(screen, qtbot)
    assert not screen.error.isVisible(), screen.error.text()
    assert "exchange" in screen.notice.text()
    qtbot.waitUntil(screen.pending.isVisible, timeout=5000)
    [row] = outbox(kiosk)
    assert (row["kind"], row["state"]) == ("preferences", "queued")

    kiosk.worker.run_once()

    assert outbox(kiosk)[0]["state"] == "confirmed"
    held = held_at_exchange(exchange, MEMBER)
    assert held["preferences"]["reminder_days"] == [14, 5, 3]
    assert held["preferences"]["messages"]["payment_reminders"] == {"channel": "sms",
                                                                    "language": "vi"}
    assert held["preferences"]["messages"]["receipts"]["channel"] == "mail"
    with exchange_db(exchange) as conn:
        due = dt.date.fromisoformat(conn.execute(
            "SELECT max(due_date) FROM invoices WHERE member_id = ? AND status = 'open'",
            (MEMBER,)).fetchone()[0])
    sent = {days: [r for r in run_reminders(exchange, due - dt.timedelta(days))
                   if r["member_id"] == MEMBER and r["due_date"] == due.isoformat()]
            for days in (14, 7, 5, 3, 1, 0)}
    assert {days for days, made in sent.items() if made} == {14, 5, 3}
    assert {(r["channel"], r["language"], r["to_address"]) for made in sent.values()
            for r in made} == {("sms", "vi", held["phone"])}
    screen.refresh()
    qtbot.waitUntil(lambda: not screen.pending.isVisible(), timeout=5000)


def test_choices_made_offline_wait_and_show_as_waiting(
        screen: PreferencesScreen, qtbot: QtBot, kiosk: Kiosk,  # noqa: F811
        exchange: SandboxProcess) -> None:  # noqa: F811
    exchange.stop()
    load(screen, qtbot)
    assert screen.suggested.isVisible() and not screen.pending.isVisible()
    choose(screen.rows[MessageKind.BILLS].channel, Channel.MAIL.value)
    tick(qtbot, screen, {7, 0})
    save(screen, qtbot)
    qtbot.waitUntil(screen.pending.isVisible, timeout=5000)
    kiosk.worker.run_once()  # nobody answers
    assert [(r["kind"], r["state"]) for r in outbox(kiosk)] == [("preferences", "queued")]
    screen.clear()
    load(screen, qtbot)  # later in the visit: still there, still waiting
    assert screen.pending.isVisible() and not screen.suggested.isVisible()
    assert screen.rows[MessageKind.BILLS].channel.currentData() == "mail"
    assert screen.chosen_days() == [7, 0]
    assert "7 days before each due date, and on the due date" in screen.summary.text()


def test_a_channel_the_member_cannot_be_reached_by_is_explained_under_its_row(
        screen: PreferencesScreen, qtbot: QtBot, kiosk: Kiosk,  # noqa: F811
        exchange: SandboxProcess) -> None:  # noqa: F811
    member = "M-100002"
    answer = requests.post(f"{exchange.url}/_sandbox/profile-edits", timeout=5,
                           json={"member_id": member, "email": ""})  # removed on the website
    assert answer.status_code == 200, answer.text
    kiosk.worker.run_once()
    load(screen, qtbot, member)
    bills = screen.rows[MessageKind.BILLS]
    assert bills.channel.currentData() == "sms"  # the suggestion avoids the missing email
    choose(bills.channel, Channel.EMAIL.value)
    save(screen, qtbot)
    assert screen.error.isVisible() and not screen.notice.isVisible()
    assert "no email address on file" in screen.error.text()
    assert "Contact details" in screen.error.text()
    box = bills.layout()
    assert isinstance(box, QVBoxLayout)
    assert box.indexOf(screen.error) == box.indexOf(bills.controls) + 1  # under that row
    assert outbox(kiosk) == []
    assert kiosk.core.vault.call(lambda c: c.execute(
        "SELECT count(*) FROM preference_changes").fetchone()[0]) == 0

    tick(qtbot, screen, {14, 7, 5, 3, 1, 0})  # one too many, and the email still missing
    choose(bills.channel, Channel.SMS.value)
    save(screen, qtbot)
    assert "at most five" in screen.error.text()
    assert screen.layout_.indexOf(screen.error) == screen.layout_.indexOf(screen.days_holder) + 1
    assert outbox(kiosk) == []


def test_the_summary_reads_right() -> None:
    set_language("en")
    assert reminder_summary(Channel.EMAIL, "es", [1]) == (
        "Reminders by email 1 day before each due date, in Spanish.")
    assert reminder_summary(Channel.SMS, "es", [7, 3, 1]) == (
        "Reminders by text message 7, 3, and 1 days before each due date, in Spanish.")
    assert reminder_summary(Channel.MAIL, "en", [0]) == (
        "Reminders by mail on each due date, in English.")
    assert reminder_summary(Channel.EMAIL, "zh_Hant", [2, 0]) == (
        "Reminders by email 2 days before each due date, and on the due date, in "
        "Traditional Chinese.")
    assert reminder_summary(Channel.EMAIL, "en", []) == "No payment reminders are sent."


def test_every_control_is_named_and_nothing_is_cut_off(screen: PreferencesScreen,
                                                       qtbot: QtBot) -> None:
    load(screen, qtbot)
    tick(qtbot, screen, {21, 14, 7, 1, 0})
    choose(screen.rows[MessageKind.NOTICES].language, "ht")  # a long language name
    assert unnamed(screen) == []
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    problems = []
    try:
        for scale in (1.0, 2.0):
            theme.apply(app, theme.Appearance(scale=scale))
            for width, height in ((1024, 768), (1280, 800), (1920, 1080)):
                screen.resize(width, height)
                app.processEvents()
                problems += [f"{width}x{height} {scale}: {p}" for p in layout_problems(screen)]
    finally:
        theme.apply(app, theme.Appearance())
    assert problems == []
