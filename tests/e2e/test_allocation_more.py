"""allocateCases, further: the life cycle decides which OPEN cases of the pool may be allocated
(not LEGAL; EARLY, COLLECTION and WRITTEN_OFF may); a failure after the cases were updated rolls
the whole allocation back (nothing assigned, no event), and the next allocation then takes them;
a team with nobody who may carry cases; the filter narrowing the pool; the assignment and
placement history an allocation starts (allocate, place, recall, allocate again) on the case's
events and its timeline; and a placement's end date on the us-cards portfolio's New York
calendar."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases.events import CaseEvent
from domain.errors import ConcurrencyConflict
from domain.portfolios import local_today
from store import allocation, tables
from store.uow import SqlUnitOfWork
from tests.factories import Factory, MadeCase
from tests.helpers import Gql

c, ev, au = tables.cases.c, tables.case_events.c, tables.audit_entries.c

ALLOCATE = """
mutation Allocate($input: AllocateCasesInput!) {
  allocateCases(input: $input) {
    __typename
    ... on AllocateCasesSuccess {
      assignedCount unassignedCount
      assignments { case { id stage status } assignee { login } }
    }
    ... on UserError { code message field }
  }
}
"""
PLACE = """
mutation Place($input: PlaceWithAgencyInput!) {
  placeWithAgency(input: $input) {
    __typename
    ... on PlaceWithAgencySuccess { case { id assignee { login } placementEndsOn placedAt } }
    ... on UserError { code message field }
  }
}
"""
RECALL = """
mutation Recall($input: RecallFromAgencyInput!) {
  recallFromAgency(input: $input) {
    __typename
    ... on UserError { code message field }
  }
}
"""
TIMELINE = """
query($id: ID!) {
  case(id: $id) {
    timeline(first: 20) {
      edges { node { kind summary actor { login } assignee { login } agency { name } } }
    }
  }
}
"""


@dataclass
class Team:
    """A team of the test's own (collectors ``a`` with room for 3 and ``b`` with room for 2),
    its pool of cases (borrowers named ``marker``…) and the factory."""

    name: str
    marker: str
    factory: Factory
    logins: dict[str, str]

    async def case(self, dpd: int, **shape: Any) -> MadeCase:
        borrower = await self.factory.borrower(full_name=f"{self.marker}{uuid.uuid4().hex[:6]}")
        return await self.factory.case(borrower=borrower, days_past_due=dpd, **shape)

    def input(self, team: str | None = None, **filter_: Any) -> dict[str, Any]:
        return {
            "input": {
                "teamName": team or self.name,
                "strategy": "LEAST_LOADED",
                "filter": {"search": self.marker, **filter_},
            }
        }


@pytest.fixture
async def team(engine: AsyncEngine) -> AsyncIterator[Team]:
    factory = Factory(engine)
    tag = uuid.uuid4().hex[:8]
    name = f"AllocMore-{tag}"
    try:
        a = await factory.staff(f"allocmore.{tag}.a", team=name, capacity=3)
        b = await factory.staff(f"allocmore.{tag}.b", team=name, capacity=2)
        yield Team(name, f"再分配{tag}", factory, {"a": a.login, "b": b.login})
    finally:
        await factory.cleanup()


async def rows(engine: AsyncEngine, made: Sequence[MadeCase]) -> dict[int, Any]:
    async with engine.connect() as conn:
        stmt = select(tables.cases).where(c.id.in_([m.case.id for m in made]))
        return {row.id: row for row in (await conn.execute(stmt)).all()}


async def events(engine: AsyncEngine, made: Sequence[MadeCase]) -> list[Any]:
    async with engine.connect() as conn:
        stmt = select(ev.case_id, ev.name, ev.data).where(ev.case_id.in_([m.case.id for m in made]))
        return list((await conn.execute(stmt.order_by(ev.id))).all())


async def send(gql: Gql, login: str, query: str, variables: dict[str, Any]) -> tuple[Any, str]:
    response = await gql.raw(login, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    (result,) = body["data"].values()
    return result, response.headers["x-request-id"]


async def audit(engine: AsyncEngine, request_id: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        stmt = select(au.action, au.outcome, au.changes).where(au.request_id == request_id)
        return [tuple(row) for row in (await conn.execute(stmt.order_by(au.id))).all()]


async def staff_id(engine: AsyncEngine, login: str) -> int:
    s = tables.staff.c
    async with engine.connect() as conn:
        return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


async def test_the_life_cycle_decides_which_open_cases_are_allocated(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    early = await team.case(10, stage="EARLY")
    collection = await team.case(40, stage="COLLECTION")
    written_off = await team.case(200, stage="WRITTEN_OFF")  # recovery work goes on
    legal = await team.case(150, stage="LEGAL")  # the legal team's, never allocated
    before = await rows(engine, [legal])
    result, _ = await send(gql, "manager", ALLOCATE, team.input())
    assert (result["__typename"], result["assignedCount"], result["unassignedCount"]) == (
        "AllocateCasesSuccess",
        3,
        0,
    )
    # Most days past due first; LEAST_LOADED: b (room 2) and a (room 3) both carry 0 → a (login)
    # first, then b, then a.
    assert result["assignments"] == [
        {
            "case": {"id": written_off.gid, "stage": "WRITTEN_OFF", "status": "OPEN"},
            "assignee": {"login": team.logins["a"]},
        },
        {
            "case": {"id": collection.gid, "stage": "COLLECTION", "status": "OPEN"},
            "assignee": {"login": team.logins["b"]},
        },
        {
            "case": {"id": early.gid, "stage": "EARLY", "status": "OPEN"},
            "assignee": {"login": team.logins["a"]},
        },
    ]
    assert await rows(engine, [legal]) == before
    assert await events(engine, [legal]) == []


async def test_a_failure_after_the_cases_were_updated_leaves_nothing(
    gql: Gql, engine: AsyncEngine, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = [await team.case(dpd) for dpd in (50, 40, 30, 20, 10)]
    before = await rows(engine, pool)
    updated: list[int] = []

    async def fail(self: SqlUnitOfWork, written: Sequence[CaseEvent]) -> None:
        # Every UPDATE of the cases has run (three chunks of at most two); the events fail.
        changed = await self.session.execute(
            select(c.id).where(c.id.in_([m.case.id for m in pool]), c.assignee_id.is_not(None))
        )
        updated.extend(changed.scalars())
        raise ConcurrencyConflict("the events could not be written")

    monkeypatch.setattr(allocation, "CHUNK", 2)
    monkeypatch.setattr(SqlUnitOfWork, "write_case_events", fail)
    result, request_id = await send(gql, "manager", ALLOCATE, team.input())
    assert (result["__typename"], result["code"], result["message"]) == (
        "ConflictError",
        "CONFLICT",
        "the events could not be written",
    )
    assert sorted(updated) == sorted(m.case.id for m in pool)  # inside the transaction: all five
    assert await rows(engine, pool) == before  # after it: none
    assert await events(engine, pool) == []
    assert await audit(engine, request_id) == [("case.allocate", "DENIED", {"refused": "CONFLICT"})]

    monkeypatch.undo()
    result, _ = await send(gql, "manager", ALLOCATE, team.input())
    assert (result["assignedCount"], result["unassignedCount"]) == (5, 0)
    assert [a["case"]["id"] for a in result["assignments"]] == [m.gid for m in pool]
    assert [e.name for e in await events(engine, pool)] == ["CaseAssigned"] * 5


async def test_a_team_with_nobody_who_may_carry_cases_has_no_capacity(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    tag = uuid.uuid4().hex[:8]
    idle = f"AllocIdle-{tag}"
    await team.factory.staff(f"allocidle.{tag}.x", team=idle, capacity=50, active=False)
    await team.factory.staff(f"allocidle.{tag}.m", team=idle, roles=("manager",), capacity=50)
    await team.factory.staff(f"allocidle.{tag}.y", team=idle, roles=("auditor",), capacity=50)
    await team.factory.staff(f"allocidle.{tag}.z", team=idle, capacity=0)
    pool = [await team.case(40)]
    before = await rows(engine, pool)
    result, request_id = await send(gql, "manager", ALLOCATE, team.input(team=idle))
    assert (result["__typename"], result["code"], result["field"]) == (
        "RuleViolationError",
        "NO_COLLECTOR_CAPACITY",
        "teamName",
    )
    assert result["message"] == f"no active collector of team {idle} has room for another case"
    assert await rows(engine, pool) == before
    assert await audit(engine, request_id) == [
        ("case.allocate", "DENIED", {"refused": "NO_COLLECTOR_CAPACITY"})
    ]


async def test_the_filter_narrows_the_pool(gql: Gql, engine: AsyncEngine, team: Team) -> None:
    young = await team.case(20, stage="COLLECTION")
    old = await team.case(70, stage="COLLECTION")
    early = await team.case(45, stage="EARLY")
    held = await team.case(60, status="ON_HOLD")
    # Asking for cases that are never allocated (on hold) is no error: nothing to allocate.
    result, _ = await send(gql, "manager", ALLOCATE, team.input(status=["ON_HOLD"]))
    assert (result["__typename"], result["assignedCount"], result["unassignedCount"]) == (
        "AllocateCasesSuccess",
        0,
        0,
    )
    assert result["assignments"] == []
    variables = team.input(stage=["COLLECTION"], minDaysPastDue=21)
    result, _ = await send(gql, "manager", ALLOCATE, variables)
    assert (result["assignedCount"], result["unassignedCount"]) == (1, 0)
    assert [a["case"]["id"] for a in result["assignments"]] == [old.gid]
    after = await rows(engine, [young, old, early, held])
    assert [after[m.case.id].assignee_id for m in (young, early, held)] == [None, None, None]
    assert after[old.case.id].assignee_id == await staff_id(engine, team.logins["a"])


async def test_assignment_and_placement_history_is_kept(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    made = await team.case(40)
    a = await staff_id(engine, team.logins["a"])
    first, _ = await send(gql, "manager", ALLOCATE, team.input())
    assert [x["assignee"]["login"] for x in first["assignments"]] == [team.logins["a"]]
    placed, _ = await send(
        gql, "manager", PLACE, {"input": {"caseId": made.gid, "agencyName": "Zenith Collections"}}
    )
    assert placed["__typename"] == "PlaceWithAgencySuccess" and placed["case"]["assignee"] is None
    ends_on = placed["case"]["placementEndsOn"]
    recalled, _ = await send(gql, "admin", RECALL, {"input": {"caseId": made.gid}})
    assert recalled["__typename"] == "RecallFromAgencySuccess"
    # Back in the pool, unassigned: a and b carry nothing → a again (ties by login).
    again, _ = await send(gql, "manager", ALLOCATE, team.input())
    assert [x["assignee"]["login"] for x in again["assignments"]] == [team.logins["a"]]
    zenith = (await rows(engine, [made]))[made.case.id]
    assert (zenith.assignee_id, zenith.agency_id, zenith.placement_ends_on) == (a, None, None)
    history = [(e.name, e.data) for e in await events(engine, [made])]
    agency_id = history[1][1]["agency_id"]
    assert history == [
        ("CaseAssigned", {"assignee_id": a, "previous_assignee_id": None}),
        (
            "CasePlaced",
            {"agency_id": agency_id, "placement_ends_on": ends_on, "previous_assignee_id": a},
        ),
        ("CaseRecalled", {"agency_id": agency_id}),
        ("CaseAssigned", {"assignee_id": a, "previous_assignee_id": None}),
    ]
    body = await gql("manager", TIMELINE, {"id": made.gid})
    nodes = [e["node"] for e in body["case"]["timeline"]["edges"]]
    manager, admin = {"login": "manager"}, {"login": "admin"}
    who = {"login": team.logins["a"]}
    zenith_name = {"name": "Zenith Collections"}
    shown = [n for n in nodes if n["kind"] in ("ASSIGNED", "PLACED", "RECALLED")]
    assert shown == [  # newest first
        {"kind": "ASSIGNED", "summary": "Assigned", "actor": manager, "assignee": who,
         "agency": None},
        {"kind": "RECALLED", "summary": "Recalled from the agency", "actor": admin,
         "assignee": None, "agency": zenith_name},
        {"kind": "PLACED", "summary": f"Placed with an agency until {ends_on}", "actor": manager,
         "assignee": None, "agency": zenith_name},
        {"kind": "ASSIGNED", "summary": "Assigned", "actor": manager, "assignee": who,
         "agency": None},
    ]  # fmt: skip


async def test_a_us_cards_placement_ends_on_the_new_york_calendar(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    default = await team.case(40, portfolio="us-cards")
    placed, _ = await send(
        gql,
        "manager",
        PLACE,
        {"input": {"caseId": default.gid, "agencyName": "Zenith Collections"}},
    )
    row = (await rows(engine, [default]))[default.case.id]
    # Zenith's contract: 60 days from the New York date of the placement, inclusive.
    ny_day = local_today("us-cards", row.placed_at)
    assert row.placement_ends_on == ny_day + timedelta(days=60)
    assert placed["case"]["placementEndsOn"] == (ny_day + timedelta(days=60)).isoformat()

    today = local_today("us-cards", datetime.now(UTC))
    for until, accepted in ((today - timedelta(days=1), False), (today, True)):
        made = await team.case(40, portfolio="us-cards")
        variables = {
            "input": {
                "caseId": made.gid,
                "agencyName": "Zenith Collections",
                "until": until.isoformat(),
            }
        }
        result, _ = await send(gql, "manager", PLACE, variables)
        row = (await rows(engine, [made]))[made.case.id]
        if accepted:
            assert result["case"]["placementEndsOn"] == until.isoformat()
            assert row.placement_ends_on == until
        else:
            assert (result["code"], result["field"]) == ("PLACEMENT_END_INVALID", "until")
            assert (row.agency_id, row.placement_ends_on) == (None, None)
