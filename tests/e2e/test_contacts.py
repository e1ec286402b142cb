"""startContact, completeContact, contactAllowance and Case.contacts over HTTP: grants and
refusals named by rule, counts shared by the lender and two agencies, agency scoping, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.contacts_support import (
    ALLOWANCE,
    CASE_CONTACTS,
    COMPLETE,
    START,
    audit_of,
    contact_row,
    gid,
    iso,
    midday_zone,
    next_morning,
    parse,
    past_contact,
    point,
    send,
)
from tests.factories import Factory
from tests.helpers import Gql, assert_bad_input, assert_forbidden

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def staff_id(engine: AsyncEngine, login: str) -> int:
    s = tables.staff.c
    async with engine.connect() as conn:
        return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


async def agency_id(engine: AsyncEngine, name: str) -> int:
    a = tables.agencies.c
    async with engine.connect() as conn:
        return int((await conn.execute(select(a.id).where(a.name == name))).scalar_one())


def start_input(case_gid: str, **extra: Any) -> dict[str, Any]:
    return {"input": {"caseId": case_gid, "channel": "PHONE", **extra}}


async def midday_case(factory: Factory, **shape: Any) -> tuple[Any, Any, str]:
    """A case whose borrower and phone are in a zone where it is midday now."""
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, **shape)
    phone = await point(factory, borrower.id, zone=zone)
    return made, phone, zone


# ---- contactAllowance: exact instants ---------------------------------------------------------


async def test_allowance_at_the_quiet_hours_boundary(gql: Gql, factory: Factory) -> None:
    borrower = await factory.borrower(time_zone=SHANGHAI)
    made = await factory.case(borrower=borrower, assignee="collector1")
    phone = await point(factory, borrower.id, zone=SHANGHAI)
    inside = datetime(2026, 5, 1, 21, 59, 59, tzinfo=ZoneInfo(SHANGHAI))
    variables = {"case": made.gid, "channel": "PHONE", "at": inside.isoformat()}
    allowed, _ = await send(gql, "collector1", ALLOWANCE, variables)
    assert allowed["allowed"] is True
    assert allowed["attemptsLeftToday"] == 6
    assert allowed["profile"] == "CN"
    assert allowed["profileVersion"] == "CN-2026.1"
    assert allowed["contactPoint"] == {"id": gid("ContactPoint", phone.id)}
    assert [c["rule"] for c in allowed["checks"]] == [
        "CONTACT_POINT_INVALID",
        "OPTED_OUT",
        "THIRD_PARTY",
        "FIELD_VISIT_TWO_STAFF",
        "QUIET_HOURS",
        "DAILY_ATTEMPTS",
        "CONNECTED_CALLS_PER_DAY",
    ]
    assert all(c["passed"] for c in allowed["checks"])

    variables["at"] = (inside + timedelta(seconds=1)).isoformat()
    refused, _ = await send(gql, "collector1", ALLOWANCE, variables)
    assert refused["allowed"] is False
    morning = datetime(2026, 5, 2, 8, 0, tzinfo=ZoneInfo(SHANGHAI))
    assert parse(refused["nextAllowedAt"]) == morning
    quiet = next(c for c in refused["checks"] if c["rule"] == "QUIET_HOURS")
    assert quiet["passed"] is False
    assert (
        quiet["detail"]
        == "outside the allowed hours 08:00-22:00: 22:00 local time in Asia/Shanghai"
    )
    assert parse(quiet["nextAllowedAt"]) == morning
    assert [c["rule"] for c in refused["checks"] if not c["passed"]] == ["QUIET_HOURS"]


async def test_allowance_for_a_us_borrower_with_phone_and_address_in_two_zones(
    gql: Gql, factory: Factory
) -> None:
    """Regulation F: 08:00-21:00 at every location: 11:00-21:00 New York time."""
    borrower = await factory.borrower(time_zone=NEW_YORK)
    made = await factory.case(borrower=borrower, portfolio="us-cards")
    await point(factory, borrower.id, zone=LOS_ANGELES)
    variables: dict[str, Any] = {"case": made.gid, "channel": "PHONE"}
    ny = ZoneInfo(NEW_YORK)
    for at, allowed in (
        (datetime(2026, 6, 10, 10, 59, 59, tzinfo=ny), False),
        (datetime(2026, 6, 10, 11, 0, tzinfo=ny), True),
        (datetime(2026, 6, 10, 20, 59, 59, tzinfo=ny), True),
        (datetime(2026, 6, 10, 21, 0, tzinfo=ny), False),
    ):
        result, _ = await send(gql, "manager", ALLOWANCE, {**variables, "at": at.isoformat()})
        assert result["allowed"] is allowed, at
        assert result["profile"] == "US_REG_F"
        assert result["attemptsLeftToday"] is None
    result, _ = await send(
        gql,
        "manager",
        ALLOWANCE,
        {**variables, "at": datetime(2026, 6, 10, 21, 0, tzinfo=ny).isoformat()},
    )
    assert parse(result["nextAllowedAt"]) == datetime(2026, 6, 11, 11, 0, tzinfo=ny)
    assert [c["rule"] for c in result["checks"]] == [
        "CONTACT_POINT_INVALID",
        "OPTED_OUT",
        "THIRD_PARTY",
        "QUIET_HOURS",
        "WEEKLY_CALLS",
        "AFTER_CONVERSATION",
    ]


async def test_allowance_counts_the_week_of_calls(gql: Gql, factory: Factory) -> None:
    borrower = await factory.borrower(time_zone=NEW_YORK)
    made = await factory.case(borrower=borrower, portfolio="us-cards")
    phone = await point(factory, borrower.id, zone=NEW_YORK)
    t0 = datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo(NEW_YORK))
    for day in range(7):
        await past_contact(factory, made.case, t0 + timedelta(days=day), point_id=phone.id)
    variables: dict[str, Any] = {"case": made.gid, "channel": "PHONE"}
    before = t0 + timedelta(days=7, seconds=-1)
    refused, _ = await send(gql, "manager", ALLOWANCE, {**variables, "at": before.isoformat()})
    assert [c["rule"] for c in refused["checks"] if not c["passed"]] == ["WEEKLY_CALLS"]
    assert parse(refused["nextAllowedAt"]) == t0 + timedelta(days=7)
    exactly = (t0 + timedelta(days=7)).isoformat()
    assert (await send(gql, "manager", ALLOWANCE, {**variables, "at": exactly}))[0]["allowed"]


async def test_allowance_without_a_usable_point(gql: Gql, factory: Factory) -> None:
    borrower = await factory.borrower(time_zone=SHANGHAI)
    made = await factory.case(borrower=borrower, assignee="collector1")
    await point(factory, borrower.id, zone=SHANGHAI, status="INVALID")
    at = datetime(2026, 5, 1, 12, 0, tzinfo=ZoneInfo(SHANGHAI)).isoformat()
    result, _ = await send(
        gql, "collector1", ALLOWANCE, {"case": made.gid, "channel": "PHONE", "at": at}
    )
    assert result["allowed"] is False
    assert result["nextAllowedAt"] is None
    assert result["contactPoint"] is None
    failed = [c for c in result["checks"] if not c["passed"]]
    assert failed == [
        {
            "rule": "CONTACT_POINT_INVALID",
            "passed": False,
            "detail": "no contact point for a PHONE contact",
            "nextAllowedAt": None,
        }
    ]


async def test_allowance_on_a_closed_case_names_the_life_cycle(gql: Gql, factory: Factory) -> None:
    made, _, _ = await midday_case(factory, assignee="collector1", status="CLOSED")
    result, _ = await send(gql, "collector1", ALLOWANCE, {"case": made.gid, "channel": "PHONE"})
    assert result["allowed"] is False
    assert result["nextAllowedAt"] is None
    assert [c["rule"] for c in result["checks"] if not c["passed"]] == ["CASE_CLOSED"]


async def test_allowance_refuses_cases_and_points_outside_scope(gql: Gql, factory: Factory) -> None:
    made, _, _ = await midday_case(factory, agency="Acme Recovery")
    errors = await gql.errors("zenith.agent1", ALLOWANCE, {"case": made.gid, "channel": "PHONE"})
    assert_bad_input(errors, "no such case")
    other, other_phone, _ = await midday_case(factory, agency="Acme Recovery")
    errors = await gql.errors(
        "acme.agent1",
        ALLOWANCE,
        {"case": made.gid, "channel": "PHONE", "point": gid("ContactPoint", other_phone.id)},
    )
    assert_bad_input(errors, "no such contact point")
    assert other.case.id != made.case.id


async def test_allowance_refuses_a_point_startcontact_would_refuse(
    gql: Gql, factory: Factory
) -> None:
    made, _, _ = await midday_case(factory, assignee="collector1")
    email = await point(factory, made.borrower.id, kind="EMAIL", value="someone@example.org")
    relative = await point(factory, made.borrower.id, owner="SPOUSE", value="13800000001")
    variables = {"case": made.gid, "channel": "PHONE", "point": gid("ContactPoint", email.id)}
    errors = await gql.errors("collector1", ALLOWANCE, variables)
    assert_bad_input(errors, "contactPointId: PHONE needs a PHONE contact point")
    assert "someone@example.org" not in errors[0]["message"]
    variables["point"] = gid("ContactPoint", relative.id)
    errors = await gql.errors("collector1", ALLOWANCE, variables)
    assert_bad_input(errors, "the contact point is the SPOUSE's, not the BORROWER's")
    assert "13800000001" not in errors[0]["message"]
    variables["point"] = gid("Case", made.case.id)  # an id, but no contact point's
    errors = await gql.errors("collector1", ALLOWANCE, variables)
    assert_bad_input(errors, "contactPointId: no such contact point of the case's borrower")


# ---- startContact -----------------------------------------------------------------------------


async def test_start_grants_an_attempt_in_progress_and_audits_it(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, phone, _ = await midday_case(factory, assignee="collector1")
    result, request_id = await send(gql, "collector1", START, start_input(made.gid))
    assert result["__typename"] == "StartContactSuccess"
    contact = result["contact"]
    assert contact["outcome"] is None
    assert contact["blocked"] is False
    assert contact["source"] == "STARTED"
    assert contact["agent"] == {"login": "collector1"}
    assert contact["contactPoint"] == {"id": gid("ContactPoint", phone.id)}
    row = await contact_row(engine, contact["id"])
    assert (row.outcome, row.blocked, row.staff_id, row.agency_id) == (
        None,
        False,
        await staff_id(engine, "collector1"),
        None,
    )
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.outcome, e.resource_ids, e.case_ids) for e in entries] == [
        ("contact.start", "ALLOWED", [contact["id"]], [made.case.id])
    ]


async def test_start_at_night_is_refused_recorded_and_audited(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """A phone in a zone where it is 23:xx now: refused by QUIET_HOURS until 08:00 there."""
    now = datetime.now(UTC)
    offset = (23 - now.hour) % 24
    offset = offset - 24 if offset > 14 else offset
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, assignee="collector1")
    await point(factory, borrower.id, zone=zone)
    result, request_id = await send(gql, "collector1", START, start_input(made.gid))
    assert result["__typename"] == "ComplianceViolation"
    assert (result["code"], result["rule"], result["field"]) == (
        "COMPLIANCE_VIOLATION",
        "QUIET_HOURS",
        None,
    )
    assert result["breaches"] == ["QUIET_HOURS"]
    assert result["contact"]["blocked"] is True
    assert result["contact"]["rule"] == "QUIET_HOURS"
    row = await contact_row(engine, result["contact"]["id"])
    expected = next_morning(zone, row.at)
    assert parse(result["nextAllowedAt"]) == expected
    assert (row.blocked, row.rule, row.outcome, row.breaches) == (
        True,
        "QUIET_HOURS",
        None,
        ["QUIET_HOURS"],
    )
    assert row.next_allowed_at == expected
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.outcome) for e in entries] == [("contact.start", "DENIED")]
    changes = entries[0].changes
    assert changes["refused"] == "COMPLIANCE_VIOLATION"
    assert changes["rule"] == "QUIET_HOURS"
    assert parse(changes["nextAllowedAt"]) == expected


async def test_daily_attempts_are_shared_by_the_lender_and_two_agencies(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """Two attempts by the lender's collector, two by Zenith, two by Acme, each placement in
    turn: the seventh attempt on the number that day is refused, whoever asks."""
    made, phone, zone = await midday_case(factory, assignee="collector1")

    async def attempts(login: str) -> None:
        for _ in range(2):
            result, _ = await send(gql, login, START, start_input(made.gid))
            assert result["__typename"] == "StartContactSuccess", result
            done, _ = await send(
                gql,
                login,
                COMPLETE,
                {"input": {"contactId": result["contact"]["id"], "outcome": "NO_ANSWER"}},
            )
            assert done["__typename"] == "CompleteContactSuccess", done

    place = "mutation($i: PlaceWithAgencyInput!) { r: placeWithAgency(input: $i) { __typename } }"
    recall = (
        "mutation($i: RecallFromAgencyInput!) { r: recallFromAgency(input: $i) { __typename } }"
    )
    await attempts("collector1")
    await send(
        gql, "manager", place, {"i": {"caseId": made.gid, "agencyName": "Zenith Collections"}}
    )
    await attempts("zenith.agent1")
    await send(gql, "manager", recall, {"i": {"caseId": made.gid}})
    await send(gql, "manager", place, {"i": {"caseId": made.gid, "agencyName": "Acme Recovery"}})
    allowance, _ = await send(gql, "acme.agent1", ALLOWANCE, {"case": made.gid, "channel": "PHONE"})
    assert allowance["attemptsLeftToday"] == 2
    await attempts("acme.agent1")
    allowance, _ = await send(gql, "acme.agent1", ALLOWANCE, {"case": made.gid, "channel": "PHONE"})
    assert allowance["attemptsLeftToday"] == 0
    result, _ = await send(gql, "acme.agent1", START, start_input(made.gid))
    assert result["__typename"] == "ComplianceViolation"
    assert result["rule"] == "DAILY_ATTEMPTS"
    assert parse(result["nextAllowedAt"]) == next_morning(zone, datetime.now(UTC))
    ct = tables.contacts.c
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(ct.agency_id, ct.blocked).where(ct.case_id == made.case.id).order_by(ct.id)
            )
        ).all()
    acme, zenith = (
        await agency_id(engine, "Acme Recovery"),
        await agency_id(engine, "Zenith Collections"),
    )
    assert [tuple(r) for r in rows] == [
        (None, False),
        (None, False),
        (zenith, False),
        (zenith, False),
        (acme, False),
        (acme, False),
        (acme, True),
    ]
    assert phone.id


async def test_connected_calls_count_every_case_of_the_borrower(gql: Gql, factory: Factory) -> None:
    """Three conversations today on the borrower's US case: the CN case's call is refused."""
    made, phone, zone = await midday_case(factory, assignee="collector1")
    other = await factory.case(borrower=made.borrower, portfolio="us-cards")
    now = datetime.now(UTC)
    for minutes in (30, 20, 10):
        await past_contact(
            factory,
            other.case,
            now - timedelta(minutes=minutes),
            point_id=phone.id,
            outcome="RIGHT_PARTY_CONTACT",
        )
    result, _ = await send(gql, "collector1", START, start_input(made.gid))
    assert result["__typename"] == "ComplianceViolation"
    assert result["rule"] == "CONNECTED_CALLS_PER_DAY"
    assert parse(result["nextAllowedAt"]) == next_morning(zone, now)


async def test_a_call_in_progress_holds_the_last_connected_call(gql: Gql, factory: Factory) -> None:
    """Two conversations today and an agent on the phone: the next call is refused, since the
    call in progress may connect; once it ends unanswered, the call is granted."""
    made, phone, zone = await midday_case(factory, assignee="collector1")
    now = datetime.now(UTC)
    for minutes in (30, 20):
        await past_contact(
            factory, made.case, now - timedelta(minutes=minutes), point_id=phone.id,
            outcome="RIGHT_PARTY_CONTACT",
        )  # fmt: skip
    first, _ = await send(gql, "collector1", START, start_input(made.gid))
    assert first["__typename"] == "StartContactSuccess"
    second, _ = await send(gql, "lead1", START, start_input(made.gid))
    assert (second["__typename"], second["rule"]) == (
        "ComplianceViolation",
        "CONNECTED_CALLS_PER_DAY",
    )
    assert parse(second["nextAllowedAt"]) == next_morning(zone, now)
    done, _ = await send(
        gql,
        "collector1",
        COMPLETE,
        {"input": {"contactId": first["contact"]["id"], "outcome": "NO_ANSWER"}},
    )
    assert done["__typename"] == "CompleteContactSuccess"
    third, _ = await send(gql, "lead1", START, start_input(made.gid))
    assert third["__typename"] == "StartContactSuccess"


async def test_a_case_on_hold_records_the_refused_attempt(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, phone, _ = await midday_case(factory, assignee="collector1", status="ON_HOLD")
    result, request_id = await send(gql, "collector1", START, start_input(made.gid))
    assert (result["__typename"], result["code"], result["rule"], result["field"]) == (
        "ComplianceViolation",
        "COMPLIANCE_VIOLATION",
        "CASE_ON_HOLD",
        "caseId",
    )
    assert (result["nextAllowedAt"], result["breaches"]) == (None, ["CASE_ON_HOLD"])
    row = await contact_row(engine, result["contact"]["id"])
    assert (row.case_id, row.blocked, row.rule, row.next_allowed_at, row.contact_point_id) == (
        made.case.id,
        True,
        "CASE_ON_HOLD",
        None,
        phone.id,
    )
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.outcome) for e in entries] == [("contact.start", "DENIED")]
    assert (entries[0].changes["refused"], entries[0].changes["rule"]) == (
        "COMPLIANCE_VIOLATION",
        "CASE_ON_HOLD",
    )


async def test_start_refusals_that_waiting_does_not_lift(gql: Gql, factory: Factory) -> None:
    made, phone, zone = await midday_case(factory, assignee="collector1")
    opted = await point(
        factory, made.borrower.id, zone=zone, status="OPTED_OUT", value="13900000001"
    )
    result, _ = await send(
        gql,
        "collector1",
        START,
        start_input(made.gid, contactPointId=gid("ContactPoint", opted.id)),
    )
    assert (result["__typename"], result["rule"], result["field"], result["nextAllowedAt"]) == (
        "ComplianceViolation",
        "OPTED_OUT",
        "contactPointId",
        None,
    )
    third = await point(
        factory, made.borrower.id, zone=zone, owner="UNRELATED_THIRD_PARTY", value="13900000002"
    )
    result, _ = await send(
        gql,
        "collector1",
        START,
        start_input(
            made.gid, party="UNRELATED_THIRD_PARTY", contactPointId=gid("ContactPoint", third.id)
        ),
    )
    assert (result["__typename"], result["rule"], result["field"]) == (
        "ComplianceViolation",
        "THIRD_PARTY",
        "party",
    )
    visit = await point(
        factory, made.borrower.id, kind="ADDRESS", zone=zone, value="上海市测试路1号"
    )
    alone = start_input(
        made.gid, channel="FIELD_VISIT", contactPointId=gid("ContactPoint", visit.id)
    )
    result, _ = await send(gql, "collector1", START, alone)
    assert (result["__typename"], result["rule"]) == (
        "ComplianceViolation",
        "FIELD_VISIT_TWO_STAFF",
    )
    alone["input"]["secondAgentLogin"] = "collector2"
    result, _ = await send(gql, "collector1", START, alone)
    assert result["__typename"] == "StartContactSuccess"
    assert phone.id


async def test_start_typed_errors_change_nothing(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, _, _ = await midday_case(factory, assignee="collector1")
    closed, _, _ = await midday_case(factory, assignee="collector1", status="CLOSED")
    email = await point(factory, made.borrower.id, kind="EMAIL", value="someone@example.org")
    cases = [
        (start_input(closed.gid), ("RuleViolationError", "CASE_CLOSED", "caseId")),
        (
            start_input(made.gid, contactPointId=gid("ContactPoint", email.id)),
            ("ValidationError", "CONTACT_POINT_MISMATCH", "contactPointId"),
        ),
        (
            start_input(made.gid, contactPointId=gid("ContactPoint", 999_999)),
            ("NotFoundError", "CONTACT_POINT_NOT_FOUND", "contactPointId"),
        ),
        (
            start_input(made.gid, secondAgentLogin="collector2"),
            ("ValidationError", "INVALID_INPUT", "secondAgentLogin"),
        ),
        (start_input(gid("Case", 999_999)), ("NotFoundError", "CASE_NOT_FOUND", "caseId")),
    ]
    for variables, expected in cases:
        result, request_id = await send(gql, "collector1", START, variables)
        assert (result["__typename"], result["code"], result["field"]) == expected
        entries = await audit_of(engine, request_id)
        assert [(e.action, e.outcome, e.changes) for e in entries] == [
            ("contact.start", "DENIED", {"refused": expected[1]})
        ]
    ct = tables.contacts.c
    async with engine.connect() as conn:
        stmt = select(ct.id).where(ct.case_id.in_([made.case.id, closed.case.id]))
        assert (await conn.execute(stmt)).all() == []


async def test_agencies_start_contacts_only_on_their_own_cases(gql: Gql, factory: Factory) -> None:
    made, _, _ = await midday_case(factory, agency="Acme Recovery")
    result, _ = await send(gql, "zenith.agent1", START, start_input(made.gid))
    assert (result["__typename"], result["code"]) == ("NotFoundError", "CASE_NOT_FOUND")
    result, _ = await send(gql, "acme.agent1", START, start_input(made.gid))
    assert result["__typename"] == "StartContactSuccess"


async def test_roles_without_contact_make_are_forbidden(gql: Gql, factory: Factory) -> None:
    made, _, _ = await midday_case(factory)
    for login in ("auditor1", "admin"):
        assert_forbidden(await gql.errors(login, START, start_input(made.gid)))


# ---- completeContact --------------------------------------------------------------------------


async def test_complete_records_the_outcome_once(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, _, _ = await midday_case(factory, assignee="collector1")
    started, _ = await send(gql, "collector1", START, start_input(made.gid))
    contact_id = started["contact"]["id"]
    callback = datetime.now(UTC) + timedelta(days=1)
    missing, _ = await send(
        gql,
        "collector1",
        COMPLETE,
        {"input": {"contactId": contact_id, "outcome": "CALLBACK_REQUESTED"}},
    )
    assert (missing["code"], missing["field"]) == ("CALLBACK_TIME_REQUIRED", "callbackAt")
    complete = {
        "contactId": contact_id,
        "outcome": "CALLBACK_REQUESTED",
        "notes": "asked to call after payday",
        "recordingRef": "rec-0001",
        "callbackAt": iso(callback),
    }
    done, request_id = await send(gql, "collector1", COMPLETE, {"input": complete})
    assert done["__typename"] == "CompleteContactSuccess"
    contact = done["contact"]
    assert contact["outcome"] == "CALLBACK_REQUESTED"
    assert contact["notes"] == "asked to call after payday"
    assert contact["recordingRef"] == "rec-0001"
    assert parse(contact["callbackAt"]) == callback
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.outcome) for e in entries] == [("contact.complete", "ALLOWED")]
    assert entries[0].changes == {
        "outcome": "CALLBACK_REQUESTED",
        "callbackAt": callback.isoformat(),
        "recorded": True,
    }
    assert "payday" not in str(entries[0]._mapping)  # notes stay out of the audit trail
    again, request_id = await send(
        gql, "collector1", COMPLETE, {"input": {"contactId": contact_id, "outcome": "NO_ANSWER"}}
    )
    assert (again["__typename"], again["code"]) == (
        "RuleViolationError",
        "CONTACT_ALREADY_COMPLETED",
    )
    assert [(e.action, e.outcome) for e in await audit_of(engine, request_id)] == [
        ("contact.complete", "DENIED")
    ]
    row = await contact_row(engine, contact_id)
    assert row.outcome == "CALLBACK_REQUESTED"
    # Notes are shown to roles that work cases only.
    query = "query($id: ID!) { r: node(id: $id) { ... on Contact { notes outcome } } }"
    assert (await send(gql, "manager", query, {"id": contact_id}))[0] == {
        "notes": "asked to call after payday",
        "outcome": "CALLBACK_REQUESTED",
    }
    assert (await send(gql, "auditor1", query, {"id": contact_id}))[0] == {
        "notes": None,
        "outcome": "CALLBACK_REQUESTED",
    }


async def test_a_refused_attempt_cannot_be_completed(gql: Gql, factory: Factory) -> None:
    made, _, zone = await midday_case(factory, assignee="collector1")
    opted = await point(
        factory, made.borrower.id, zone=zone, status="OPTED_OUT", value="13900000003"
    )
    refused, _ = await send(
        gql,
        "collector1",
        START,
        start_input(made.gid, contactPointId=gid("ContactPoint", opted.id)),
    )
    result, _ = await send(
        gql,
        "collector1",
        COMPLETE,
        {"input": {"contactId": refused["contact"]["id"], "outcome": "NO_ANSWER"}},
    )
    assert (result["code"], result["field"]) == ("CONTACT_BLOCKED", "contactId")


async def test_only_the_agent_a_team_lead_or_a_manager_completes_an_attempt(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    def complete(contact_id: str) -> dict[str, Any]:
        return {"input": {"contactId": contact_id, "outcome": "NO_ANSWER"}}

    placed, _, _ = await midday_case(factory, agency="Acme Recovery")
    by_agent, _ = await send(gql, "acme.agent1", START, start_input(placed.gid))
    contact_id = by_agent["contact"]["id"]
    # An agency manager sees the case, but the attempt is not theirs.
    result, request_id = await send(gql, "acme.manager", COMPLETE, complete(contact_id))
    assert (result["__typename"], result["code"], result["field"]) == (
        "RuleViolationError",
        "NOT_YOUR_CONTACT",
        "contactId",
    )
    assert [(e.action, e.outcome, e.changes) for e in await audit_of(engine, request_id)] == [
        ("contact.complete", "DENIED", {"refused": "NOT_YOUR_CONTACT"})
    ]
    assert (await contact_row(engine, contact_id)).outcome is None
    done, _ = await send(gql, "acme.agent1", COMPLETE, complete(contact_id))
    assert done["contact"]["outcome"] == "NO_ANSWER"
    # The lender's team lead and manager complete their collectors' attempts.
    own, _, _ = await midday_case(factory, assignee="collector1")
    for login in ("lead1", "manager"):
        started, _ = await send(gql, "collector1", START, start_input(own.gid))
        result, _ = await send(gql, login, COMPLETE, complete(started["contact"]["id"]))
        assert result["__typename"] == "CompleteContactSuccess", login
        assert result["contact"]["agent"] == {"login": "collector1"}


async def test_complete_outside_scope_is_not_found(gql: Gql, factory: Factory) -> None:
    made, _, _ = await midday_case(factory, agency="Acme Recovery")
    started, _ = await send(gql, "acme.agent1", START, start_input(made.gid))
    result, _ = await send(
        gql,
        "zenith.agent1",
        COMPLETE,
        {"input": {"contactId": started["contact"]["id"], "outcome": "NO_ANSWER"}},
    )
    assert (result["__typename"], result["code"], result["field"]) == (
        "NotFoundError",
        "CONTACT_NOT_FOUND",
        "contactId",
    )


# ---- Case.contacts ----------------------------------------------------------------------------


async def test_case_contacts_newest_first_by_keyset(gql: Gql, factory: Factory) -> None:
    made, phone, _ = await midday_case(factory, assignee="collector1")
    base = datetime(2026, 4, 1, 4, 0, tzinfo=UTC)
    rows = [
        await past_contact(factory, made.case, base + timedelta(hours=h), point_id=phone.id)
        for h in (0, 2, 1, 2)  # two at the same instant: ties broken by id
    ]
    page, _ = await send(gql, "collector1", CASE_CONTACTS, {"id": made.gid, "first": 3})
    assert page["conductProfile"] == "CN"
    contacts = page["contacts"]
    assert contacts["totalCount"] == 4
    assert contacts["pageInfo"]["hasNextPage"] is True
    ids = [gid("Contact", rows[i].id) for i in (1, 3, 2, 0)]
    assert [e["node"]["id"] for e in contacts["edges"]] == ids[:3]
    after = contacts["pageInfo"]["endCursor"]
    rest, _ = await send(
        gql, "collector1", CASE_CONTACTS, {"id": made.gid, "first": 3, "after": after}
    )
    assert [e["node"]["id"] for e in rest["contacts"]["edges"]] == ids[3:]
    assert rest["contacts"]["pageInfo"]["hasNextPage"] is False
    errors = await gql.errors(
        "collector1", CASE_CONTACTS, {"id": made.gid, "after": "bm90LWEtY3Vyc29y"}
    )
    assert_bad_input(errors, "after")


async def test_us_case_names_its_profile(gql: Gql, factory: Factory) -> None:
    made = await factory.case(portfolio="us-cards")
    page, _ = await send(gql, "manager", CASE_CONTACTS, {"id": made.gid})
    assert page["conductProfile"] == "US_REG_F"
    assert page["contacts"]["totalCount"] == 0
