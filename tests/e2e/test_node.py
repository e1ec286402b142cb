"""node(id:) and case(id:) for every node type; bad or guessed IDs give null."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.common.ids import to_global_id
from store import tables
from tests.helpers import Gql

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Case { reference }
    ... on Borrower { fullName phone }
    ... on Debt { accountNumber daysPastDue }
    ... on Staff { login }
    ... on Agency { name }
  }
}
"""


@pytest.mark.parametrize(
    ("type_name", "table", "column", "key"),
    [
        ("Case", tables.cases, "reference", "reference"),
        ("Borrower", tables.borrowers, "full_name", "fullName"),
        ("Debt", tables.debts, "account_number", "accountNumber"),
        ("Staff", tables.staff, "login", "login"),
        ("Agency", tables.agencies, "name", "name"),
    ],
)
async def test_node_fetches_every_type(
    gql: Gql, engine: AsyncEngine, type_name: str, table: object, column: str, key: str
) -> None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(table).order_by(table.c.id.desc()).limit(1))).one()  # type: ignore[attr-defined]
    gid = to_global_id(type_name, row.id)
    node = (await gql("manager", NODE, {"id": gid}))["node"]
    assert node["__typename"] == type_name
    assert node["id"] == gid
    assert node[key] == getattr(row, column)


@pytest.mark.parametrize(
    "gid",
    ["", "garbage", to_global_id("Case", 10**7), to_global_id("Widget", 1), "Q2FzZTotMQ=="],
)
async def test_node_returns_null_for_unknown_or_malformed_ids(gql: Gql, gid: str) -> None:
    assert (await gql("manager", NODE, {"id": gid}))["node"] is None


async def test_case_field_and_node_agree(gql: Gql, engine: AsyncEngine) -> None:
    gid = to_global_id("Case", 1)
    query = 'query($id: ID!) { case(id: $id) { id reference } other: case(id: "eA==") { id } }'
    data = await gql("manager", query, {"id": gid})
    async with engine.connect() as conn:
        reference = (
            await conn.execute(select(tables.cases.c.reference).where(tables.cases.c.id == 1))
        ).scalar_one()
    assert data == {"case": {"id": gid, "reference": reference}, "other": None}
    assert (
        await gql(
            "collector1",
            "query($id: ID!) { case(id: $id) { id } }",
            {"id": to_global_id("Debt", 1)},
        )
    )["case"] is None
