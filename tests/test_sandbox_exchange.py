"""Tests of the sandbox exchange against docs/SYNC_CONTRACT.md, over real HTTP on 127.0.0.1.

One exchange process serves the whole module (started with `SandboxProcess`); tests that pay
use their own kiosk id and members chosen for them, so they do not depend on each other's
order. The store and billing tests at the end use a real sqlite file and no server.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from sync.client import DeviceSigner
from sync.sandbox import billing, demo_data, openapi
from sync.sandbox.app import create_app
from sync.sandbox.config import DEMO_TOKEN, SandboxConfig
from sync.sandbox.idempotency import ClaimOutcome
from sync.sandbox.posting import StoredAnswer
from sync.sandbox.server import SandboxProcess, SandboxStartError
from sync.sandbox.store import ExchangeStore
from sync.signing import SCHEME, TIME_HEADER, DeviceCredential, new_secret, signed_headers

TIMEOUT = 10
TODAY = date.today()
SEED = 7
MEMBERS = 240
PROJECT_ROOT = Path(__file__).resolve().parents[1]

CONTRACT_FIELDS = {
    "plan": {
        "plan_id",
        "name",
        "issuer",
        "metal_level",
        "gross_premium_cents",
        "deductible_cents",
        "oop_max_cents",
        "copays",
    },
    "member": {
        "member_id",
        "first_name",
        "last_name",
        "date_of_birth",
        "phone",
        "email",
        "plan_id",
        "aptc_cents",
        "net_premium_cents",
        "preferred_language",
        "coverage_start",
        "status",
        "address",
        "profile_version",
        "covered_people",
        "coverage_end",
        "plan_effective",
        "preferences",
    },
    "invoice": {
        "invoice_id",
        "member_id",
        "coverage_month",
        "amount_due_cents",
        "amount_paid_cents",
        "due_date",
        "is_binder",
        "status",
    },
    "payment": {
        "payment_id",
        "member_id",
        "amount_cents",
        "confirmation_number",
        "status",
        "kiosk_id",
        "received_at",
        "method",
        "return_code",
        "returned_at",
        "hosted_payment_id",
        "refunded_at",
        "refunded_cents",
        "last4",
        "dispute_id",
    },
    "dispute": {
        "dispute_id",
        "member_id",
        "reason",
        "amount_cents",
        "payment_ids",
        "status",
        "escalated",
        "messages",
        "attachments",
        "updated_at",
    },
}


class Api:
    """A kiosk's view of the exchange: every call signed (sync.signing) and with a timeout."""

    def __init__(self, exchange: SandboxProcess, token: str = DEMO_TOKEN) -> None:
        self.exchange = exchange
        self.session = requests.Session()
        self.session.auth = DeviceSigner(DeviceCredential(kiosk_id="KIOSK-TESTS", secret=token))

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.exchange.url + path, timeout=TIMEOUT, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.exchange.url + path, timeout=TIMEOUT, **kwargs)

    def pay(self, body: bytes, key: str | None) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.post("/v1/payments", data=body, headers=headers)

    def feed(self, after: int = 0, limit: int = 1000) -> tuple[list[dict[str, Any]], int]:
        """Every change after `after`, following the cursor; returns them and the last cursor."""
        changes: list[dict[str, Any]] = []
        while True:
            page = self.get("/v1/changes", params={"after": after, "limit": limit})
            assert page.status_code == 200, page.text
            body = page.json()
            changes += body["changes"]
            after = body["next_after"]
            if not body["has_more"]:
                return changes, after

    def records(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The current records by kind and id, as a kiosk would hold them after a full sync."""
        held: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in CONTRACT_FIELDS}
        for change in self.feed()[0]:
            held[change["kind"]][change["id"]] = change["data"]
        return held

    def open_invoices(self, member_id: str) -> list[dict[str, Any]]:
        invoices = self.records()["invoice"].values()
        mine = [
            inv for inv in invoices if inv["member_id"] == member_id and inv["status"] == "open"
        ]
        return sorted(mine, key=lambda inv: (inv["due_date"], inv["coverage_month"]))

    def ledger(self) -> list[dict[str, Any]]:
        answer = self.get("/_sandbox/ledger")
        assert answer.status_code == 200
        payments: list[dict[str, Any]] = answer.json()["payments"]
        return payments

    def batch(self, operations: list[dict[str, Any]]) -> requests.Response:
        return self.post("/v1/batch", json={"operations": operations})

    def set_payment_delay(self, milliseconds: int) -> None:
        answer = self.post("/_sandbox/faults", json={"payment_delay_ms": milliseconds})
        assert answer.status_code == 200, answer.text


def payment_body(
    member_id: str,
    amount_cents: int,
    *,
    kiosk_id: str,
    kiosk_seq: int,
    payment_id: str | None = None,
) -> bytes:
    """A payment body as the kiosk sends it, as exact bytes."""
    body = {
        "payment_id": payment_id or str(uuid.uuid4()),
        "kiosk_id": kiosk_id,
        "kiosk_seq": kiosk_seq,
        "member_id": member_id,
        "amount_cents": amount_cents,
        "currency": "USD",
        "method": {
            "type": "card",
            "brand": "visa",
            "last4": "4242",
            "token": "tok_test_4242",
            "auth_code": "A1B2C3",
            "entry_mode": "chip",
        },
        "captured_at": "2026-11-28T10:15:00Z",
        "navigator": "navigator.one",
    }
    return json.dumps(body).encode()


def assert_problem(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["status"], problem["code"], problem["type"]) == (status, code, "about:blank")
    assert problem["title"] and problem["detail"]


def payments_with_id(api: Api, payment_id: str) -> list[dict[str, Any]]:
    return [p for p in api.ledger() if p["payment_id"] == payment_id]


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    db_path = tmp_path_factory.mktemp("exchange") / "exchange.sqlite3"
    with SandboxProcess(db_path, seed=SEED, members=MEMBERS, today=TODAY) as process:
        yield process


@pytest.fixture()
def api(exchange: SandboxProcess) -> Api:
    return Api(exchange)


@pytest.fixture()
def kiosk_id() -> str:
    """A kiosk of its own for each test, so kiosk sequence numbers never collide."""
    return f"KIOSK-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def generated() -> demo_data.DemoData:
    """The demo data the module's exchange was seeded with."""
    return demo_data.generate(seed=SEED, members=MEMBERS, today=TODAY)


def test_health_answers_without_a_signature(exchange: SandboxProcess) -> None:
    answer = requests.get(exchange.url + "/v1/health", timeout=TIMEOUT)

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["time"].endswith("Z")
    assert abs(datetime.fromisoformat(body["time"]) - datetime.now(UTC)) < timedelta(minutes=5)


def test_changes_feed_pages_cover_every_record_exactly_once(
    api: Api, generated: demo_data.DemoData
) -> None:
    changes, cursor = api.feed(limit=97)

    seqs = [change["seq"] for change in changes]
    assert seqs == sorted(set(seqs)), "seq must strictly ascend across pages"
    assert cursor == seqs[-1]
    for kind, expected in (
        ("plan", [plan.plan_id for plan in generated.plans]),
        ("member", [member.member_id for member in generated.members]),
        ("invoice", [invoice.invoice_id for invoice in generated.invoices]),
    ):
        ids = [change["id"] for change in changes if change["kind"] == kind]
        assert sorted(ids) == sorted(expected), kind
    assert api.feed(after=cursor)[0] == []


def test_changes_pages_respect_limit_and_cursor(api: Api) -> None:
    first = api.get("/v1/changes", params={"after": 0, "limit": 5}).json()
    second = api.get("/v1/changes", params={"after": first["next_after"], "limit": 5}).json()

    assert len(first["changes"]) == 5 and first["has_more"]
    assert first["next_after"] == first["changes"][-1]["seq"]
    assert second["changes"][0]["seq"] > first["next_after"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"after": -1}, {"after": "abc"}])
