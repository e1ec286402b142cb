"""Request limits over HTTP: each attack of the security review is refused with a typed error
before graphql-core validates the document (a field that does not exist is never reported) and
before anything reads case data, and the refusal is audited as DENIED; ordinary pages still work.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from store import tables
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.e2e.conftest import StatementCounter
from tests.helpers import Gql

# Tables of case data; the refused requests read only the caller's staff row and write the
# audit entry.
CASE_DATA = re.compile(r"\b(cases|borrowers|debts|instalments|agencies)\b", re.IGNORECASE)
NODE = """
  id reference bucket classification daysPastDue totalOutstanding { amount currency }
  borrower { id fullName nationalId phone address }
  debts { id accountNumber productType outstanding { amount currency } }
  assignee { login team } agency { name }
"""
PAGE = f"cases(first: 100) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {NODE} }} }} }}"
# One page costs 1 + 3 (pageInfo) + 1 + 100 × (1 + 50): 5,105.
PAGE_COST = 5_105


def bomb(levels: int) -> str:
    """The review's ~1 KB document: each fragment spreads the next twice, with aliases."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(
        f"fragment F{levels} on Query {{ a: viewer {{ login }} b: viewer {{ name }} }}"
    )
    # `doesNotExist` would fail validation: its absence from the errors shows none ran.
    return "query Bomb { doesNotExist ...F0 }\n" + "\n".join(fragments)


