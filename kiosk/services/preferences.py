"""Communication preferences: for each kind of message (bills, payment reminders, receipts,
notices) the channel and the language, and the reminder days before each due date.

A change replaces the member's whole set: one vault transaction writes a
`preference_changes` row, an outbox row (kind `preferences`, `POST /v1/preferences`) and an
audit entry. The latest change still waiting is what the screen shows, marked pending; the
exchange's set arrives with the member record (field `preferences`) and in its answer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.clock import Clock, to_iso
from kiosk.domain.account import (
    DEFAULT_REMINDER_DAYS,
    ChangeState,
    Channel,
    ContactOnFile,
    MessageKind,
    MessagePreference,
    Preferences,
    check_preferences,
)
from kiosk.outbox import OutboxItem
from kiosk.services.cache import BadChangeError
from kiosk.services.payments import PaymentContext
from kiosk.services.profile import AccountChange, current_profile, member_row, queue_change
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

PREFERENCES_ENDPOINT = "/v1/preferences"
OUTBOX_KIND = "preferences"


@dataclass(frozen=True, slots=True, kw_only=True)
class PreferencesView:
    """What the preferences screen shows."""

    member_id: str
    preferences: Preferences
    chosen: bool  # False: nothing chosen yet; `preferences` are the suggested defaults
    pending: bool  # a change made here waits for the exchange


@dataclass(frozen=True, slots=True, kw_only=True)
class PreferencesChanged:
    change_id: str
    member_id: str
    outbox_id: int
    idempotency_key: str


def suggested(conn: Any, member_id: str) -> Preferences:
    """Defaults to offer before the member chose: email if on file, else text, else mail, in
    the member's preferred language, reminders 7, 3 and 1 days before."""
    shown, row = current_profile(conn, member_id), member_row(conn, member_id)
    channel = (Channel.EMAIL if shown.email else Channel.SMS if shown.phone else Channel.MAIL)
    return Preferences(messages=tuple(
        MessagePreference(kind=kind, channel=channel, language=row["preferred_language"])
        for kind in MessageKind), reminder_days=DEFAULT_REMINDER_DAYS)


def _latest_pending(conn: Any, member_id: str) -> Preferences | None:
    row = conn.execute("SELECT preferences FROM preference_changes WHERE member_id = ?"
                       " AND state = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                       (member_id, ChangeState.PENDING)).fetchone()
    return Preferences.from_data(json.loads(row["preferences"])) if row else None


def preferences_of(conn: Any, member_id: str) -> PreferencesView:
    """The member's preferences inside a transaction (also for the confirmation path)."""
    pending = _latest_pending(conn, member_id)
    if pending is not None:
        return PreferencesView(member_id=member_id, preferences=pending, chosen=True,
                               pending=True)
    stored = member_row(conn, member_id)["preferences"]
    held = Preferences.from_data(json.loads(stored)) if stored else None
    if held is not None:
        return PreferencesView(member_id=member_id, preferences=held, chosen=True,
                               pending=False)
    return PreferencesView(member_id=member_id, preferences=suggested(conn, member_id),
                           chosen=False, pending=False)


def current_preferences(member_id: str, *, vault: Vault) -> PreferencesView:
    """The member's preferences: a change waiting here first, then the exchange's, then the
    suggested defaults. NotFoundError `member_unknown`."""
    return vault.call(lambda conn: preferences_of(conn, member_id))


def _on_file(conn: Any, member_id: str) -> ContactOnFile:
    shown = current_profile(conn, member_id)
    return ContactOnFile(email=bool(shown.email), phone=bool(shown.phone),
                         address=shown.address is not None)


def set_preferences(member_id: str, preferences: Preferences, *, ctx: PaymentContext,
                    vault: Vault, clock: Clock,
                    new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> PreferencesChanged:
    """Replace the member's preferences; works offline, pending until confirmed.

    Refuses (nothing written): NotFoundError `member_unknown`; ValidationError
    `preference_kinds_incomplete`, `channel_needs_email`, `channel_needs_phone`,
    `channel_needs_address` (the contact detail, pending ones included, is not on file),
    `language_invalid`, `reminder_day_invalid`, `reminders_too_many`.
    """
    now: dt.datetime = clock.now()

    def change(conn: Any) -> PreferencesChanged:
        checked = check_preferences(preferences, on_file=_on_file(conn, member_id))
        change_id = str(new_id())
        conn.execute("INSERT INTO preference_changes (change_id, member_id, preferences,"
                     " created_at, navigator) VALUES (?,?,?,?,?)",
                     (change_id, member_id, json.dumps(checked.as_data()),
                      to_iso(now), ctx.staff.username))
        item = queue_change(conn, AccountChange(
            kind=OUTBOX_KIND, endpoint=PREFERENCES_ENDPOINT, member_id=member_id,
            subject_id=change_id, action="preferences.change",
            body={"change_id": change_id, "preferences": checked.as_data()},
            ctx=ctx, now=now, new_key=new_id))
        return PreferencesChanged(change_id=change_id, member_id=member_id, outbox_id=item.id,
                                  idempotency_key=item.idempotency_key)

    return vault.write(change)


# -- delivery answers (registered in kiosk.services.delivery) ---------------------------------

def on_change_confirmed(conn: Any, item: OutboxItem, answer: Any, now: str) -> None:
    """The exchange holds the new set: store it on the member."""
    held = answer.get("preferences") if isinstance(answer, dict) else None
    if Preferences.from_data(held) is None:
        raise BadChangeError(field="preferences")
    conn.execute("UPDATE members SET preferences = ? WHERE member_id = ?",
                 (json.dumps(held), item.member_id))
    conn.execute("UPDATE preference_changes SET state = ? WHERE change_id = ?",
                 (ChangeState.CONFIRMED, item.subject_id))


def on_change_refused(conn: Any, item: OutboxItem) -> None:
    conn.execute("UPDATE preference_changes SET state = ? WHERE change_id = ?",
                 (ChangeState.REFUSED, item.subject_id))
    log.warning("the exchange refused preferences change %s", item.subject_id)
