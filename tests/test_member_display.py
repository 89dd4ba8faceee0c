"""The member's display shows the amount, method and status in the member's language, large,
and follows the visit."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from kiosk.domain.money import Money
from ui.member_display import MemberDisplay, MemberView, second_screen_geometry


def test_it_shows_the_payment_in_the_members_language(qtbot: QtBot) -> None:
    display = MemberDisplay()
    qtbot.addWidget(display)
    display.show_view(MemberView(language="es", amount=Money(cents=4250),
                                 method="Visa •••• 1111", status="pending"))
    assert display.amount.text() == "$42.50"
    assert display.title.text() == "Pago aceptado — gracias"
    assert display.status.text() == "Pendiente — el Mercado aún no lo ha confirmado"
    assert display.method.text() == "Visa •••• 1111"
    display.show_view(MemberView(language="en", status="welcome"))
    assert display.title.text() == "Welcome" and display.amount.text() == ""


def test_with_one_screen_there_is_no_second_display() -> None:
    assert second_screen_geometry() is None  # offscreen has one screen
