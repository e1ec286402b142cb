"""Counts shared by the lender and two agencies over HTTP: contacts logged or started by the
lender's collector, Zenith's agent and Acme's agent (the case placed with each in turn) add up
under one rule; the one just inside is granted, the one just outside refused naming the rule and
its exact next allowed instant, and logContact keeps a breach instead of refusing.

Instants are relative to now in a zone where it is midday now (``midday_zone``), so that every
contact is inside the quiet hours of both profiles whenever the suite runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.contacts_support import (
    ALLOWANCE,
    COMPLETE,
    LOG,
    START,
    gid,
    iso,
    midday_zone,
    next_morning,
    parse,
    placed_since,
    point,
    send,
)
from tests.factories import Factory
from tests.helpers import Gql

ZENITH, ACME = "Zenith Collections", "Acme Recovery"
PLACE = "mutation($i: PlaceWithAgencyInput!) { r: placeWithAgency(input: $i) { __typename } }"
RECALL = "mutation($i: RecallFromAgencyInput!) { r: recallFromAgency(input: $i) { __typename } }"
ct = tables.contacts.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


def whole_seconds_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def midday_case(factory: Factory, portfolio: str) -> tuple[Any, Any, str]:
    """A case assigned to collector1 whose borrower and phone are where it is midday now."""
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, assignee="collector1", portfolio=portfolio)
    phone = await point(factory, borrower.id, zone=zone)
    return made, phone, zone


async def place(
    gql: Gql,
    made: Any,
    agency: str,
    *,
    recall_first: bool = False,
    engine: AsyncEngine | None = None,
    since: datetime | None = None,
) -> None:
    """Places the case with ``agency``; ``since``: the placement began then (the agency logs
    contacts from that instant on)."""
    if recall_first:
        recalled, _ = await send(gql, "manager", RECALL, {"i": {"caseId": made.gid}})
        assert recalled["__typename"] == "RecallFromAgencySuccess", recalled
    placed, _ = await send(gql, "manager", PLACE, {"i": {"caseId": made.gid, "agencyName": agency}})
    assert placed["__typename"] == "PlaceWithAgencySuccess", placed
    if since is not None:
        assert engine is not None
        await placed_since(engine, made.case.id, since)


async def log(
    gql: Gql, login: str, made: Any, at: datetime, outcome: str = "NO_ANSWER", **extra: Any
) -> list[str]:
    """Logs a contact (an outbound call unless ``extra`` says otherwise); returns its breaches."""
    variables = {
        "input": {
            "caseId": made.gid,
            "channel": "PHONE",
            "direction": "OUTBOUND",
            "outcome": outcome,
            "occurredAt": iso(at),
            **extra,
        }
    }
    result, _ = await send(gql, login, LOG, variables)
    assert result["__typename"] == "LogContactSuccess", result
    breaches: list[str] = result["contact"]["breaches"]
    return breaches


async def allowance(gql: Gql, login: str, made: Any, at: datetime, **extra: Any) -> Any:
    variables = {"case": made.gid, "channel": "PHONE", "at": iso(at), **extra}
    return (await send(gql, login, ALLOWANCE, variables))[0]


def failing(result: Any) -> list[str]:
    return [c["rule"] for c in result["checks"] if not c["passed"]]


def rule_check(result: Any, rule: str) -> Any:
    return next(c for c in result["checks"] if c["rule"] == rule)


async def start(gql: Gql, login: str, made: Any, **extra: Any) -> Any:
    variables = {"input": {"caseId": made.gid, "channel": "PHONE", **extra}}
    return (await send(gql, login, START, variables))[0]


async def callers(engine: AsyncEngine, case_id: int) -> list[tuple[str | None, bool]]:
    """Each contact of the case in the order it was recorded: the agency that made it (None: the
    lender) and whether it was a refused attempt."""
    ag = tables.agencies.c
    stmt = (
        select(ag.name, ct.blocked)
        .select_from(tables.contacts.outerjoin(tables.agencies, ag.id == ct.agency_id))
        .where(ct.case_id == case_id)
        .order_by(ct.id)
    )
    async with engine.connect() as conn:
        return [(r.name, bool(r.blocked)) for r in (await conn.execute(stmt)).all()]


# --- US_REG_F WEEKLY_CALLS ----------------------------------------------------------------------


async def test_weekly_calls_are_shared_by_the_lender_and_two_agencies(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """Three calls by the lender, two by Zenith, two by Acme in six days: the week is full for
    everyone until 168 hours after the first call."""
    made, _, _ = await midday_case(factory, "us-cards")
    now = whole_seconds_now()
    first = now - timedelta(days=6, hours=1)
    times = [first, *(now - timedelta(days=d) for d in (5, 4, 3, 2, 1)), now - timedelta(hours=1)]
    for at in times[:3]:
        assert await log(gql, "collector1", made, at) == []
    await place(gql, made, ZENITH, engine=engine, since=times[3] - timedelta(minutes=1))
    for at in times[3:5]:
        assert await log(gql, "zenith.agent1", made, at) == []
    await place(
        gql, made, ACME, recall_first=True, engine=engine, since=times[5] - timedelta(minutes=1)
    )
    for at in times[5:]:
        assert await log(gql, "acme.agent1", made, at) == []
    freed = first + timedelta(days=7)

    inside = await allowance(gql, "acme.agent1", made, times[-1] - timedelta(seconds=1))
    assert (inside["allowed"], inside["profile"], inside["attemptsLeftToday"]) == (
        True,
        "US_REG_F",
        None,
    )
    assert rule_check(inside, "WEEKLY_CALLS")["detail"] == (
        "6 of 7 calls about this case in the last 7 days"
    )
    for login in ("acme.agent1", "manager"):
        full = await allowance(gql, login, made, freed - timedelta(seconds=1))
        assert (full["allowed"], failing(full)) == (False, ["WEEKLY_CALLS"]), login
        assert parse(full["nextAllowedAt"]) == freed
        weekly = rule_check(full, "WEEKLY_CALLS")
        assert weekly["detail"] == (
            "7 of 7 calls about this case in the last 7 days: the limit is reached"
        )
        assert parse(weekly["nextAllowedAt"]) == freed
        opened = await allowance(gql, login, made, freed)
        assert (opened["allowed"], failing(opened)) == (True, [])

    for login in ("acme.agent1", "manager"):
        refused = await start(gql, login, made)
        assert (refused["__typename"], refused["rule"], refused["breaches"]) == (
            "ComplianceViolation",
            "WEEKLY_CALLS",
            ["WEEKLY_CALLS"],
        ), login
        assert parse(refused["nextAllowedAt"]) == freed
    # An eighth call made anyway and logged afterwards is kept, with its breach.
    assert await log(gql, "acme.agent1", made, now) == ["WEEKLY_CALLS"]
    assert await callers(engine, made.case.id) == [
        *[(None, False)] * 3,
        *[(ZENITH, False)] * 2,
        *[(ACME, False)] * 2,
        (ACME, True),
        (None, True),
        (ACME, False),
    ]


# --- US_REG_F AFTER_CONVERSATION ---------------------------------------------------------------


async def test_a_conversation_with_one_agency_holds_every_caller_for_seven_days(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """The borrower called Zenith two days ago: Acme and the lender wait 168 hours from then."""
    made, _, _ = await midday_case(factory, "us-cards")
    now = whole_seconds_now()
    talk = now - timedelta(days=2)
    await place(gql, made, ZENITH, engine=engine, since=talk - timedelta(minutes=1))
    inbound = await log(
        gql, "zenith.agent1", made, talk, "RIGHT_PARTY_CONTACT", direction="INBOUND"
    )
    assert inbound == []
    await place(gql, made, ACME, recall_first=True)
    freed = talk + timedelta(days=7)

    before = await allowance(gql, "acme.agent1", made, talk - timedelta(seconds=1))
    assert before["allowed"] is True
    for login in ("acme.agent1", "manager"):
        waiting = await allowance(gql, login, made, freed - timedelta(seconds=1))
        assert (waiting["allowed"], failing(waiting)) == (False, ["AFTER_CONVERSATION"]), login
        assert parse(waiting["nextAllowedAt"]) == freed
        wait = rule_check(waiting, "AFTER_CONVERSATION")
        assert wait["detail"] == (
            "a telephone conversation about this case took place within the last 7 days"
        )
        assert parse(wait["nextAllowedAt"]) == freed
        assert (await allowance(gql, login, made, freed))["allowed"] is True
        refused = await start(gql, login, made)
        assert (refused["__typename"], refused["rule"]) == (
            "ComplianceViolation",
            "AFTER_CONVERSATION",
        ), login
        assert parse(refused["nextAllowedAt"]) == freed
    assert await log(gql, "acme.agent1", made, datetime.now(UTC)) == ["AFTER_CONVERSATION"]
    assert await callers(engine, made.case.id) == [
        (ZENITH, False),
        (ACME, True),
        (None, True),
        (ACME, False),
    ]


# --- CN CONNECTED_CALLS_PER_DAY ----------------------------------------------------------------


async def test_connected_calls_are_shared_by_the_lender_and_two_agencies(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """Conversations today with the lender and with Zenith: Acme gets the third connected call;
    the fourth is refused for everyone until 08:00 tomorrow in the borrower's zone."""
    made, _, zone = await midday_case(factory, "retail")
    now = whole_seconds_now()
    assert await log(gql, "collector1", made, now - timedelta(hours=3), "RIGHT_PARTY_CONTACT") == []
    await place(gql, made, ZENITH, engine=engine, since=now - timedelta(hours=2, minutes=1))
    assert await log(gql, "zenith.agent1", made, now - timedelta(hours=2), "PROMISE_TO_PAY") == []
    await place(gql, made, ACME, recall_first=True)

    inside = await allowance(gql, "acme.agent1", made, now)
    assert (inside["allowed"], inside["attemptsLeftToday"]) == (True, 6)
    assert rule_check(inside, "CONNECTED_CALLS_PER_DAY")["detail"] == (
        f"2 of 3 connected calls to this person today ({zone})"
    )
    granted = await start(gql, "acme.agent1", made)
    assert granted["__typename"] == "StartContactSuccess", granted
    done, _ = await send(
        gql,
        "acme.agent1",
        COMPLETE,
        {"input": {"contactId": granted["contact"]["id"], "outcome": "RIGHT_PARTY_CONTACT"}},
    )
    assert done["__typename"] == "CompleteContactSuccess", done
    morning = next_morning(zone, now)
    for login in ("acme.agent1", "manager"):
        refused = await start(gql, login, made)
        assert (refused["__typename"], refused["rule"], refused["breaches"]) == (
            "ComplianceViolation",
            "CONNECTED_CALLS_PER_DAY",
            ["CONNECTED_CALLS_PER_DAY"],
        ), login
        assert parse(refused["nextAllowedAt"]) == morning
        full = await allowance(gql, login, made, now + timedelta(minutes=1))
        assert failing(full) == ["CONNECTED_CALLS_PER_DAY"]
        assert parse(full["nextAllowedAt"]) == morning
        # The count itself ends at local midnight; the quiet hours hold until 08:00.
        assert parse(rule_check(full, "CONNECTED_CALLS_PER_DAY")["nextAllowedAt"]) == (
            next_morning(zone, now, at=time(0, 0))
        )
        assert (await allowance(gql, login, made, morning))["allowed"] is True
    # A fourth conversation made anyway (after Acme's third) and logged: kept, with its breach.
    fourth = await log(gql, "acme.agent1", made, datetime.now(UTC), "PROMISE_TO_PAY")
    assert fourth == ["CONNECTED_CALLS_PER_DAY"]
    assert await callers(engine, made.case.id) == [
        (None, False),
        (ZENITH, False),
        (ACME, False),
        (ACME, True),
        (None, True),
        (ACME, False),
    ]


