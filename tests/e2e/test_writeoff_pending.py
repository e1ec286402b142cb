"""A manager's write-off and the work that waits on a case, over HTTP: refused while a
restructuring is PROPOSED or ACTIVE (RESTRUCTURING_PENDING) or a legal referral awaits its
decision (REFERRAL_PENDING), each refusal naming the rule and changing nothing; allowed once the
referral is decided. And a recovery settlement: proposed and approved on a written-off case and
paid, it settles the written-off debt and closes the case SETTLED, the loss reported once and
SETTLEMENT_PAID marked as of a written-off balance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.payment_cases import event_names
from tests.e2e.restructuring_support import approve, propose, send, settlement
from tests.e2e.test_writeoff import POST, REASON, WRITE_OFF, decisions_of, loan, write_off
from tests.factories import Factory, global_id
from tests.helpers import Gql
from tests.legal_support import REFER, REJECT, referable_case

RULE = "WRITE_OFF_NO_PENDING_WORK: "


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def _write_offs(engine: AsyncEngine, case_id: int) -> int:
    w = tables.write_offs.c
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(tables.write_offs).where(w.case_id == case_id)
        return int((await conn.execute(stmt)).scalar_one())


async def test_a_settlement_proposed_or_in_effect_holds_the_write_off(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    target = await loan(factory, engine, 200, assignee="collector1")
    proposed = await propose(
        gql, "collector1", target.case_gid, "SETTLEMENT", **settlement("1900.00")
    )
    assert proposed["__typename"] == "ProposeRestructuringSuccess", proposed
    refused = await write_off(gql, target)
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "RuleViolationError",
        "RESTRUCTURING_PENDING",
        "caseId",
    )
    assert refused["message"].startswith(RULE)
    assert (
        "SETTLEMENT of case" in refused["message"]
        and "is PROPOSED: reject it" in refused["message"]
    )

    approved = await approve(gql, "lead1", proposed["restructuring"]["id"])
    assert approved["restructuring"]["status"] == "ACTIVE", approved
    refused = await write_off(gql, target)
    assert refused["code"] == "RESTRUCTURING_PENDING"
    assert refused["message"].startswith(RULE) and "is ACTIVE: it ends" in refused["message"]
    assert "CaseWrittenOff" not in await event_names(engine, target.case_id)
    assert await _write_offs(engine, target.case_id) == 0
    kinds = [kind for kind, _ in await decisions_of(engine, target.case_id)]
    assert kinds == ["SETTLEMENT_AGREED"]


async def test_a_pending_legal_referral_holds_the_write_off_until_decided(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await referable_case(factory, days_past_due=200)
    referred = (
        await gql("collector1", REFER, {"input": {"caseId": made.gid, "reason": "refuses"}})
    )["r"]
    assert referred["referral"]["status"] == "PENDING", referred
    values = {"caseId": made.gid, "reasonCode": "UNCOLLECTIBLE", "reasonText": REASON}
    refused = (await gql("manager", WRITE_OFF, {"input": values}))["r"]
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "RuleViolationError",
        "REFERRAL_PENDING",
        "caseId",
    )
    assert refused["message"].startswith(RULE) and "approve or reject it" in refused["message"]
    assert await _write_offs(engine, int(made.case.id)) == 0

    rejected = await gql(
        "manager", REJECT, {"input": {"referralId": referred["referral"]["id"], "reason": "no"}}
    )
    assert rejected["r"]["__typename"] == "RejectLegalReferralSuccess", rejected
    done = (await gql("manager", WRITE_OFF, {"input": values}))["r"]
    assert done["__typename"] == "WriteOffSuccess", done
    assert done["case"]["stage"] == "WRITTEN_OFF"


async def test_a_settlement_of_a_written_off_case_settles_it_and_reports_the_loss_once(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    target = await loan(factory, engine, 200, assignee="collector1")
    assert (await write_off(gql, target))["__typename"] == "WriteOffSuccess"
    proposed = await propose(
        gql, "collector1", target.case_gid, "SETTLEMENT", **settlement("1900.00")
    )
    assert proposed["restructuring"]["balance"]["amount"] == "2000.00", proposed
    approved = await approve(gql, "lead1", proposed["restructuring"]["id"])
    assert approved["restructuring"]["status"] == "ACTIVE", approved

    core = await factory.staff(roles=("integration",))
    payment = {
        "debtId": global_id("Debt", target.debt_id),
        "amount": "1900.00",
        "currency": "CNY",
        "paidAt": datetime.now(UTC).isoformat(),
        "reference": f"RS-{target.case_id}",
    }
    paid = await send(gql, core.login, POST, {"input": payment})
    assert paid["payment"]["recovery"] is True, paid
    assert {k: paid["case"][k] for k in ("status", "stage", "closeReason")} == {
        "status": "CLOSED",
        "stage": "WRITTEN_OFF",
        "closeReason": "SETTLED",
    }
    d = tables.debts.c
    async with engine.connect() as conn:
        status = (await conn.execute(select(d.status).where(d.id == target.debt_id))).scalar_one()
    assert status == "SETTLED"
    found = await decisions_of(engine, target.case_id)
    kinds = [kind for kind, _ in found]
    # The loss once: the manager's write-off and its request to the core to book it.
    assert kinds.count("CASE_WRITTEN_OFF") == 1 and kinds.count("CHARGE_OFF_REQUESTED") == 1
    assert [data for kind, data in found if kind == "SETTLEMENT_PAID"] == [
        {"paid": "1900.00", "discount": "100.00", "currency": "CNY", "writtenOffDebts": "1"}
    ]
