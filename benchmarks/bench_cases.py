"""Benchmark: `cases(first: 100)` with nested borrower/debts/assignee/agency through GraphQL,
against a hand-written Starlette endpoint that runs the same SQL and returns the same JSON.

Both run side by side in one process on the same database, in alternating rounds, so the ratio
is fair whatever the machine. Prints requests per second of each, their ratio, and SQL
statements per request.

    python benchmarks/bench_cases.py [--cases 1000] [--requests 200] [--rounds 3]

Set ARREARS_BENCH_DATABASE_URL to measure on PostgreSQL (the database must be empty or a
previous demo seeded with the same size).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

import httpx
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.app import create_app
from api.auth import mint_token
from api.common.ids import to_global_id
from api.settings import Settings
from authz.masking import mask_borrower
from store import case_queries, loaders, tables
from store.db import create_engine, session_factory
from store.demo import seed_demo
from store.migrate import upgrade

QUERY = """
query Bench($first: Int!) {
  cases(first: $first) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id reference bucket classification daysPastDue
      totalOutstanding { amount currency }
      borrower { id fullName nationalId phone address }
      debts { id accountNumber productType outstanding { amount currency } }
      assignee { login team }
      agency { name }
    } }
  }
}
"""


def money(amount: Any, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currency": currency}


async def hand_written(request: Request) -> Response:
    """The same page, SQL and JSON, without GraphQL: the floor the API is measured against."""
    first = int(request.query_params.get("first", "100"))
    order = case_queries.CaseOrder.DAYS_PAST_DUE_DESC
    sessions = request.app.state.sessions
    async with sessions() as session:
        session: AsyncSession
        staff = await loaders.staff_by_login(session, "manager")  # as the GraphQL auth does
        assert staff is not None
        rows, more = await case_queries.fetch_page(
            session, case_queries.CaseFilterSpec(), order, None, first
        )
        ids = [r.id for r in rows]
        borrowers = await loaders.borrowers_by_id(session, [r.borrower_id for r in rows])
        debts = await loaders.debts_by_case_id(session, ids)
        assignee_ids = sorted({r.assignee_id for r in rows if r.assignee_id})
        agency_ids = sorted({r.agency_id for r in rows if r.agency_id})
        assignees = dict(
            zip(assignee_ids, await loaders.staff_by_id(session, assignee_ids), strict=True)
        )
        agencies = dict(
            zip(agency_ids, await loaders.agencies_by_id(session, agency_ids), strict=True)
        )
    edges = []
    for row, borrower, case_debts in zip(rows, borrowers, debts, strict=True):
        assert borrower is not None
        masked = mask_borrower(borrower, staff.roles, legal_stage=False).values
        assignee = assignees.get(row.assignee_id) if row.assignee_id else None
        agency = agencies.get(row.agency_id) if row.agency_id else None
        edges.append(
            {
                "cursor": case_queries.encode_cursor(row, order),
                "node": {
                    "id": to_global_id("Case", row.id),
                    "reference": row.reference,
                    "bucket": row.bucket,
                    "classification": str(row.classification),
                    "daysPastDue": row.days_past_due,
                    "totalOutstanding": money(row.total_outstanding.rounded().amount, row.currency),
                    "borrower": {
                        "id": to_global_id("Borrower", borrower.id),
                        "fullName": borrower.full_name,
                        "nationalId": masked["national_id"],
                        "phone": masked["phone"],
                        "address": masked["address"],
                    },
                    "debts": [
                        {
                            "id": to_global_id("Debt", d.id),
                            "accountNumber": d.account_number,
                            "productType": str(d.product_type),
                            "outstanding": money(d.outstanding.rounded().amount, d.currency),
                        }
                        for d in case_debts
                    ],
                    "assignee": {"login": assignee.login, "team": assignee.team}
                    if assignee
                    else None,
                    "agency": {"name": agency.name} if agency else None,
                },
            }
        )
    page_info = {"hasNextPage": more, "endCursor": edges[-1]["cursor"] if edges else None}
    return JSONResponse({"data": {"cases": {"pageInfo": page_info, "edges": edges}}})


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, *_args: Any) -> None:
        self.n += 1


async def measure(
    client: httpx.AsyncClient, send: Any, requests: int, counter: Counter
) -> tuple[float, float]:
    counter.n = 0
    started = time.perf_counter()
    for _ in range(requests):
        response = await send(client)
        assert response.status_code == 200
    elapsed = time.perf_counter() - started
    return requests / elapsed, counter.n / requests


async def main(cases: int, requests: int, rounds: int) -> None:
    url = os.environ.get("ARREARS_BENCH_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    )
    settings = Settings(database_url=url, secret_key="b" * 40, env="test")
    engine: AsyncEngine = create_engine(url)
    await upgrade(engine)
    async with engine.connect() as conn:
        present = (await conn.execute(select(func.count()).select_from(tables.cases))).scalar_one()
    if present == 0:
        await seed_demo(engine, cases=cases, seed=42)
    counter = Counter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)

    app = create_app(settings, engine=engine)
    app.router.routes.append(Route("/hand-written", hand_written))
    token = mint_token(settings, "manager")
    headers = {"Authorization": f"Bearer {token}"}

    async def graphql(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(
            "/graphql", json={"query": QUERY, "variables": {"first": 100}}, headers=headers
        )

    async def plain(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/hand-written?first=100")

    async with app.router.lifespan_context(app):
        app.state.sessions = session_factory(engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            a, b = (await graphql(client)).json(), (await plain(client)).json()
            assert a == b, "the two endpoints must return the same JSON"
            for send in (graphql, plain):  # warm-up
                await measure(client, send, 10, counter)
            results: dict[str, list[tuple[float, float]]] = {"graphql": [], "hand": []}
            for _ in range(rounds):
                results["graphql"].append(await measure(client, graphql, requests, counter))
                results["hand"].append(await measure(client, plain, requests, counter))
    await engine.dispose()

    g_rps = max(r for r, _ in results["graphql"])
    h_rps = max(r for r, _ in results["hand"])
    print(f"database: {engine.dialect.name}, {cases} demo cases, page of 100 with nested objects")
    print(f"{'endpoint':<22}{'req/s (best of ' + str(rounds) + ')':>22}{'SQL/request':>14}")
    print(f"{'GraphQL /graphql':<22}{g_rps:>22.1f}{results['graphql'][0][1]:>14.1f}")
    print(f"{'hand-written Starlette':<22}{h_rps:>22.1f}{results['hand'][0][1]:>14.1f}")
    print(f"ratio GraphQL / hand-written: {g_rps / h_rps:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.requests, args.rounds))
