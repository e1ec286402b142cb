"""Restructurings over HTTP: proposals and their terms refused with typed codes, maker–checker
(the maker never decides, even holding an approving role; a team lead above its limit is
refused; a manager approves), limits judged on the cumulative concession, a waiver applied as a
concession (never a payment), the events on the timeline, the decisions feed and the audit
trail, and two approvers at once (one wins, the other gets ALREADY_DECIDED)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.conftest import StatementCounter
from tests.e2e.restructuring_support import (
    CASE,
    PROPOSE,
    ahead,
    approve,
    propose,
    reject,
    send,
    settlement,
)
from tests.factories import Factory, global_id
from tests.helpers import Gql

rs, ev, au, dc = (
    tables.restructurings.c,
    tables.case_events.c,
    tables.audit_entries.c,
    tables.decisions.c,
)
# A factory case of one debt: 20,000.00 principal + 800.00 interest + 120.50 penalty + 50.00 fee.
BALANCE = Decimal("20970.50")
TEN_PERCENT = Decimal("2097.05")


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


@pytest.fixture
async def manager2(factory: Factory) -> Any:
    """A second manager: the checker of the demo manager's proposals."""
    return await factory.staff(roles=("manager",))


async def east_case(factory: Factory, **shape: Any) -> Any:
    """A case of collector1's (team East: lead1 sees it)."""
    return await factory.case(assignee="collector1", **shape)


def code_of(result: Any) -> tuple[str, str | None]:
    return result["code"], result["field"]


async def test_settlement_at_ten_percent_needs_a_team_lead_and_a_cent_more_a_manager(
    gql: Gql, factory: Factory
) -> None:
    made = await east_case(factory)
    at_limit = await propose(
        gql, "collector1", made.gid, "SETTLEMENT", **settlement(str(BALANCE - TEN_PERCENT))
    )
    assert at_limit["__typename"] == "ProposeRestructuringSuccess", at_limit
    proposed = at_limit["restructuring"]
    assert (proposed["status"], proposed["requiredAuthority"]) == ("PROPOSED", "team_lead")
    assert proposed["concession"] == {"amount": str(TEN_PERCENT)}
    assert proposed["balance"] == {"amount": str(BALANCE), "currency": "CNY"}
    assert proposed["proposedBy"] == {"login": "collector1"}
    assert await reject(gql, "lead1", proposed["id"])  # frees the case for the next proposal

    over = await propose(
        gql,
        "collector1",
        made.gid,
        "SETTLEMENT",
        **settlement(str(BALANCE - TEN_PERCENT - Decimal("0.01"))),
    )
    assert over["restructuring"]["requiredAuthority"] == "manager"
    # The team lead may not approve it; the manager may.
    refused = await approve(gql, "lead1", over["restructuring"]["id"])
    assert code_of(refused) == ("APPROVAL_LIMIT_EXCEEDED", "restructuringId")
    assert "manager" in refused["message"]
    approved = await approve(gql, "manager", over["restructuring"]["id"])
    assert approved["__typename"] == "ApproveRestructuringSuccess", approved
    active = approved["restructuring"]
    assert (active["status"], active["decidedBy"]) == ("ACTIVE", {"login": "manager"})
    assert active["graceDays"] == 5