async def refused(
    gql: Gql,
    login: str,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Returns the single error of a refused request and its request id."""
    response = await gql.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}, "operationName": operation_name},
        headers={"Authorization": f"Bearer {gql.token(login)}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body["errors"]
    return body["errors"][0], response.headers["x-request-id"]


def read_no_case_data(counter: StatementCounter) -> None:
    touched = [s for s in counter.statements if CASE_DATA.search(s)]
    assert not touched, touched


async def audit_entry(engine: AsyncEngine, request_id: str) -> Any:
    a = tables.audit_entries.c
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(tables.audit_entries).where(a.request_id == request_id))
        ).all()
    assert len(rows) == 1, rows
    return rows[0]


# --- the review's attacks ----------------------------------------------------------------------


async def test_the_fragment_bomb_is_refused_by_cost_before_validation(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    query = bomb(20)
    assert len(query) < 1024
    error, request_id = await refused(gql, "collector1", query)
    cost = 1 + 2**20 * 4  # doesNotExist + 2**20 copies of F20 (two fields of two)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"] == f"query cost {cost:,} exceeds your limit of 50,000"
    read_no_case_data(sql_counter)
    entry = await audit_entry(engine, request_id)
    assert (entry.outcome, entry.action, entry.operation_type) == ("DENIED", "api.read", "query")


@pytest.mark.parametrize(("login", "limit"), [("collector1", "50,000"), ("admin", "100,000")])
async def test_thirty_aliases_of_a_nested_page_are_refused_by_cost(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter, login: str, limit: str
) -> None:
    query = "{ doesNotExist " + " ".join(f"p{i}: {PAGE}" for i in range(30)) + " }"
    error, request_id = await refused(gql, login, query)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"] == f"query cost {1 + 30 * PAGE_COST:,} exceeds your limit of {limit}"
    read_no_case_data(sql_counter)
    assert (await audit_entry(engine, request_id)).outcome == "DENIED"


async def test_fifty_thousand_operations_are_refused_by_the_token_limit(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    query = "{a}" * 50_000  # 150 KB, under the body limit
    error, request_id = await refused(gql, "collector1", query)
    assert error["extensions"]["code"] == "TOO_MANY_TOKENS"
    assert error["message"] == "the document exceeds the limit of 5,000 tokens"
    read_no_case_data(sql_counter)
    entry = await audit_entry(engine, request_id)
    assert (entry.outcome, entry.operation_type) == ("DENIED", "invalid")


@pytest.mark.parametrize("operation_name", ["Q3", None])
async def test_more_operations_than_the_limit_are_refused(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter, operation_name: str | None
) -> None:
    named = " ".join(f"query Q{i} {{ doesNotExist viewer {{ login }} }}" for i in range(11))
    anonymous = " ".join("{ doesNotExist viewer { login } }" for _ in range(11))
    query = named if operation_name else anonymous
    error, request_id = await refused(gql, "collector1", query, operation_name=operation_name)
    assert error["extensions"]["code"] == "TOO_MANY_OPERATIONS"
    assert error["message"] == "the document has 11 operations; the limit is 10"
    read_no_case_data(sql_counter)
    assert (await audit_entry(engine, request_id)).outcome == "DENIED"


async def test_twenty_thousand_directives_are_refused_by_the_token_limit(gql: Gql) -> None:
    query = "{ viewer " + "@a" * 20_000 + " { login } }"
    error, _ = await refused(gql, "collector1", query)
    assert error["extensions"]["code"] == "TOO_MANY_TOKENS"


async def test_more_directives_on_a_field_than_the_limit_are_refused(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    query = "{ doesNotExist cases " + "@include(if: true) " * 6 + "{ totalCount } }"
    error, request_id = await refused(gql, "collector1", query)
    assert error["extensions"]["code"] == "TOO_MANY_DIRECTIVES"
    assert error["message"] == "a selection carries 6 directives; the limit is 5"
    read_no_case_data(sql_counter)
    assert (await audit_entry(engine, request_id)).outcome == "DENIED"


async def test_depth_and_aliases_keep_their_limits(gql: Gql) -> None:
    thirteen = "{ doesNotExist " + "a { " * 13 + "b" + " }" * 13 + " }"
    error, _ = await refused(gql, "admin", thirteen)
    assert (error["extensions"]["code"], error["message"]) == (
        "QUERY_TOO_COMPLEX",
        "query depth 13 exceeds the limit of 12",
    )
    aliases = "{ doesNotExist " + " ".join(f"v{i}: viewer {{ login }}" for i in range(31)) + " }"
    error, _ = await refused(gql, "admin", aliases)
    assert (error["extensions"]["code"], error["message"]) == (
        "QUERY_TOO_COMPLEX",
        "31 aliases exceed the limit of 30",
    )


async def test_a_flood_of_overlapping_fields_is_refused_by_the_validation_budget(
    gql: Gql, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    """Within every other limit, the same field 1,000 times: graphql-core compares each pair."""
    query = "{ " + "viewer { login } " * 1000 + "}"
    error, request_id = await refused(gql, "collector1", query)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"] == "the document is too complex to validate"
    read_no_case_data(sql_counter)
    assert (await audit_entry(engine, request_id)).outcome == "DENIED"


# --- ordinary clients ----------------------------------------------------------------------------


async def test_the_readme_worklist_and_a_full_page_work_for_a_collector(gql: Gql) -> None:
    worklist = """{ cases(first: 20, filter: {assigneeLogin: "collector1", status: [OPEN]}) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { id reference bucket classification daysPastDue
                       totalOutstanding { amount currency }
                       borrower { fullName phone }
                       debts { productType outstanding { amount } } } } } }"""
    data = await gql("collector1", worklist)
    assert data["cases"]["edges"]
    page = await gql(
        "collector1", "query($n: Int!) { " + PAGE.replace("100", "$n") + " }", {"n": 100}
    )
    assert page["cases"]["edges"]
    admin = await gql("admin", "{ " + PAGE + " }")
    assert len(admin["cases"]["edges"]) == 100


# --- suggestions ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def production(engine: AsyncEngine, database_url: str) -> AsyncIterator[Gql]:
    settings = Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        audit_secret=TEST_AUDIT_SECRET,
        env="production",
    )
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as c:
            yield Gql(c, settings)


async def test_production_does_not_suggest_field_names(gql: Gql, production: Gql) -> None:
    query = "{ viewr { login } cases(frist: 1) { totalCount } }"
    shown = [e["message"] for e in await gql.errors("collector1", query)]
    assert any("Did you mean 'viewer'?" in m for m in shown), shown
    hidden = [e["message"] for e in await production.errors("collector1", query)]
    assert hidden == [
        "Cannot query field 'viewr' on type 'Query'.",
        "Unknown argument 'frist' on field 'Query.cases'.",
    ]
