"""Restructurings over HTTP, what a decision judges: the cumulative concession (the period's
boundary, which statuses count — a broken plan's waiver does, a broken settlement's discount
does not), the absolute limit to the cent, the same authority to reject as to approve, nothing
beside a plan or settlement in effect, the terms checked again at approval (balance, dates),
NaN refused, an idempotent retry racing the original, a waiver that clears the balance paying
the case in full, a settlement paid closing the case as SETTLED, and the maker always shown."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, true, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from store.db import session_factory
from store.restructuring_repository import SqlRestructuringRepository
from tests.e2e.restructuring_support import (
    ahead,
    approve,
    propose,
    reject,
    send,
    settlement,
)
from tests.factories import Factory, global_id, writing
from tests.helpers import Gql, portfolio_today

rs, ri, db = tables.restructurings.c, tables.restructuring_instalments.c, tables.debts.c
# A factory case of one debt: 20,000.00 principal + 800.00 interest + 120.50 penalty + 50.00 fee.
BALANCE = Decimal("20970.50")
STATE = """
query($id: ID!) {
  r: case(id: $id) {
    status closeReason totalOutstanding { amount }
    restructurings { id kind status proposedBy { login name roles } }
  }
}
"""
POST = """
mutation($input: PostPaymentInput!) {
  r: postPayment(input: $input) {
    __typename ... on UserError { code field message }
    ... on PostPaymentSuccess { case { status closeReason totalOutstanding { amount } } }
  }
}
"""


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def east_case(factory: Factory, **shape: Any) -> Any:
    """A case of collector1's (team East: lead1 sees it)."""
    return await factory.case(assignee="collector1", **shape)


def code_of(result: Any) -> tuple[str, str | None]:
    return result["code"], result["field"]


def pk(gid: str) -> int:
    return int(base64.b64decode(gid).decode().split(":")[1])


async def set_row(engine: AsyncEngine, gid: str, **values: Any) -> None:
    """Changes a restructuring's row as time or the plans' own work would (a status, a date)."""
    async with writing(engine) as conn:
        await conn.execute(update(tables.restructurings).where(rs.id == pk(gid)).values(**values))


async def set_penalty(engine: AsyncEngine, made: Any, penalty: str) -> None:
    async with writing(engine) as conn:
        stmt = update(tables.debts).where(db.case_id == made.case.id).values(penalty=penalty)
        await conn.execute(stmt)


async def needs(gql: Gql, made: Any, concession: Decimal, balance: Decimal) -> Any:
    """Proposes a settlement giving up ``concession`` of ``balance``; returns the proposal."""
    proposed = await propose(
        gql, "collector1", made.gid, "SETTLEMENT", **settlement(str(balance - concession))
    )
    assert proposed["__typename"] == "ProposeRestructuringSuccess", proposed
    return proposed["restructuring"]


# ---- the cumulative concession ---------------------------------------------------------------


async def test_a_broken_plans_waiver_still_counts_toward_the_cumulative_concession(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await east_case(factory)
    await set_penalty(engine, made, "3000.00")  # balance 23,850.00: 10% is 2,385.00
    plan = await propose(
        gql, "collector1", made.gid, "INSTALMENT_PLAN", waiverAmount="2000.00",
        instalments=[{"dueDate": ahead(30), "amount": "21850.00"}],
    )  # fmt: skip
    assert plan["restructuring"]["requiredAuthority"] == "team_lead", plan
    approved = await approve(gql, "lead1", plan["restructuring"]["id"])
    assert approved["restructuring"]["status"] == "ACTIVE", approved
    # The plan breaks (the plans' own work): its waiver stays applied, the balance 21,850.00.
    await set_row(engine, plan["restructuring"]["id"], status="BROKEN")
    # 1,000.00 alone is within a team lead's 10% (2,185.00); with the plan's 2,000.00 it is not.
    second = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="1000.00")
    assert second["__typename"] == "ProposeRestructuringSuccess", second
    assert second["restructuring"]["requiredAuthority"] == "manager"
    refused = await approve(gql, "lead1", second["restructuring"]["id"])
    assert code_of(refused) == ("APPROVAL_LIMIT_EXCEEDED", "restructuringId")
    assert "3000.00 CNY needs the authority of a manager" in refused["message"]


