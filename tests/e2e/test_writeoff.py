"""writeOff and markDebtSold over HTTP, and recoveries after a write-off: the policy's DPD at its
boundary (179 refused naming the rule, 180 allowed) and from LEGAL; refusals by the life-cycle
table and of callers without case:write_off; payments after it flagged as recoveries that never
return the case to an earlier stage (paid in full: closed, still WRITTEN_OFF; the reversal
reopens it, still WRITTEN_OFF); placement with an agency and the debt's sale; the decisions feed
and the audit entry with its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.payment_cases import Loan, event_names, make_loan, payment_input
from tests.e2e.protections_support import PLACE
from tests.factories import Factory, writing
from tests.helpers import Gql, assert_forbidden, portfolio_today
from tests.legal_support import RECORD

CASE = "case { id status stage closeReason totalOutstanding { amount } }"
WRITE_OFF = f"""
mutation($input: WriteOffInput!) {{
  r: writeOff(input: $input) {{
    __typename
    ... on WriteOffSuccess {{
      writeOff {{ source reasonCode amount {{ amount currency }} policyVersion }}
      {CASE}
    }}
    ... on UserError {{ code field message }}
  }}
}}
"""
SOLD = f"""
mutation($input: MarkDebtSoldInput!) {{
  r: markDebtSold(input: $input) {{
    __typename ... on MarkDebtSoldSuccess {{ {CASE} }} ... on UserError {{ code field message }}
  }}
}}
"""
POST = f"""
mutation($input: PostPaymentInput!) {{
  r: postPayment(input: $input) {{
    __typename ... on PostPaymentSuccess {{ payment {{ id recovery }} {CASE} }}
    ... on UserError {{ code field message }}
  }}
}}
"""
REVERSE = f"""
mutation($input: ReversePaymentInput!) {{
  r: reversePayment(input: $input) {{
    __typename ... on ReversePaymentSuccess {{ payment {{ id reversed recovery }} {CASE} }}
    ... on UserError {{ code field message }}
  }}
}}
"""
TIMELINE = """
query($id: ID!) { case(id: $id) { timeline(first: 50) { edges { node { kind summary } } } } }
"""
REASON = "no assets found after tracing"
dc, a = tables.decisions.c, tables.audit_entries.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def loan(factory: Factory, engine: AsyncEngine, dpd: int, **shape: Any) -> Loan:
    """A case of one debt, 2,000.00 owed in two instalments, the first ``dpd`` days late."""
    return await make_loan(
        factory,
        engine,
        schedule=[(-dpd, "1000.00"), (10, "1000.00")],
        principal="2000.00",
        **shape,
    )


async def write_off(gql: Gql, loan: Loan, login: str = "manager", **changes: Any) -> Any:
    values = {"caseId": loan.case_gid, "reasonCode": "UNCOLLECTIBLE", "reasonText": REASON}
    data = await gql(login, WRITE_OFF, {"input": {**values, **changes}})
    return data["r"]


async def decisions_of(engine: AsyncEngine, case_id: int) -> list[tuple[str, Any]]:
    async with engine.connect() as conn:
        stmt = select(dc.kind, dc.data).where(dc.case_id == case_id).order_by(dc.id)
        return [(row.kind, row.data) for row in (await conn.execute(stmt)).all()]


async def test_a_write_off_needs_the_policy_dpd_exactly(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    short = await loan(factory, engine, 179)
    refused = await write_off(gql, short)
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "RuleViolationError",
        "WRITE_OFF_NOT_ALLOWED",
        "caseId",
    )
    assert refused["message"].startswith("WRITE_OFF_STAGE_OR_DPD:")
    assert "at 179 days past due" in refused["message"]
    assert await event_names(engine, short.case_id) == []

    due = await loan(factory, engine, 180)
    done = await write_off(gql, due)
    assert done["__typename"] == "WriteOffSuccess"
    assert done["writeOff"] == {
        "source": "MANAGER",
        "reasonCode": "UNCOLLECTIBLE",
        "amount": {"amount": "2000.00", "currency": "CNY"},
        "policyVersion": "default@builtin",
    }
    assert done["case"] == {
        "id": due.case_gid,
        "status": "OPEN",  # recovery continues
        "stage": "WRITTEN_OFF",
        "closeReason": None,
        "totalOutstanding": {"amount": "2000.00"},
    }
    assert await event_names(engine, due.case_id) == [
        "CaseTransitioned",
        "CaseWrittenOff",
        "ChargeOffRequested",
    ]
    figures = {"reasonCode": "UNCOLLECTIBLE", "amount": "2000.00", "currency": "CNY"}
    assert await decisions_of(engine, due.case_id) == [
        ("CASE_WRITTEN_OFF", {"source": "MANAGER", **figures}),
        ("CHARGE_OFF_REQUESTED", figures),
    ]
    d = tables.debts.c
    async with engine.connect() as conn:
        status = (await conn.execute(select(d.status).where(d.id == due.debt_id))).scalar_one()
        stmt = select(a.outcome, a.actor_login, a.reason_code, a.reason_text, a.changes).where(
            a.action == "case.write_off", a.case_ids.is_not(None)
        )
        entries = [
            row
            for row in (await conn.execute(stmt.order_by(a.id))).all()
            if row.changes.get("writeOffId") is not None
            and row.changes["fromStage"] == "COLLECTION"
            and row.changes["daysPastDue"] == 180
        ]
        refusals = (
            (
                await conn.execute(
                    select(a.changes).where(a.action == "case.write_off", a.outcome == "DENIED")
                )
            )
            .scalars()
            .all()
        )
    assert status == "WRITTEN_OFF"
    # The audit entry says who and why (the reason's text is kept there only).
    assert [(e.outcome, e.actor_login, e.reason_code, e.reason_text) for e in entries][-1] == (
        "ALLOWED",
        "manager",
        "UNCOLLECTIBLE",
        REASON,
    )
    assert {"refused": "WRITE_OFF_NOT_ALLOWED"} in refusals
    # Written off once: the table refuses it again.
    again = await write_off(gql, due)
    assert (again["code"], again["field"]) == ("ILLEGAL_TRANSITION", "caseId")


async def test_from_legal_any_dpd_and_never_a_closed_case(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    legal = await loan(factory, engine, 95, stage="LEGAL")
    done = await write_off(gql, legal, reasonCode="STATUTE_BARRED")
    assert (done["__typename"], done["case"]["stage"]) == ("WriteOffSuccess", "WRITTEN_OFF")
    closed = await loan(factory, engine, 400, status="CLOSED")
    refused = await write_off(gql, closed)
    assert (refused["code"], refused["field"]) == ("ILLEGAL_TRANSITION", "caseId")
    blank = await write_off(gql, await loan(factory, engine, 400), reasonText="  ")
    assert (blank["code"], blank["field"]) == ("REASON_REQUIRED", "reasonText")


async def test_only_a_manager_writes_off_or_sells(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    target = await loan(factory, engine, 400, assignee="collector1")
    values = {"caseId": target.case_gid, "reasonCode": "UNCOLLECTIBLE", "reasonText": REASON}
    for login in ("collector1", "lead1", "legal1", "admin"):
        assert_forbidden(await gql.errors(login, WRITE_OFF, {"input": values}))
        sold = {"caseId": target.case_gid, "reasonText": "sold"}
        assert_forbidden(await gql.errors(login, SOLD, {"input": sold}))
    assert await event_names(engine, target.case_id) == []


async def test_a_recovery_never_returns_the_case_to_an_earlier_stage(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    target = await loan(factory, engine, 200)
    before = await gql("manager", POST, payment_input(target, "100.00", "WO-REC-0"))
    assert before["r"]["payment"]["recovery"] is False
    assert (await write_off(gql, target))["writeOff"]["amount"]["amount"] == "1900.00"

    part = (
        await gql("manager", POST, payment_input(target, "400.00", "WO-REC-1", paidAt=just_now()))
    )["r"]
    assert part["payment"]["recovery"] is True
    assert (part["case"]["status"], part["case"]["stage"]) == ("OPEN", "WRITTEN_OFF")
    rest = (
        await gql("manager", POST, payment_input(target, "1500.00", "WO-REC-2", paidAt=just_now()))
    )["r"]
    assert rest["payment"]["recovery"] is True
    assert rest["case"] == {
        "id": target.case_gid,
        "status": "CLOSED",
        "stage": "WRITTEN_OFF",
        "closeReason": "PAID_IN_FULL",
        "totalOutstanding": {"amount": "0.00"},
    }
    reversal = {"input": {"paymentId": rest["payment"]["id"], "reason": "bounced"}}
    back = (await gql("manager", REVERSE, reversal))["r"]
    assert back["payment"] == {"id": rest["payment"]["id"], "reversed": True, "recovery": True}
    assert (back["case"]["status"], back["case"]["stage"], back["case"]["closeReason"]) == (
        "OPEN",
        "WRITTEN_OFF",
        None,
    )
    kinds = [kind for kind, _ in await decisions_of(engine, target.case_id)]
    assert kinds == ["CASE_WRITTEN_OFF", "CHARGE_OFF_REQUESTED", "CASE_CLOSED", "CASE_REOPENED"]
    timeline = await gql("manager", TIMELINE, {"id": target.case_gid})
    received = [
        e["node"]["summary"]
        for e in timeline["case"]["timeline"]["edges"]
        if e["node"]["kind"] == "PAYMENT"
    ]
    assert received == [  # newest first: the recoveries say so
        "Payment of 1500.00 CNY received (API), a recovery after write-off",
        "Payment of 400.00 CNY received (API), a recovery after write-off",
        "Payment of 100.00 CNY received (API)",
    ]


async def test_a_written_off_case_is_placed_with_an_agency_and_sold(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    target = await loan(factory, engine, 250)
    early = await gql("manager", SOLD, {"input": {"caseId": target.case_gid, "reasonText": "x"}})
    assert (early["r"]["code"], early["r"]["field"]) == ("ILLEGAL_TRANSITION", "caseId")
    await write_off(gql, target)
    agency = await factory.agency()
    placed = await gql(
        "manager", PLACE, {"input": {"caseId": target.case_gid, "agencyName": agency.name}}
    )
    assert placed["r"] == {"__typename": "PlaceWithAgencySuccess", "case": {"id": target.case_gid}}
    sold = await gql(
        "manager", SOLD, {"input": {"caseId": target.case_gid, "reasonText": "sold to Buyer Co"}}
    )
    assert sold["r"]["case"] == {
        "id": target.case_gid,
        "status": "CLOSED",
        "stage": "WRITTEN_OFF",
        "closeReason": "DEBT_SOLD",
        "totalOutstanding": {"amount": "2000.00"},
    }
    decided = await decisions_of(engine, target.case_id)
    assert decided[-2:] == [
        ("CASE_CLOSED", {"closeReason": "DEBT_SOLD", "stage": "WRITTEN_OFF"}),
        # Sold: the buyer collects, the agency's placement is recalled.
        ("CASE_RECALLED", {"agencyName": agency.name, "reason": "RECALLED"}),
    ]
    async with engine.connect() as conn:
        c = tables.cases.c
        placed_now = (
            await conn.execute(select(c.agency_id).where(c.id == target.case_id))
        ).scalar_one()
    assert placed_now is None
    async with engine.connect() as conn:
        stmt = select(a.reason_code, a.reason_text).where(
            a.action == "case.transition", a.actor_login == "manager"
        )
        entries = (await conn.execute(stmt.order_by(a.id))).all()
    assert ("DEBT_SOLD", "sold to Buyer Co") in [tuple(e) for e in entries]
    again = await gql("manager", SOLD, {"input": {"caseId": target.case_gid, "reasonText": "x"}})
    assert again["r"]["code"] == "ILLEGAL_TRANSITION"


def just_now() -> str:
    """An instant after a write-off just made (a payment paid then is a recovery)."""
    return datetime.now(UTC).isoformat()


async def test_a_recovery_that_only_clears_the_arrears_leaves_the_case_open(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    target = await loan(factory, engine, 200)
    # Paid before the write-off, posted after it: not a recovery (decided by the debt's
    # write-off instant, not the case's stage now).
    earlier = payment_input(target, "10.00", "WO-ARR-0")
    await write_off(gql, target)
    late = (await gql("manager", POST, earlier))["r"]
    assert (late["payment"]["recovery"], late["case"]["stage"]) == (False, "WRITTEN_OFF")
    # The overdue instalment paid: DPD 0, a balance left. A written-off case is not cured.
    cleared = payment_input(target, "990.00", "WO-ARR-1", paidAt=just_now())
    done = (await gql("manager", POST, cleared))["r"]
    assert done["payment"]["recovery"] is True
    assert done["case"] == {
        "id": target.case_gid,
        "status": "OPEN",
        "stage": "WRITTEN_OFF",
        "closeReason": None,
        "totalOutstanding": {"amount": "1000.00"},
    }
    assert "CASE_CLOSED" not in [kind for kind, _ in await decisions_of(engine, target.case_id)]
    w = tables.write_offs.c
    async with engine.connect() as conn:
        stmt = select(w.source, w.policy_version).where(w.case_id == target.case_id)
        assert (await conn.execute(stmt)).one() == ("MANAGER", "default@builtin")


LEGAL_CASE = "query($id: ID!) { case(id: $id) { id stage } }"


async def approve_referral(engine: AsyncEngine, case_id: int) -> None:
    """A referral of the case, approved (as referToLegal and its approval leave it)."""
    s = tables.staff.c
    async with writing(engine) as conn:
        ids = dict((await conn.execute(select(s.login, s.id))).all())
        now = datetime.now(UTC)
        await conn.execute(
            insert(tables.legal_referrals).values(
                case_id=case_id,
                status="APPROVED",
                reason="refused to pay after the final demand",
                conditions={},
                referred_by=ids["collector1"],
                referred_at=now,
                decided_by=ids["manager"],
                decided_at=now,
                decision_reason="conditions met",
                version=2,
            )
        )


async def test_a_case_written_off_from_legal_stays_the_legal_team_s(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    referred = await loan(factory, engine, 95, stage="LEGAL")
    await approve_referral(engine, referred.case_id)
    unreferred = await loan(factory, engine, 95, stage="LEGAL")  # seeded LEGAL, no referral
    for made in (referred, unreferred):
        assert (await write_off(gql, made, reasonCode="STATUTE_BARRED"))["__typename"] == (
            "WriteOffSuccess"
        )
    seen = await gql("legal1", LEGAL_CASE, {"id": referred.case_gid})
    assert seen["case"] == {"id": referred.case_gid, "stage": "WRITTEN_OFF"}
    assert (await gql("legal1", LEGAL_CASE, {"id": unreferred.case_gid}))["case"] is None
    action = {
        "kind": "LITIGATION",
        "step": "JUDGMENT",
        "occurredOn": portfolio_today().isoformat(),
        "amount": "2000.00",
        "currency": "CNY",
    }
    recorded = await gql("legal1", RECORD, {"input": {"caseId": referred.case_gid, **action}})
    assert recorded["r"]["__typename"] == "RecordLegalActionSuccess", recorded
    assert recorded["r"]["case"]["legalActions"] == [{"step": "JUDGMENT"}]
    # Outside the legal team's scope: not found, never a leak.
    other = await gql("legal1", RECORD, {"input": {"caseId": unreferred.case_gid, **action}})
    assert other["r"]["code"] == "CASE_NOT_FOUND"
    # A manager sees it, but it is not the legal team's: no legal action on it.
    refused = await gql("manager", RECORD, {"input": {"caseId": unreferred.case_gid, **action}})
    assert (refused["r"]["code"], refused["r"]["field"]) == ("LEGAL_ACTION_INVALID", "caseId")