# --- THIRD_PARTY --------------------------------------------------------------------------------


async def test_third_party_opens_after_failed_attempts_by_three_callers(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """Failed attempts on the borrower by the lender, Zenith and Acme make three in a row: the
    unrelated third party may then be called; once they refuse, by no one."""
    made, _, zone = await midday_case(factory, "retail")
    third = await point(
        factory, made.borrower.id, zone=zone, owner="UNRELATED_THIRD_PARTY", value="13900077001"
    )
    to_third = {"party": "UNRELATED_THIRD_PARTY", "contactPointId": gid("ContactPoint", third.id)}
    now = whole_seconds_now()
    assert await log(gql, "collector1", made, now - timedelta(hours=3)) == []
    await place(gql, made, ZENITH, engine=engine, since=now - timedelta(hours=2, minutes=1))
    assert await log(gql, "zenith.agent1", made, now - timedelta(hours=2), "WRONG_NUMBER") == []
    since = now - timedelta(hours=1, minutes=1)
    await place(gql, made, ACME, recall_first=True, engine=engine, since=since)

    two = await start(gql, "acme.agent1", made, **to_third)
    assert (two["__typename"], two["rule"], two["field"], two["nextAllowedAt"]) == (
        "ComplianceViolation",
        "THIRD_PARTY",
        "party",
        None,
    )
    assert (
        await log(gql, "acme.agent1", made, now - timedelta(hours=1), "BUSY_OR_NOT_CONNECTED") == []
    )
    later = datetime.now(UTC)
    opened = await allowance(
        gql, "manager", made, later, party="UNRELATED_THIRD_PARTY", point=to_third["contactPointId"]
    )
    assert (opened["allowed"], failing(opened)) == (True, [])
    assert rule_check(opened, "THIRD_PARTY")["detail"] == (
        "the last 3 attempts to reach the borrower failed"
    )
    granted = await start(gql, "acme.agent1", made, **to_third)
    assert granted["__typename"] == "StartContactSuccess", granted
    done, _ = await send(
        gql,
        "acme.agent1",
        COMPLETE,
        {"input": {"contactId": granted["contact"]["id"], "outcome": "REFUSED_TO_PAY"}},
    )
    assert done["__typename"] == "CompleteContactSuccess", done
    for login in ("acme.agent1", "manager"):
        refused = await start(gql, login, made, **to_third)
        assert (refused["__typename"], refused["rule"], refused["nextAllowedAt"]) == (
            "ComplianceViolation",
            "THIRD_PARTY",
            None,
        ), login
    closed = await allowance(
        gql,
        "manager",
        made,
        datetime.now(UTC),
        party="UNRELATED_THIRD_PARTY",
        point=to_third["contactPointId"],
    )
    assert rule_check(closed, "THIRD_PARTY") == {
        "rule": "THIRD_PARTY",
        "passed": False,
        "detail": "this third party refused further contact",
        "nextAllowedAt": None,
    }
    assert closed["nextAllowedAt"] is None
    assert await callers(engine, made.case.id) == [
        (None, False),
        (ZENITH, False),
        (ACME, True),
        (ACME, False),
        (ACME, False),
        (ACME, True),
        (None, True),
    ]


# --- logContact: never refused, breaches of the point and party rules kept -----------------------


async def test_log_keeps_breaches_of_unusable_points_and_third_parties(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """Calls made through an opted-out and an invalid number, and to a third party while the
    borrower could still be reached (two failed attempts only), are recorded, each with its
    rule; none of them is a refused attempt."""
    made, _, zone = await midday_case(factory, "retail")
    opted = await point(
        factory, made.borrower.id, zone=zone, status="OPTED_OUT", value="13900077002"
    )
    invalid = await point(
        factory, made.borrower.id, zone=zone, status="INVALID", value="13900077003"
    )
    third = await point(
        factory, made.borrower.id, zone=zone, owner="UNRELATED_THIRD_PARTY", value="13900077004"
    )
    now = whole_seconds_now()
    via_opted = await log(
        gql,
        "collector1",
        made,
        now - timedelta(hours=2),
        contactPointId=gid("ContactPoint", opted.id),
    )
    assert via_opted == ["OPTED_OUT"]
    via_invalid = await log(
        gql,
        "collector1",
        made,
        now - timedelta(minutes=90),
        contactPointId=gid("ContactPoint", invalid.id),
    )
    assert via_invalid == ["CONTACT_POINT_INVALID"]
    to_third = await log(
        gql,
        "collector1",
        made,
        now - timedelta(hours=1),
        party="UNRELATED_THIRD_PARTY",
        contactPointId=gid("ContactPoint", third.id),
    )
    assert to_third == ["THIRD_PARTY"]
    assert await callers(engine, made.case.id) == [(None, False)] * 3