async def test_no_role_covers_a_discount_above_the_managers_limit(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await east_case(factory)
    forty = (BALANCE * Decimal("0.40")).quantize(Decimal("0.01"))  # 8,388.20
    within = await propose(gql, "collector1", made.gid, "SETTLEMENT",
                           **settlement(str(BALANCE - forty)))  # fmt: skip
    assert within["restructuring"]["requiredAuthority"] == "manager"
    await reject(gql, "manager", within["restructuring"]["id"])
    beyond = await propose(gql, "collector1", made.gid, "SETTLEMENT",
                           **settlement(str(BALANCE - forty - Decimal("0.01"))))  # fmt: skip
    assert code_of(beyond) == ("APPROVAL_LIMIT_EXCEEDED", "kind")
    assert "no role's limits cover" in beyond["message"]
    async with engine.connect() as conn:
        count = select(func.count()).where(rs.case_id == made.case.id)
        assert (await conn.execute(count)).scalar_one() == 1  # only the first, rejected


async def test_the_maker_cannot_approve_even_as_a_manager_and_another_manager_does(
    gql: Gql, factory: Factory, engine: AsyncEngine, manager2: Any
) -> None:
    made = await east_case(factory)
    async with engine.connect() as conn:
        start = (await conn.execute(select(func.coalesce(func.max(au.id), 0)))).scalar_one()
    proposed = await propose(
        gql, "manager", made.gid, "SETTLEMENT", **settlement("18000.00"), reason="one-off offer"
    )
    pid = proposed["restructuring"]["id"]
    assert proposed["restructuring"]["requiredAuthority"] == "manager"
    for decide in (approve(gql, "manager", pid), reject(gql, "manager", pid)):
        refused = await decide
        assert code_of(refused) == ("MAKER_CANNOT_APPROVE", "restructuringId")
    approved = await approve(gql, manager2.login, pid)
    assert approved["restructuring"]["status"] == "ACTIVE"
    # Nothing of the case's own columns changed, yet its version moved on with the decision.
    assert approved["restructuring"]["case"]["version"] == made.case.version + 1
    assert approved["restructuring"]["decidedBy"] == {"login": manager2.login}
    again = await approve(gql, manager2.login, pid)
    assert code_of(again) == ("ALREADY_DECIDED", "restructuringId")

    pk = int(made.case.id)
    async with engine.connect() as conn:
        row = (await conn.execute(select(tables.restructurings).where(rs.case_id == pk))).one()
        assert (row.previous_stage, row.decided_by) == ("COLLECTION", manager2.id)
        names = list(
            (await conn.execute(select(ev.name).where(ev.case_id == pk).order_by(ev.id))).scalars()
        )
        assert names == ["RestructuringProposed", "RestructuringApproved"]
        [decision] = (await conn.execute(select(dc.kind, dc.data).where(dc.case_id == pk))).all()
        assert decision.kind == "SETTLEMENT_AGREED"
        assert decision.data == {
            "currency": "CNY",
            "settlementAmount": "18000.00",
            "settleBy": ahead(30),
            "discount": "2970.50",
        }
        entries = (
            await conn.execute(
                select(au.action, au.outcome, au.actor_id, au.reason_text, au.changes)
                .where(au.action.like("restructuring.%"), au.id > start)
                .order_by(au.id)
            )
        ).all()
    assert [(e.action, e.outcome) for e in entries] == [
        ("restructuring.propose", "ALLOWED"),
        ("restructuring.approve", "DENIED"),
        ("restructuring.reject", "DENIED"),
        ("restructuring.approve", "ALLOWED"),
        ("restructuring.approve", "DENIED"),
    ]
    assert entries[1].changes == {"refused": "MAKER_CANNOT_APPROVE"}
    approval = entries[3]
    # Who proposed, who approved, and why.
    assert approval.actor_id == manager2.id
    assert approval.changes["proposedBy"] == global_id("Staff", row.proposed_by)
    assert approval.changes["decidedBy"] == global_id("Staff", manager2.id)
    assert approval.changes["authority"] == "manager"
    assert approval.changes["limits_version"] == "default@builtin"
    assert approval.reason_text == "one-off offer"


async def test_a_split_discount_crosses_the_cumulative_limit(gql: Gql, factory: Factory) -> None:
    """A waiver and then a settlement, each under 10% of the balance, together above it: the
    second needs a manager."""
    made = await east_case(factory)
    waiver = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="120.50")
    assert waiver["restructuring"]["requiredAuthority"] == "team_lead"
    await approve(gql, "lead1", waiver["restructuring"]["id"])
    balance = BALANCE - Decimal("120.50")  # 20,850.00: 10% is 2,085.00
    alone = Decimal("2000.00")  # 9.6% alone; with the waiver 2,120.50 (10.2%)
    second = await propose(
        gql, "collector1", made.gid, "SETTLEMENT", **settlement(str(balance - alone))
    )
    assert second["restructuring"]["concession"] == {"amount": "2000.00"}
    assert second["restructuring"]["requiredAuthority"] == "manager"
    refused = await approve(gql, "lead1", second["restructuring"]["id"])
    assert code_of(refused) == ("APPROVAL_LIMIT_EXCEEDED", "restructuringId")