def test_changes_rejects_a_bad_cursor_or_limit(api: Api, params: dict[str, Any]) -> None:
    assert_problem(api.get("/v1/changes", params=params), 400, "invalid_request")


def test_feed_records_carry_exactly_the_contract_fields(api: Api) -> None:
    for change in api.feed()[0]:
        assert set(change["data"]) == CONTRACT_FIELDS[change["kind"]], change["kind"]
        assert change["id"] == change["data"][f"{change['kind']}_id"]


def test_demo_data_is_varied_and_realistic(api: Api) -> None:
    held = api.records()
    plans, members, invoices = held["plan"], held["member"], held["invoice"]
    open_by_member: dict[str, list[dict[str, Any]]] = {}
    for invoice in invoices.values():
        if invoice["status"] == "open":
            open_by_member.setdefault(invoice["member_id"], []).append(invoice)

    assert len(members) >= 200
    assert len(plans) >= 6
    assert len({plan["issuer"] for plan in plans.values()}) >= 3
    assert {"Bronze", "Silver", "Gold"} <= {plan["metal_level"] for plan in plans.values()}
    statuses = [member["status"] for member in members.values()]
    assert statuses.count("grace") >= 0.15 * len(members)
    assert statuses.count("binder_due") >= 0.07 * len(members)
    assert sum(member["aptc_cents"] > 0 for member in members.values()) >= 0.3 * len(members)
    assert len({member["preferred_language"] for member in members.values()}) >= 5
    assert any(not member["last_name"].isascii() for member in members.values())
    for member in members.values():
        gross = plans[member["plan_id"]]["gross_premium_cents"]
        assert member["net_premium_cents"] == max(0, gross - member["aptc_cents"])
        assert re.fullmatch(r"\+1[2-9]\d{9}", member["phone"])
        assert member["email"].endswith(("@example.org", "@example.com"))
        if member["status"] == "grace":
            assert any(
                inv["due_date"] < TODAY.isoformat() for inv in open_by_member[member["member_id"]]
            )
        if member["status"] == "binder_due":
            assert [inv["is_binder"] for inv in open_by_member[member["member_id"]]] == [True]


def test_fixed_demo_members_are_as_documented(generated: demo_data.DemoData) -> None:
    members = {member.member_id: member for member in generated.members}
    open_ids: dict[str, list[demo_data.Invoice]] = {}
    for invoice in generated.invoices:
        if invoice.status is billing.InvoiceStatus.OPEN:
            open_ids.setdefault(invoice.member_id, []).append(invoice)

    jose, zoe, ana = members["M-100001"], members["M-100002"], members["M-100003"]
    assert (jose.first_name, jose.last_name, jose.status) == ("José", "Álvarez", "grace")
    assert len(open_ids["M-100001"]) == 2
    assert (zoe.first_name, zoe.last_name, zoe.status) == ("Zoë", "Nguyễn", "binder_due")
    assert [inv.is_binder for inv in open_ids["M-100002"]] == [True]
    assert (ana.first_name, ana.last_name, ana.status) == ("Ana", "Pérez", "active")
    assert "M-100003" not in open_ids
    assert generated == demo_data.generate(seed=SEED, members=MEMBERS, today=TODAY)


