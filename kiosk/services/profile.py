"""The member's contact details (address, phone, email) and the plan and coverage summary.

A change is one vault transaction: a `profile_changes` row, an outbox row (kind
`profile_change`, `POST /v1/profile-changes`) and an audit entry. The payload names, for each
changed field, the value it started from and the new one, with the exchange's profile version
the kiosk last saw. Until the exchange confirms, the screen shows the new values as pending.

When someone changed the same field at the exchange meanwhile, the exchange answers 422
`profile_conflict` with both values (docs/SYNC_CONTRACT.md); the delivery policy makes that row
need attention, and `profile_conflicts` lists it until `resolve_profile_conflict` records the
navigator's choice per field and queues a new change for what is left to send.

`queue_change` is the one way the account services (profile, preferences, automatic payments,
disputes, receipts) write an outbox row and its audit entry.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk import outbox
from kiosk.clock import Clock, to_iso
from kiosk.domain.account import (
    Address,
    ChangeState,
    ConflictChoice,
    ContactProfile,
    ProfileField,
    check_address,
    normalize_email,
    normalize_phone,
)
from kiosk.domain.members import phone_digits
from kiosk.domain.money import Money
from kiosk.errors import KioskError, NotFoundError, ValidationError
from kiosk.outbox import OutboxItem, OutboxState
from kiosk.services import audit
from kiosk.services.cache import BadChangeError
from kiosk.services.payments import PaymentContext, canonical_json
from kiosk.store.vault import Vault

log = logging.getLogger(__name__)

PROFILE_ENDPOINT = "/v1/profile-changes"
OUTBOX_KIND = "profile_change"
CONFLICT_CODE = "profile_conflict"


class ProfileUnchangedError(ValidationError):
    """The edit changes nothing: every field is as it is now."""

    code = "profile_unchanged"


class ChangeUnknownError(NotFoundError):
    """No profile change with this id."""

    code = "change_unknown"


class NotInConflictError(KioskError):
    """The change is not waiting for a choice between two values."""

    code = "conflict_unknown"


class ConflictChoiceMissingError(ValidationError):
    """A conflicting field was given no choice."""

    code = "conflict_choice_missing"


# -- the one way to queue a change --------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class AccountChange:
    """One change for the exchange: its outbox row and the audit entry that goes with it."""

    kind: str  # the outbox kind, e.g. profile_change
    endpoint: str
    member_id: str
    subject_id: str  # the record it belongs to (change, automatic payment, dispute ...)
    body: dict[str, Any]  # the payload less member_id, kiosk_id, kiosk_seq, changed_at, navigator
    action: str  # the audit action, e.g. profile.change
    detail: str = ""  # for the audit entry: never personal data
    ctx: PaymentContext
    now: dt.datetime
    new_key: Callable[[], uuid.UUID] = uuid.uuid4


def queue_change(conn: Any, change: AccountChange) -> OutboxItem:
    """Write the outbox row and the audit entry. Call inside the transaction that makes the
    change; rows of one member are delivered in the order they are queued."""
    def build(seq: int) -> bytes:
        return canonical_json({
            **change.body, "member_id": change.member_id, "kiosk_id": change.ctx.kiosk_id,
            "kiosk_seq": seq, "changed_at": to_iso(change.now),
            "navigator": change.ctx.staff.username,
        })

    item = outbox.enqueue(conn, kind=change.kind, member_id=change.member_id,
                          subject_id=change.subject_id, endpoint=change.endpoint,
                          build_payload=build, now=change.now, new_key=change.new_key)
    audit.record(conn, at=change.now, actor=change.ctx.staff.username, action=change.action,
                 subject=change.subject_id, detail=change.detail)
    return item


def waiting_rows(conn: Any, kind: str, subject_id: str, *, besides: int) -> bool:
    """Whether another row for this record still waits (so it is not yet in step)."""
    return conn.execute(
        "SELECT 1 FROM outbox WHERE subject_id = ? AND kind = ? AND id <> ?"
        " AND state IN ('queued', 'sending')", (subject_id, kind, besides)).fetchone() is not None


def member_row(conn: Any, member_id: str) -> Any:
    row = conn.execute("SELECT * FROM members WHERE member_id = ?", (member_id,)).fetchone()
    if row is None:
        raise NotFoundError(code="member_unknown", member_id=member_id)
    return row


# -- reading --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileEdit:
    """What the navigator changed; None leaves a field as it is."""

    member_id: str
    address: Address | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileChanged:
    change_id: str
    member_id: str
    fields: tuple[ProfileField, ...]
    outbox_id: int
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldConflict:
    """One field changed both here and at the exchange: the screen shows both values."""

    field: ProfileField
    base_value: Any  # what the kiosk showed before the edit
    kiosk_value: Any  # what was typed here
    exchange_value: Any  # what the exchange holds now


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileConflict:
    change_id: str
    member_id: str
    conflicts: tuple[FieldConflict, ...]
    exchange_version: int
    exchange_profile: Mapping[str, Any]  # the exchange's current address, phone and email


@dataclass(frozen=True, slots=True, kw_only=True)
class ConflictResolved:
    change_id: str  # the change that was in conflict, now resolved
    new_change: ProfileChanged | None  # None when the exchange's values were all kept


def _exchange_values(row: Any) -> dict[ProfileField, Any]:
    return {ProfileField.ADDRESS: json.loads(row["address"]) if row["address"] else None,
            ProfileField.PHONE: row["phone"], ProfileField.EMAIL: row["email"]}


def _pending_changes(conn: Any, member_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT fields FROM profile_changes WHERE member_id = ? AND state = ?"
                        " ORDER BY created_at, rowid", (member_id, ChangeState.PENDING))
    return [json.loads(r["fields"]) for r in rows]


def current_profile(conn: Any, member_id: str) -> ContactProfile:
    """The contact details inside a transaction: see `contact_profile`."""
    row = member_row(conn, member_id)
    values, pending = _exchange_values(row), set()
    for fields in _pending_changes(conn, member_id):
        for name, change in fields.items():
            values[ProfileField(name)] = change["to"]
            pending.add(ProfileField(name))
    return ContactProfile(member_id=member_id,
                          address=Address.from_data(values[ProfileField.ADDRESS]),
                          phone=values[ProfileField.PHONE], email=values[ProfileField.EMAIL],
                          version=row["profile_version"], pending=frozenset(pending))


def contact_profile(member_id: str, *, vault: Vault) -> ContactProfile:
    """The member's contact details: the exchange's, with changes made here and not yet
    confirmed laid over them (named in `pending`). NotFoundError `member_unknown`."""
    return vault.call(lambda conn: current_profile(conn, member_id))


# -- changing -------------------------------------------------------------------------------------

def _normalized(edit: ProfileEdit) -> dict[ProfileField, Any]:
    """The edited fields, validated (`zip_invalid`, `phone_invalid`, `email_invalid` ...)."""
    fields: dict[ProfileField, Any] = {}
    if edit.address is not None:
        fields[ProfileField.ADDRESS] = check_address(edit.address).as_data()
    if edit.phone is not None:
        fields[ProfileField.PHONE] = normalize_phone(edit.phone)
    if edit.email is not None:
        fields[ProfileField.EMAIL] = normalize_email(edit.email)
    return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class _NewChange:
    member_id: str
    changes: dict[str, dict[str, Any]]  # field -> {"from": ..., "to": ...}
    base_version: int
    ctx: PaymentContext
    now: dt.datetime
    new_id: Callable[[], uuid.UUID]
    action: str = "profile.change"


def _record_change(conn: Any, c: _NewChange) -> ProfileChanged:
    change_id = str(c.new_id())
    conn.execute("INSERT INTO profile_changes (change_id, member_id, fields, base_version,"
                 " created_at, navigator) VALUES (?,?,?,?,?,?)",
                 (change_id, c.member_id, json.dumps(c.changes), c.base_version, to_iso(c.now),
                  c.ctx.staff.username))
    item = queue_change(conn, AccountChange(
        kind=OUTBOX_KIND, endpoint=PROFILE_ENDPOINT, member_id=c.member_id,
        subject_id=change_id, action=c.action, detail=",".join(sorted(c.changes)),
        body={"change_id": change_id, "base_version": c.base_version, "changes": c.changes},
        ctx=c.ctx, now=c.now, new_key=c.new_id))
    return ProfileChanged(change_id=change_id, member_id=c.member_id,
                          fields=tuple(ProfileField(f) for f in sorted(c.changes)),
                          outbox_id=item.id, idempotency_key=item.idempotency_key)


def change_profile(edit: ProfileEdit, *, ctx: PaymentContext, vault: Vault, clock: Clock,
                   new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> ProfileChanged:
    """Change the member's address, phone or email; works offline, pending until confirmed.

    Refuses (nothing written): NotFoundError `member_unknown`; ValidationError `zip_invalid`,
    `state_invalid`, `line1_invalid`, `line2_invalid`, `city_invalid`, `phone_invalid`,
    `email_invalid`; ProfileUnchangedError `profile_unchanged`.
    """
    typed = _normalized(edit)

    def change(conn: Any) -> ProfileChanged:
        shown = current_profile(conn, edit.member_id)
        changes = {f.value: {"from": shown.value_of(f), "to": v} for f, v in typed.items()
                   if shown.value_of(f) != v}
        if not changes:
            raise ProfileUnchangedError(field="profile")
        return _record_change(conn, _NewChange(
            member_id=edit.member_id, changes=changes, base_version=shown.version, ctx=ctx,
            now=clock.now(), new_id=new_id))

    return vault.write(change)


# -- conflicts ------------------------------------------------------------------------------------

def _conflict(row: Any) -> ProfileConflict | None:
    try:
        body = json.loads(row["response_body"] or b"")
        items = body["conflicts"]
        profile = body["profile"]
        conflicts = tuple(FieldConflict(
            field=ProfileField(c["field"]), base_value=c.get("base_value"),
            kiosk_value=c.get("kiosk_value"), exchange_value=c.get("exchange_value"))
            for c in items)
        version = int(profile["profile_version"])
    except (ValueError, KeyError, TypeError):
        return None
    if body.get("code") != CONFLICT_CODE or not conflicts:
        return None
    return ProfileConflict(change_id=row["change_id"], member_id=row["member_id"],
                           conflicts=conflicts, exchange_version=version,
                           exchange_profile=profile)


_CHANGE_SQL = (
    "SELECT c.change_id, c.member_id, c.fields, c.state, o.id AS outbox_id, o.response_status,"
    " o.response_body FROM profile_changes c JOIN outbox o ON o.subject_id = c.change_id"
    " AND o.kind = 'profile_change'"
)


def profile_conflicts(member_id: str, *, vault: Vault) -> list[ProfileConflict]:
    """Changes the exchange refused because the same field changed there meanwhile, oldest
    first, each with both values; they wait for `resolve_profile_conflict`."""
    rows = vault.call(lambda conn: conn.execute(
        f"{_CHANGE_SQL} WHERE c.state = 'refused' AND c.member_id = ?"  # nosec B608
        " ORDER BY c.created_at", (member_id,)).fetchall())
    return [c for c in map(_conflict, rows) if c is not None]


def _store_exchange_profile(conn: Any, member_id: str, profile: Mapping[str, Any]) -> None:
    """The exchange's contact details from an answer, unless the cache already has newer."""
    phone, email = profile.get("phone"), profile.get("email")
    address, version = profile.get("address"), profile.get("profile_version")
    if not isinstance(phone, str) or not isinstance(email, str) or not isinstance(version, int):
        raise BadChangeError(field="profile")
    conn.execute(
        "UPDATE members SET phone = ?, phone_digits = ?, email = ?, address = ?,"
        " profile_version = ? WHERE member_id = ? AND profile_version <= ?",
        (phone, phone_digits(phone), email,
         json.dumps(address) if isinstance(address, dict) else None, version, member_id,
         version))


