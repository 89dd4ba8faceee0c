"""The contact details screen through real widgets against the real sandbox exchange: an edit
made online reaches the exchange, one made offline waits and shows as waiting to be sent, a bad
ZIP code, phone or email is explained under its field and nothing is written, and a conflict
with a change made at the exchange shows both values until the navigator chooses one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFormLayout, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from kiosk.domain.account import ProfileField
from sync.sandbox.server import SandboxProcess
from tests.test_accessibility import unnamed
from tests.test_ui_flow import Kiosk, exchange, kiosk, sign_in  # noqa: F401
from ui import theme
from ui.layout_check import layout_problems
from ui.screens.profile import ProfileScreen

MEMBER = "M-100001"


@pytest.fixture
def screen(kiosk: Kiosk, qtbot: QtBot) -> Iterator[ProfileScreen]:  # noqa: F811
    sign_in(kiosk, qtbot)
    shown = ProfileScreen(kiosk.ctx)
    qtbot.addWidget(shown)
    shown.resize(1280, 800)
    shown.show()
    yield shown
    kiosk.runner.wait_all()


def load(screen: ProfileScreen, qtbot: QtBot, member: str = MEMBER) -> None:
    screen.show_member(member)
    qtbot.waitUntil(lambda: screen.profile is not None, timeout=5000)


def retype(qtbot: QtBot, field: QLineEdit, text: str) -> None:
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, text)


def save(screen: ProfileScreen, qtbot: QtBot) -> None:
    qtbot.mouseClick(screen.save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.notice.isVisible() or screen.error.isVisible(),
                    timeout=5000)
    screen.ctx.runner.wait_all()
    QApplication.processEvents()  # the re-read after saving


def outbox(kiosk: Kiosk) -> list[dict[str, Any]]:  # noqa: F811
    rows = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT id, kind, state, payload FROM outbox ORDER BY id").fetchall())
    return [{**dict(r), "payload": json.loads(bytes(r["payload"]))} for r in rows]


def held_at_exchange(exchange: SandboxProcess, member: str) -> dict[str, Any]:  # noqa: F811
    """The member as the sandbox exchange stores them (its own database file)."""
    with sqlite3.connect(f"file:{exchange.db_path}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT data FROM members WHERE member_id = ?", (member,)).fetchone()
    return dict(json.loads(row[0]))


def shown_pending(screen: ProfileScreen) -> set[ProfileField]:
    return {field for field, marker in screen.pending.items() if marker.isVisibleTo(screen)}


def test_an_edit_made_online_reaches_the_exchange(screen: ProfileScreen, qtbot: QtBot,
                                                  kiosk: Kiosk,  # noqa: F811
                                                  exchange: SandboxProcess) -> None:  # noqa: F811
    load(screen, qtbot)
    assert screen.line1.text() and screen.state.currentData()  # the demo member's address
    assert shown_pending(screen) == set()
    retype(qtbot, screen.line1, "742 Evergreen Terrace")
    retype(qtbot, screen.zip_code, "60601 1234")
    retype(qtbot, screen.phone, "(312) 555-0142")
    retype(qtbot, screen.email, "Jose.Alvarez@Example.ORG")
    save(screen, qtbot)
    assert not screen.error.isVisible(), screen.error.text()
    assert "exchange" in screen.notice.text() and "connection returns" in screen.notice.text()
    qtbot.waitUntil(lambda: shown_pending(screen) == set(ProfileField), timeout=5000)
    assert screen.zip_code.text() == "60601-1234"  # as the service normalized it
    [row] = outbox(kiosk)
    assert (row["kind"], row["state"]) == ("profile_change", "queued")

    kiosk.worker.run_once()

    assert outbox(kiosk)[0]["state"] == "confirmed"
    held = held_at_exchange(exchange, MEMBER)
    assert (held["phone"], held["email"]) == ("+13125550142", "Jose.Alvarez@example.org")
    assert (held["address"]["line1"], held["address"]["zip"]) == ("742 Evergreen Terrace",
                                                                  "60601-1234")
    screen.refresh()
    qtbot.waitUntil(lambda: shown_pending(screen) == set(), timeout=5000)


def test_an_edit_made_offline_waits_and_shows_as_waiting(screen: ProfileScreen, qtbot: QtBot,
                                                         kiosk: Kiosk,  # noqa: F811
                                                         exchange: SandboxProcess  # noqa: F811
                                                         ) -> None:
    exchange.stop()
    load(screen, qtbot)
    retype(qtbot, screen.phone, "312 555 0199")
    save(screen, qtbot)
    qtbot.waitUntil(lambda: shown_pending(screen) == {ProfileField.PHONE}, timeout=5000)
    [row] = outbox(kiosk)
    assert set(row["payload"]["changes"]) == {"phone"}  # only what changed is sent
    kiosk.worker.run_once()  # nobody answers
    assert outbox(kiosk)[0]["state"] == "queued"
    screen.clear()
    assert screen.phone.text() == "" and shown_pending(screen) == set()
    load(screen, qtbot)  # shown again later in the visit: the change is still there
    assert screen.phone.text() == "(312) 555-0199"
    assert shown_pending(screen) == {ProfileField.PHONE}


def row_of(widget: QWidget) -> tuple[QFormLayout, int]:
    form = next(f for f in widget.parentWidget().findChildren(QFormLayout)
                if f.indexOf(widget) >= 0)
    return form, form.getWidgetPosition(widget)[0]


BAD_INPUT = [("zip_code", "6060", "ZIP code as 5 digits"),
             ("phone", "555-01", "phone number is not valid"),
             ("email", "jose@example", "email address does not look right")]


def test_bad_input_is_explained_under_its_field_and_nothing_is_written(
        screen: ProfileScreen, qtbot: QtBot, kiosk: Kiosk) -> None:  # noqa: F811
    load(screen, qtbot)
    for field, typed, words in BAD_INPUT:
        widget = getattr(screen, field)
        before = widget.text()
        retype(qtbot, widget, typed)
        qtbot.mouseClick(screen.save, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda w=words: w in screen.error.text(), timeout=5000)
        assert screen.error.isVisible()
        form, row = row_of(widget)
        assert form.getWidgetPosition(screen.error)[0] == row + 1, field  # right under it
        assert widget.hasFocus()
        assert not screen.notice.isVisible()
        retype(qtbot, widget, before)
    assert outbox(kiosk) == []
    assert kiosk.core.vault.call(lambda c: c.execute(
        "SELECT count(*) FROM profile_changes").fetchone()[0]) == 0


def make_conflict(screen: ProfileScreen, qtbot: QtBot, kiosk: Kiosk,  # noqa: F811
                  exchange: SandboxProcess) -> None:  # noqa: F811
    """The member changes the phone on the website, then again here before the kiosk heard."""
    answer = requests.post(f"{exchange.url}/_sandbox/profile-edits", timeout=5,
                           json={"member_id": MEMBER, "phone": "+13125550177"})
    assert answer.status_code == 200, answer.text
    load(screen, qtbot)
    retype(qtbot, screen.phone, "312-555-0188")
    save(screen, qtbot)
    kiosk.worker.run_once()
    assert outbox(kiosk)[0]["state"] == "needs_attention"
    screen.refresh()
    qtbot.waitUntil(lambda: len(screen.panels) == 1, timeout=5000)


@pytest.mark.parametrize("keep", ["kiosk", "exchange"])
def test_a_conflict_shows_both_values_and_the_navigator_chooses(
        screen: ProfileScreen, qtbot: QtBot, kiosk: Kiosk,  # noqa: F811
        exchange: SandboxProcess, keep: str) -> None:  # noqa: F811
    make_conflict(screen, qtbot, kiosk, exchange)
    [panel] = screen.panels
    assert panel.isVisible()
    mine, theirs = panel.choices[ProfileField.PHONE]
    assert mine.accessibleName() == "Phone at this kiosk: (312) 555-0188"
    assert theirs.accessibleName() == "Phone at the exchange: (312) 555-0177"
    texts = {w.text() for w in panel.findChildren(QWidget) if hasattr(w, "text")}
    assert {"(312) 555-0188", "(312) 555-0177", "At this kiosk", "At the exchange"} <= texts
    assert not mine.isChecked() and not theirs.isChecked()  # nothing is chosen for them
    assert unnamed(screen) == []

    qtbot.mouseClick(panel.apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(screen.error.isVisible, timeout=5000)
    assert "Choose which value to keep" in screen.error.text()
    assert len(outbox(kiosk)) == 1  # nothing decided, nothing queued

    qtbot.mouseClick(mine if keep == "kiosk" else theirs, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.panels == [] and screen.notice.isVisible(), timeout=5000)
    kiosk.runner.wait_all()
    qtbot.waitUntil(lambda: screen.profile is not None and screen.profile.pending
                    == ({ProfileField.PHONE} if keep == "kiosk" else set()), timeout=5000)
    rows = outbox(kiosk)
    assert rows[0]["state"] == "declined"  # dealt with: no longer needs attention
    if keep == "exchange":
        assert len(rows) == 1 and "Nothing more" in screen.notice.text()
        assert screen.phone.text() == "(312) 555-0177" and shown_pending(screen) == set()
        return
    [_first, again] = rows
    assert again["state"] == "queued"
    assert again["payload"]["changes"] == {"phone": {"from": "+13125550177",
                                                     "to": "+13125550188"}}
    assert screen.phone.text() == "(312) 555-0188"
    assert shown_pending(screen) == {ProfileField.PHONE}
    kiosk.worker.run_once()
    assert outbox(kiosk)[1]["state"] == "confirmed"
    assert held_at_exchange(exchange, MEMBER)["phone"] == "+13125550188"


def test_every_control_is_named_and_nothing_is_cut_off(screen: ProfileScreen, qtbot: QtBot,
                                                       kiosk: Kiosk,  # noqa: F811
                                                       exchange: SandboxProcess  # noqa: F811
                                                       ) -> None:
    make_conflict(screen, qtbot, kiosk, exchange)  # the panel is the widest part
    retype(qtbot, screen.email, "jose.new@example.org")
    save(screen, qtbot)
    qtbot.waitUntil(lambda: ProfileField.EMAIL in shown_pending(screen), timeout=5000)
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