def test_payment_applies_to_the_oldest_open_invoice_first(api: Api, kiosk_id: str) -> None:
    oldest, newer = api.open_invoices("M-100001")
    owed_oldest = oldest["amount_due_cents"] - oldest["amount_paid_cents"]
    _, cursor = api.feed()

    answer = api.pay(
        payment_body("M-100001", owed_oldest + 1000, kiosk_id=kiosk_id, kiosk_seq=1),
        str(uuid.uuid4()),
    )

    assert answer.status_code == 201, answer.text
    assert "Idempotent-Replayed" not in answer.headers
    body = answer.json()
    assert body["status"] == "confirmed" and body["confirmation_number"]
    assert body["applied"] == [
        {"invoice_id": oldest["invoice_id"], "amount_cents": owed_oldest},
        {"invoice_id": newer["invoice_id"], "amount_cents": 1000},
    ]
    assert body["credit_cents"] == 0
    paid_oldest, part_paid_newer = body["invoices"]
    assert paid_oldest == {
        **oldest,
        "amount_paid_cents": oldest["amount_due_cents"],
        "status": "paid",
    }
    assert part_paid_newer == {**newer, "amount_paid_cents": newer["amount_paid_cents"] + 1000}
    news = {(change["kind"], change["id"]): change["data"] for change in api.feed(cursor)[0]}
    assert news[("invoice", oldest["invoice_id"])] == paid_oldest
    assert news[("invoice", newer["invoice_id"])] == part_paid_newer
    assert (
        news[("payment", body["payment_id"])]["confirmation_number"] == body["confirmation_number"]
    )
    assert news[("member", "M-100001")]["status"] == "active"


def test_what_no_invoice_takes_becomes_credit(api: Api, kiosk_id: str) -> None:
    (binder,) = api.open_invoices("M-100002")

    answer = api.pay(
        payment_body("M-100002", binder["amount_due_cents"] + 5000, kiosk_id=kiosk_id, kiosk_seq=1),
        str(uuid.uuid4()),
    )

    assert answer.status_code == 201, answer.text
    assert answer.json()["credit_cents"] == 5000
    assert api.records()["member"]["M-100002"]["status"] == "active"
    assert api.open_invoices("M-100002") == []


def test_retry_with_same_key_and_body_replays_and_pays_once(api: Api, kiosk_id: str) -> None:
    body, key = payment_body("M-100010", 2500, kiosk_id=kiosk_id, kiosk_seq=1), str(uuid.uuid4())

    first = api.pay(body, key)
    retry = api.pay(body, key)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(payments_with_id(api, first.json()["payment_id"])) == 1


def test_payment_without_idempotency_key_is_refused(api: Api, kiosk_id: str) -> None:
    payment_id = str(uuid.uuid4())

    answer = api.pay(
        payment_body("M-100011", 2500, kiosk_id=kiosk_id, kiosk_seq=1, payment_id=payment_id),
        key=None,
    )

    assert_problem(answer, 400, "idempotency_key_missing")
    assert payments_with_id(api, payment_id) == []


def test_same_key_with_a_different_body_is_refused(api: Api, kiosk_id: str) -> None:
    key, payment_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = payment_body("M-100012", 2500, kiosk_id=kiosk_id, kiosk_seq=1, payment_id=payment_id)
    assert api.pay(body, key).status_code == 201

    other_amount = payment_body(
        "M-100012", 2600, kiosk_id=kiosk_id, kiosk_seq=1, payment_id=payment_id
    )
    same_json_other_bytes = json.dumps(json.loads(body), indent=1).encode()

    assert_problem(api.pay(other_amount, key), 422, "idempotency_key_reused")
    assert_problem(api.pay(same_json_other_bytes, key), 422, "idempotency_key_reused")
    assert len(payments_with_id(api, payment_id)) == 1


@pytest.fixture()
def slow_payments(api: Api) -> Iterator[int]:
    """Every new payment is held this long before committing, for this test only."""
    delay_ms = 1500
    api.set_payment_delay(delay_ms)
    yield delay_ms
    api.set_payment_delay(0)


