"""fileComplaint and resolveComplaint over HTTP: an open complaint or dispute stops outbound
contact (contactAllowance, startContact, logContact), placement and allocation on its case,
never inbound contact; resolution releases it; the collection clock stops, DPD does not; every
refusal with its code and field; audit entries and timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.contacts_support import (
    ALLOWANCE,
    LOG,
    START,
    audit_of,
    gid,
    midday_zone,
    point,
    send,
)
from tests.e2e.protections_support import (
    CASE_PROTECTIONS,
    FILE,
    PLACE,
    RESOLVE,
    file_complaint,
    result,
)
from tests.factories import Factory, writing
from tests.helpers import Gql, assert_forbidden, portfolio_today

cm = tables.complaints.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def midday_case(factory: Factory, **shape: Any) -> tuple[Any, Any]:
    """A case of collector1's whose borrower and phone are where it is midday now."""
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, assignee="collector1", **shape)
    phone = await point(factory, borrower.id, zone=zone)
    return made, phone


def checks(allowance: dict[str, Any]) -> dict[str, bool]:
    return {c["rule"]: c["passed"] for c in allowance["checks"]}


async def allowance(gql: Gql, case_gid: str, channel: str = "PHONE") -> dict[str, Any]:
    return await result(gql, "collector1", ALLOWANCE, {"case": case_gid, "channel": channel})


def log_input(case_gid: str, direction: str) -> dict[str, Any]:
    return {
        "input": {
            "caseId": case_gid,
            "channel": "PHONE",
            "direction": direction,
            "outcome": "RIGHT_PARTY_CONTACT",
            "notes": "spoke with the borrower",
        }
    }


@pytest.mark.parametrize(("kind", "rule"), [("COMPLAINT", "OPEN_COMPLAINT"),
                                            ("DISPUTE", "OPEN_DISPUTE")])  # fmt: skip
async def test_an_open_complaint_stops_outbound_contact_until_resolved(
    gql: Gql, factory: Factory, engine: AsyncEngine, kind: str, rule: str
) -> None:
    made, _ = await midday_case(factory)
    before = await allowance(gql, made.gid)
    assert before["allowed"] is True
    assert rule not in checks(before)

    filed = await file_complaint(gql, "collector1", made.gid, kind, written=True, channel="LETTER")
    assert filed["__typename"] == "FileComplaintSuccess"
    complaint = filed["complaint"]
    assert (complaint["kind"], complaint["channel"], complaint["written"], complaint["status"]) == (
        kind, "LETTER", True, "OPEN",
    )  # fmt: skip
    assert complaint["filedBy"] == {"login": "collector1"}
    assert (complaint["resolvedAt"], complaint["daysToResolve"]) == (None, None)

    # contactAllowance: refused by the rule, for good (no next time), on every channel.
    for channel in ("PHONE", "LETTER", "SMS"):
        held = await allowance(gql, made.gid, channel)
        assert held["allowed"] is False
        assert held["nextAllowedAt"] is None
        assert checks(held)[rule] is False
    # startContact: refused naming the rule, and the blocked attempt is recorded.
    refused = await result(gql, "collector1", START, {"input": {"caseId": made.gid,
                                                                 "channel": "PHONE"}})  # fmt: skip
    assert refused["__typename"] == "ComplianceViolation"
    assert (refused["code"], refused["field"], refused["rule"]) == (
        "COMPLIANCE_VIOLATION", "caseId", rule,
    )  # fmt: skip
    assert refused["contact"]["blocked"] is True and refused["contact"]["rule"] == rule
    # logContact: an outbound contact is kept with the breach; an inbound one breaks nothing.
    out = await result(gql, "collector1", LOG, log_input(made.gid, "OUTBOUND"))
    assert rule in out["contact"]["breaches"]
    inbound = await result(gql, "collector1", LOG, log_input(made.gid, "INBOUND"))
    assert inbound["contact"]["breaches"] == []

    # Placement is refused too, naming the rule.
    agency = await factory.agency()
    place = {"input": {"caseId": made.gid, "agencyName": agency.name}}
    placed = await result(gql, "manager", PLACE, place)
    assert (placed["code"], placed["field"]) == ("ACTION_NOT_ALLOWED", "caseId")
    assert rule in placed["message"]

    # Resolution releases the block; a second resolution is refused.
    resolved = await result(
        gql, "manager", RESOLVE, {"input": {"complaintId": complaint["id"],
                                            "resolution": "Apologised; calls limited."}}
    )  # fmt: skip
    assert resolved["__typename"] == "ResolveComplaintSuccess"
    assert resolved["complaint"]["status"] == "RESOLVED"
    assert resolved["complaint"]["resolvedBy"] == {"login": "manager"}
    assert resolved["complaint"]["daysToResolve"] == 0
    after = await allowance(gql, made.gid)
    assert after["allowed"] is True, after
    replaced = await result(gql, "manager", PLACE, place)
    assert replaced["__typename"] == "PlaceWithAgencySuccess", replaced
    again = await result(
        gql, "manager", RESOLVE, {"input": {"complaintId": complaint["id"], "resolution": "x"}}
    )
    assert (again["code"], again["field"]) == ("COMPLAINT_ALREADY_RESOLVED", "complaintId")


