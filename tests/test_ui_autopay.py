"""The automatic payments screen through real widgets, against the real sandbox exchange: set
one up and the exchange runs it (the payment then reaches the member's history); offline it is
kept and shown as pending; pause, resume, change and cancel (with a question first); bad input
gets a message under its field and writes nothing; a plan change asks to move or cancel, and
blocks another set-up until answered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from kiosk.domain.account import AutopaySchedule, AutopayTiming, next_run_date
from kiosk.domain.payments import CardAuthorization, TerminalResult
from kiosk.i18n import format_date
from kiosk.services.history import payment_history
from kiosk.services.methods import SaveCard, save_card
from kiosk.services.payments import PaymentContext
from sync.sandbox.server import SandboxProcess
from tests.test_accessibility import undersized, unnamed
from tests.test_ui_flow import Kiosk, exchange, kiosk, sign_in  # noqa: F401
from ui import theme
from ui.layout_check import layout_problems
from ui.screens.autopay import AutopayScreen

MEMBER = "M-100001"  # José Álvarez, Meridian Silver 3000 Copay Plus (the sandbox's demo data)
OLD_PLAN, NEW_PLAN, THIRD_PLAN = "P-MER-SLV-3000", "P-CAS-GLD-750", "P-CAS-PLT-0"


def today(kiosk: Kiosk) -> dt.date:  # noqa: F811
    core = kiosk.core
    return core.clock.now().astimezone(ZoneInfo(core.settings.timezone)).date()


def add_card(kiosk: Kiosk, member_id: str = MEMBER) -> str:  # noqa: F811
    """A card saved as the methods tests save one: the terminal's token, never a number."""
    core, session = kiosk.core, kiosk.ctx.session
    assert session is not None
    ctx = PaymentContext(kiosk_id=core.settings.kiosk_id, site="Test Site", staff=session)
    auth = CardAuthorization(result=TerminalResult.APPROVED, sale_reference="s-autopay",
                             token="tok_visa_4242", brand="visa", last4="4242",
                             auth_code="A1", entry_mode="chip")
    cmd = SaveCard(member_id=member_id, authorization=auth, exp_month=12,
                   exp_year=today(kiosk).year + 3, make_default=True)
    return save_card(cmd, ctx=ctx, vault=core.vault, clock=core.clock).method_id


def open_screen(kiosk: Kiosk, qtbot: QtBot, member_id: str = MEMBER) -> AutopayScreen:  # noqa: F811
    screen = AutopayScreen(kiosk.ctx)
    qtbot.addWidget(screen)
    screen.resize(1280, 800)
    screen.show()
    screen.show_member(member_id)
    qtbot.waitUntil(lambda: screen.view is not None, timeout=5000)
    return screen


@pytest.fixture
def screen(kiosk: Kiosk, qtbot: QtBot) -> AutopayScreen:  # noqa: F811
    sign_in(kiosk, qtbot)
    add_card(kiosk)
    return open_screen(kiosk, qtbot)


def click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(8, 8))


def cells(screen: AutopayScreen, row: int = 0) -> tuple[str, str]:
    payment, state = screen.table.item(row, 0), screen.table.item(row, 1)
    assert payment is not None and state is not None
    return payment.text(), state.text()


def set_up_monthly(screen: AutopayScreen, qtbot: QtBot, day: str = "", amount: str = "") -> None:
    """Fill the monthly form (a day and a fixed amount when given) and press Set up."""
    rows = screen.table.rowCount()
    if day:
        click(qtbot, screen.on_day)
        qtbot.keyClicks(screen.day, day)
    if amount:
        qtbot.keyClicks(screen.fixed_amount, amount)  # typing chooses "a fixed amount"
    click(qtbot, screen.set_up)
    qtbot.waitUntil(lambda: screen.table.rowCount() > rows or screen.error.isVisible(),
                    timeout=5000)


def vault_rows(kiosk: Kiosk, sql: str) -> list[Any]:  # noqa: F811
    return kiosk.core.vault.call(lambda c: [tuple(r) for r in c.execute(sql).fetchall()])


