"""The account services on a real vault alone: a refused change writes nothing (no row, no
outbox entry, no audit entry); the plan summary copes with an exchange that sends none of the
account fields; and the CSV export cannot smuggle a spreadsheet formula."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kiosk.bootstrap import Core
from kiosk.domain.account import Address, DisputeReason, HistoryStatus
from kiosk.domain.money import Money
from kiosk.errors import KioskError
from kiosk.services import autopay, cache, disputes, history, preferences, profile
from sync.sandbox import demo_data
from tests.test_sync import navigator_ctx

MEMBER = "M-100001"


def seed(core: Core) -> None:
    """The member cache as a full feed pull fills it, with the history and disputes."""
    data = demo_data.generate(seed=7, members=10, today=core.clock.now().date())
    changes: list[dict[str, Any]] = [
        {"kind": kind, "data": record.as_data()}
        for kind, records in (("plan", data.plans), ("member", data.members),
                              ("invoice", data.invoices)) for record in records]
    changes += [{"kind": "payment", "data": p} for p in data.payments]
    changes += [{"kind": "dispute", "data": d} for d in data.disputes]
    cache.apply_changes(changes, next_after=0, vault=core.vault)


def counts(core: Core) -> tuple[int, ...]:
    return core.vault.call(lambda c: tuple(c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                                           for t in ("outbox", "audit", "profile_changes",
                                                     "autopays", "disputes")))


def edit(**fields: Any) -> profile.ProfileEdit:
    return profile.ProfileEdit(member_id=MEMBER, **fields)


@pytest.mark.parametrize(("action", "code"), [
    (lambda c, x: profile.change_profile(edit(phone="555-1234"), **x), "phone_invalid"),
    (lambda c, x: profile.change_profile(edit(email="jose@"), **x), "email_invalid"),
    (lambda c, x: profile.change_profile(edit(address=Address(
        line1="1 Main St", city="Chicago", state="IL", zip_code="6060")), **x), "zip_invalid"),
    (lambda c, x: profile.change_profile(edit(address=Address(
        line1="1 Main St", city="Chicago", state="ZZ", zip_code="60601")), **x),
     "state_invalid"),
    (lambda c, x: profile.change_profile(edit(phone="+13125550100"), **x), "profile_unchanged"),
    (lambda c, x: autopay.set_up_autopay(autopay.SetUpAutopay(
        member_id=MEMBER, method_id="nope", schedule=autopay.AutopaySchedule()), **x),
     "method_unknown"),
    (lambda c, x: autopay.cancel_autopay("nope", **x), "autopay_unknown"),
    (lambda c, x: disputes.file_dispute(disputes.FileDispute(
        member_id=MEMBER, payment_ids=("nope",), reason=DisputeReason.OTHER,
        amount=Money(cents=100), description="Not a payment of mine at all."), **x),
     "payment_unknown"),
    (lambda c, x: disputes.file_dispute(disputes.FileDispute(
        member_id=MEMBER, payment_ids=(), reason=DisputeReason.OTHER,
        amount=Money(cents=100), description="Not a payment of mine at all."), **x),
     "dispute_payments_missing"),
    (lambda c, x: disputes.file_dispute(disputes.FileDispute(
        member_id=MEMBER, payment_ids=(c,), reason=DisputeReason.OTHER,
        amount=Money(cents=100), description="Look at the attachment.",
        attachments=(disputes.AttachmentFile(filename="x.pdf", content=b"MZ\x90\x00"),)),
        **x), "attachment_type_invalid"),
])
def test_a_refused_change_writes_nothing(core: Core, action: Any, code: str) -> None:
    seed(core)
    payment = history.payment_history(MEMBER, vault=core.vault)[0].payment_id
    before = counts(core)
    with pytest.raises(KioskError) as refused:
        action(payment, {"ctx": navigator_ctx(core), "vault": core.vault, "clock": core.clock})
    assert (refused.value.code, counts(core)) == (code, before)


def test_preferences_on_a_channel_the_member_cannot_be_reached_by_are_refused(
        core: Core) -> None:
    seed(core)
    view = preferences.current_preferences(MEMBER, vault=core.vault)
    assert not view.chosen and not view.pending  # suggested, never sent unasked
    no_email = Address(line1="1 Main St", city="Chicago", state="IL", zip_code="60601")
    profile.change_profile(edit(address=no_email), ctx=navigator_ctx(core), vault=core.vault,
                           clock=core.clock)
    core.vault.write(lambda c: c.execute("UPDATE members SET email = '' WHERE member_id = ?",
                                         (MEMBER,)))
    with pytest.raises(KioskError) as refused:
        preferences.set_preferences(MEMBER, view.preferences, ctx=navigator_ctx(core),
                                    vault=core.vault, clock=core.clock)
    assert refused.value.code == "channel_needs_email"


def test_the_summary_copes_with_an_exchange_without_the_account_fields(core: Core) -> None:
    data = demo_data.generate(seed=7, members=10, today=core.clock.now().date())
    old = [{"kind": "plan", "data": {k: v for k, v in data.plans[3].as_data().items()
                                     if k != "copays"}},
           {"kind": "member", "data": {k: v for k, v in data.members[0].as_data().items()
                                       if k in ("member_id", "first_name", "last_name",
                                                "date_of_birth", "phone", "email", "plan_id",
                                                "aptc_cents", "net_premium_cents",
                                                "preferred_language", "coverage_start",
                                                "status")}}]
    cache.apply_changes(old, next_after=1, vault=core.vault)
    summary = profile.coverage_summary(MEMBER, vault=core.vault)
    assert (summary.copays, summary.coverage_end) == ((), None)
    assert [p.relationship for p in summary.people_covered] == ["self"]
    assert summary.member_pays == summary.gross_premium - summary.tax_credit
    assert profile.contact_profile(MEMBER, vault=core.vault).address is None

    seed(core)
    summary = profile.coverage_summary(MEMBER, vault=core.vault)
    assert [c.service for c in summary.copays][:3] == ["primary_care", "specialist",
                                                        "urgent_care"]
    assert summary.coverage_end == dt.date(core.clock.now().year, 12, 31)


def test_the_csv_export_never_starts_a_cell_with_a_formula() -> None:
    entry = history.HistoryEntry(payment_id="=HYPERLINK(\"x\")", member_id=MEMBER,
                                 amount=Money(cents=12345), method="card",
                                 status=HistoryStatus.CONFIRMED,
                                 paid_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                                 confirmation_number="+1-2")
    row = history.history_csv([entry]).splitlines()[1]
    assert row.startswith("2026-11-01,123.45,USD,card,confirmed,'+1-2,")
    assert row.endswith("'=HYPERLINK(\"\"x\"\")\"") or "'=HYPERLINK" in row