async def test_a_waiver_reduces_penalty_and_outstanding_as_a_concession_not_a_payment(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await east_case(factory, debts=2)  # penalties 120.50 + 120.50
    before = await send(gql, "collector1", CASE, {"id": made.gid})
    too_much = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="241.01")
    assert code_of(too_much) == ("WAIVER_INVALID", "waiverAmount")
    proposed = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="150.00")
    approved = await approve(gql, "lead1", proposed["restructuring"]["id"])
    assert approved["restructuring"]["status"] == "APPROVED"
    assert approved["restructuring"]["case"]["version"] == before["version"] + 1
    after = await send(gql, "collector1", CASE, {"id": made.gid})
    outstanding = Decimal(before["totalOutstanding"]["amount"]) - Decimal("150.00")
    assert after["totalOutstanding"] == {"amount": str(outstanding)}
    # The oldest debt's penalty first (the factory opens the first debt first).
    penalties = sorted(Decimal(d["penalty"]["amount"]) for d in after["debts"])
    assert penalties == [Decimal("0.00"), Decimal("91.00")]
    summaries = [e["node"]["summary"] for e in after["timeline"]["edges"]]
    assert "PENALTY_WAIVER approved: penalty of 150.00 CNY waived (by team_lead)" in summaries
    async with engine.connect() as conn:
        payments = select(func.count()).where(tables.payments.c.case_id == made.case.id)
        assert (await conn.execute(payments)).scalar_one() == 0
        [decision] = (
            await conn.execute(select(dc.kind, dc.data).where(dc.case_id == made.case.id))
        ).all()
    assert (decision.kind, decision.data) == (
        "PENALTY_WAIVED", {"currency": "CNY", "waiverAmount": "150.00"},
    )  # fmt: skip


async def test_a_plan_must_add_up_exactly(gql: Gql, factory: Factory, engine: AsyncEngine) -> None:
    made = await east_case(factory)
    # 20,970.50 − 120.50 waived = 20,850.00 in three instalments.
    short = [
        {"dueDate": ahead(10), "amount": "7000.00"},
        {"dueDate": ahead(40), "amount": "7000.00"},
        {"dueDate": ahead(70), "amount": "6849.99"},
    ]
    refused = await propose(
        gql, "collector1", made.gid, "INSTALMENT_PLAN", instalments=short, waiverAmount="120.50"
    )
    assert code_of(refused) == ("PLAN_INVALID", "instalments")
    assert "0.01 CNY short of the plan's total of 20850.00 CNY" in refused["message"]
    for bad, field in (
        ([{"dueDate": ahead(0), "amount": "20850.00"}], "instalments[0].dueDate"),
        ([{"dueDate": ahead(9), "amount": "10000.00"}, {"dueDate": ahead(9), "amount": "10850.00"}],
         "instalments[1].dueDate"),
        ([{"dueDate": ahead(9), "amount": "0"}], "instalments[0].amount"),
        ([], "instalments"),
    ):  # fmt: skip
        result = await propose(
            gql, "collector1", made.gid, "INSTALMENT_PLAN", instalments=bad, waiverAmount="120.50"
        )
        assert code_of(result) == ("PLAN_INVALID", field), result
    precise = [
        {"dueDate": ahead(9), "amount": "20849.995"},
        {"dueDate": ahead(39), "amount": "0.005"},
    ]
    result = await propose(gql, "collector1", made.gid, "INSTALMENT_PLAN", instalments=precise)
    assert code_of(result) == ("AMOUNT_TOO_PRECISE", "instalments[0].amount")
    wrong = await propose(
        gql, "collector1", made.gid, "INSTALMENT_PLAN", instalments=short, currency="USD"
    )
    assert code_of(wrong) == ("CURRENCY_MISMATCH", "currency")

    exact = [*short[:2], {"dueDate": ahead(70), "amount": "6850.00"}]
    proposed = await propose(
        gql, "collector1", made.gid, "INSTALMENT_PLAN", instalments=exact, waiverAmount="120.50"
    )
    plan = proposed["restructuring"]
    assert (plan["replacedAmount"], plan["waiverAmount"], plan["capitalisedInterest"]) == (
        {"amount": "20970.50"}, {"amount": "120.50"}, {"amount": "0.00"},
    )  # fmt: skip
    assert plan["total"] == {"amount": "20850.00"}
    assert plan["concession"] == {"amount": "120.50"}
    assert [(i["sequence"], i["amount"]["amount"]) for i in plan["instalments"]] == [
        (1, "7000.00"), (2, "7000.00"), (3, "6850.00"),
    ]  # fmt: skip
    pending = await propose(gql, "collector1", made.gid, "SETTLEMENT", **settlement("1000.00"))
    assert code_of(pending) == ("RESTRUCTURING_PENDING", "caseId")
    approved = await approve(gql, "lead1", plan["id"])
    assert approved["restructuring"]["status"] == "ACTIVE"
    # An ACTIVE plan: nothing else is proposed beside it, a waiver neither (it has its own).
    again = await propose(gql, "collector1", made.gid, "SETTLEMENT", **settlement("1000.00"))
    assert code_of(again) == ("RESTRUCTURING_PENDING", "caseId")
    waiver = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="1.00")
    assert code_of(waiver) == ("RESTRUCTURING_PENDING", "caseId")
    async with engine.connect() as conn:
        [decision] = (
            await conn.execute(select(dc.kind, dc.data).where(dc.case_id == made.case.id))
        ).all()
    assert decision.kind == "PLAN_AGREED"
    assert decision.data == {
        "currency": "CNY",
        "replacedAmount": "20970.50",
        "waiverAmount": "120.50",
        "instalmentTotal": "20850.00",
        "schedule": f"{ahead(10)}=7000.00,{ahead(40)}=7000.00,{ahead(70)}=6850.00",
    }