DEBTS = "query($id: ID!) { r: case(id: $id) { debts { daysPastDue pausedDays } } }"


async def test_the_clock_stops_while_dpd_runs_on(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1", days_past_due=45)
    shown = await result(gql, "collector1", CASE_PROTECTIONS, {"id": made.gid})
    opened = made.case.opened_on
    elapsed = shown["collectionClockDays"]
    assert elapsed == (portfolio_today() - opened).days  # retail's calendar (Asia/Shanghai)
    [before] = (await result(gql, "collector1", DEBTS, {"id": made.gid}))["debts"]
    assert before["pausedDays"] == 0
    dpd = before["daysPastDue"]

    filed = await file_complaint(gql, "collector1", made.gid)
    # Ten days pass under the complaint: everything the case dates moves 10 days back (the
    # opening, the schedule, the filing), as if filed 10 days ago on a case 10 days older.
    pk = await _complaint_pk(engine, made.case.id)
    it = tables.instalments.c
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.complaints)
            .where(cm.id == pk)
            .values(filed_at=datetime.now(UTC) - timedelta(days=10))
        )
        await conn.execute(
            update(tables.cases)
            .where(tables.cases.c.id == made.case.id)
            .values(opened_on=opened - timedelta(days=10))
        )
        for instalment in made.instalments:
            await conn.execute(
                update(tables.instalments)
                .where(it.id == instalment.id)
                .values(due_date=instalment.due_date - timedelta(days=10))
            )
    held = await result(gql, "collector1", CASE_PROTECTIONS, {"id": made.gid})
    assert held["collectionClockDays"] == elapsed  # the ten days did not count
    # DPD ran on through them; the debt's paused days are the case's clock's pause.
    assert (await result(gql, "collector1", DEBTS, {"id": made.gid}))["debts"] == [
        {"daysPastDue": dpd + 10, "pausedDays": 10}
    ]
    await result(
        gql, "manager", RESOLVE, {"input": {"complaintId": filed["complaint"]["id"],
                                            "resolution": "Explained the fees."}}
    )  # fmt: skip
    resolved = await result(gql, "collector1", CASE_PROTECTIONS, {"id": made.gid})
    assert resolved["collectionClockDays"] == elapsed  # the paused days stay paused
    assert (await result(gql, "collector1", DEBTS, {"id": made.gid}))["debts"] == [
        {"daysPastDue": dpd + 10, "pausedDays": 10}
    ]
    [complaint] = resolved["complaints"]
    assert complaint["daysToResolve"] == 10  # Asia/Shanghai keeps no summer time
    kinds = [e["node"]["kind"] for e in resolved["timeline"]["edges"]]
    assert kinds[:2] == ["COMPLAINT_RESOLVED", "COMPLAINT_FILED"]


