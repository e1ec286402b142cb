"""assignCase, placeWithAgency, recallFromAgency: rules, typed errors, events, concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.common.ids import to_global_id
from domain.portfolios import local_today
from store import tables
from tests.factories import writing
from tests.helpers import Gql, assert_forbidden

c = tables.cases.c

ASSIGN = """
mutation Assign($input: AssignCaseInput!) {
  assignCase(input: $input) {
    __typename
    ... on AssignCaseSuccess { case { id version assignee { login } agency { name } } }
    ... on UserError { code message field }
  }
}
"""
PLACE = """
mutation Place($input: PlaceWithAgencyInput!) {
  placeWithAgency(input: $input) {
    __typename
    ... on PlaceWithAgencySuccess {
      case { id version assignee { login } agency { name } placementEndsOn placedAt }
    }
    ... on UserError { code message field }
  }
}
"""
RECALL = """
mutation Recall($input: RecallFromAgencyInput!) {
  recallFromAgency(input: $input) {
    __typename
    ... on RecallFromAgencySuccess { case { id version assignee { login } agency { name } } }
    ... on UserError { code message field }
  }
}
"""

_taken: set[int] = set()


async def pick_case(engine: AsyncEngine, *where: Any) -> tuple[int, str]:
    """Returns (pk, global id) of a case no other test in this module has used."""
    async with engine.connect() as conn:
        ids = (await conn.execute(select(c.id).where(*where).order_by(c.id))).scalars().all()
    for pk in ids:
        if pk not in _taken:
            _taken.add(pk)
            return pk, to_global_id("Case", pk)
    raise AssertionError("the demo portfolio has no unused case matching the condition")


def pool() -> list[Any]:
    # Not LEGAL: the legal team works those cases, never placed with an agency nor allocated.
    return [c.status == "OPEN", c.assignee_id.is_(None), c.agency_id.is_(None), c.stage != "LEGAL"]


async def case_row(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(tables.cases).where(c.id == pk))).one()


async def events_of(engine: AsyncEngine, pk: int) -> list[Any]:
    async with engine.connect() as conn:
        stmt = select(tables.case_events).where(tables.case_events.c.case_id == pk)
        return list((await conn.execute(stmt.order_by(tables.case_events.c.id))).all())


async def test_assign_moves_a_pool_case_to_a_collector_and_records_the_event(
    gql: Gql, engine: AsyncEngine
) -> None:
    pk, gid = await pick_case(engine, *pool())
    data = await gql("manager", ASSIGN, {"input": {"caseId": gid, "assigneeLogin": "collector2"}})
    result = data["assignCase"]
    assert result["__typename"] == "AssignCaseSuccess"
    assert result["case"]["assignee"] == {"login": "collector2"}
    assert result["case"]["version"] == 2
    row = await case_row(engine, pk)
    assert (row.version, row.agency_id) == (2, None)
    events = await events_of(engine, pk)
    assert [e.name for e in events] == ["CaseAssigned"]
    assert events[0].data["previous_assignee_id"] is None


@pytest.mark.parametrize(
    ("login", "where", "variables", "code", "field"),
    [
        ("manager", "pool", {"assigneeLogin": "ghost"}, "STAFF_NOT_FOUND", "assigneeLogin"),
        ("manager", "pool", {"assigneeLogin": "collector9"}, "STAFF_INACTIVE", "assigneeLogin"),
        (
            "manager",
            "pool",
            {"assigneeLogin": "acme.agent1"},
            "STAFF_CANNOT_CARRY_CASES",
            "assigneeLogin",
        ),
        (
            "manager",
            "pool",
            {"assigneeLogin": "auditor1"},
            "STAFF_CANNOT_CARRY_CASES",
            "assigneeLogin",
        ),
        ("manager", "placed", {"assigneeLogin": "collector1"}, "CASE_PLACED_WITH_AGENCY", "caseId"),
        ("manager", "closed", {"assigneeLogin": "collector1"}, "CASE_CLOSED", "caseId"),
        (
            "manager",
            "pool",
            {"assigneeLogin": "collector1", "expectedVersion": 7},
            "CONFLICT",
            "expectedVersion",
        ),
    ],
)
async def test_assign_refusals_are_typed_and_change_nothing(
    gql: Gql,
    engine: AsyncEngine,
    login: str,
    where: str,
    variables: dict[str, Any],
    code: str,
    field: str,
) -> None:
    conditions = {
        "pool": pool(),
        "placed": [c.status == "OPEN", c.agency_id.is_not(None)],
        "closed": [c.status == "CLOSED"],
    }[where]
    pk, gid = await pick_case(engine, *conditions)
    before = await case_row(engine, pk)
    data = await gql(login, ASSIGN, {"input": {"caseId": gid, **variables}})
    result = data["assignCase"]
    assert (result["code"], result["field"]) == (code, field), result
    assert result["message"]
    assert await case_row(engine, pk) == before
    assert await events_of(engine, pk) == []


@pytest.mark.parametrize("case_id", ["Q2FzZTo5OTk5OTk=", "not-an-id", to_global_id("Staff", 1)])
async def test_assign_unknown_case_is_not_found(gql: Gql, case_id: str) -> None:
    data = await gql(
        "manager", ASSIGN, {"input": {"caseId": case_id, "assigneeLogin": "collector1"}}
    )
    assert data["assignCase"]["__typename"] == "NotFoundError"
    assert data["assignCase"]["code"] == "CASE_NOT_FOUND"


async def test_capacity_is_enforced(gql: Gql, engine: AsyncEngine) -> None:
    async with writing(engine) as conn:
        carried = (
            await conn.execute(
                select(func.count()).where(
                    c.assignee_id
                    == select(tables.staff.c.id)
                    .where(tables.staff.c.login == "collector3")
                    .scalar_subquery(),
                    c.status != "CLOSED",
                )
            )
        ).scalar_one()
        await conn.execute(
            update(tables.staff)
            .where(tables.staff.c.login == "collector3")
            .values(capacity=carried)
        )
    try:
        _pk, gid = await pick_case(engine, *pool())
        data = await gql(
            "manager", ASSIGN, {"input": {"caseId": gid, "assigneeLogin": "collector3"}}
        )
        assert data["assignCase"]["code"] == "CAPACITY_EXCEEDED"
        assert f"{carried} of {carried}" in data["assignCase"]["message"]
    finally:
        async with writing(engine) as conn:
            await conn.execute(
                update(tables.staff)
                .where(tables.staff.c.login == "collector3")
                .values(capacity=400)
            )


@pytest.mark.parametrize(
    ("login", "mutation", "allowed"),
    [
        ("collector1", ASSIGN, False),
        ("acme.manager", ASSIGN, False),
        ("auditor1", ASSIGN, False),
        ("lead1", PLACE, False),
        ("collector1", RECALL, False),
        ("zenith.agent1", PLACE, False),
    ],
)
async def test_roles_without_the_permission_are_forbidden(
    gql: Gql, engine: AsyncEngine, login: str, mutation: str, allowed: bool
) -> None:
    pk, gid = await pick_case(engine, *pool())
    before = await case_row(engine, pk)
    variables = {"caseId": gid, "assigneeLogin": "collector1", "agencyName": "Acme Recovery"}
    if mutation is RECALL:
        variables = {"caseId": gid}
    elif mutation is PLACE:
        variables.pop("assigneeLogin")
    else:
        variables.pop("agencyName")
    assert_forbidden(await gql.errors(login, mutation, {"input": variables}))
    assert await case_row(engine, pk) == before


async def test_place_then_recall_round_trip(gql: Gql, engine: AsyncEngine) -> None:
    pk, gid = await pick_case(engine, c.status == "OPEN", c.assignee_id.is_not(None))
    placed = await gql(
        "manager", PLACE, {"input": {"caseId": gid, "agencyName": "Zenith Collections"}}
    )
    case = placed["placeWithAgency"]["case"]
    assert case["agency"] == {"name": "Zenith Collections"} and case["assignee"] is None
    row = await case_row(engine, pk)
    assert row.placed_at is not None
    # Counted from the retail portfolio's local (Shanghai) date, not the UTC one.
    assert (row.placement_ends_on - local_today("retail", row.placed_at)).days == 60
    again = await gql("manager", PLACE, {"input": {"caseId": gid, "agencyName": "Acme Recovery"}})
    assert again["placeWithAgency"]["code"] == "CASE_PLACED_WITH_AGENCY"
    recalled = await gql("admin", RECALL, {"input": {"caseId": gid}})
    case = recalled["recallFromAgency"]["case"]
    assert (case["agency"], case["assignee"], case["version"]) == (None, None, row.version + 1)
    twice = await gql("admin", RECALL, {"input": {"caseId": gid}})
    assert twice["recallFromAgency"]["code"] == "CASE_NOT_PLACED"
    assert [e.name for e in await events_of(engine, pk)] == ["CasePlaced", "CaseRecalled"]


SEEN = "query($id: ID!) { case(id: $id) { id status } }"


async def test_a_closed_placed_case_is_recalled_from_its_agency(
    gql: Gql, engine: AsyncEngine
) -> None:
    pk, gid = await pick_case(engine, *pool())
    placed = await gql("manager", PLACE, {"input": {"caseId": gid, "agencyName": "Acme Recovery"}})
    assert placed["placeWithAgency"]["__typename"] == "PlaceWithAgencySuccess"
    async with writing(engine) as conn:  # cured while placed
        await conn.execute(
            update(tables.cases)
            .where(c.id == pk)
            .values(status="CLOSED", close_reason="CURED", closed_at=datetime.now(UTC))
        )
    assert (await gql("acme.manager", SEEN, {"id": gid}))["case"] == {"id": gid, "status": "CLOSED"}
    before = await case_row(engine, pk)
    recalled = (await gql("admin", RECALL, {"input": {"caseId": gid}}))["recallFromAgency"]
    assert recalled["__typename"] == "RecallFromAgencySuccess", recalled
    case = recalled["case"]
    assert (case["agency"], case["assignee"], case["version"]) == (None, None, before.version + 1)
    row = await case_row(engine, pk)
    assert (row.status, row.close_reason, row.agency_id, row.placed_at) == (
        "CLOSED",
        "CURED",
        None,
        None,
    )
    assert row.placement_ends_on is None
    assert [e.name for e in await events_of(engine, pk)] == ["CasePlaced", "CaseRecalled"]
    assert (await gql("acme.manager", SEEN, {"id": gid}))["case"] is None
    twice = (await gql("admin", RECALL, {"input": {"caseId": gid}}))["recallFromAgency"]
    assert (twice["code"], twice["field"]) == ("CASE_NOT_PLACED", "caseId")


@pytest.mark.parametrize(("days", "accepted"), [(-1, False), (0, True), (60, True), (61, False)])
async def test_place_until_a_date_within_the_contract_period(
    gql: Gql, engine: AsyncEngine, days: int, accepted: bool
) -> None:
    pk, gid = await pick_case(engine, *pool())
    today = local_today("retail", datetime.now(UTC))
    until = today + timedelta(days=days)
    variables = {
        "input": {"caseId": gid, "agencyName": "Zenith Collections", "until": until.isoformat()}
    }
    result = (await gql("manager", PLACE, variables))["placeWithAgency"]
    row = await case_row(engine, pk)
    if accepted:
        assert result["case"]["placementEndsOn"] == until.isoformat()
        assert row.placement_ends_on == until
    else:
        assert (result["code"], result["field"]) == ("PLACEMENT_END_INVALID", "until")
        assert (row.agency_id, row.placement_ends_on) == (None, None)


@pytest.mark.parametrize(
    ("agency", "code"),
    [("Dormant Partners", "AGENCY_INACTIVE"), ("Nope Ltd", "AGENCY_NOT_FOUND")],
)
async def test_place_with_unusable_agency(
    gql: Gql, engine: AsyncEngine, agency: str, code: str
) -> None:
    pk, gid = await pick_case(engine, *pool())
    data = await gql("manager", PLACE, {"input": {"caseId": gid, "agencyName": agency}})
    assert (data["placeWithAgency"]["code"], data["placeWithAgency"]["field"]) == (
        code,
        "agencyName",
    )
    assert (await case_row(engine, pk)).agency_id is None


async def test_concurrent_edits_of_one_version_let_exactly_one_win(
    gql: Gql, engine: AsyncEngine
) -> None:
    pk, gid = await pick_case(engine, *pool())
    version = (await case_row(engine, pk)).version

    async def assign(login: str) -> dict[str, Any]:
        variables = {"input": {"caseId": gid, "assigneeLogin": login, "expectedVersion": version}}
        return (await gql("manager", ASSIGN, variables))["assignCase"]

    results = await asyncio.gather(assign("collector1"), assign("collector2"))
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["AssignCaseSuccess", "ConflictError"], results
    row = await case_row(engine, pk)
    winner = next(r for r in results if r["__typename"] == "AssignCaseSuccess")
    assert row.version == version + 1
    assert len(await events_of(engine, pk)) == 1
    assert winner["case"]["version"] == row.version


def assigned_to(login: str) -> Any:
    return c.assignee_id == (
        select(tables.staff.c.id).where(tables.staff.c.login == login).scalar_subquery()
    )


async def test_team_lead_reassigns_within_the_team_only(gql: Gql, engine: AsyncEngine) -> None:
    _pk, gid = await pick_case(engine, c.status == "OPEN", assigned_to("collector1"))
    moved = await gql("lead1", ASSIGN, {"input": {"caseId": gid, "assigneeLogin": "collector2"}})
    assert moved["assignCase"]["case"]["assignee"] == {"login": "collector2"}
    west = await gql("lead1", ASSIGN, {"input": {"caseId": gid, "assigneeLogin": "collector3"}})
    assert (west["assignCase"]["code"], west["assignCase"]["field"]) == (
        "STAFF_NOT_FOUND",
        "assigneeLogin",
    )
    _pool_pk, pool_gid = await pick_case(engine, *pool())
    unseen = await gql(
        "lead1", ASSIGN, {"input": {"caseId": pool_gid, "assigneeLogin": "collector1"}}
    )
    assert unseen["assignCase"]["code"] == "CASE_NOT_FOUND"
    other_team_pk, other_gid = await pick_case(
        engine, c.status == "OPEN", assigned_to("collector3")
    )
    hidden = await gql(
        "lead1", ASSIGN, {"input": {"caseId": other_gid, "assigneeLogin": "collector1"}}
    )
    assert hidden["assignCase"]["code"] == "CASE_NOT_FOUND"
    before = await case_row(engine, other_team_pk)
    assert before.version == 1 and await events_of(engine, other_team_pk) == []


async def test_a_retried_mutation_with_an_idempotency_key_takes_effect_once(
    gql: Gql, engine: AsyncEngine
) -> None:
    pk, gid = await pick_case(engine, c.status == "OPEN", c.agency_id.is_(None))
    variables = {"input": {"caseId": gid, "agencyName": "Acme Recovery", "idempotencyKey": "k-1"}}
    first = (await gql("manager", PLACE, variables))["placeWithAgency"]
    retry = (await gql("manager", PLACE, variables))["placeWithAgency"]
    assert first["__typename"] == retry["__typename"] == "PlaceWithAgencySuccess"
    assert retry["case"] == first["case"]
    assert [e.name for e in await events_of(engine, pk)] == ["CasePlaced"]
    other = {"input": {"caseId": gid, "idempotencyKey": "k-1"}}
    reused = (await gql("manager", RECALL, other))["recallFromAgency"]
    assert (reused["code"], reused["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    # Keys belong to their caller: another manager's k-1 is a new request.
    recalled = (await gql("admin", RECALL, other))["recallFromAgency"]
    assert recalled["__typename"] == "RecallFromAgencySuccess"
    assert [e.name for e in await events_of(engine, pk)] == ["CasePlaced", "CaseRecalled"]


async def test_concurrent_retries_with_one_key_change_the_case_once(
    gql: Gql, engine: AsyncEngine
) -> None:
    pk, gid = await pick_case(engine, *pool())
    variables = {"input": {"caseId": gid, "assigneeLogin": "collector2", "idempotencyKey": "k-2"}}
    results = await asyncio.gather(*(gql("manager", ASSIGN, variables) for _ in range(4)))
    kinds = {r["assignCase"]["__typename"] for r in results}
    assert "AssignCaseSuccess" in kinds and kinds <= {"AssignCaseSuccess", "ConflictError"}
    assert [e.name for e in await events_of(engine, pk)] == ["CaseAssigned"]
    again = await gql("manager", ASSIGN, variables)
    assert again["assignCase"]["case"]["assignee"] == {"login": "collector2"}