async def test_settlement_and_reason_refusals(gql: Gql, factory: Factory) -> None:
    made = await east_case(factory)
    for terms, field in (
        (settlement(str(BALANCE)), "settlementAmount"),
        (settlement("0"), "settlementAmount"),
        (settlement("1000.00", days=0), "settleBy"),
        ({"settlementAmount": "1000.00"}, "settleBy"),
        ({**settlement("1000.00"), "waiverAmount": "10.00"}, "waiverAmount"),
    ):
        result = await propose(gql, "collector1", made.gid, "SETTLEMENT", **terms)
        assert code_of(result) == ("SETTLEMENT_INVALID", field), (terms, result)
    blank = await propose(gql, "collector1", made.gid, "SETTLEMENT", **settlement("1000.00"),
                          reason="  ")  # fmt: skip
    assert code_of(blank) == ("REASON_REQUIRED", "reason")
    closed = await factory.case(assignee="collector1", status="CLOSED")
    result = await propose(gql, "collector1", closed.gid, "SETTLEMENT", **settlement("1000.00"))
    assert code_of(result) == ("CASE_CLOSED", "caseId")


async def test_a_rejection_keeps_its_reason_for_those_who_read_notes(
    gql: Gql, factory: Factory
) -> None:
    made = await east_case(factory)
    proposed = await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="20.00")
    pid = proposed["restructuring"]["id"]
    blank = await reject(gql, "lead1", pid, reason=" ")
    assert code_of(blank) == ("REASON_REQUIRED", "reason")
    rejected = await reject(gql, "lead1", pid, reason="the borrower can pay the penalty")
    assert rejected["restructuring"]["status"] == "REJECTED"
    assert rejected["restructuring"]["decisionReason"] == "the borrower can pay the penalty"
    assert code_of(await approve(gql, "manager", pid)) == ("ALREADY_DECIDED", "restructuringId")
    # The auditor sees the restructuring, never its free text.
    seen = await send(gql, "auditor1", CASE, {"id": made.gid})
    [mine] = seen["restructurings"]
    assert (mine["status"], mine["reason"], mine["decisionReason"]) == ("REJECTED", None, None)
    summaries = [e["node"]["summary"] for e in seen["timeline"]["edges"]]
    assert summaries[:2] == [
        "PENALTY_WAIVER rejected",
        "PENALTY_WAIVER proposed: penalty of 20.00 CNY waived (needs team_lead)",
    ]