def wait_for_state(api: Api, key: str, state: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        answer = api.get(f"/v1/operations/{key}")
        if answer.status_code == 200 and answer.json()["state"] == state:
            return
        time.sleep(0.02)
    pytest.fail(f"key never reached state {state}")


def test_concurrent_requests_with_one_key_get_one_201_and_one_409(
    api: Api, exchange: SandboxProcess, kiosk_id: str, slow_payments: int
) -> None:
    body, key = payment_body("M-100013", 3000, kiosk_id=kiosk_id, kiosk_seq=1), str(uuid.uuid4())
    other_thread_api = Api(exchange)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(other_thread_api.pay, body, key)
        wait_for_state(api, key, "processing")
        second = api.pay(body, key)
        first_answer = first.result(timeout=TIMEOUT)

    assert first_answer.status_code == 201, first_answer.text
    assert_problem(second, 409, "request_in_progress")
    later = api.pay(body, key)
    assert (later.status_code, later.headers.get("Idempotent-Replayed")) == (201, "true")
    assert len(payments_with_id(api, first_answer.json()["payment_id"])) == 1


def test_kiosk_sequence_reused_under_another_key_is_refused(api: Api, kiosk_id: str) -> None:
    accepted = api.pay(
        payment_body("M-100014", 2000, kiosk_id=kiosk_id, kiosk_seq=41), str(uuid.uuid4())
    )
    assert accepted.status_code == 201
    reuse_key = str(uuid.uuid4())
    reuse = payment_body("M-100014", 2000, kiosk_id=kiosk_id, kiosk_seq=41)

    refused = api.pay(reuse, reuse_key)
    replayed = api.pay(reuse, reuse_key)

    assert_problem(refused, 422, "kiosk_sequence_reused")
    assert replayed.content == refused.content
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert [p["kiosk_seq"] for p in api.ledger() if p["kiosk_id"] == kiosk_id] == [41]


def test_unknown_member_is_refused_and_the_answer_is_kept(api: Api, kiosk_id: str) -> None:
    key = str(uuid.uuid4())

    answer = api.pay(payment_body("M-999999", 2000, kiosk_id=kiosk_id, kiosk_seq=1), key)

    assert_problem(answer, 400, "unknown_member")
    operation = api.get(f"/v1/operations/{key}").json()
    assert (operation["state"], operation["status_code"]) == ("done", 400)
    assert operation["body"] == answer.json()


@pytest.mark.parametrize(
    "change",
    [
        {"amount_cents": 0},
        {"amount_cents": "2000"},
        {"amount_cents": 20.5},
        {"kiosk_seq": True},
        {"currency": "EUR"},
        {"payment_id": "not-a-uuid"},
        {"captured_at": "2026-11-28T10:15:00"},
        {"method": {"type": "card", "brand": "visa", "last4": "42"}},
    ],
)
def test_invalid_payment_is_refused(api: Api, kiosk_id: str, change: dict[str, Any]) -> None:
    body = json.dumps(
        {**json.loads(payment_body("M-100015", 2000, kiosk_id=kiosk_id, kiosk_seq=1)), **change}
    ).encode()

    assert_problem(api.pay(body, str(uuid.uuid4())), 400, "invalid_request")
    assert [p for p in api.ledger() if p["kiosk_id"] == kiosk_id] == []


@pytest.mark.parametrize("body", [b"", b"{not json", b"[]", b'{"member_id": "M-1"}'])
def test_payment_that_is_not_a_payment_object_is_refused(api: Api, body: bytes) -> None:
    assert_problem(api.pay(body, str(uuid.uuid4())), 400, "invalid_request")


def _signature(case: str, method: str, path: str, body: bytes) -> dict[str, str]:
    """The credential headers of one refusal case (a bearer token is no credential now)."""
    demo = DeviceCredential(kiosk_id="K", secret=DEMO_TOKEN)
    now = time.time()
    if case == "none":
        return {}
    if case.startswith(("Bearer", "Basic")):
        return {"Authorization": case, "X-Kiosk-Id": "K"}
    if case == "wrong_secret":
        other = DeviceCredential(kiosk_id="K", secret=new_secret())
        return signed_headers(other, method=method, path=path, now=now, body=body)
    if case == "stale":
        return signed_headers(demo, method=method, path=path, now=now - 301, body=body)
    return {**signed_headers(demo, method=method, path=path, now=now, body=body),
            TIME_HEADER: "soon"}


@pytest.mark.parametrize(
    "case, code",
    [
        ("none", "signature_missing"),
        ("Bearer wrong-token", "signature_missing"),
        (f"Basic {DEMO_TOKEN}", "signature_missing"),
        ("wrong_secret", "signature_invalid"),
        ("stale", "signature_expired"),
        ("bad_timestamp", "signature_timestamp_invalid"),
    ],
)
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/changes"),
        ("POST", "/v1/payments"),
        ("POST", "/v1/batch"),
        ("GET", "/v1/operations/some-key"),
    ],
)
def test_requests_without_a_valid_signature_are_refused(
    api: Api, exchange: SandboxProcess, case: str, code: str, method: str, path: str
) -> None:
    payment_id = str(uuid.uuid4())
    body = payment_body("M-100016", 100, kiosk_id="K", kiosk_seq=1, payment_id=payment_id)
    headers = {"Idempotency-Key": str(uuid.uuid4()), **_signature(case, method, path, body)}

    answer = requests.request(
        method, exchange.url + path, headers=headers, timeout=TIMEOUT, data=body
    )

    assert_problem(answer, 401, code)
    assert answer.headers["WWW-Authenticate"] == SCHEME
    assert payments_with_id(api, payment_id) == []


def test_operations_lookup_reports_what_was_done(api: Api, kiosk_id: str) -> None:
    key = str(uuid.uuid4())
    assert_problem(api.get(f"/v1/operations/{key}"), 404, "unknown_key")

    paid = api.pay(payment_body("M-100017", 4000, kiosk_id=kiosk_id, kiosk_seq=1), key)
    operation = api.get(f"/v1/operations/{key}")

    assert operation.status_code == 200
    assert operation.json() == {
        "idempotency_key": key,
        "state": "done",
        "status_code": 201,
        "body": paid.json(),
    }


def batch_operation(body: bytes, key: str, **change: Any) -> dict[str, Any]:
    """One operation of a batch, carrying the payment's exact bytes as a string."""
    operation = {
        "idempotency_key": key,
        "method": "POST",
        "path": "/v1/payments",
        "body": body.decode("utf-8"),
    }
    return {**operation, **change}


