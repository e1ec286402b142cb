"""One decision on how a viewer sees a borrower, whichever path reaches the borrower.

A borrower is in legal proceedings when one of their cases is in stage LEGAL; then the legal
role's clear rule applies, through ``case…borrower`` and ``node(id:)`` alike. The demo database
is only read here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.common.ids import to_global_id
from store import tables
from tests.e2e.conftest import StatementCounter
from tests.helpers import Gql

b, c = tables.borrowers.c, tables.cases.c
THROUGH_BOTH = """
query Both($case: ID!, $borrower: ID!) {
  case(id: $case) { borrower { id phone nationalId employer } }
  node(id: $borrower) { ... on Borrower { id phone nationalId employer } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { ... on Borrower { phone nationalId } } }"
LEGAL_PAGE = """
query Page($first: Int!) {
  cases(first: $first, filter: {stage: [LEGAL]}) { edges { node { borrower { phone } } } }
}
"""


def masked(value: str) -> str:
    return f"{value[:3]}****{value[-4:]}"


async def legal_case(engine: AsyncEngine) -> Any:
    """The first LEGAL-stage case with its borrower's clear values."""
    async with engine.connect() as conn:
        stmt = (
            select(c.id, c.borrower_id, b.phone, b.national_id, b.employer)
            .join(tables.borrowers, b.id == c.borrower_id)
            .where(c.stage == "LEGAL")
            .order_by(c.id)
            .limit(1)
        )
        return (await conn.execute(stmt)).one()


async def both(gql: Gql, login: str, row: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    variables = {
        "case": to_global_id("Case", row.id),
        "borrower": to_global_id("Borrower", row.borrower_id),
    }
    data = await gql(login, THROUGH_BOTH, variables)
    return data["case"]["borrower"], data["node"]


async def test_legal_sees_the_same_clear_values_through_case_and_node(
    gql: Gql, engine: AsyncEngine
) -> None:
    row = await legal_case(engine)
    through_case, through_node = await both(gql, "legal1", row)
    assert through_case == through_node
    assert through_node == {
        "id": to_global_id("Borrower", row.borrower_id),
        "phone": row.phone,
        "nationalId": row.national_id,
        "employer": row.employer,
    }


async def test_a_collector_sees_the_same_masks_through_case_and_node(
    gql: Gql, engine: AsyncEngine
) -> None:
    async with engine.connect() as conn:
        collector = (
            await conn.execute(
                select(tables.staff.c.id).where(tables.staff.c.login == "collector1")
            )
        ).scalar_one()
        stmt = (
            select(c.id, c.borrower_id, b.phone, b.national_id)
            .join(tables.borrowers, b.id == c.borrower_id)
            .where(c.assignee_id == collector)
            .order_by(c.id)
            .limit(1)
        )
        row = (await conn.execute(stmt)).one()
    through_case, through_node = await both(gql, "collector1", row)
    assert through_case == through_node
    assert through_node["phone"] == masked(row.phone)
    assert through_node["nationalId"] == masked(row.national_id)
    assert through_node["employer"] == "****"


async def test_legal_read_through_node_is_audited_as_clear(gql: Gql, engine: AsyncEngine) -> None:
    row = await legal_case(engine)
    response = await gql.raw("legal1", NODE, {"id": to_global_id("Borrower", row.borrower_id)})
    assert response.json()["data"]["node"] == {"phone": row.phone, "nationalId": row.national_id}
    request_id = response.headers["x-request-id"]
    async with engine.connect() as conn:
        a = tables.audit_entries.c
        entry = (
            await conn.execute(select(tables.audit_entries).where(a.request_id == request_id))
        ).one()
    assert (entry.actor_login, entry.action, entry.outcome) == ("legal1", "case.read", "ALLOWED")
    assert entry.borrower_ids == [row.borrower_id]
    assert sorted(entry.fields, key=lambda f: f["name"]) == [
        {"name": "national_id", "clear": True},
        {"name": "phone", "clear": True},
    ]


async def test_the_legal_fact_loads_in_one_batch(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    async with engine.connect() as conn:
        legal_cases = (
            await conn.execute(select(func.count()).where(c.stage == "LEGAL"))
        ).scalar_one()
    assert legal_cases > 2, "the demo data should hold several legal-stage cases"
    page = min(legal_cases, 100)
    counts = {}
    for first in (1, page):
        sql_counter.reset()
        data = await gql("legal1", LEGAL_PAGE, {"first": first})
        assert len(data["cases"]["edges"]) == first
        counts[first] = sql_counter.count
    assert counts[1] == counts[page], sql_counter.statements
    legal_lookups = [q for q in sql_counter.statements if "DISTINCT cases.borrower_id" in q]
    assert len(legal_lookups) == 1, sql_counter.statements