def deliver(kiosk: Kiosk) -> None:  # noqa: F811
    """Sync passes until nothing waits (one row per member per pass keeps their order)."""
    for _ in range(6):
        kiosk.worker.run_once()
        if not vault_rows(kiosk, "SELECT 1 FROM outbox WHERE state IN ('queued', 'sending')"):
            return
    raise AssertionError("the outbox did not drain")


def sandbox(exchange: SandboxProcess, method: str, path: str, **kwargs: Any) -> Any:  # noqa: F811
    answer = requests.request(method, f"{exchange.url}/_sandbox{path}", timeout=5, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def held(exchange: SandboxProcess) -> list[dict[str, Any]]:  # noqa: F811
    autopays = sandbox(exchange, "GET", "/autopays", params={"member_id": MEMBER})["autopays"]
    assert isinstance(autopays, list)
    return autopays


def reread(screen: AutopayScreen, qtbot: QtBot, text: str, column: int = 1) -> None:
    screen.refresh()
    qtbot.waitUntil(lambda: screen.table.rowCount() > 0
                    and text in cells(screen)[column], timeout=5000)


def error_under(screen: AutopayScreen, field: QWidget) -> bool:
    """The message shows, right below `field` (nothing else in between)."""
    if not screen.error.isVisible():
        return False
    top = screen.error.mapTo(screen, QPoint(0, 0)).y()
    bottom = field.mapTo(screen, QPoint(0, field.height())).y()
    return 0 <= top - bottom < field.height()


def test_set_up_online_reaches_the_exchange_which_runs_it(
        kiosk: Kiosk, screen: AutopayScreen, qtbot: QtBot,  # noqa: F811
        exchange: SandboxProcess) -> None:  # noqa: F811
    assert screen.method.currentText() == "Visa card ending in 4242"
    set_up_monthly(screen, qtbot, day="15", amount="25.00")
    assert not screen.error.isVisible(), screen.error.text()
    payment, state = cells(screen)
    assert payment.splitlines()[1:] == ["On day 15 of each month", "$25.00 each month"]
    runs = next_run_date(AutopaySchedule(timing=AutopayTiming.DAY_OF_MONTH, day_of_month=15),
                         today=today(kiosk))
    assert runs is not None
    assert state.splitlines() == ["Active: it runs on its dates", "Waiting for the exchange",
                                  f"Next payment: {format_date(runs, fmt='long')}"]
    [(autopay_id,)] = vault_rows(kiosk, "SELECT autopay_id FROM autopays")

    deliver(kiosk)
    reread(screen, qtbot, "The exchange has it")
    [there] = held(exchange)
    assert (there["autopay_id"], there["plan_id"], there["status"]) == (autopay_id, OLD_PLAN,
                                                                        "active")
    assert there["schedule"]["day_of_month"] == 15 and there["schedule"]["amount_cents"] == 2500
    made = sandbox(exchange, "POST", "/autopays/run", json={"on": runs.isoformat()})["payments"]
    assert [p["credit_cents"] + sum(a["amount_cents"] for a in p["applied"])
            for p in made] == [2500]
    deliver(kiosk)  # the next pull brings the payment into the member's data
    ran = [e for e in payment_history(MEMBER, vault=kiosk.core.vault) if e.kiosk_id == "AUTOPAY"]
    assert [(e.amount.cents, e.payment_id) for e in ran] == [(2500, made[0]["payment_id"])]


def test_offline_it_is_kept_and_shown_as_pending(
        kiosk: Kiosk, screen: AutopayScreen, qtbot: QtBot,  # noqa: F811
        exchange: SandboxProcess) -> None:  # noqa: F811
    exchange.stop()
    set_up_monthly(screen, qtbot)  # on each due date, the full amount due
    payment, state = cells(screen)
    assert payment.splitlines()[1:] == ["On each due date", "The full amount due"]
    assert "Waiting for the exchange" in state
    kiosk.worker.run_once()  # cannot reach the exchange
    assert vault_rows(kiosk, "SELECT state FROM outbox WHERE kind = 'autopay'") == [("queued",)]
    again = open_screen(kiosk, qtbot)  # read afresh: nothing lost
    qtbot.waitUntil(lambda: again.table.rowCount() == 1, timeout=5000)
    assert "Active: it runs on its dates\nWaiting for the exchange" in cells(again)[1]


def test_pause_resume_change_and_cancel_after_a_question(
        kiosk: Kiosk, screen: AutopayScreen, qtbot: QtBot,  # noqa: F811
        exchange: SandboxProcess) -> None:  # noqa: F811
    set_up_monthly(screen, qtbot, day="5")
    screen.table.selectRow(0)
    click(qtbot, screen.pause)
    reread(screen, qtbot, "Paused: it does not run until resumed")
    assert "Next payment: none while paused" in cells(screen)[1]
    assert not screen.pause.isEnabled() and screen.resume.isEnabled()
    click(qtbot, screen.resume)
    reread(screen, qtbot, "Active: it runs on its dates")
    click(qtbot, screen.change)
    assert screen.day.text() == "5" and screen.editing_row.isVisible()
    screen.day.clear()
    qtbot.keyClicks(screen.day, "20")
    click(qtbot, screen.set_up)
    reread(screen, qtbot, "day 20", column=0)
    assert not screen.editing_row.isVisible()

    click(qtbot, screen.cancel)
    assert screen.confirm.isVisible()
    assert screen.confirm_text.text().startswith(
        "Cancel this payment? Visa card ending in 4242: On day 20 of each month.")
    click(qtbot, screen.keep)  # "No, keep it" changes nothing
    assert not screen.confirm.isVisible()
    assert vault_rows(kiosk, "SELECT status FROM autopays") == [("active",)]
    click(qtbot, screen.cancel)
    click(qtbot, screen.yes_cancel)
    reread(screen, qtbot, "Cancelled")
    assert not screen.cancel.isEnabled() and not screen.change.isEnabled()
    deliver(kiosk)
    [there] = held(exchange)
    assert (there["status"], there["schedule"]["day_of_month"]) == ("cancelled", 20)


def test_bad_input_is_explained_under_its_field_and_nothing_is_written(
        kiosk: Kiosk, screen: AutopayScreen, qtbot: QtBot) -> None:  # noqa: F811
    before = vault_rows(kiosk, "SELECT count(*) FROM outbox")
    for day in ("0", "32"):
        screen.day.clear()
        set_up_monthly(screen, qtbot, day=day)
        qtbot.waitUntil(lambda: error_under(screen, screen.day), timeout=5000)
        assert "from 1 to 31" in screen.error.text()
    screen.day.clear()
    qtbot.keyClicks(screen.fixed_amount, "ten dollars")
    set_up_monthly(screen, qtbot, day="10")
    qtbot.waitUntil(lambda: error_under(screen, screen.fixed_amount), timeout=5000)
    assert "dollars and cents" in screen.error.text()
    yesterday = today(kiosk) - dt.timedelta(days=1)
    screen.run_on.setDate(QDate(yesterday.year, yesterday.month, yesterday.day))
    qtbot.keyClicks(screen.one_amount, "40")
    click(qtbot, screen.schedule)
    qtbot.waitUntil(lambda: error_under(screen, screen.run_on), timeout=5000)
    assert "from tomorrow" in screen.error.text()
    assert vault_rows(kiosk, "SELECT count(*) FROM autopays") == [(0,)]
    assert vault_rows(kiosk, "SELECT count(*) FROM outbox") == before


def test_a_scheduled_payment_on_a_later_date(kiosk: Kiosk, screen: AutopayScreen,  # noqa: F811
                                             qtbot: QtBot) -> None:
    later = today(kiosk) + dt.timedelta(days=10)
    screen.run_on.setDate(QDate(later.year, later.month, later.day))
    qtbot.keyClicks(screen.one_amount, "40")
    click(qtbot, screen.schedule)
    qtbot.waitUntil(lambda: screen.table.rowCount() == 1, timeout=5000)
    words = format_date(later, fmt="long")
    assert cells(screen)[0].splitlines()[1:] == [f"Once, on {words}", "Amount: $40.00"]
    assert f"Next payment: {words}" in cells(screen)[1]


def plan_change(exchange: SandboxProcess, plan_id: str, effective: dt.date) -> None:  # noqa: F811
    sandbox(exchange, "POST", "/plan-change", json={
        "member_id": MEMBER, "plan_id": plan_id, "effective": effective.isoformat()})


def test_a_plan_change_asks_to_move_or_cancel_and_blocks_another(
        kiosk: Kiosk, screen: AutopayScreen, qtbot: QtBot,  # noqa: F811
        exchange: SandboxProcess) -> None:  # noqa: F811
    set_up_monthly(screen, qtbot)
    deliver(kiosk)
    [(autopay_id,)] = vault_rows(kiosk, "SELECT autopay_id FROM autopays")
    effective = (today(kiosk).replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    plan_change(exchange, NEW_PLAN, effective)
    deliver(kiosk)
    screen.refresh()
    qtbot.waitUntil(screen.decision.isVisible, timeout=5000)
    text = screen.decision_text.text()
    assert text.startswith(f"The member's plan changes on {format_date(effective, fmt='long')}.")
    old = kiosk.core.vault.call(lambda c: c.execute(
        "SELECT name FROM plans WHERE plan_id = ?", (OLD_PLAN,)).fetchone()[0])
    assert f"still for {old}. Move it to Cascadia Gold 750 Select" in text  # plans by name
    assert f"Decide by {format_date(effective - dt.timedelta(days=1), fmt='long')}." in text
    assert screen.blocked.isVisible() and "First decide" in screen.blocked.text()
    qtbot.wait(50)  # let the page lay itself out around the panel, as it would on screen
    assert unnamed(screen) == [] and layout_problems(screen) == []  # the panel too
    click(qtbot, screen.set_up)  # another one while undecided: refused, with its reason
    qtbot.waitUntil(lambda: error_under(screen, screen.set_up_row), timeout=5000)
    assert "First decide what happens to the automatic payment" in screen.error.text()
    assert vault_rows(kiosk, "SELECT count(*) FROM autopays") == [(1,)]

    click(qtbot, screen.move_plan)
    qtbot.waitUntil(lambda: not screen.decision.isVisible(), timeout=5000)
    deliver(kiosk)
    [there] = held(exchange)
    assert (there["autopay_id"], there["plan_id"], there["plan_changed"], there["status"]) == (
        autopay_id, NEW_PLAN, False, "active")

    plan_change(exchange, THIRD_PLAN, effective)
    deliver(kiosk)
    screen.refresh()
    qtbot.waitUntil(screen.decision.isVisible, timeout=5000)
    click(qtbot, screen.drop_plan)
    assert screen.confirm.isVisible()
    click(qtbot, screen.yes_cancel)
    qtbot.waitUntil(lambda: not screen.decision.isVisible(), timeout=5000)
    reread(screen, qtbot, "Cancelled")
    deliver(kiosk)
    assert [(a["autopay_id"], a["status"]) for a in held(exchange)] == [(autopay_id,
                                                                         "cancelled")]


def test_without_a_saved_method_it_points_to_payment_methods(kiosk: Kiosk,  # noqa: F811
                                                             qtbot: QtBot) -> None:
    sign_in(kiosk, qtbot)
    screen = open_screen(kiosk, qtbot, "M-100003")
    assert screen.no_methods_row.isVisible() and "Payment methods" in screen.no_methods.text()
    assert not screen.set_up.isEnabled() and not screen.schedule.isEnabled()
    assert screen.empty.isVisible() and not screen.table.isVisible()
    with qtbot.waitSignal(screen.sig_methods_requested, timeout=1000):
        click(qtbot, screen.to_methods)


@pytest.fixture
def big_text() -> Iterator[None]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    yield
    theme.apply(app, theme.Appearance())


def test_named_large_enough_and_nothing_cut_off(kiosk: Kiosk, screen: AutopayScreen,  # noqa: F811
                                                qtbot: QtBot, big_text: None) -> None:
    set_up_monthly(screen, qtbot, day="31", amount="187.42")
    screen.table.selectRow(0)
    click(qtbot, screen.cancel)  # the question is on screen too
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