def batch_results(answer: requests.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def result_problem_code(result: dict[str, Any]) -> str:
    problem = json.loads(result["body"])
    assert problem["status"] == result["status"]
    code: str = problem["code"]
    return code


def test_batch_of_new_payments_pays_each_once_and_replays_whole(api: Api, kiosk_id: str) -> None:
    keys = [str(uuid.uuid4()) for _ in range(5)]
    bodies = [
        payment_body(f"M-10003{n}", 1000 + n, kiosk_id=kiosk_id, kiosk_seq=n) for n in range(5)
    ]
    operations = [batch_operation(body, key) for body, key in zip(bodies, keys, strict=True)]

    first = batch_results(api.batch(operations))
    again = batch_results(api.batch(operations))

    assert [r["idempotency_key"] for r in first] == keys
    assert [(r["status"], r["replayed"]) for r in first] == [(201, False)] * 5
    assert [(r["status"], r["replayed"], r["body"]) for r in again] == [
        (201, True, r["body"]) for r in first
    ]
    paid = [json.loads(r["body"]) for r in first]
    assert [p["payment_id"] for p in paid] == [json.loads(b)["payment_id"] for b in bodies]
    ledger = [p for p in api.ledger() if p["kiosk_id"] == kiosk_id]
    assert sorted(p["payment_id"] for p in ledger) == sorted(p["payment_id"] for p in paid)
    stored = api.get(f"/v1/operations/{keys[2]}").json()
    assert (stored["state"], stored["body"]) == ("done", paid[2])


def test_batch_answers_each_operation_as_alone_and_keeps_what_succeeded(
    api: Api, kiosk_id: str
) -> None:
    reused_key, unknown_key = str(uuid.uuid4()), str(uuid.uuid4())
    first_use = api.pay(payment_body("M-100040", 1000, kiosk_id=kiosk_id, kiosk_seq=1), reused_key)
    assert first_use.status_code == 201
    unknown_member = payment_body("M-999999", 2000, kiosk_id=kiosk_id, kiosk_seq=3)
    operations = [
        (payment_body("M-100041", 2000, kiosk_id=kiosk_id, kiosk_seq=2), str(uuid.uuid4())),
        (unknown_member, unknown_key),
        (payment_body("M-100040", 9999, kiosk_id=kiosk_id, kiosk_seq=1), reused_key),
        (payment_body("M-100042", 2000, kiosk_id=kiosk_id, kiosk_seq=2), str(uuid.uuid4())),
        (payment_body("M-100043", 3000, kiosk_id=kiosk_id, kiosk_seq=5), str(uuid.uuid4())),
    ]

    results = batch_results(api.batch([batch_operation(body, key) for body, key in operations]))

    assert [r["idempotency_key"] for r in results] == [key for _, key in operations]
    assert [r["status"] for r in results] == [201, 400, 422, 422, 201]
    assert [result_problem_code(r) for r in results[1:4]] == [
        "unknown_member",
        "idempotency_key_reused",
        "kiosk_sequence_reused",  # sequence 2 went to the first operation of this batch
    ]
    assert not any(r["replayed"] for r in results)
    ledger = [(p["kiosk_seq"], p["member_id"]) for p in api.ledger() if p["kiosk_id"] == kiosk_id]
    assert sorted(ledger) == [(1, "M-100040"), (2, "M-100041"), (5, "M-100043")]
    refusal_alone = api.pay(unknown_member, unknown_key)
    assert refusal_alone.headers["Idempotent-Replayed"] == "true", "the refusal was stored"
    assert refusal_alone.text == results[1]["body"]


def test_batch_replays_a_key_first_sent_alone(api: Api, kiosk_id: str) -> None:
    body, key = payment_body("M-100044", 1500, kiosk_id=kiosk_id, kiosk_seq=1), str(uuid.uuid4())
    alone = api.pay(body, key)
    assert alone.status_code == 201

    (result,) = batch_results(api.batch([batch_operation(body, key)]))

    assert (result["status"], result["replayed"]) == (201, True)
    assert result["body"].encode() == alone.content
    assert len(payments_with_id(api, alone.json()["payment_id"])) == 1


def test_a_key_first_sent_in_a_batch_replays_alone(api: Api, kiosk_id: str) -> None:
    # Not ASCII, so the exchange must hash the UTF-8 bytes a single request would carry.
    body = payment_body("M-100045", 1500, kiosk_id=kiosk_id, kiosk_seq=1).replace(
        b'"navigator.one"', '"navegante.peña"'.encode()
    )
    key = str(uuid.uuid4())
    (result,) = batch_results(api.batch([batch_operation(body, key)]))
    assert (result["status"], result["replayed"]) == (201, False)

    alone = api.pay(body, key)

    assert (alone.status_code, alone.headers.get("Idempotent-Replayed")) == (201, "true")
    assert alone.content == result["body"].encode()
    assert len(payments_with_id(api, alone.json()["payment_id"])) == 1


def test_a_key_twice_in_one_batch_is_done_once_then_replayed(api: Api, kiosk_id: str) -> None:
    body, key = payment_body("M-100046", 1500, kiosk_id=kiosk_id, kiosk_seq=1), str(uuid.uuid4())
    other = payment_body("M-100046", 1600, kiosk_id=kiosk_id, kiosk_seq=2)
    operations = [
        batch_operation(body, key),
        batch_operation(body, key),
        batch_operation(other, key),
    ]

    first, second, third = batch_results(api.batch(operations))

    assert (first["status"], first["replayed"]) == (201, False)
    assert (second["status"], second["replayed"], second["body"]) == (201, True, first["body"])
    assert (third["status"], result_problem_code(third)) == (422, "idempotency_key_reused")
    assert len(payments_with_id(api, json.loads(first["body"])["payment_id"])) == 1


def test_batch_operation_on_a_key_still_in_progress_answers_409(
    api: Api, exchange: SandboxProcess, kiosk_id: str, slow_payments: int
) -> None:
    body, key = payment_body("M-100047", 3000, kiosk_id=kiosk_id, kiosk_seq=1), str(uuid.uuid4())
    other = payment_body("M-100048", 3000, kiosk_id=kiosk_id, kiosk_seq=2)
    other_thread_api = Api(exchange)

    with ThreadPoolExecutor(max_workers=1) as pool:
        alone = pool.submit(other_thread_api.pay, body, key)
        wait_for_state(api, key, "processing")
        busy, beside = batch_results(
            api.batch([batch_operation(body, key), batch_operation(other, str(uuid.uuid4()))])
        )
        alone_answer = alone.result(timeout=TIMEOUT)

    assert (busy["status"], result_problem_code(busy)) == (409, "request_in_progress")
    assert beside["status"] == 201, "a batch is not held by the payment delay"
    assert alone_answer.status_code == 201
    (later,) = batch_results(api.batch([batch_operation(body, key)]))
    assert (later["status"], later["replayed"], later["body"].encode()) == (
        201,
        True,
        alone_answer.content,
    )


def _valid_operation(kiosk_id: str, seq: int = 1) -> dict[str, Any]:
    return batch_operation(
        payment_body("M-100049", 1000, kiosk_id=kiosk_id, kiosk_seq=seq), str(uuid.uuid4())
    )


@pytest.mark.parametrize(
    "envelope",
    [
        pytest.param(lambda k: {"operations": []}, id="no-operations"),
        pytest.param(
            lambda k: {"operations": [_valid_operation(k, n) for n in range(101)]},
            id="101-operations",
        ),
        pytest.param(
            lambda k: {"operations": [{**_valid_operation(k), "path": "/v1/refunds"}]},
            id="other-path",
        ),
        pytest.param(
            lambda k: {"operations": [{**_valid_operation(k), "method": "PUT"}]}, id="other-method"
        ),
        pytest.param(
            lambda k: {
                "operations": [
                    _valid_operation(k, 1),
                    {**_valid_operation(k, 2), "body": json.loads(_valid_operation(k)["body"])},
                ]
            },
            id="body-not-a-string",
        ),
        pytest.param(
            lambda k: {"operations": [{"method": "POST", "path": "/v1/payments", "body": "{}"}]},
            id="no-key",
        ),
        pytest.param(lambda k: [_valid_operation(k)], id="not-an-object"),
    ],
)
def test_batch_not_of_the_contract_form_is_refused_whole(
    api: Api, kiosk_id: str, envelope: Callable[[str], Any]
) -> None:
    assert_problem(api.post("/v1/batch", json=envelope(kiosk_id)), 400, "batch_invalid")
    assert [p for p in api.ledger() if p["kiosk_id"] == kiosk_id] == []


def test_batch_that_is_not_json_is_refused(api: Api) -> None:
    assert_problem(api.post("/v1/batch", data=b"{not json"), 400, "batch_invalid")


def test_batch_operation_that_fails_is_rolled_back_alone(tmp_path: Path) -> None:
    store = ExchangeStore(tmp_path / "exchange.sqlite3")
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    store.initialize(
        lambda: demo_data.generate(seed=1, members=10, today=now.date()),
        purge_before=now - timedelta(days=45),
    )
    invoices_before = store_invoices(store, "M-100001")
    with closing(sqlite3.connect(store.path)) as conn:
        # A real failure half-way through the operation: after its invoices were updated.
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON payments WHEN NEW.member_id = 'M-100001'"
            " BEGIN SELECT RAISE(ABORT, 'disk said no'); END"
        )
    keys = [str(uuid.uuid4()) for _ in range(3)]
    bodies = [
        payment_body(member, 2000, kiosk_id="K-ROLLBACK", kiosk_seq=n)
        for n, member in enumerate(("M-100003", "M-100001", "M-100004"))
    ]

    operations = [(key, body, "/v1/payments") for key, body in zip(keys, bodies, strict=True)]
    outcomes = store.perform_batch(operations, now=now, today=now.date())

    assert [o.answer.status_code for o in outcomes] == [201, 500, 201]
    assert json.loads(outcomes[1].answer.body)["code"] == "internal_error"
    kiosk_payments = [p for p in store.ledger() if p["kiosk_id"] == "K-ROLLBACK"]
    assert [p["member_id"] for p in kiosk_payments] == ["M-100003", "M-100004"]
    assert store_invoices(store, "M-100001") == invoices_before
    assert store.operation(keys[1]) is None, "the failed operation's key stays free for a retry"


