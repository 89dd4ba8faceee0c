"""The header's delivery status says why sending stopped when waiting will not fix it: an
untrusted connection, no exchange set up, a refused credential, a clock that is off."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from kiosk.i18n import set_language
from sync.worker import Connection, SyncStatus
from ui.errors import reason_text
from ui.header import HeaderBar


def _line(qtbot: QtBot, status: SyncStatus) -> str:
    header = HeaderBar("Eastside Community Center")
    qtbot.addWidget(header)
    header.show_status(status)
    assert header.status_text.text() == header.status_line()
    assert header.status_text.accessibleName().endswith(header.status_line())
    return header.status_line()


def test_offline_says_why_when_it_will_not_fix_itself(qtbot: QtBot) -> None:
    set_language("en")
    plain = _line(qtbot, SyncStatus(connection=Connection.OFFLINE, waiting=2,
                                    reason="connection_error"))
    assert plain.startswith("Offline · 2 waiting")
    untrusted = _line(qtbot, SyncStatus(connection=Connection.OFFLINE, reason="tls_error"))
    assert untrusted.startswith("Offline — the exchange's secure connection is not trusted; "
                                "call support")
    unset = _line(qtbot, SyncStatus(connection=Connection.OFFLINE, reason="not_configured"))
    assert "no exchange address is set up" in unset


def test_paused_by_a_clock_that_is_off_says_to_set_it(qtbot: QtBot) -> None:
    set_language("en")
    clock = _line(qtbot, SyncStatus(connection=Connection.PAUSED, waiting=1,
                                    reason="signature_expired"))
    assert "clock is more than 5 minutes off" in clock and "1 waiting" in clock
    refused = _line(qtbot, SyncStatus(connection=Connection.PAUSED, reason="device_unknown"))
    assert refused.startswith("Sending paused — call a supervisor")


def test_the_status_is_translated(qtbot: QtBot) -> None:
    set_language("es")
    try:
        line = _line(qtbot, SyncStatus(connection=Connection.OFFLINE, reason="tls_error"))
        assert "exchange" not in line and line != "Offline"
    finally:
        set_language("en")


def test_queue_reasons_for_transport_and_credential_refusals() -> None:
    set_language("en")
    assert "could not be trusted" in reason_text("tls_error")
    assert "clock is wrong" in reason_text("signature_expired")
    for code in ("signature_invalid", "signature_missing", "device_unknown"):
        assert "A supervisor must renew it" in reason_text(code)
