"""The cases connection: keyset pages, filters, ordering, masking, and statement counts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases.classification import DEFAULT_POLICY
from store import keyset, tables
from tests.access import area
from tests.e2e.conftest import StatementCounter
from tests.helpers import Gql, assert_bad_input

PAGE = """
query Page($first: Int, $after: String, $filter: CaseFilter, $orderBy: CaseOrder) {
  cases(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id reference status stage classification bucket daysPastDue
      totalOutstanding { amount currency }
    } }
  }
}
"""

NESTED = """
query Nested($first: Int, $orderBy: CaseOrder) {
  cases(first: $first, orderBy: $orderBy) {
    edges { node {
      reference
      borrower { id fullName nationalId phone address email }
      debts { id accountNumber productType outstanding { amount currency }
              instalments { sequence dueDate amountDue { amount } } }
      assignee { login team agency { name } }
      agency { name placementDays }
    } }
  }
}
"""


async def walk(
    gql: Gql, login: str = "manager", page: int = 37, **variables: Any
) -> tuple[list[dict[str, Any]], int]:
    """Returns every node reached by following endCursor, and the reported totalCount."""
    nodes: list[dict[str, Any]] = []
    after = None
    total = -1
    while True:
        data = await gql(login, PAGE, {"first": page, "after": after, **variables})
        connection = data["cases"]
        total = connection["totalCount"]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes, total
        after = connection["pageInfo"]["endCursor"]


async def db_rows(engine: AsyncEngine, *where: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(tables.cases).where(*where))).all())


async def test_walking_all_pages_yields_every_case_once_in_default_order(
    gql: Gql, engine: AsyncEngine
) -> None:
    nodes, total = await walk(gql)
    rows = await db_rows(engine)
    references = [n["reference"] for n in nodes]
    assert len(references) == len(set(references)) == total == len(rows)
    expected = sorted(rows, key=lambda r: (-r.days_past_due, -r.id))
    assert references == [r.reference for r in expected]


async def test_classification_and_bucket_match_days_past_due(gql: Gql) -> None:
    nodes, _ = await walk(gql, page=100)
    for node in nodes:
        verdict = DEFAULT_POLICY.classify(node["daysPastDue"])
        assert (node["bucket"], node["classification"]) == (
            verdict.bucket,
            verdict.classification.value,
        ), node
    assert {n["bucket"] for n in nodes} >= {"M0", "M1", "M2", "M3", "M7"}


@pytest.mark.parametrize(
    ("order", "key"),
    [
        ("DAYS_PAST_DUE_ASC", lambda r: (r.days_past_due, r.id)),
        ("OUTSTANDING_DESC", lambda r: (-r.outstanding_amount, -r.id)),
        ("OUTSTANDING_ASC", lambda r: (r.outstanding_amount, r.id)),
        ("OPENED_ON_DESC", lambda r: (-r.opened_on.toordinal(), -r.id)),
        ("OPENED_ON_ASC", lambda r: (r.opened_on, r.id)),
        ("REFERENCE_ASC", lambda r: (r.reference, r.id)),
    ],
)
async def test_every_ordering_walks_in_keyset_order(
    gql: Gql, engine: AsyncEngine, order: str, key: Any
) -> None:
    nodes, total = await walk(gql, page=23, orderBy=order)
    rows = sorted(await db_rows(engine), key=key)
    assert [n["reference"] for n in nodes] == [r.reference for r in rows]
    assert total == len(rows)


async def test_filters_match_the_database(gql: Gql, engine: AsyncEngine) -> None:
    c = tables.cases.c
    cases = {
        "classification": (
            {"classification": ["MODERATE", "SEVERE"]},
            [c.classification.in_(["MODERATE", "SEVERE"])],
        ),
        "stage": ({"stage": ["LEGAL"]}, [c.stage == "LEGAL"]),
        "status": ({"status": ["OPEN"]}, [c.status == "OPEN"]),
        "dpd range": (
            {"minDaysPastDue": 31, "maxDaysPastDue": 90},
            [c.days_past_due >= 31, c.days_past_due <= 90],
        ),
        "assignee": (
            {"assigneeLogin": "collector3"},
            [
                c.assignee_id.in_(
                    select(tables.staff.c.id).where(tables.staff.c.login == "collector3")
                )
            ],
        ),
        "agency": (
            {"agencyName": "Acme Recovery"},
            [
                c.agency_id.in_(
                    select(tables.agencies.c.id).where(tables.agencies.c.name == "Acme Recovery")
                )
            ],
        ),
        "unknown assignee": ({"assigneeLogin": "nobody"}, [c.id < 0]),
    }
    for name, (graphql_filter, where) in cases.items():
        nodes, total = await walk(gql, page=50, filter=graphql_filter)
        rows = await db_rows(engine, *where)
        assert sorted(n["reference"] for n in nodes) == sorted(r.reference for r in rows), name
        assert total == len(rows), name
        if name != "unknown assignee":
            assert rows, f"demo data should exercise the {name} filter"


async def test_search_matches_reference_prefix_and_borrower_name(
    gql: Gql, engine: AsyncEngine
) -> None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(tables.cases.c.reference, tables.borrowers.c.full_name)
                .join(tables.borrowers, tables.borrowers.c.id == tables.cases.c.borrower_id)
                .order_by(tables.cases.c.id)
                .limit(1)
            )
        ).one()
    by_reference, _ = await walk(gql, filter={"search": row.reference.lower()})
    assert [n["reference"] for n in by_reference] == [row.reference]
    by_name, _ = await walk(gql, filter={"search": row.full_name[1:]})
    assert row.reference in [n["reference"] for n in by_name]
    nothing, total = await walk(gql, filter={"search": "%_no such borrower_%"})
    assert (nothing, total) == ([], 0)


async def test_money_is_an_exact_decimal_string(gql: Gql, engine: AsyncEngine) -> None:
    nodes, _ = await walk(gql, page=100, orderBy="OUTSTANDING_DESC")
    rows = {r.reference: r for r in await db_rows(engine)}
    for node in nodes:
        money = node["totalOutstanding"]
        assert money["currency"] == rows[node["reference"]].currency  # CNY, or USD (us-cards)
        assert isinstance(money["amount"], str)
        assert money["amount"] == str(rows[node["reference"]].outstanding_amount)
    assert {n["totalOutstanding"]["currency"] for n in nodes} == {"CNY", "USD"}


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({"first": 101}, "first must be between 0 and 100"),
        ({"first": -1}, "first must be between 0 and 100"),
        ({"after": "not-a-cursor"}, "malformed cursor"),
        ({"filter": {"minDaysPastDue": 10, "maxDaysPastDue": 5}}, "greater than"),
        ({"filter": {"minDaysPastDue": -1}}, "must not be negative"),
    ],
)
async def test_bad_page_arguments_are_refused(
    gql: Gql, variables: dict[str, Any], fragment: str
) -> None:
    assert_bad_input(await gql.errors("manager", PAGE, variables), fragment)


async def test_a_cursor_of_another_ordering_is_refused(gql: Gql) -> None:
    data = await gql("manager", PAGE, {"first": 2})
    cursor = data["cases"]["pageInfo"]["endCursor"]
    errors = await gql.errors("manager", PAGE, {"after": cursor, "orderBy": "REFERENCE_ASC"})
    assert_bad_input(errors, "another ordering")


async def test_a_cursor_of_descending_ties_by_ascending_id_is_refused(gql: Gql) -> None:
    # Ties of a descending order went by ascending id once; following such a cursor now would
    # skip or repeat cases of its tie, so it is refused as another ordering's.
    old = keyset.encode_cursor("cases:DAYS_PAST_DUE_DESC", 1, 10)
    assert_bad_input(await gql.errors("manager", PAGE, {"after": old}), "another ordering")


async def test_default_page_size_is_20(gql: Gql) -> None:
    data = await gql("manager", PAGE, {})
    assert len(data["cases"]["edges"]) == 20
    assert data["cases"]["pageInfo"]["hasNextPage"] is True


async def test_confidential_borrower_fields_are_masked(gql: Gql, engine: AsyncEngine) -> None:
    data = await gql("admin", NESTED, {"first": 100})
    async with engine.connect() as conn:
        borrowers = {r.full_name: r for r in (await conn.execute(select(tables.borrowers))).all()}
    body = str(data)
    for edge in data["cases"]["edges"]:
        b = edge["node"]["borrower"]
        stored = borrowers[b["fullName"]]
        assert b["phone"] == f"{stored.phone[:3]}****{stored.phone[-4:]}"
        assert b["nationalId"] == f"{stored.national_id[:3]}****{stored.national_id[-4:]}"
        assert b["address"] == area(stored.city, stored.district)
        assert stored.phone not in body and stored.national_id not in body
        assert stored.address not in body


async def test_statement_count_does_not_grow_with_page_size(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    # Pick an ordering whose first 10 cases already include an assignee and an agency, so that
    # both pages exercise every loader and only the page size differs.
    rows = await db_rows(engine)
    orders = {
        "OPENED_ON_ASC": lambda r: (r.opened_on, r.id),
        "OUTSTANDING_DESC": lambda r: (-r.outstanding_amount, -r.id),
        "REFERENCE_ASC": lambda r: (r.reference, r.id),
        "DAYS_PAST_DUE_ASC": lambda r: (r.days_past_due, r.id),
    }
    order = next(
        name
        for name, key in orders.items()
        if any(r.assignee_id for r in sorted(rows, key=key)[:10])
        and any(r.agency_id for r in sorted(rows, key=key)[:10])
    )
    counts = {}
    for first in (10, 100):
        sql_counter.reset()
        data = await gql("manager", NESTED, {"first": first, "orderBy": order})
        assert len(data["cases"]["edges"]) == first
        counts[first] = sql_counter.count
    assert counts[10] == counts[100], sql_counter.statements
    # auth lookup, page, borrowers, debts, instalments, staff, agencies, then the audit append:
    # on SQLite BEGIN IMMEDIATE, the chain's head read, the entry inserted, the head moved (plus
    # the BEGINs of the two reads); on PostgreSQL the head locked, then the head moved and the
    # entry inserted in one statement
    expected = 13 if engine.dialect.name == "sqlite" else 9
    assert counts[100] == expected, sql_counter.statements


async def test_account_number_filter_finds_the_case_of_that_debt_within_the_scope(
    gql: Gql, engine: AsyncEngine
) -> None:
    d, c = tables.debts.c, tables.cases.c
    async with engine.connect() as conn:
        stmt = (
            select(d.account_number, c.reference, c.assignee_id)
            .join(tables.cases, c.id == d.case_id)
            .where(c.assignee_id.is_not(None))
            .order_by(d.id)
            .limit(1)
        )
        account, reference, assignee_id = (await conn.execute(stmt)).one()
        owner = (
            await conn.execute(select(tables.staff.c.login).where(tables.staff.c.id == assignee_id))
        ).scalar_one()
    found = await gql("manager", PAGE, {"filter": {"accountNumber": account}})
    assert [e["node"]["reference"] for e in found["cases"]["edges"]] == [reference]
    assert found["cases"]["totalCount"] == 1
    assert (await gql("manager", PAGE, {"filter": {"accountNumber": account + "0"}}))["cases"][
        "totalCount"
    ] == 0
    # Another collector's case stays out of sight, count included.
    other = "collector3" if owner != "collector3" else "collector1"
    hidden = await gql(other, PAGE, {"filter": {"accountNumber": account}})
    assert hidden["cases"]["edges"] == [] and hidden["cases"]["totalCount"] == 0