async def test_a_broken_settlements_discount_never_counts(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await east_case(factory)
    first = await needs(gql, made, Decimal("2000.00"), BALANCE)
    await approve(gql, "lead1", first["id"])
    await set_row(engine, first["id"], status="BROKEN")
    # Alone 2,000.00 (team lead); with the broken settlement's 2,000.00 it would be a manager's.
    again = await needs(gql, made, Decimal("2000.00"), BALANCE)
    assert again["requiredAuthority"] == "team_lead"


@pytest.mark.parametrize(
    ("status", "counted"),
    [("REJECTED", False), ("APPROVED", True), ("COMPLETED", True)],
)
async def test_which_decided_statuses_count_toward_the_next_proposal(
    gql: Gql, factory: Factory, engine: AsyncEngine, status: str, counted: bool
) -> None:
    made = await east_case(factory)
    first = await needs(gql, made, Decimal("1000.00"), BALANCE)
    await approve(gql, "lead1", first["id"])
    await set_row(engine, first["id"], status=status)
    second = await needs(gql, made, Decimal("1500.00"), BALANCE)  # 2,500.00 together: > 10%
    assert second["requiredAuthority"] == ("manager" if counted else "team_lead")


async def test_the_store_counts_each_status_as_the_rule_says_in_the_currencys_minor_unit(
    factory: Factory, engine: AsyncEngine
) -> None:
    """Every status at once (ACTIVE ones cannot sit beside a proposal, so the sum is asked of
    the store directly): APPROVED, ACTIVE, COMPLETED their concession, BROKEN its waiver."""
    made = await east_case(factory)
    now = datetime.now(UTC)
    rows = [
        ("APPROVED", "PENALTY_WAIVER", "1.00", "1.00"),
        ("ACTIVE", "SETTLEMENT", "10.00", None),
        ("COMPLETED", "SETTLEMENT", "100.00", None),
        ("BROKEN", "INSTALMENT_PLAN", "1000.00", "1000.00"),
        ("BROKEN", "SETTLEMENT", "10000.00", None),
        ("REJECTED", "SETTLEMENT", "100000.00", None),
        ("PROPOSED", "SETTLEMENT", "1000000.00", None),
    ]
    async with writing(engine) as conn:
        staff = await conn.execute(
            tables.staff.select().where(tables.staff.c.login == "collector1")
        )
        maker = staff.one().id
        for status, kind, concession, waiver in rows:
            await conn.execute(
                tables.restructurings.insert().values(
                    case_id=made.case.id, kind=kind, status=status, currency="CNY",
                    balance="20970.50", concession=concession, waiver_amount=waiver,
                    grace_days=5, reason="r", proposed_by=maker, proposed_at=now,
                    decided_at=None if status == "PROPOSED" else now, payments_in_row=0,
                    paid_amount="0.00", version=1,
                )
            )  # fmt: skip
    try:
        async with session_factory(engine)() as session:
            repo = SqlRestructuringRepository(session, true())
            since = now - timedelta(days=1)
            total = await repo.granted_since(made.case.id, since, None, "CNY")
            assert (total, str(total)) == (Decimal("1111.00"), "1111.00")
            # A currency without minor units: whole amounts.
            assert str(await repo.granted_since(made.case.id, since, None, "JPY")) == "1111"
    finally:
        async with writing(engine) as conn:
            doomed = delete(tables.restructurings).where(rs.case_id == made.case.id)
            await conn.execute(doomed)


async def test_the_period_counts_what_was_decided_within_365_days(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    """The window is the policy's 365 days back from the instant of the decision: decided
    365 days ago (minus a few minutes) counts, 366 days ago does not."""
    made = await east_case(factory)
    waiver = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="120.50")
    await approve(gql, "lead1", waiver["restructuring"]["id"])
    balance = BALANCE - Decimal("120.50")  # 20,850.00: 10% is 2,085.00

    now = datetime.now(UTC)
    await set_row(
        engine, waiver["restructuring"]["id"], decided_at=now - timedelta(days=365, minutes=-10)
    )
    within = await needs(gql, made, Decimal("2000.00"), balance)  # with the waiver 2,120.50
    assert within["requiredAuthority"] == "manager"
    assert await reject(gql, "manager", within["id"])

    await set_row(engine, waiver["restructuring"]["id"], decided_at=now - timedelta(days=366))
    beyond = await needs(gql, made, Decimal("2000.00"), balance)
    assert beyond["requiredAuthority"] == "team_lead"


async def test_a_team_leads_absolute_limit_is_5000_00_to_the_cent(
    gql: Gql, factory: Factory
) -> None:
    made = await east_case(factory, debts=3)  # 65,911.50: 10% (6,591.15) is above 5,000.00
    state = await send(gql, "collector1", STATE, {"id": made.gid})
    balance = Decimal(state["totalOutstanding"]["amount"])
    assert balance == Decimal("65911.50")
    at_limit = await needs(gql, made, Decimal("5000.00"), balance)
    assert at_limit["requiredAuthority"] == "team_lead"
    assert (await approve(gql, "lead1", at_limit["id"]))["restructuring"]["status"] == "ACTIVE"

    other = await east_case(factory, debts=3)
    over = await needs(gql, other, Decimal("5000.01"), balance)
    assert over["requiredAuthority"] == "manager"
    refused = await approve(gql, "lead1", over["id"])
    assert code_of(refused) == ("APPROVAL_LIMIT_EXCEEDED", "restructuringId")
    assert "5000.01 CNY needs the authority of a manager" in refused["message"]


# ---- who decides ------------------------------------------------------------------------------


async def test_a_rejection_needs_the_same_authority_as_an_approval(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await east_case(factory)
    proposed = await needs(gql, made, Decimal("3000.00"), BALANCE)  # 14%: a manager's
    assert proposed["requiredAuthority"] == "manager"
    refused = await reject(gql, "lead1", proposed["id"])
    assert code_of(refused) == ("APPROVAL_LIMIT_EXCEEDED", "restructuringId")
    assert "needs the authority of a manager" in refused["message"]
    rejected = await reject(gql, "manager", proposed["id"])
    assert rejected["restructuring"]["status"] == "REJECTED", rejected

    # Beyond every role's limits now (a concession counted since): nobody may approve it, and
    # the highest authority (a manager) may still reject it so that it does not hold the case.
    within = await needs(gql, made, Decimal("3000.00"), BALANCE)
    await set_row(engine, proposed["id"], status="COMPLETED", concession="6000.00")
    refused = await approve(gql, "manager", within["id"])
    assert code_of(refused) == ("APPROVAL_LIMIT_EXCEEDED", "restructuringId")
    assert "no role's limits cover" in refused["message"]
    assert code_of(await reject(gql, "lead1", within["id"]))[0] == "APPROVAL_LIMIT_EXCEEDED"
    rejected = await reject(gql, "manager", within["id"])
    assert rejected["restructuring"]["status"] == "REJECTED", rejected


async def test_the_maker_is_shown_to_whoever_sees_the_restructuring(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    """An agency manager sees who proposed a concession on their agency's case: an internal
    manager their scope does not otherwise show (the field's exception, no other)."""
    made = await factory.case(agency="Acme Recovery")
    proposed = await propose(gql, "manager", made.gid, "PENALTY_WAIVER", waiverAmount="10.00")
    assert proposed["__typename"] == "ProposeRestructuringSuccess", proposed
    seen = await send(gql, "acme.manager", STATE, {"id": made.gid})
    [mine] = seen["restructurings"]
    assert (mine["proposedBy"]["login"], mine["proposedBy"]["roles"]) == ("manager", ["manager"])
    async with engine.connect() as conn:
        staff = tables.staff.select().where(tables.staff.c.login == "manager")
        manager_id = (await conn.execute(staff)).one().id
    node = "query($id: ID!) { node(id: $id) { ... on Staff { login } } }"
    hidden = await gql("acme.manager", node, {"id": global_id("Staff", manager_id)})
    assert hidden["node"] is None


# ---- nothing beside a plan or settlement in effect --------------------------------------------


async def test_no_waiver_beside_a_plan_or_settlement_in_effect(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await east_case(factory)
    active = await needs(gql, made, Decimal("1000.00"), BALANCE)
    await approve(gql, "lead1", active["id"])
    refused = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="20.00")
    assert code_of(refused) == ("RESTRUCTURING_PENDING", "caseId")
    assert "ACTIVE SETTLEMENT" in refused["message"]

    # A waiver proposed before a settlement took effect is not approved beside it.
    other = await east_case(factory)
    settled = await needs(gql, other, Decimal("1000.00"), BALANCE)
    await reject(gql, "lead1", settled["id"])
    waiver = await propose(gql, "collector1", other.gid, "PENALTY_WAIVER", waiverAmount="20.00")
    await set_row(engine, settled["id"], status="ACTIVE")
    refused = await approve(gql, "lead1", waiver["restructuring"]["id"])
    assert code_of(refused) == ("RESTRUCTURING_PENDING", "restructuringId")


# ---- the terms again at approval ------------------------------------------------------------


async def test_approval_refuses_a_settlement_on_a_balance_that_changed(
    gql: Gql, factory: Factory
) -> None:
    made = await east_case(factory)
    proposed = await needs(gql, made, Decimal("1000.00"), BALANCE)
    core = await factory.staff(roles=("integration",))
    paid = await send(gql, core.login, POST, {"input": {
        "debtId": global_id("Debt", made.debts[0].id), "amount": "100.00", "currency": "CNY",
        "paidAt": datetime.now(UTC).isoformat(), "reference": f"R-{made.case.id}-1"}})  # fmt: skip
    assert paid["__typename"] == "PostPaymentSuccess", paid
    refused = await approve(gql, "lead1", proposed["id"])
    assert code_of(refused) == ("SETTLEMENT_INVALID", "restructuringId")
    assert "20870.50 CNY now, not the 20970.50 CNY" in refused["message"]
    assert "propose it again" in refused["message"]


async def test_approval_refuses_a_settle_by_or_first_due_date_no_longer_ahead(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await east_case(factory)
    proposed = await needs(gql, made, Decimal("1000.00"), BALANCE)
    today = portfolio_today()
    await set_row(engine, proposed["id"], settle_by=today)  # as if a day or more passed
    refused = await approve(gql, "lead1", proposed["id"])
    assert code_of(refused) == ("SETTLEMENT_INVALID", "restructuringId")
    assert f"settleBy {today.isoformat()} is not after today" in refused["message"]
    await reject(gql, "lead1", proposed["id"])

    plan = await propose(gql, "collector1", made.gid, "INSTALMENT_PLAN",
                         instalments=[{"dueDate": ahead(1), "amount": str(BALANCE)}])  # fmt: skip
    plan_id = plan["restructuring"]["id"]
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.restructuring_instalments)
            .where(ri.restructuring_id == pk(plan_id))
            .values(due_date=today)
        )
    refused = await approve(gql, "lead1", plan_id)
    assert code_of(refused) == ("PLAN_INVALID", "restructuringId")
    assert "propose it again" in refused["message"]


# ---- input and retries ------------------------------------------------------------------------


async def test_nan_and_infinity_are_refused_with_the_kinds_code(gql: Gql, factory: Factory) -> None:
    made = await east_case(factory)
    for kind, terms, code, field in (
        ("PENALTY_WAIVER", {"waiverAmount": "NaN"}, "WAIVER_INVALID", "waiverAmount"),
        ("SETTLEMENT", settlement("sNaN"), "SETTLEMENT_INVALID", "settlementAmount"),
        ("SETTLEMENT", settlement("Infinity"), "SETTLEMENT_INVALID", "settlementAmount"),
        ("INSTALMENT_PLAN", {"instalments": [{"dueDate": ahead(9), "amount": "NaN"}]},
         "PLAN_INVALID", "instalments[0].amount"),
    ):  # fmt: skip
        result = await propose(gql, "collector1", made.gid, kind, **terms)
        assert code_of(result) == (code, field), (terms, result)


@pytest.mark.parametrize("round_", range(3))
async def test_an_idempotent_retry_racing_the_original_answers_with_it(
    gql: Gql, factory: Factory, round_: int
) -> None:
    made = await east_case(factory)
    terms = {**settlement("19000.00"), "idempotencyKey": f"race-{made.case.id}"}
    results = await asyncio.gather(
        propose(gql, "collector1", made.gid, "SETTLEMENT", **terms),
        propose(gql, "collector1", made.gid, "SETTLEMENT", **terms),
    )
    assert [r["__typename"] for r in results] == ["ProposeRestructuringSuccess"] * 2, results
    assert results[0]["restructuring"]["id"] == results[1]["restructuring"]["id"]


# ---- what an approval moves ---------------------------------------------------------------------


async def test_a_waiver_that_clears_the_balance_pays_the_case_in_full_at_once(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    """A debt the core sent without a schedule, 30 days past due, only its penalty owed, under
    limits that let a team lead waive all of a balance (the defaults stop at 40%)."""
    made = await east_case(factory)
    today = portfolio_today()
    whole = {"share": "1", "amounts": {"CNY": "5000.00"}}
    payload = {"authorities": [{"role": "team_lead", **whole}, {"role": "manager", **whole}]}
    versions = tables.rule_set_versions
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.debts)
            .where(db.case_id == made.case.id)
            .values(principal=0, interest=0, fee=0, core_dpd=30, core_dpd_as_of=today)
        )
        await conn.execute(
            delete(tables.instalments).where(tables.instalments.c.debt_id == made.debts[0].id)
        )
        limits = versions.insert().values(
            kind="APPROVAL_LIMITS", name="default", version=900000 + made.case.id,
            payload=payload, effective_from=datetime.now(UTC) - timedelta(minutes=1),
        )  # fmt: skip
        limits_id = (await conn.execute(limits.returning(versions.c.id))).scalar_one()
    try:
        proposed = await propose(
            gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="120.50"
        )
        assert proposed["__typename"] == "ProposeRestructuringSuccess", proposed
        approved = await approve(gql, "lead1", proposed["restructuring"]["id"])
        assert approved["restructuring"]["status"] == "APPROVED", approved
    finally:
        async with writing(engine) as conn:
            await conn.execute(delete(versions).where(versions.c.id == limits_id))
    state = await send(gql, "collector1", STATE, {"id": made.gid})
    assert (state["status"], state["closeReason"]) == ("CLOSED", "PAID_IN_FULL")
    assert state["totalOutstanding"] == {"amount": "0.00"}


async def test_a_settlement_paid_closes_the_case_as_settled(gql: Gql, factory: Factory) -> None:
    made = await east_case(factory)
    proposed = await needs(gql, made, Decimal("2000.00"), BALANCE)  # 18,970.50
    approved = await approve(gql, "lead1", proposed["id"])
    assert approved["restructuring"]["status"] == "ACTIVE", approved
    core = await factory.staff(roles=("integration",))
    paid = await send(gql, core.login, POST, {"input": {
        "debtId": global_id("Debt", made.debts[0].id), "amount": "18970.50", "currency": "CNY",
        "paidAt": datetime.now(UTC).isoformat(), "reference": f"S-{made.case.id}"}})  # fmt: skip
    assert paid["__typename"] == "PostPaymentSuccess", paid
    assert (paid["case"]["status"], paid["case"]["closeReason"]) == ("CLOSED", "SETTLED")
    state = await send(gql, "collector1", STATE, {"id": made.gid})
    assert [(r["kind"], r["status"]) for r in state["restructurings"]] == [
        ("SETTLEMENT", "COMPLETED")
    ]