def store_invoices(store: ExchangeStore, member_id: str) -> list[dict[str, Any]]:
    changes = store.changes_after(0, 10_000).changes
    return [
        c["data"] for c in changes if c["kind"] == "invoice" and c["data"]["member_id"] == member_id
    ]


def test_restart_on_the_same_port_keeps_payments_and_keys(
    api: Api, exchange: SandboxProcess, kiosk_id: str
) -> None:
    body, key = payment_body("M-100018", 1500, kiosk_id=kiosk_id, kiosk_seq=1), str(uuid.uuid4())
    paid = api.pay(body, key)
    port = exchange.port

    exchange.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(exchange.url + "/v1/health", timeout=TIMEOUT)
    exchange.start()

    assert exchange.port == port
    replay = api.pay(body, key)
    assert (replay.status_code, replay.content) == (201, paid.content)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(payments_with_id(api, paid.json()["payment_id"])) == 1


def contract_shape(doc: dict[str, Any]) -> dict[str, Any]:
    """What the contract promises, without what a FastAPI or pydantic upgrade may reword:
    each operation's responses, parameters and body schema, and each schema's fields."""
    operations = {
        f"{method.upper()} {path}": {
            "responses": sorted(op.get("responses", {})),
            "parameters": sorted(p["name"] for p in op.get("parameters", [])),
            "summary": op.get("summary", ""),
        }
        for path, item in doc.get("paths", {}).items()
        for method, op in item.items()
    }
    schemas = {
        name: {
            "properties": sorted(schema.get("properties", {})),
            "required": sorted(schema.get("required", [])),
        }
        for name, schema in doc.get("components", {}).get("schemas", {}).items()
    }
    return {"operations": operations, "schemas": schemas}


