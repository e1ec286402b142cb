"""recordPromise over HTTP, and promises kept, partially kept or reopened by payments and their
reversal (the rule's boundaries are driven in tests/unit/test_promises.py).

The loan (CNY): principal 3000.00 in three instalments of 1000.00 due 40 days ago, 10 days ago
and in 20 days (DPD 40). Promises are 500.00 due in 5 days unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.payment_cases import (
    POST,
    PROMISES,
    RECORD,
    REVERSE,
    Loan,
    event_names,
    make_loan,
    money,
    payment_input,
    today,
)
from tests.factories import Factory, global_id, writing
from tests.helpers import Gql, assert_forbidden

a = tables.audit_entries.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


@pytest.fixture
async def core(factory: Factory) -> str:
    staff = await factory.staff(roles=("integration",))
    return str(staff.login)


async def loan(factory: Factory, engine: AsyncEngine, **shape: Any) -> Loan:
    return await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (-10, "1000.00"), (20, "1000.00")],
        principal="3000.00",
        **shape,
    )


def promise_input(
    target: Loan, amount: str = "500.00", due_in: int = 5, **extra: Any
) -> dict[str, Any]:
    due = (today() + timedelta(days=due_in)).isoformat()
    return {
        "input": {
            "caseId": target.case_gid,
            "amount": amount,
            "currency": "CNY",
            "dueDate": due,
            **extra,
        }
    }


async def record(gql: Gql, login: str, variables: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(login, RECORD, variables))["r"]
    return result


async def promises_of(gql: Gql, target: Loan) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql("manager", PROMISES, {"id": target.case_gid}))["r"][
        "promises"
    ]
    return found


async def pay(gql: Gql, login: str, target: Loan, amount: str, **extra: Any) -> dict[str, Any]:
    variables = payment_input(target, amount, f"TX-{uuid.uuid4().hex[:12]}")
    variables["input"].update(extra)
    result: dict[str, Any] = (await gql(login, POST, variables))["r"]
    assert result["__typename"] == "PostPaymentSuccess", result
    return result


# ---- recording ----------------------------------------------------------------------------------


async def test_a_collector_records_a_promise_credited_to_them(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    response = await gql.raw("collector1", RECORD, promise_input(target))
    result = response.json()["data"]["r"]
    assert result["__typename"] == "RecordPromiseSuccess", result
    promise = result["promise"]
    assert {k: v for k, v in promise.items() if k != "id"} == {
        "amount": money("500.00"),
        "dueDate": (today() + timedelta(days=5)).isoformat(),
        "status": "OPEN",
        "paidAmount": {"amount": "0.00"},
        "promisedOn": today().isoformat(),
        "graceDays": 3,
        "collector": {"login": "collector1"},
        "agency": None,
    }
    assert await event_names(engine, target.case_id) == ["PromiseRecorded"]
    async with engine.connect() as conn:
        entries = (
            await conn.execute(
                select(a.action, a.outcome).where(a.request_id == response.headers["x-request-id"])
            )
        ).all()
    assert [tuple(e) for e in entries] == [("promise.record", "ALLOWED")]
    node = "query($id: ID!) { r: node(id: $id) { ... on PromiseToPay { status } } }"
    assert (await gql("collector1", node, {"id": promise["id"]}))["r"] == {"status": "OPEN"}


async def test_a_new_promise_supersedes_the_open_one(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    first = (await record(gql, "collector1", promise_input(target)))["promise"]
    second = (await record(gql, "collector1", promise_input(target, "800.00", 10)))["promise"]
    assert [(p["id"], p["status"]) for p in await promises_of(gql, target)] == [
        (second["id"], "OPEN"),
        (first["id"], "SUPERSEDED"),
    ]
    assert await event_names(engine, target.case_id) == [
        "PromiseRecorded",
        "PromiseRecorded",
        "PromiseSuperseded",
    ]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"dueIn": -1}, "PROMISE_DUE_DATE_INVALID", "dueDate"),
        ({"dueIn": 31}, "PROMISE_DUE_DATE_INVALID", "dueDate"),
        ({"amount": "0.00"}, "AMOUNT_NOT_POSITIVE", "amount"),
        ({"amount": "10.005"}, "AMOUNT_TOO_PRECISE", "amount"),
        ({"currency": "USD"}, "CURRENCY_MISMATCH", "currency"),
        ({"caseId": global_id("Case", 2_000_000_000)}, "CASE_NOT_FOUND", "caseId"),
        ({"contactId": "bogus"}, "PROMISE_CONTACT_INVALID", "contactId"),
    ],
)
async def test_refusals_are_typed_and_record_nothing(
    gql: Gql,
    engine: AsyncEngine,
    factory: Factory,
    change: dict[str, Any],
    code: str,
    field: str,
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    variables = promise_input(target, due_in=change.pop("dueIn", 5))
    variables["input"].update(change)
    result = await record(gql, "collector1", variables)
    assert (result["code"], result["field"]) == (code, field), result
    assert await promises_of(gql, target) == []
    assert await event_names(engine, target.case_id) == []


@pytest.mark.parametrize("due_in", [0, 30])
async def test_the_due_date_may_be_today_or_thirty_days_ahead(
    gql: Gql, engine: AsyncEngine, factory: Factory, due_in: int
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    result = await record(gql, "collector1", promise_input(target, due_in=due_in))
    assert result["promise"]["dueDate"] == (today() + timedelta(days=due_in)).isoformat()


async def test_a_closed_case_takes_no_promise(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    target = await loan(factory, engine, assignee="collector1", status="CLOSED")
    result = await record(gql, "collector1", promise_input(target))
    assert (result["code"], result["field"]) == ("CASE_CLOSED", "caseId")


async def test_promises_only_on_cases_in_scope(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    others = await loan(factory, engine, assignee="collector3")
    refused = await record(gql, "collector1", promise_input(others))
    assert (refused["code"], refused["field"]) == ("CASE_NOT_FOUND", "caseId")
    zenith = await loan(factory, engine, agency="Zenith Collections")
    refused = await record(gql, "acme.agent1", promise_input(zenith))
    assert refused["code"] == "CASE_NOT_FOUND"
    acme = await loan(factory, engine, agency="Acme Recovery")
    made = await record(gql, "acme.agent1", promise_input(acme))
    assert (made["promise"]["collector"], made["promise"]["agency"]) == (
        {"login": "acme.agent1"},
        {"name": "Acme Recovery"},
    )
    for login in ("auditor1", "legal1"):
        assert_forbidden(await gql.errors(login, RECORD, promise_input(acme)))


async def test_a_promise_from_a_contact_is_credited_to_whoever_made_it(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    target = await loan(factory, engine, agency="Acme Recovery")
    async with writing(engine) as conn:
        s, ag = tables.staff.c, tables.agencies.c
        agent = (await conn.execute(select(s.id).where(s.login == "acme.agent1"))).scalar_one()
        agency = (await conn.execute(select(ag.id).where(ag.name == "Acme Recovery"))).scalar_one()
        inserted = await conn.execute(
            insert(tables.contacts).values(
                case_id=target.case_id,
                borrower_id=target.made.borrower.id,
                staff_id=agent,
                agency_id=agency,
                at=datetime.now(UTC),
                channel="PHONE",
                direction="OUTBOUND",
                party="BORROWER",
                outcome="PROMISE_TO_PAY",
                notes="",
                source="LOGGED",
                blocked=False,
                breaches=[],
                consented=False,
            )
        )
        assert inserted.inserted_primary_key is not None
        contact = inserted.inserted_primary_key[0]
    # A manager records it, from the agent's contact: the agent and the agency get the credit.
    made = await record(
        gql, "manager", promise_input(target, contactId=global_id("Contact", contact))
    )
    assert (made["promise"]["collector"], made["promise"]["agency"]) == (
        {"login": "acme.agent1"},
        {"name": "Acme Recovery"},
    )
    elsewhere = await loan(factory, engine)
    refused = await record(
        gql, "manager", promise_input(elsewhere, contactId=global_id("Contact", contact))
    )
    assert (refused["code"], refused["field"]) == ("PROMISE_CONTACT_INVALID", "contactId")


async def insert_contact(engine: AsyncEngine, target: Loan, login: str, **state: Any) -> int:
    """A contact by ``login`` on the loan's case (logged with an outcome unless ``state`` says
    otherwise: ``blocked``, ``outcome=None``)."""
    async with writing(engine) as conn:
        s = tables.staff.c
        staff = (await conn.execute(select(s.id).where(s.login == login))).scalar_one()
        values: dict[str, Any] = {
            "case_id": target.case_id,
            "borrower_id": target.made.borrower.id,
            "staff_id": staff,
            "at": datetime.now(UTC),
            "channel": "PHONE",
            "direction": "OUTBOUND",
            "party": "BORROWER",
            "outcome": "PROMISE_TO_PAY",
            "notes": "",
            "source": "LOGGED",
            "blocked": False,
            "breaches": [],
            "consented": False,
            **state,
        }
        inserted = await conn.execute(insert(tables.contacts).values(**values))
        assert inserted.inserted_primary_key is not None
        return int(inserted.inserted_primary_key[0])


@pytest.mark.parametrize(
    ("state", "code"),
    [
        # startContact refused it (a conduct rule): it never took place.
        (
            {"blocked": True, "outcome": None, "source": "STARTED", "rule": "CALL_FREQUENCY"},
            "CONTACT_BLOCKED",
        ),
        # startContact granted it, and it has no outcome yet.
        ({"outcome": None, "source": "STARTED"}, "CONTACT_NOT_COMPLETED"),
    ],
)
async def test_a_promise_needs_a_contact_that_took_place(
    gql: Gql, engine: AsyncEngine, factory: Factory, state: dict[str, Any], code: str
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    contact = await insert_contact(engine, target, "collector1", **state)
    response = await gql.raw(
        "collector1", RECORD, promise_input(target, contactId=global_id("Contact", contact))
    )
    refused = response.json()["data"]["r"]
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "RuleViolationError",
        code,
        "contactId",
    )
    assert await promises_of(gql, target) == []
    async with engine.connect() as conn:
        entries = (
            await conn.execute(
                select(a.action, a.outcome, a.changes).where(
                    a.request_id == response.headers["x-request-id"]
                )
            )
        ).all()
    assert [tuple(e) for e in entries] == [("promise.record", "DENIED", {"refused": code})]


# ---- payments keep, partly keep and reopen promises -------------------------------------------


async def test_a_reversal_supersedes_a_kept_promise_that_a_newer_one_followed(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # P1 (500.00) is KEPT by 500.00; P2 (300.00) is recorded (P1 stays KEPT, the 500.00 went
    # to P1 first). The 500.00 bounces: P1 does not go back to OPEN beside P2, it is
    # SUPERSEDED (0.00 counts toward it); P2 stays OPEN — one open promise on the case.
    target = await loan(factory, engine, assignee="collector1")
    await record(gql, "collector1", promise_input(target))
    paid = await pay(gql, core, target, "500.00")
    await record(gql, "collector1", promise_input(target, "300.00", due_in=7))
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("OPEN", {"amount": "0.00"}),
        ("KEPT", {"amount": "500.00"}),
    ]
    reversal = {"input": {"paymentId": paid["payment"]["id"], "reason": "bounced"}}
    assert (await gql(core, REVERSE, reversal))["r"]["__typename"] == "ReversePaymentSuccess"
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("OPEN", {"amount": "0.00"}),
        ("SUPERSEDED", {"amount": "0.00"}),
    ]


async def test_paid_in_full_is_kept_at_once_and_a_reversal_reopens_it(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    await record(gql, "collector1", promise_input(target))
    partial = await pay(gql, core, target, "499.99")
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("OPEN", {"amount": "499.99"})
    ]
    rest = await pay(gql, core, target, "0.01")
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("KEPT", {"amount": "500.00"})
    ]
    reversal = {"input": {"paymentId": rest["payment"]["id"], "reason": "bounced"}}
    assert (await gql(core, REVERSE, reversal))["r"]["__typename"] == "ReversePaymentSuccess"
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("OPEN", {"amount": "499.99"})
    ]
    reversal = {"input": {"paymentId": partial["payment"]["id"], "reason": "bounced"}}
    await gql(core, REVERSE, reversal)
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("OPEN", {"amount": "0.00"})
    ]
    names = await event_names(engine, target.case_id)
    assert names.count("PromiseEvaluated") == 4


async def test_a_cure_cancels_the_open_promise_and_its_reversal_restores_it(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 2000.00 pays both overdue instalments: DPD 0, the case is CURED and CLOSED. The promise
    # of 2500.00 is not kept (2000.00 counted) but has nothing left to keep: CANCELLED, as of
    # the closing. The payment bounces: the case reopens and the promise stands again, OPEN.
    target = await loan(factory, engine, assignee="collector1")
    await record(gql, "collector1", promise_input(target, "2500.00"))
    cured = await pay(gql, core, target, "2000.00")
    assert (cured["case"]["status"], cured["case"]["closeReason"]) == ("CLOSED", "CURED")
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("CANCELLED", {"amount": "2000.00"})
    ]
    c, p = tables.cases.c, tables.promises.c
    async with engine.connect() as conn:
        closed_at = (await conn.execute(select(c.closed_at).where(c.id == target.case_id))).one()[0]
        resolved_at = (
            await conn.execute(select(p.resolved_at).where(p.case_id == target.case_id))
        ).one()[0]
    assert closed_at is not None and resolved_at == closed_at
    reversal = {"input": {"paymentId": cured["payment"]["id"], "reason": "bounced"}}
    reversed_ = (await gql(core, REVERSE, reversal))["r"]
    assert reversed_["__typename"] == "ReversePaymentSuccess"
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("OPEN", {"amount": "0.00"})
    ]
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(c.status, p.resolved_at).where(c.id == target.case_id, p.case_id == c.id)
            )
        ).one()
    assert (row.status, row.resolved_at) == ("OPEN", None)
    names = await event_names(engine, target.case_id)
    assert names.count("PromiseEvaluated") == 2


async def test_a_reopening_that_does_not_undo_the_closing_leaves_the_promise_cancelled(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 1000.00 then 1000.00 cure the case; the promise of 2500.00 is CANCELLED. The first
    # payment bounces: the second is applied again, the arrears are back inside the watch
    # window and the case reopens (REOPEN, a new default), but the closing payment stands, so
    # the closing is not undone and the promise stays CANCELLED.
    target = await loan(factory, engine, assignee="collector1")
    await record(gql, "collector1", promise_input(target, "2500.00"))
    first = await pay(gql, core, target, "1000.00")
    cured = await pay(gql, core, target, "1000.00")
    assert cured["case"]["status"] == "CLOSED"
    assert [p["status"] for p in await promises_of(gql, target)] == ["CANCELLED"]
    reversal = {"input": {"paymentId": first["payment"]["id"], "reason": "bounced"}}
    reopened = (await gql(core, REVERSE, reversal))["r"]
    assert (reopened["__typename"], reopened["case"]["status"]) == (
        "ReversePaymentSuccess",
        "OPEN",
    )
    assert [(p["status"], p["paidAmount"]) for p in await promises_of(gql, target)] == [
        ("CANCELLED", {"amount": "2000.00"})
    ]


async def test_a_payment_made_before_the_promise_does_not_count_one_made_today_does(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    yesterday = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    await pay(gql, core, target, "500.00", paidAt=yesterday)
    made = await record(gql, "collector1", promise_input(target))
    assert (made["promise"]["status"], made["promise"]["paidAmount"]) == (
        "OPEN",
        {"amount": "0.00"},
    )
    # Today's payment (an hour ago, as payment_input dates it) counts: the next promise is kept
    # as soon as it is recorded.
    other = await loan(factory, engine, assignee="collector1")
    await pay(gql, core, other, "500.00")
    made = await record(gql, "collector1", promise_input(other))
    assert (made["promise"]["status"], made["promise"]["paidAmount"]) == (
        "KEPT",
        {"amount": "500.00"},
    )


@pytest.mark.parametrize("changed", ["amount", "currency", "dueDate", "contactId"])
async def test_a_retry_with_the_same_key_records_once(
    gql: Gql, engine: AsyncEngine, factory: Factory, changed: str
) -> None:
    """The same key with any one field of the input changed is refused (each field counts)."""
    target = await loan(factory, engine, assignee="collector1")
    variables = promise_input(target, idempotencyKey=str(uuid.uuid4()))
    first = await record(gql, "collector1", variables)
    again = await record(gql, "collector1", variables)
    assert again == first
    assert len(await promises_of(gql, target)) == 1
    change: dict[str, Any] = {
        "amount": {"amount": "600.00"},
        "currency": {"currency": "USD"},
        "dueDate": {"dueDate": (today() + timedelta(days=6)).isoformat()},
    }.get(changed) or {
        "contactId": global_id("Contact", await insert_contact(engine, target, "collector1"))
    }
    other = {"input": {**variables["input"], **change}}
    refused = await record(gql, "collector1", other)
    assert (refused["code"], refused["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert len(await promises_of(gql, target)) == 1


async def test_concurrent_retries_with_one_key_record_once(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    target = await loan(factory, engine, assignee="collector1")
    variables = promise_input(target, idempotencyKey=str(uuid.uuid4()))
    results = await asyncio.gather(*(record(gql, "collector1", variables) for _ in range(5)))
    assert {r["__typename"] for r in results} == {"RecordPromiseSuccess"}, results
    assert len({r["promise"]["id"] for r in results}) == 1
    assert [p["status"] for p in await promises_of(gql, target)] == ["OPEN"]
