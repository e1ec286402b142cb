"""holdCase and resumeCase over HTTP: the life cycle's HOLD and RESUME rows as operations. A held
case refuses the work the life cycle forbids (CASE_ON_HOLD), keeps the reason code on its move,
and is audited; illegal moves are ILLEGAL_TRANSITION and change nothing; a keyed retry holds
once. (Who may call them, inside and outside scope: tests/e2e/test_access_matrix.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.contacts_support import START, point, send
from tests.factories import Factory
from tests.helpers import Gql

PAYLOAD = "__typename ... on UserError { code field }"
HOLD = f"""
mutation($input: HoldCaseInput!) {{
  r: holdCase(input: $input) {{
    {PAYLOAD} ... on HoldCaseSuccess {{ case {{ id status version }} }}
  }}
}}
"""
RESUME = f"""
mutation($input: ResumeCaseInput!) {{
  r: resumeCase(input: $input) {{
    {PAYLOAD} ... on ResumeCaseSuccess {{ case {{ id status version }} }}
  }}
}}
"""
PLACE = f"""
mutation($input: PlaceWithAgencyInput!) {{
  r: placeWithAgency(input: $input) {{ {PAYLOAD} }}
}}
"""
TIMELINE = """
query($id: ID!) { r: case(id: $id) { timeline(first: 1) { edges { node { kind summary } } } } }
"""
ev, au = tables.case_events.c, tables.audit_entries.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def events(engine: AsyncEngine, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(ev.name, ev.data).where(ev.case_id == case_id).order_by(ev.id)
        )
        return [(r.name, dict(r.data)) for r in rows]


async def test_a_held_case_refuses_work_until_it_is_resumed(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(days_past_due=40)
    await point(factory, made.borrower.id, zone="Asia/Shanghai")
    held, request_id = await send(
        gql, "manager", HOLD, {"input": {"caseId": made.gid, "reason": "HOSPITALISATION"}}
    )
    assert held == {
        "__typename": "HoldCaseSuccess",
        "case": {"id": made.gid, "status": "ON_HOLD", "version": 2},
    }
    assert await events(engine, made.case.id) == [
        (
            "CaseTransitioned",
            {
                "trigger": "HOLD",
                "from_status": "OPEN",
                "to_status": "ON_HOLD",
                "from_stage": "COLLECTION",
                "to_stage": "COLLECTION",
                "close_reason": None,
                "hold_reason": "HOSPITALISATION",
            },
        )
    ]
    async with engine.connect() as conn:
        entries = (
            await conn.execute(
                select(au.action, au.outcome, au.changes).where(au.request_id == request_id)
            )
        ).all()
    assert [(e.action, e.outcome, e.changes["hold_reason"]) for e in entries] == [
        ("case.hold", "ALLOWED", "HOSPITALISATION")
    ]
    timeline = (await gql("manager", TIMELINE, {"id": made.gid}))["r"]["timeline"]
    assert timeline["edges"][0]["node"] == {
        "kind": "TRANSITION",
        "summary": "HOLD: OPEN/COLLECTION → ON_HOLD/COLLECTION (HOSPITALISATION)",
    }
    # The life cycle refuses the work: a call, a placement.
    refused, _ = await send(
        gql, "manager", START, {"input": {"caseId": made.gid, "channel": "PHONE"}}
    )
    assert (refused["__typename"], refused["rule"]) == ("ComplianceViolation", "CASE_ON_HOLD")
    placed, _ = await send(
        gql, "manager", PLACE, {"input": {"caseId": made.gid, "agencyName": "Acme Recovery"}}
    )
    assert (placed["code"], placed["field"]) == ("CASE_ON_HOLD", "caseId")
    # Held twice is illegal, changes nothing and leaves a DENIED entry naming the refusal.
    again, request_id = await send(
        gql, "manager", HOLD, {"input": {"caseId": made.gid, "reason": "BEREAVEMENT"}}
    )
    assert (again["__typename"], again["code"]) == ("RuleViolationError", "ILLEGAL_TRANSITION")
    async with engine.connect() as conn:
        denied = (
            await conn.execute(
                select(au.action, au.outcome, au.changes).where(au.request_id == request_id)
            )
        ).all()
    assert [(e.action, e.outcome, e.changes) for e in denied] == [
        ("case.hold", "DENIED", {"refused": "ILLEGAL_TRANSITION"})
    ]
    assert len(await events(engine, made.case.id)) == 1
    resumed, _ = await send(gql, "admin", RESUME, {"input": {"caseId": made.gid}})
    assert resumed["case"] == {"id": made.gid, "status": "OPEN", "version": 3}
    recorded = await events(engine, made.case.id)
    assert [(name, data["trigger"]) for name, data in recorded] == [
        ("CaseTransitioned", "HOLD"),
        ("CaseTransitioned", "RESUME"),
    ]
    assert "hold_reason" not in recorded[1][1]  # only a hold carries a reason
    # Open again: worked again, and resuming an open case is illegal.
    started, _ = await send(
        gql, "manager", START, {"input": {"caseId": made.gid, "channel": "PHONE"}}
    )
    assert started["__typename"] in ("StartContactSuccess", "ComplianceViolation")
    assert started.get("rule") != "CASE_ON_HOLD"
    twice, _ = await send(gql, "admin", RESUME, {"input": {"caseId": made.gid}})
    assert (twice["__typename"], twice["code"]) == ("RuleViolationError", "ILLEGAL_TRANSITION")


async def test_a_closed_case_cannot_be_held(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(status="CLOSED")
    refused, _ = await send(
        gql, "manager", HOLD, {"input": {"caseId": made.gid, "reason": "DISASTER"}}
    )
    assert (refused["__typename"], refused["code"]) == ("RuleViolationError", "ILLEGAL_TRANSITION")
    assert await events(engine, made.case.id) == []


async def test_a_keyed_retry_holds_once(gql: Gql, engine: AsyncEngine, factory: Factory) -> None:
    made = await factory.case()
    variables = {
        "input": {
            "caseId": made.gid,
            "reason": "INVESTIGATION",
            "idempotencyKey": str(uuid.uuid4()),
        }
    }
    first, _ = await send(gql, "manager", HOLD, variables)
    retry, _ = await send(gql, "manager", HOLD, variables)
    assert (
        first
        == retry
        == {
            "__typename": "HoldCaseSuccess",
            "case": {"id": made.gid, "status": "ON_HOLD", "version": 2},
        }
    )
    assert len(await events(engine, made.case.id)) == 1
    # The same key for the other operation is refused.
    variables["input"].pop("reason")
    reused, _ = await send(gql, "manager", RESUME, variables)
    assert (reused["code"], reused["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