async def test_refusals_each_with_its_code_and_field(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    mine = await factory.case(assignee="collector1")
    theirs = await factory.case(assignee="collector3")
    cases = [
        (mine.gid, {"description": "   "}, "DESCRIPTION_REQUIRED", "description"),
        (mine.gid, {"description": "x" * 4001}, "TEXT_TOO_LONG", "description"),
        (theirs.gid, {}, "CASE_NOT_FOUND", "caseId"),
        (gid("Staff", mine.case.id), {}, "CASE_NOT_FOUND", "caseId"),
    ]
    for case_gid, extra, code, field in cases:
        body, request_id = await send(
            gql, "collector1", FILE, {"input": {"caseId": case_gid, "kind": "COMPLAINT",
                                               "channel": "EMAIL", "written": True,
                                               "description": "Wrong amount.", **extra}}
        )  # fmt: skip
        assert (body["code"], body["field"]) == (code, field), body
        [entry] = await audit_of(engine, request_id)
        assert (entry.action, entry.outcome, entry.changes["refused"]) == (
            "complaint.file", "DENIED", code,
        )  # fmt: skip
    async with engine.connect() as conn:
        stored = (await conn.execute(select(cm.id).where(cm.case_id == mine.case.id))).all()
    assert stored == []

    filed = await file_complaint(gql, "collector1", mine.gid)
    complaint_id = filed["complaint"]["id"]
    # Only a manager resolves.
    assert_forbidden(
        await gql.errors(
            "collector1", RESOLVE, {"input": {"complaintId": complaint_id, "resolution": "ok"}}
        )
    )
    blank = await result(
        gql, "manager", RESOLVE, {"input": {"complaintId": complaint_id, "resolution": " "}}
    )
    assert (blank["code"], blank["field"]) == ("DESCRIPTION_REQUIRED", "resolution")
    unknown = await result(
        gql, "manager", RESOLVE, {"input": {"complaintId": gid("Complaint", 10**9),
                                            "resolution": "ok"}}
    )  # fmt: skip
    assert (unknown["code"], unknown["field"]) == ("COMPLAINT_NOT_FOUND", "complaintId")


async def test_filing_is_audited_with_the_event_and_shown_on_the_case(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    body, request_id = await send(
        gql, "collector1", FILE, {"input": {"caseId": made.gid, "kind": "DISPUTE",
                                            "channel": "WEB", "written": True,
                                            "description": "I never took this loan."}}
    )  # fmt: skip
    assert body["case"] == {"id": made.gid}
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.outcome, e.case_ids) for e in entries] == [
        ("complaint.file", "ALLOWED", [made.case.id])
    ]
    assert entries[0].changes == {
        "complaint_id": await _complaint_pk(engine, made.case.id),
        "kind": "DISPUTE",
        "channel": "WEB",
        "written": True,
    }
    assert "never took" not in str(entries[0]._mapping)
    shown = await result(gql, "collector1", CASE_PROTECTIONS, {"id": made.gid})
    assert [c["description"] for c in shown["complaints"]] == ["I never took this loan."]
    summary = shown["timeline"]["edges"][0]["node"]
    assert summary == {"kind": "COMPLAINT_FILED", "summary": "DISPUTE filed (written, by WEB)"}
    # The complaint is a node of its own, seen by whoever sees the case.
    node = "query($id: ID!) { r: node(id: $id) { __typename ... on Complaint { kind } } }"
    assert await result(gql, "collector1", node, {"id": body["complaint"]["id"]}) == {
        "__typename": "Complaint", "kind": "DISPUTE",
    }  # fmt: skip
    assert await result(gql, "collector3", node, {"id": body["complaint"]["id"]}) is None


async def _complaint_pk(engine: AsyncEngine, case_id: int) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(cm.id).where(cm.case_id == case_id))).scalar_one())