def _resolution_changes(conflict: ProfileConflict, fields: Mapping[str, Any],
                        choices: Mapping[ProfileField, ConflictChoice]) -> dict[str, Any]:
    """What is left to send: the kiosk's values chosen over the exchange's, and the fields of
    the refused change that were not in conflict, each from the exchange's value now."""
    theirs = conflict.exchange_profile
    in_conflict = {c.field for c in conflict.conflicts}
    if missing := in_conflict - set(choices):
        raise ConflictChoiceMissingError(field=sorted(missing)[0].value)
    left = {}
    for name, change in fields.items():
        field = ProfileField(name)
        if field in in_conflict and choices[field] is ConflictChoice.EXCHANGE:
            continue
        if theirs.get(name) != change["to"]:
            left[name] = {"from": theirs.get(name), "to": change["to"]}
    return left


def resolve_profile_conflict(change_id: str, choices: Mapping[ProfileField, ConflictChoice], *,
                             ctx: PaymentContext, vault: Vault, clock: Clock,
                             new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> ConflictResolved:
    """Keep, per conflicting field, the kiosk's or the exchange's value. The refused change is
    marked resolved (its outbox row leaves "needs attention" as declined) and, when anything
    is left to send, a new change is queued from the exchange's current version.

    Refuses: ChangeUnknownError `change_unknown`; NotInConflictError `conflict_unknown`;
    ConflictChoiceMissingError `conflict_choice_missing`.
    """
    now = clock.now()

    def resolve(conn: Any) -> ConflictResolved:
        row = conn.execute(f"{_CHANGE_SQL} WHERE c.change_id = ?",  # nosec B608
                           (change_id,)).fetchone()
        if row is None:
            raise ChangeUnknownError(change_id=change_id)
        conflict = _conflict(row) if row["state"] == ChangeState.REFUSED else None
        if conflict is None:
            raise NotInConflictError(change_id=change_id)
        left = _resolution_changes(conflict, json.loads(row["fields"]), choices)
        _store_exchange_profile(conn, row["member_id"], conflict.exchange_profile)
        new = _record_change(conn, _NewChange(
            member_id=row["member_id"], changes=left, base_version=conflict.exchange_version,
            ctx=ctx, now=now, new_id=new_id, action="profile.conflict_resolved")) if left else None
        _close_conflict(conn, row, new, ctx=ctx, now=now)
        return ConflictResolved(change_id=change_id, new_change=new)

    return vault.write(resolve)


def _close_conflict(conn: Any, row: Any, new: ProfileChanged | None, *,
                    ctx: PaymentContext, now: dt.datetime) -> None:
    conn.execute("UPDATE profile_changes SET state = ?, resolved_by = ? WHERE change_id = ?",
                 (ChangeState.RESOLVED, new.change_id if new else "", row["change_id"]))
    # A person has dealt with the refusal: the row no longer needs attention.
    outbox.finish(conn, row["outbox_id"], state=OutboxState.DECLINED, now=now,
                  status=row["response_status"], body=row["response_body"],
                  error="conflict_resolved")
    if new is None:
        audit.record(conn, at=now, actor=ctx.staff.username, action="profile.conflict_resolved",
                     subject=row["change_id"], detail="exchange values kept")


# -- delivery answers (registered in kiosk.services.delivery) -------------------------------------

def on_change_confirmed(conn: Any, item: OutboxItem, answer: Any, now: str) -> None:
    """The exchange applied the change: its answer is the profile as it now holds it."""
    if not isinstance(answer, dict) or answer.get("change_id") != item.subject_id:
        raise BadChangeError(field="change_id")
    _store_exchange_profile(conn, item.member_id, answer)
    conn.execute("UPDATE profile_changes SET state = ? WHERE change_id = ?",
                 (ChangeState.CONFIRMED, item.subject_id))


def on_change_refused(conn: Any, item: OutboxItem) -> None:
    """Refused for good (a conflict among others): kept, with the answer, for a person."""
    conn.execute("UPDATE profile_changes SET state = ? WHERE change_id = ?",
                 (ChangeState.REFUSED, item.subject_id))
    log.warning("the exchange refused profile change %s", item.subject_id)


# -- plan and coverage ----------------------------------------------------------------------------

MAIN_SERVICES = ("primary_care", "specialist", "urgent_care", "emergency_room", "generic_drugs")


@dataclass(frozen=True, slots=True, kw_only=True)
class Copay:
    """What the member pays for one kind of care: a fixed copay, a share, or both."""

    service: str  # primary_care, specialist, urgent_care, generic_drugs ...
    copay: Money | None
    coinsurance_percent: int | None
    after_deductible: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CoveredPerson:
    first_name: str
    last_name: str
    relationship: str  # self, spouse, child, other


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageSummary:
    """The plan and coverage screen; fields an older exchange does not send are empty."""

    member_id: str
    plan_id: str
    plan_name: str
    issuer: str
    metal_level: str
    people_covered: tuple[CoveredPerson, ...]
    gross_premium: Money
    tax_credit: Money
    member_pays: Money
    deductible: Money
    oop_max: Money
    copays: tuple[Copay, ...]  # the main services first
    coverage_start: dt.date
    coverage_end: dt.date | None
    plan_start: dt.date  # when the current plan began (the coverage start if never changed)


def _people(row: Any) -> tuple[CoveredPerson, ...]:
    people = tuple(
        CoveredPerson(first_name=str(p.get("first_name", "")),
                      last_name=str(p.get("last_name", "")),
                      relationship=str(p.get("relationship", "other")))
        for p in json.loads(row["covered_people"]) if isinstance(p, dict))
    return people or (CoveredPerson(first_name=row["first_name"], last_name=row["last_name"],
                                    relationship="self"),)


def _copay_list(text: str) -> tuple[Copay, ...]:
    copays = [Copay(service=c["service"],
                    copay=Money(cents=c["copay_cents"]) if c["copay_cents"] is not None else None,
                    coinsurance_percent=c["coinsurance_percent"],
                    after_deductible=c["after_deductible"]) for c in json.loads(text)]
    rank = {s: i for i, s in enumerate(MAIN_SERVICES)}
    return tuple(sorted(copays, key=lambda c: rank.get(c.service, len(rank))))


def _summary(conn: Any, member_id: str) -> CoverageSummary:
    m = member_row(conn, member_id)
    p = conn.execute("SELECT * FROM plans WHERE plan_id = ?", (m["plan_id"],)).fetchone()
    if p is None:
        raise NotFoundError(code="plan_unknown", plan_id=m["plan_id"])
    start = dt.date.fromisoformat(m["coverage_start"])
    return CoverageSummary(
        member_id=member_id, plan_id=p["plan_id"], plan_name=p["name"], issuer=p["issuer"],
        metal_level=p["metal_level"], people_covered=_people(m),
        gross_premium=Money(cents=p["gross_premium_cents"]),
        tax_credit=Money(cents=m["aptc_cents"]), member_pays=Money(cents=m["net_premium_cents"]),
        deductible=Money(cents=p["deductible_cents"]), oop_max=Money(cents=p["oop_max_cents"]),
        copays=_copay_list(p["copays"]),
        coverage_start=start,
        coverage_end=dt.date.fromisoformat(m["coverage_end"]) if m["coverage_end"] else None,
        plan_start=dt.date.fromisoformat(m["plan_effective"]) if m["plan_effective"] else start)


def coverage_summary(member_id: str, *, vault: Vault) -> CoverageSummary:
    """Plan, people covered, premium with tax credit, deductible, out-of-pocket maximum, main
    copays and coverage dates, from the cache. NotFoundError `member_unknown`, `plan_unknown`."""
    return vault.call(lambda conn: _summary(conn, member_id))
