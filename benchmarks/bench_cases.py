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
from datetime import UTC, datetime
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
from authz.masking import clear_value, mask_borrower
from authz.scopes import scope_for
from store import case_queries, loaders, tables
from store.db import create_engine
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
    guarded = request.query_params.get("authz", "1") == "1"
    order = case_queries.CaseOrder.DAYS_PAST_DUE_DESC
    sessions = request.app.state.sessions
    async with sessions() as session:
        session: AsyncSession
        staff = await loaders.staff_by_login(session, "manager")  # as the GraphQL auth does
        assert staff is not None
        scope = scope_for(staff, datetime.now(UTC)) if guarded else None
        spec = case_queries.CaseFilterSpec(extra=[scope.case] if scope else [])
        rows, more = await case_queries.fetch_page(session, spec, order, None, first)
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
        if guarded:
            masked = mask_borrower(borrower, staff.roles, legal_stage=False).values
        else:
            masked = {n: clear_value(borrower, n) for n in ("national_id", "phone", "address")}
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


async def measure(send: Any, requests: int, counter: Counter) -> tuple[float, float]:
    """Returns requests per second and SQL statements per request of one variant."""
    counter.n = 0
    started = time.perf_counter()
    for _ in range(requests):
        response = await send()
        assert response.status_code == 200, response.text
    elapsed = time.perf_counter() - started
    return requests / elapsed, counter.n / requests


async def main(cases: int, requests: int, rounds: int) -> None:
    url = os.environ.get("ARREARS_BENCH_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    )
    engine: AsyncEngine = create_engine(url)
    await upgrade(engine)
    async with engine.connect() as conn:
        present = (await conn.execute(select(func.count()).select_from(tables.cases))).scalar_one()
    if present == 0:
        await seed_demo(engine, cases=cases, seed=42)
    counter = Counter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)

    audited = Settings(database_url=url, secret_key="b" * 40, audit_secret="c" * 40, env="test")
    unaudited = Settings(
        database_url=url, secret_key="b" * 40, audit_secret="c" * 40, env="test", audit_reads=False
    )
    app = create_app(audited, engine=engine)
    app_off = create_app(unaudited, engine=engine)
    app.router.routes.append(Route("/hand-written", hand_written))
    headers = {"Authorization": f"Bearer {mint_token(audited, 'manager')}"}
    body = {"query": QUERY, "variables": {"first": 100}}

    variants: dict[str, Any] = {
        "GraphQL, audit on": lambda c, _o: c.post("/graphql", json=body, headers=headers),
        "GraphQL, audit off": lambda _c, o: o.post("/graphql", json=body, headers=headers),
        "hand-written, authz": lambda c, _o: c.get("/hand-written?first=100&authz=1"),
        "hand-written, no authz": lambda c, _o: c.get("/hand-written?first=100&authz=0"),
    }
    on_transport = httpx.ASGITransport(app=app)
    off_transport = httpx.ASGITransport(app=app_off)
    async with (
        app.router.lifespan_context(app),
        app_off.router.lifespan_context(app_off),
        httpx.AsyncClient(transport=on_transport, base_url="http://b") as on,
        httpx.AsyncClient(transport=off_transport, base_url="http://b") as off,
    ):
        graphql_json = (await on.post("/graphql", json=body, headers=headers)).json()
        plain_json = (await on.get("/hand-written?first=100&authz=1")).json()
        assert graphql_json == plain_json, "the two endpoints must return the same JSON"
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for send in variants.values():  # warm-up
            await measure(lambda s=send: s(on, off), 10, counter)
        for _ in range(rounds):  # alternate so that drift hits every variant alike
            for name, send in variants.items():
                results[name].append(await measure(lambda s=send: s(on, off), requests, counter))
    await engine.dispose()

    best = {name: max(r for r, _ in runs) for name, runs in results.items()}
    print(
        f"database: {engine.dialect.name}, {cases} demo cases; cases(first: 100) with borrower, "
        "debts, assignee, agency; requests in-process over ASGI"
    )
    print(f"{'variant':<26}{'req/s (best of ' + str(rounds) + ')':>20}{'SQL/request':>13}")
    for name, runs in results.items():
        print(f"{name:<26}{best[name]:>20.1f}{runs[0][1]:>13.1f}")
    print(
        f"ratio GraphQL / hand-written (both with authz and masking): "
        f"{best['GraphQL, audit on'] / best['hand-written, authz']:.2f}"
    )
    print(
        f"ratio audit on / off (GraphQL): "
        f"{best['GraphQL, audit on'] / best['GraphQL, audit off']:.2f}"
    )
    print(
        f"ratio authz+masking on / off (hand-written): "
        f"{best['hand-written, authz'] / best['hand-written, no authz']:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.requests, args.rounds))
