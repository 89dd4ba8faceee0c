"""ACH bank transfers: routing, account and amount checks (property-tested), the authorization
kept in the vault, refusals that record nothing, the account number kept out of logs and out of
the vault file's bytes, and end to end against the real sandbox exchange: taken offline, then
confirmed, then returned (R01) through the changes feed.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlcipher3  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from kiosk.bootstrap import Core
from kiosk.connectivity import Connectivity
from kiosk.domain.ach import (
    ACH_RETURNS,
    AchState,
    AuthorizationCapture,
    BankAccountEntry,
    NextStep,
    ReturnReason,
    SignatureMethod,
    check_account_number,
    check_bank_account,
    check_routing_number,
    explain_return,
)
from kiosk.domain.limits import OfflineLimits
from kiosk.domain.money import Money
from kiosk.domain.payments import PaymentStatus, validate_amount
from kiosk.domain.staff import OFFLINE_OVERRIDE
from kiosk.errors import KioskError, ValidationError
from kiosk.logs import RedactingFilter, redact
from kiosk.services import cache
from kiosk.services.ach import (
    TakeAchPayment,
    ach_payment,
    ach_payments_for_member,
    get_authorization,
    take_ach_payment,
)
from kiosk.services.members import get_account
from kiosk.services.receipts import get_receipt
from kiosk.settings import Settings
from sync.client import DeviceSigner
from sync.sandbox import demo_data
from sync.sandbox.server import SandboxProcess
from sync.signing import DeviceCredential
from tests.test_queue_rules import approval
from tests.test_sync import DEMO_TOKEN, free_port, make_core, make_worker, navigator_ctx

MEMBER = "M-100001"  # past due: two open invoices
ROUTING = "111000025"  # a real ABA routing number (its check digit holds)
ACCOUNT = "000123456789"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TEXT = "Autorizo a Health Connector a debitar $50.00 de mi cuenta una vez."


def aba_checksum_holds(digits: str) -> bool:
    """The ABA rule written out independently: weights 3, 7, 1 repeating."""
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_a_nine_digit_routing_number_passes_exactly_when_its_check_digit_holds(
    digits: str,
) -> None:
    if aba_checksum_holds(digits):
        assert check_routing_number(f" {digits[:4]}-{digits[4:]} ") == digits
    else:
        with pytest.raises(ValidationError) as refused:
            check_routing_number(digits)
        assert refused.value.code == "routing_invalid"


@given(st.text(max_size=20).filter(
    lambda t: not (len(t.replace(" ", "").replace("-", "").strip()) == 9
                   and t.replace(" ", "").replace("-", "").strip().isdigit())))
def test_anything_but_nine_digits_is_not_a_routing_number(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_routing_number(text)
    assert refused.value.code == "routing_invalid"


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_account_numbers_are_four_to_seventeen_digits(digits: str) -> None:
    if 4 <= len(digits) <= 17:
        assert check_account_number(digits) == digits
    else:
        with pytest.raises(ValidationError) as refused:
            check_account_number(digits)
        assert refused.value.code == "account_invalid"


@given(st.text(min_size=4, max_size=17).filter(
    lambda t: not t.replace(" ", "").replace("-", "").strip().isdigit()))
def test_account_numbers_with_other_characters_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_account_number(text)
    assert refused.value.code == "account_invalid"


@given(st.text(alphabet="0123456789", min_size=4, max_size=17),
       st.text(alphabet="0123456789", min_size=4, max_size=17))
def test_the_account_number_typed_again_must_match(first: str, again: str) -> None:
    entry = BankAccountEntry(routing_number=ROUTING, account_number=first,
                             account_number_again=again, account_type="checking")
    if first == again:
        assert check_bank_account(entry).last4 == first[-4:]
    else:
        with pytest.raises(ValidationError) as refused:
            check_bank_account(entry)
        assert refused.value.code == "account_mismatch"


@given(st.integers(min_value=-10**9, max_value=10**9), st.integers(min_value=0, max_value=10**7))
def test_an_amount_is_taken_only_above_zero_and_up_to_what_is_allowed(
    cents: int, allowed: int
) -> None:
    if 0 < cents <= allowed:
        validate_amount(Money(cents=cents), allowed=Money(cents=allowed))
        return
    with pytest.raises(ValidationError) as refused:
        validate_amount(Money(cents=cents), allowed=Money(cents=allowed))
    assert refused.value.code == ("amount_not_positive" if cents <= 0 else "amount_too_high")


def test_every_common_return_code_has_an_explanation_and_a_next_step() -> None:
    for code in ("R01", "R02", "R03", "R04", "R05", "R07", "R08", "R10", "R16", "R20", "R29"):
        meaning = explain_return(code)
        assert meaning.reason is not ReturnReason.OTHER and meaning.next_step in NextStep
    assert explain_return("R01").reason is ReturnReason.INSUFFICIENT_FUNDS
    assert explain_return("R01").may_retry and not explain_return("R02").may_retry
    assert explain_return("R10").reason is ReturnReason.NOT_AUTHORIZED
    assert explain_return("R99").next_step is NextStep.CONTACT_EXCHANGE
    assert all(code == ret.code for code, ret in ACH_RETURNS.items())


# -- the service, on a real vault -------------------------------------------------------------

def seed(core: Core) -> None:
    """Fill the vault's member cache from the sandbox's demo data, as a feed pull would."""
    data = demo_data.generate(seed=7, members=10, today=core.clock.now().date())
    changes: list[dict[str, Any]] = [
        {"kind": kind, "data": record.as_data()}
        for kind, records in (("plan", data.plans), ("member", data.members),
                              ("invoice", data.invoices))
        for record in records
    ]
    cache.apply_changes(changes, next_after=0, vault=core.vault)


def entry(account: str = ACCOUNT, again: str | None = None,
          routing: str = ROUTING) -> BankAccountEntry:
    return BankAccountEntry(routing_number=routing, account_number=account,
                            account_number_again=account if again is None else again,
                            account_type="checking")


def signed(**changes: Any) -> AuthorizationCapture:
    return replace(AuthorizationCapture(language="es", text=TEXT, signature_png=PNG), **changes)


def take(core: Core, cents: int = 5000, *, account: BankAccountEntry | None = None,
         auth: AuthorizationCapture | None = None, **kwargs: Any) -> Any:
    cmd = TakeAchPayment(member_id=MEMBER, amount=Money(cents=cents),
                         account=account or entry(), authorization=auth or signed(),
                         override_by=kwargs.pop("override_by", None))
    return take_ach_payment(cmd, ctx=navigator_ctx(core), vault=core.vault, clock=core.clock,
                            **kwargs)


def counts(core: Core) -> tuple[int, ...]:
    tables = ("payments", "outbox", "ach_authorizations", "ach_payments", "audit")
    return core.vault.call(lambda c: tuple(
        c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables))


def test_an_ach_payment_is_recorded_with_its_authorization_and_reads_submitted(
    core: Core,
) -> None:
    seed(core)
    taken = take(core)

    receipt = get_receipt(taken.payment_id, vault=core.vault)
    assert (receipt.method, receipt.status, receipt.ach_state) == (
        "ach", PaymentStatus.PENDING, AchState.SUBMITTED)
    assert (receipt.last4, receipt.account_type) == ("6789", "checking")
    assert receipt.receipt_number == taken.receipt_number and receipt.coverage_months
    auth = get_authorization(taken.authorization_id, vault=core.vault)
    assert (auth.text, auth.language, auth.method) == (TEXT, "es", SignatureMethod.SIGNATURE)
    assert auth.signature_png == PNG and auth.navigator == "nav.test"
    assert auth.signed_at == core.clock.now() and auth.account_last4 == "6789"
    payload = json.loads(core.vault.call(lambda c: c.execute(
        "SELECT payload FROM outbox WHERE id = ?", (taken.outbox_id,)).fetchone()[0]))
    assert payload["method"]["type"] == "ach"
    assert payload["method"]["account_number"] == ACCOUNT  # the exchange needs it to debit
    assert payload["method"]["authorization"]["authorization_id"] == taken.authorization_id
    assert get_account(MEMBER, vault=core.vault).pending[0].payment_id == taken.payment_id
    assert [v.payment_id for v in ach_payments_for_member(MEMBER, vault=core.vault)] == [
        taken.payment_id]


def test_a_typed_name_with_its_box_ticked_authorizes_instead_of_a_signature(core: Core) -> None:
    seed(core)
    typed = signed(signature_png=b"", typed_name="José Álvarez", typed_name_confirmed=True)
    taken = take(core, auth=typed)
    auth = get_authorization(taken.authorization_id, vault=core.vault)
    assert (auth.method, auth.typed_name, auth.signature_png) == (
        SignatureMethod.TYPED_NAME, "José Álvarez", b"")


@pytest.mark.parametrize(("change", "code"), [
    ({"cents": 0}, "amount_not_positive"),
    ({"cents": 10_000_000}, "amount_too_high"),
    ({"account": entry(routing="111000024")}, "routing_invalid"),
    ({"account": entry(account="123")}, "account_invalid"),
    ({"account": entry(again="000123456780")}, "account_mismatch"),
    ({"auth": signed(text=" ")}, "authorization_missing"),
    ({"auth": signed(signature_png=b"GIF89a")}, "authorization_missing"),
    ({"auth": signed(signature_png=b"", typed_name="José")}, "authorization_missing"),
    ({"auth": signed(signature_png=b"", typed_name_confirmed=True)}, "authorization_missing"),
])
def test_a_refusal_takes_nothing_and_records_nothing(
    core: Core, change: dict[str, Any], code: str
) -> None:
    seed(core)
    before = counts(core)
    with pytest.raises(KioskError) as refused:
        take(core, change.pop("cents", 5000), **change)
    assert refused.value.code == code
    assert counts(core) == before


def test_offline_limits_apply_and_a_supervisor_may_override(core: Core) -> None:
    seed(core)
    offline = Connectivity()  # never probed: offline
    limits = OfflineLimits(per_payment=Money(cents=4000))
    before = counts(core)
    with pytest.raises(KioskError) as refused:
        take(core, 5000, connectivity=offline, limits=limits)
    assert (refused.value.code, counts(core)) == ("offline_limit", before)
    supervisor = approval(core, OFFLINE_OVERRIDE)
    taken = take(core, 5000, connectivity=offline, limits=limits, override_by=supervisor)
    row = core.vault.call(lambda c: c.execute(
        "SELECT offline, override_by FROM payments WHERE payment_id = ?",
        (taken.payment_id,)).fetchone())
    assert (row["offline"], row["override_by"]) == (1, supervisor.username)


def test_the_authorization_is_kept_unchanged_for_two_years(core: Core) -> None:
    seed(core)
    taken = take(core)
    for statement in ("DELETE FROM ach_authorizations",
                      "UPDATE ach_authorizations SET text = 'other'"):
        with pytest.raises(sqlcipher3.IntegrityError):
            core.vault.write(lambda c, s=statement: c.execute(s))
    assert get_authorization(taken.authorization_id, vault=core.vault).text == TEXT


def test_the_account_number_is_never_logged_nor_readable_in_the_vault_file(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    seed(core)
    with caplog.at_level(logging.DEBUG):
        taken = take(core)
        logging.getLogger("kiosk.test").info("debiting account %s", ACCOUNT)
    shown = [redact(r.getMessage()) for r in caplog.records]
    assert shown and not any(ACCOUNT in line for line in shown)
    assert ACCOUNT not in repr(entry()) and ACCOUNT not in repr(taken)
    record = logging.LogRecord("x", logging.INFO, "", 0, "routing %s account %s",
                               (ROUTING, ACCOUNT), None)
    RedactingFilter().filter(record)
    assert ACCOUNT not in record.getMessage() and ROUTING not in record.getMessage()
    core.vault.call(lambda c: c.execute("PRAGMA wal_checkpoint(FULL)"))
    raw = b"".join(p.read_bytes() for p in Path(core.vault.path).parent.glob("vault.db*"))
    assert raw and ACCOUNT.encode() not in raw


# -- end to end, against the sandbox exchange -------------------------------------------------

@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("ach-exchange") / "exchange.db"
    with SandboxProcess(path, port=free_port(), members=20) as process:
        yield process


def own_kiosk(settings: Settings) -> Settings:
    return replace(settings, kiosk_id=f"K{uuid.uuid4().hex[:6]}")


def test_ach_taken_offline_is_confirmed_then_returned_r01_through_the_feed(
    exchange: SandboxProcess, settings: Settings
) -> None:
    core = make_core(own_kiosk(settings), exchange.url)
    worker = make_worker(core)
    try:
        worker.run_once()  # fills the member cache
        balance = get_account(MEMBER, vault=core.vault).balance
        exchange.stop()
        worker.run_once()  # sees the exchange gone
        assert not core.connectivity.online
        taken = take(core, 5000, connectivity=core.connectivity)
        assert ach_payment(taken.payment_id, vault=core.vault).state is AchState.SUBMITTED
        exchange.start()
        assert worker.run_once().confirmed == 1
        view = ach_payment(taken.payment_id, vault=core.vault)
        assert view.state is AchState.CONFIRMED and view.confirmation_number
        held = [p for p in ledger(exchange) if p["payment_id"] == taken.payment_id]
        assert [(p["method"], p["amount_cents"]) for p in held] == [("ach", 5000)]

        bank_returns(exchange, taken.payment_id, "R01")
        worker.run_once()
        worker.run_once()  # a second pull changes nothing more

        view = ach_payment(taken.payment_id, vault=core.vault)
        assert (view.state, view.return_code) == (AchState.RETURNED, "R01")
        assert view.returned is not None
        assert view.returned.reason is ReturnReason.INSUFFICIENT_FUNDS
        assert view.returned.next_step is NextStep.ADD_FUNDS_OR_PAY_ANOTHER_WAY
        receipt = get_receipt(taken.payment_id, vault=core.vault)
        assert receipt.ach_state is AchState.RETURNED and receipt.ach_return is not None
        # The exchange reopened what the payment had paid, so the member owes it again.
        assert get_account(MEMBER, vault=core.vault).balance == balance
        returned = core.vault.call(lambda c: c.execute(
            "SELECT count(*) FROM audit WHERE action = 'payment.returned'").fetchone()[0])
        assert returned == 1
    finally:
        worker.stop()
        core.close()


def ledger(exchange: SandboxProcess) -> list[dict[str, Any]]:
    answer = requests.get(f"{exchange.url}/_sandbox/ledger", timeout=5)
    payments: list[dict[str, Any]] = answer.json()["payments"]
    return payments


def bank_returns(exchange: SandboxProcess, payment_id: str, code: str) -> None:
    answer = requests.post(f"{exchange.url}/_sandbox/ach-returns",
                           json={"payment_id": payment_id, "return_code": code}, timeout=5)
    assert answer.status_code == 200, answer.text


def test_the_exchange_refuses_an_ach_body_with_a_bad_routing_number(
    exchange: SandboxProcess,
) -> None:
    body = {
        "payment_id": str(uuid.uuid4()), "kiosk_id": "K-ACH-BAD", "kiosk_seq": 1,
        "member_id": MEMBER, "amount_cents": 1000, "currency": "USD",
        "method": {"type": "ach", "routing_number": "111000024", "account_number": ACCOUNT,
                   "account_type": "checking", "authorization": {
                       "authorization_id": "a1", "signed_at": "2026-11-28T10:00:00Z",
                       "method": "signature", "language": "en", "text_sha256": "0" * 64}},
        "captured_at": "2026-11-28T10:00:00Z", "navigator": "nav",
    }
    signer = DeviceSigner(DeviceCredential(kiosk_id="K-ACH-BAD", secret=DEMO_TOKEN))
    answer = requests.post(f"{exchange.url}/v1/payments", json=body, timeout=5, auth=signer,
                           headers={"Idempotency-Key": str(uuid.uuid4())})
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_request")
    assert ACCOUNT not in answer.text  # the answer names the field, never the number