def test_openapi_document_is_current(exchange: SandboxProcess, tmp_path: Path) -> None:
    committed = json.loads((PROJECT_ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    app = create_app(tmp_path / "unused.sqlite3", config=SandboxConfig())

    assert contract_shape(json.loads(openapi.render(app))) == contract_shape(committed), (
        "docs/openapi.json is stale: run python -m sync.sandbox --write-openapi docs/openapi.json"
    )
    served = requests.get(exchange.url + "/openapi.json", timeout=TIMEOUT).json()
    assert contract_shape(served) == contract_shape(committed)
    assert {"/v1/payments", "/v1/batch", "/v1/changes"} <= set(committed["paths"])


def test_sandbox_process_reports_a_start_that_fails(tmp_path: Path) -> None:
    occupied = tmp_path / "not-a-directory"
    occupied.write_text("a file where the database folder should be")

    with pytest.raises(SandboxStartError, match="FileExistsError"):
        SandboxProcess(occupied / "exchange.sqlite3").start()


ORPHANING_PARENT = """
import sys, time
from pathlib import Path
from sync.sandbox.server import SandboxProcess
exchange = SandboxProcess(Path(sys.argv[1]), members=10).start()
print(exchange.url, flush=True)
time.sleep(60)
"""


def test_exchange_stops_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_PARENT, str(tmp_path / "exchange.sqlite3")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert parent.stdout is not None
    url = parent.stdout.readline().strip()  # SandboxProcess gives up after 20 s
    assert requests.get(url + "/v1/health", timeout=TIMEOUT).status_code == 200

    parent.kill()
    parent.wait(timeout=TIMEOUT)
    parent.stdout.close()

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/v1/health", timeout=1)
        except requests.ConnectionError:
            return
        time.sleep(0.05)
    pytest.fail("the exchange outlived the process that started it")


def test_store_purges_expired_and_unfinished_keys_on_start(tmp_path: Path) -> None:
    store = ExchangeStore(tmp_path / "exchange.sqlite3")
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    store.initialize(
        lambda: demo_data.generate(seed=1, members=10, today=now.date()),
        purge_before=now - timedelta(days=45),
    )
    answer = StoredAnswer(status_code=201, media_type="application/json", body=b"{}")
    for key, age_days in (("old", 46), ("recent", 44)):
        store.claim_key(key, "fingerprint", now=now - timedelta(days=age_days))
        store.complete_key(key, answer, now=now)
    store.claim_key("unfinished", "fingerprint", now=now)

    store.initialize(
        lambda: pytest.fail("a seeded database is not seeded again"),
        purge_before=now - timedelta(days=45),
    )

    assert store.operation("old") is None
    assert store.operation("unfinished") is None
    assert store.claim_key("recent", "fingerprint", now=now).outcome is ClaimOutcome.REPLAY


@given(
    amount=st.integers(min_value=0, max_value=500_000),
    balances=st.lists(st.integers(min_value=1, max_value=100_000), max_size=5),
)
def test_payment_allocation_fills_oldest_invoices_first(amount: int, balances: list[int]) -> None:
    invoices = [
        billing.OpenInvoice(
            invoice_id=f"INV-{n}",
            coverage_month=f"2026-{n + 1:02d}",
            due_date=date(2026, n + 1, 1) - timedelta(days=1),
            balance_cents=balance,
            is_binder=False,
        )
        for n, balance in enumerate(balances)
    ]

    application = billing.apply_payment(amount, reversed(invoices))

    taken = [allocation.amount_cents for allocation in application.allocations]
    assert sum(taken) + application.credit_cents == amount
    assert [a.invoice_id for a in application.allocations] == [
        inv.invoice_id for inv in invoices[: len(taken)]
    ]
    for position, allocation in enumerate(application.allocations):
        is_last = position == len(taken) - 1
        assert 0 < allocation.amount_cents <= balances[position]
        assert is_last or allocation.amount_cents == balances[position]
    assert application.credit_cents == max(0, amount - sum(balances))


# -- ACH payments and returns, saved methods, hosted links --------------------------------------

ROUTING = "111000025"


def ach_body(member_id: str, amount_cents: int, *, kiosk_id: str, kiosk_seq: int) -> bytes:
    body = json.loads(payment_body(member_id, amount_cents, kiosk_id=kiosk_id, kiosk_seq=kiosk_seq))
    body["method"] = {
        "type": "ach",
        "routing_number": ROUTING,
        "account_number": "000123456789",
        "account_type": "checking",
        "authorization": {
            "authorization_id": str(uuid.uuid4()),
            "signed_at": "2026-11-28T10:15:00Z",
            "method": "typed_name",
            "language": "es",
            "text_sha256": "a" * 64,
        },
    }
    return json.dumps(body).encode()


def method_change(action: str, method_id: str, *, kiosk_id: str, kiosk_seq: int,
                  member_id: str = "M-100020", **fields: Any) -> bytes:
    body = {
        "action": action,
        "method_id": method_id,
        "member_id": member_id,
        "kiosk_id": kiosk_id,
        "kiosk_seq": kiosk_seq,
        "changed_at": "2026-11-28T10:15:00Z",
        "navigator": "navigator.one",
        **fields,
    }
    return json.dumps(body).encode()


SAVED_CARD = {
    "type": "card", "token": "tok_1", "brand": "visa", "last4": "4242", "exp_month": 12,
    "exp_year": 2030,
}


def change_method(api: Api, body: bytes, key: str | None = None) -> requests.Response:
    return api.post(
        "/v1/payment-methods", data=body,
        headers={"Idempotency-Key": key or str(uuid.uuid4()), "Content-Type": "application/json"},
    )


def test_an_ach_return_reopens_what_the_payment_paid_and_is_published(
    api: Api, kiosk_id: str
) -> None:
    before = api.open_invoices("M-100021")
    owed = sum(inv["amount_due_cents"] - inv["amount_paid_cents"] for inv in before)
    paid = api.pay(ach_body("M-100021", owed, kiosk_id=kiosk_id, kiosk_seq=1), str(uuid.uuid4()))
    assert paid.status_code == 201, paid.text
    payment_id = paid.json()["payment_id"]
    assert api.open_invoices("M-100021") == []
    _, cursor = api.feed()

    returned = api.post("/_sandbox/ach-returns",
                        json={"payment_id": payment_id, "return_code": "R01"})

    assert returned.status_code == 200, returned.text
    news = {(c["kind"], c["id"]): c["data"] for c in api.feed(cursor)[0]}
    record = news[("payment", payment_id)]
    assert (record["status"], record["return_code"], record["method"]) == (
        "returned", "R01", "ach")
    assert record["returned_at"]
    assert [inv["invoice_id"] for inv in api.open_invoices("M-100021")] == [
        inv["invoice_id"] for inv in before]
    again = api.post("/_sandbox/ach-returns", json={"payment_id": payment_id, "return_code": "R01"})
    assert again.status_code == 404, "a payment is returned once"


def test_a_card_payment_cannot_be_returned_as_ach(api: Api, kiosk_id: str) -> None:
    paid = api.pay(payment_body("M-100022", 1000, kiosk_id=kiosk_id, kiosk_seq=1),
                   str(uuid.uuid4()))
    answer = api.post("/_sandbox/ach-returns",
                      json={"payment_id": paid.json()["payment_id"], "return_code": "R01"})
    assert_problem(answer, 404, "not_found")


def test_method_changes_are_idempotent_and_share_the_kiosk_sequence(
    api: Api, kiosk_id: str
) -> None:
    method_id, key = str(uuid.uuid4()), str(uuid.uuid4())
    add = method_change("add", method_id, kiosk_id=kiosk_id, kiosk_seq=1, method=SAVED_CARD,
                        make_default=True)
    first = change_method(api, add, key)
    replay = change_method(api, add, key)
    assert first.status_code == 201 and first.json()["is_default"] is True
    assert (replay.status_code, replay.content) == (201, first.content)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert_problem(change_method(api, add), 422, "kiosk_sequence_reused")
    paid_with_seq = api.pay(payment_body("M-100020", 1000, kiosk_id=kiosk_id, kiosk_seq=1),
                            str(uuid.uuid4()))
    assert_problem(paid_with_seq, 422, "kiosk_sequence_reused")
    unknown = method_change("remove", str(uuid.uuid4()), kiosk_id=kiosk_id, kiosk_seq=2)
    assert_problem(change_method(api, unknown), 400, "unknown_method")
    remove = method_change("remove", method_id, kiosk_id=kiosk_id, kiosk_seq=3)
    assert change_method(api, remove).json()["status"] == "removed"
    late_default = method_change("set_default", method_id, kiosk_id=kiosk_id, kiosk_seq=4)
    assert_problem(change_method(api, late_default), 400, "method_removed")


def test_a_batch_carries_method_changes_beside_payments(api: Api, kiosk_id: str) -> None:
    method_id = str(uuid.uuid4())
    add = method_change("add", method_id, kiosk_id=kiosk_id, kiosk_seq=2, method=SAVED_CARD,
                        make_default=False)
    operations = [
        batch_operation(payment_body("M-100023", 1000, kiosk_id=kiosk_id, kiosk_seq=1),
                        str(uuid.uuid4())),
        batch_operation(add, str(uuid.uuid4()), path="/v1/payment-methods"),
    ]
    first, second = batch_results(api.batch(operations))
    assert (first["status"], second["status"]) == (201, 201)
    assert json.loads(second["body"])["method_id"] == method_id


def test_hosted_links_refuse_what_the_contract_refuses(api: Api) -> None:
    request = {"member_id": "M-999999", "amount_cents": 1000, "currency": "USD",
               "provider": "venmo", "kiosk_id": "K-HOSTED", "navigator": "navigator.one"}
    assert_problem(api.post("/v1/hosted-payments", json=request), 400,
                   "idempotency_key_missing")
    key = str(uuid.uuid4())
    unknown = api.post("/v1/hosted-payments", json=request, headers={"Idempotency-Key": key})
    assert_problem(unknown, 400, "unknown_member")
    replayed = api.post("/v1/hosted-payments", json=request, headers={"Idempotency-Key": key})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    bad = {**request, "member_id": "M-100024", "provider": "zelle"}
    assert_problem(api.post("/v1/hosted-payments", json=bad,
                            headers={"Idempotency-Key": str(uuid.uuid4())}),
                   400, "invalid_request")
    assert_problem(api.get("/v1/hosted-payments/nope"), 404, "unknown_hosted_payment")
    made = api.post("/v1/hosted-payments", json={**request, "member_id": "M-100024"},
                    headers={"Idempotency-Key": str(uuid.uuid4())}).json()
    text = api.post(f"/v1/hosted-payments/{made['hosted_payment_id']}/sms",
                    json={"phone": "312-555-0100"})
    assert_problem(text, 400, "invalid_request")
    assert requests.get(f"{api.exchange.url}/p/NOPE", timeout=TIMEOUT).status_code == 404


def test_a_ledger_from_before_ach_is_upgraded_with_its_payments(tmp_path: Path) -> None:
    store = ExchangeStore(tmp_path / "exchange.sqlite3")
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)

    def start() -> None:
        store.initialize(lambda: demo_data.generate(seed=1, members=10, today=now.date()),
                         purge_before=now - timedelta(days=45))

    start()
    with closing(sqlite3.connect(store.path)) as conn:  # the ledger as it was made before
        conn.executescript(
            "DROP TABLE payments;"
            "CREATE TABLE payments (payment_id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL"
            " UNIQUE, member_id TEXT NOT NULL, amount_cents INTEGER NOT NULL, credit_cents"
            " INTEGER NOT NULL, applied TEXT NOT NULL, confirmation_number TEXT NOT NULL UNIQUE,"
            " status TEXT NOT NULL, kiosk_id TEXT NOT NULL, kiosk_seq INTEGER NOT NULL,"
            " received_at TEXT NOT NULL, UNIQUE (kiosk_id, kiosk_seq));"
            "INSERT INTO payments VALUES ('p1', 'k1', 'M-100001', 100, 0, '[]', 'HCX-1',"
            " 'confirmed', 'K1', 1, '2026-11-01T00:00:00Z');"
        )
    start()
    (old,) = store.ledger()
    assert (old["payment_id"], old["method"], old["kiosk_seq"]) == ("p1", "card", 1)
    assert old["hosted_payment_id"] is None and old["return_code"] == ""