async def test_an_idempotent_retry_answers_with_the_first_proposal(
    gql: Gql, factory: Factory
) -> None:
    made = await east_case(factory)
    terms = {**settlement("19000.00"), "idempotencyKey": "retry-me"}
    first = await propose(gql, "collector1", made.gid, "SETTLEMENT", **terms)
    again = await propose(gql, "collector1", made.gid, "SETTLEMENT", **terms)
    assert again["restructuring"]["id"] == first["restructuring"]["id"]
    other = await propose(gql, "collector1", made.gid, "SETTLEMENT",
                          **{**terms, "settlementAmount": "19000.01"})  # fmt: skip
    assert code_of(other) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")


async def test_agency_staff_propose_only_on_their_agencys_cases(gql: Gql, factory: Factory) -> None:
    ours = await factory.case(agency="Acme Recovery")
    theirs = await factory.case(agency="Zenith Collections")
    made = await propose(gql, "acme.agent1", ours.gid, "PENALTY_WAIVER", waiverAmount="10.00")
    assert made["__typename"] == "ProposeRestructuringSuccess"
    outside = await propose(gql, "acme.agent1", theirs.gid, "PENALTY_WAIVER", waiverAmount="1.00")
    assert code_of(outside) == ("CASE_NOT_FOUND", "caseId")
    # Outside the approver's scope the restructuring does not exist (lead1: team East only).
    hidden = await approve(gql, "lead1", made["restructuring"]["id"])
    assert code_of(hidden) == ("RESTRUCTURING_NOT_FOUND", "restructuringId")
    node = "query($id: ID!) { node(id: $id) { ... on Restructuring { id status } } }"
    assert (await gql("zenith.agent1", node, {"id": made["restructuring"]["id"]}))["node"] is None
    assert (await gql("acme.manager", node, {"id": made["restructuring"]["id"]}))["node"] == {
        "id": made["restructuring"]["id"],
        "status": "PROPOSED",
    }


@pytest.mark.parametrize("round_", range(3))
async def test_two_approvers_at_once_one_wins_the_other_is_already_decided(
    gql: Gql, factory: Factory, engine: AsyncEngine, manager2: Any, round_: int
) -> None:
    made = await east_case(factory)
    proposed = await propose(gql, "collector1", made.gid, "SETTLEMENT", **settlement("19500.00"))
    pid = proposed["restructuring"]["id"]
    results = await asyncio.gather(approve(gql, "manager", pid), approve(gql, manager2.login, pid))
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["ApproveRestructuringSuccess", "RuleViolationError"], results
    loser = next(r for r in results if r["__typename"] == "RuleViolationError")
    assert code_of(loser) == ("ALREADY_DECIDED", "restructuringId")
    async with engine.connect() as conn:
        approvals = select(func.count()).where(
            ev.case_id == made.case.id, ev.name == "RestructuringApproved"
        )
        assert (await conn.execute(approvals)).scalar_one() == 1
        decisions = select(func.count()).where(dc.case_id == made.case.id)
        assert (await conn.execute(decisions)).scalar_one() == 1


async def test_restructurings_of_many_cases_load_in_a_constant_number_of_statements(
    gql: Gql, factory: Factory, sql_counter: StatementCounter
) -> None:
    cases = [await east_case(factory) for _ in range(4)]
    for made in cases:
        await propose(gql, "collector1", made.gid, "PENALTY_WAIVER", waiverAmount="5.00")
    fields = "restructurings { id kind instalments { sequence } }"

    async def statements(n: int) -> int:
        aliases = " ".join(
            f'c{i}: case(id: "{made.gid}") {{ {fields} }}' for i, made in enumerate(cases[:n])
        )
        sql_counter.reset()
        data = await gql("manager", f"{{ {aliases} }}")
        assert all(len(data[f"c{i}"]["restructurings"]) == 1 for i in range(n))
        return sql_counter.count

    assert await statements(1) == await statements(4)


async def test_proposal_document_is_what_the_guide_shows(gql: Gql, factory: Factory) -> None:
    """The API guide's example shape: a settlement proposal's success payload."""
    made = await east_case(factory)
    body = await gql("collector1", PROPOSE, {"input": {"caseId": made.gid, "kind": "SETTLEMENT",
                     **settlement("18000.00"), "reason": "lump sum from family"}})  # fmt: skip
    assert body["r"]["restructuring"]["concession"] == {"amount": "2970.50"}
