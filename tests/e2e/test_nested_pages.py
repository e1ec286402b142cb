"""A case's contacts, payments and timeline nested under a list of cases (``cases``,
``myWorklist``): the statements do not grow with the number of cases, and each case's nested
page is the page ``case(id:)`` gives for it, item by item, cursors included (and those cursors
are the listings' own)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import keyset, tables
from tests.e2e.conftest import StatementCounter
from tests.factories import Factory, MadeCase, global_id, writing
from tests.helpers import Gql

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
CASES = 12


LISTS = ("contacts", "payments", "timeline")
PAGE = (
    "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } "
    "edges { cursor node { id } }"
)
# The three nested connections of a case, each ``(first: $n, after: $<list>)``.
FIELDS = " ".join(f"{name}(first: $n, after: ${name}) {{ {PAGE} }}" for name in LISTS)
AFTERS = ", ".join(f"${name}: String" for name in LISTS)


NESTED = f"""
query($first: Int!, $login: String!, $n: Int!, {AFTERS}) {{
  cases(first: $first, filter: {{assigneeLogin: $login}}, orderBy: REFERENCE_ASC) {{
    edges {{ node {{ id {FIELDS} }} }}
  }}
}}
"""
ONE = f"""
query($id: ID!, $n: Int!, {AFTERS}) {{
  case(id: $id) {{ id {FIELDS} }}
}}
"""
# Two page sizes in one request: one statement per size and listing.
TWO_SIZES = """
query($login: String!) {
  cases(first: 100, filter: {assigneeLogin: $login}, orderBy: REFERENCE_ASC) {
    edges { node {
      id
      small: contacts(first: 1) { edges { cursor node { id } } pageInfo { hasNextPage } }
      large: contacts(first: 3) { edges { cursor node { id } } pageInfo { hasNextPage } }
    } }
  }
}
"""
WORKLIST = """
query($first: Int!) {
  myWorklist(first: $first) {
    edges { node { case {
      contacts(first: 1) { totalCount edges { cursor node { id } } }
      payments(first: 1) { totalCount edges { cursor node { id } } }
      timeline(first: 1) { totalCount edges { cursor node { id } } }
    } } }
  }
}
"""


@dataclass
class Book:
    """A collector's cases, each with its own number of contacts, payments and promises."""

    engine: AsyncEngine
    factory: Factory
    collector: Any
    made: list[MadeCase] = field(default_factory=list)

    async def insert(self, table: Any, **values: Any) -> int:
        async with writing(self.engine) as conn:
            inserted = (await conn.execute(insert(table).values(**values))).inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    async def fill(self, made: MadeCase, n: int) -> None:
        for k in range(n % 5 + 1 if n else 0):
            # Pairs at one instant: the tie goes by id.
            at = T0 + timedelta(hours=n, minutes=10 * (k // 2))
            await self.insert(
                tables.contacts,
                case_id=made.case.id,
                borrower_id=made.borrower.id,
                staff_id=self.collector.id,
                at=at,
                channel="PHONE",
                direction="OUTBOUND",
                party="BORROWER",
                outcome="NO_ANSWER",
                blocked=k == 3,
                source="STARTED",
            )
        for k in range(n % 4):
            paid = T0 + timedelta(hours=n, minutes=5 + 10 * (k // 2))
            await self.insert(
                tables.payments,
                case_id=made.case.id,
                debt_id=made.debts[0].id,
                amount=Decimal("10.00") + k,
                currency="CNY",
                paid_at=paid,
                reference=f"NP-{uuid.uuid4().hex[:12]}",
                source="API",
                created_at=paid,
                reversed=k == 1,
                reversed_at=paid + timedelta(minutes=1) if k == 1 else None,
                version=1,
            )
        for k in range(n % 3):
            await self.insert(
                tables.promises,
                case_id=made.case.id,
                staff_id=self.collector.id,
                amount=Decimal("800.00"),
                currency="CNY",
                promised_on=T0.date(),
                due_date=(T0 + timedelta(days=5 + k)).date(),
                grace_days=3,
                status="OPEN",
                paid_amount=Decimal("0.00"),
                created_at=T0 + timedelta(hours=n, minutes=2 + k),
                version=1,
            )


@pytest.fixture
async def book(engine: AsyncEngine) -> AsyncIterator[Book]:
    factory = Factory(engine)
    try:
        collector = await factory.staff(f"np.{uuid.uuid4().hex[:8]}", team="East")
        b = Book(engine, factory, collector)
        for n in range(CASES):
            # The first cases have something of each kind, so every size reads every listing.
            made = await factory.case(days_past_due=10 + n, assignee=collector.login)
            await b.fill(made, n + 1 if n < 2 else n)
            b.made.append(made)
        yield b
    finally:
        await factory.cleanup()


async def nested(gql: Gql, book: Book, first: int, n: int, **after: str) -> Any:
    variables = {"first": first, "login": book.collector.login, "n": n, **after}
    return [e["node"] for e in (await gql("manager", NESTED, variables))["cases"]["edges"]]


async def alone(gql: Gql, gid: str, n: int, **after: str) -> Any:
    return (await gql("manager", ONE, {"id": gid, "n": n, **after}))["case"]


def decoded(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


async def test_statements_do_not_grow_with_the_number_of_cases(
    gql: Gql, book: Book, sql_counter: StatementCounter
) -> None:
    await nested(gql, book, 1, 2)  # warm up
    counts = {}
    for first in (2, 10):
        sql_counter.reset()
        nodes = await nested(gql, book, first, 2)
        assert len(nodes) == first
        assert all(node["timeline"]["edges"] for node in nodes[:2])
        counts[first] = sql_counter.count
    assert counts[2] == counts[10], sql_counter.statements
    # One page statement and one count per listing, whatever the number of cases.
    windowed = [s for s in sql_counter.statements if "row_number() over" in s.lower()]
    assert len(windowed) == 3, windowed
    counted = [s for s in sql_counter.statements if "group by" in s.lower() and "count" in s]
    assert len(counted) == 3, counted


async def test_statements_of_a_worklist_do_not_grow_with_its_page_size(
    gql: Gql, book: Book, sql_counter: StatementCounter
) -> None:
    await gql(book.collector.login, WORKLIST, {"first": 1})  # warm up
    counts = {}
    for first in (2, 10):
        sql_counter.reset()
        data = await gql(book.collector.login, WORKLIST, {"first": first})
        assert len(data["myWorklist"]["edges"]) == first
        counts[first] = sql_counter.count
    assert counts[2] == counts[10], sql_counter.statements


@pytest.mark.parametrize("n", [0, 1, 2, 100])
async def test_nested_pages_are_the_pages_of_each_case_alone(gql: Gql, book: Book, n: int) -> None:
    nodes = await nested(gql, book, CASES, n)
    by_reference = sorted(book.made, key=lambda m: str(m.case.reference))
    assert [node["id"] for node in nodes] == [m.gid for m in by_reference]
    for node in nodes:
        assert node == await alone(gql, node["id"], n)
    # From a position inside one case's lists: every case's page after that position.
    full = await nested(gql, book, CASES, 100)
    source = next(node for node in full if all(len(node[name]["edges"]) >= 2 for name in LISTS))
    after = {name: source[name]["edges"][1]["cursor"] for name in LISTS}
    later = await nested(gql, book, CASES, n, **after)
    if n:
        assert any(node[name]["edges"] for node in later for name in LISTS)
    for node in later:
        assert node == await alone(gql, node["id"], n, **after)
        assert {node[name]["pageInfo"]["hasPreviousPage"] for name in LISTS} == {True}


async def test_nested_cursors_are_the_listings_own(
    gql: Gql, book: Book, engine: AsyncEngine
) -> None:
    nodes = {node["id"]: node for node in await nested(gql, book, CASES, 100)}
    ct, y = tables.contacts.c, tables.payments.c
    async with engine.connect() as conn:
        contacts = (await conn.execute(select(ct.id, ct.case_id, ct.at))).all()
        payments = (await conn.execute(select(y.id, y.case_id, y.paid_at))).all()
    for made in book.made:
        node = nodes[made.gid]
        mine = sorted(
            (r for r in contacts if r.case_id == made.case.id),
            key=lambda r: (-r.at.timestamp(), r.id),
        )
        assert node["contacts"]["totalCount"] == len(mine)
        assert [(e["cursor"], e["node"]["id"]) for e in node["contacts"]["edges"]] == [
            (keyset.encode_cursor("contacts", r.id, r.at.isoformat()), global_id("Contact", r.id))
            for r in mine
        ]
        paid = sorted(
            (r for r in payments if r.case_id == made.case.id),
            key=lambda r: (-r.paid_at.timestamp(), r.id),
        )
        assert node["payments"]["totalCount"] == len(paid)
        assert [(e["cursor"], e["node"]["id"]) for e in node["payments"]["edges"]] == [
            (
                keyset.encode_cursor("case-payments", r.id, r.paid_at.isoformat()),
                global_id("Payment", r.id),
            )
            for r in paid
        ]
        entries = node["timeline"]["edges"]
        assert node["timeline"]["totalCount"] == len(entries) >= len(mine) + len(paid)
        keys = [decoded(e["cursor"]) for e in entries]
        assert all(set(k) == {"l", "i", "v"} and k["l"] == "timeline" for k in keys)
        order = [(datetime.fromisoformat(k["v"][0]), k["v"][1], k["i"]) for k in keys]
        assert order == sorted(order, reverse=True)


async def test_two_page_sizes_in_one_request(gql: Gql, book: Book) -> None:
    data = await gql("manager", TWO_SIZES, {"login": book.collector.login})
    for edge in data["cases"]["edges"]:
        node = edge["node"]
        one = await alone(gql, node["id"], 3)
        assert node["large"]["edges"] == one["contacts"]["edges"]
        assert node["small"]["edges"] == one["contacts"]["edges"][:1]
        total = one["contacts"]["totalCount"]
        assert node["small"]["pageInfo"]["hasNextPage"] is (total > 1)
        assert node["large"]["pageInfo"]["hasNextPage"] is (total > 3)
