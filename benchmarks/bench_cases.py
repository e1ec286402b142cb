"""Benchmark: `cases(first: 100)` with nested borrower/debts/assignee/agency through GraphQL
(compiled plans, and graphql-core's standard executor), against a hand-written Starlette
endpoint that runs the same SQL, returns the same JSON and writes the same audit entry.

All run side by side in one process on the same database, in alternating rounds, so the ratios
are fair whatever the machine (and whatever else runs on it). Prints requests per second of
each, the ratios, and SQL statements per request.

    python benchmarks/bench_cases.py [--cases 1000] [--requests 100] [--rounds 3]

Set ARREARS_BENCH_DATABASE_URL to measure on PostgreSQL (the database must be empty or a
previous demo seeded with the same size).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.app import create_app
from api.audit import RequestAudit, RequestInfo
from api.auth import mint_token
from api.common.ids import to_global_id
from api.settings import Settings
from authz.masking import mask_borrower
from authz.scopes import scope_for
from domain.borrowers.model import ConfidentialField
from domain.clock import SystemClock
from store import case_queries, loaders, tables
from store.audit import Outcome
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


SHOWN = (ConfidentialField.NATIONAL_ID, ConfidentialField.PHONE, ConfidentialField.ADDRESS)


async def hand_written(request: Request) -> Response:
    """The same page, SQL, JSON and audit entry, without GraphQL: the floor the API is measured
    against. ``authz=0`` leaves out scoping, masking and the audit entry (their cost)."""
    first = int(request.query_params.get("first", "100"))
    guarded = request.query_params.get("authz", "1") == "1"
    order = case_queries.CaseOrder.DAYS_PAST_DUE_DESC
    sessions = request.app.state.sessions
    settings: Settings = request.app.state.bench_settings
    clock = SystemClock()
    async with sessions() as session:
        session: AsyncSession
        staff = await loaders.staff_by_login(session, "manager")  # as the GraphQL gate does
        assert staff is not None
        scope = scope_for(staff, clock.now()) if guarded else None
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
    audit = RequestAudit(
        settings.audit_key,
        sessions,
        clock,
        RequestInfo(uuid.uuid4().hex, "127.0.0.1", request.headers.get("user-agent")),
        staff,
    )
    audit.info.set_document(audit.key, QUERY, None, "query")
    audit.info.operation_name = "Bench"
    audit.saw_cases([i for i in ids if i is not None])
    edges = []
    for row, borrower, case_debts in zip(rows, borrowers, debts, strict=True):
        assert borrower is not None and borrower.id is not None
        if guarded:
            masked = mask_borrower(borrower, staff.roles, legal_stage=False)
            shown = {f: masked.values[f] for f in SHOWN}
            for f in SHOWN:
                audit.saw_borrower_field(borrower.id, f.value, f in masked.clear_fields)
        else:
            shown = {f: borrower.value_of(f) for f in SHOWN}
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
                    "totalOutstanding": money(row.total_outstanding.rounded_amount(), row.currency),
                    "borrower": {
                        "id": to_global_id("Borrower", borrower.id),
                        "fullName": borrower.full_name,
                        "nationalId": shown[ConfidentialField.NATIONAL_ID],
                        "phone": shown[ConfidentialField.PHONE],
                        "address": shown[ConfidentialField.ADDRESS],
                    },
                    "debts": [
                        {
                            "id": to_global_id("Debt", d.id),
                            "accountNumber": d.account_number,
                            "productType": str(d.product_type),
                            "outstanding": money(d.outstanding.rounded_amount(), d.currency),
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
    if guarded:
        # Written before the answer leaves, as the GraphQL endpoint does.
        await audit.finish(Outcome.ALLOWED)
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

    def settings(execution: str, audit_reads: bool = True) -> Settings:
        return Settings(
            database_url=url,
            secret_key="b" * 40,
            audit_secret="c" * 40,
            env="test",
            execution=execution,
            audit_reads=audit_reads,
        )

    apps = {
        "compiled": create_app(settings("compiled"), engine=engine),
        "standard": create_app(settings("standard"), engine=engine),
        "compiled, audit off": create_app(settings("compiled", False), engine=engine),
    }
    hand = apps["compiled"]
    hand.state.bench_settings = settings("compiled")
    hand.router.routes.append(Route("/hand-written", hand_written))
    headers = {"Authorization": f"Bearer {mint_token(settings('compiled'), 'manager')}"}
    body = {"query": QUERY, "variables": {"first": 100}}

    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://b")
            )

        def graphql(name: str) -> Any:
            return lambda: clients[name].post("/graphql", json=body, headers=headers)

        variants: dict[str, Any] = {
            "GraphQL, compiled plans": graphql("compiled"),
            "GraphQL, standard executor": graphql("standard"),
            "GraphQL compiled, audit off": graphql("compiled, audit off"),
            "hand-written": lambda: clients["compiled"].get("/hand-written?authz=1"),
            "hand-written, no authz": lambda: clients["compiled"].get("/hand-written?authz=0"),
        }
        answers = [(await send()).json() for send in list(variants.values())[:4]]
        assert all(a == answers[0] for a in answers), "every endpoint must return the same JSON"
        await same_audit_entries(engine, clients, headers, body)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for send in variants.values():  # warm-up
            await measure(send, 10, counter)
        for _ in range(rounds):  # alternate so that drift hits every variant alike
            for name, send in variants.items():
                results[name].append(await measure(send, requests, counter))
    await engine.dispose()

    best = {name: max(r for r, _ in runs) for name, runs in results.items()}
    print(
        f"database: {engine.dialect.name}, {cases} demo cases; cases(first: 100) with borrower, "
        "debts, assignee, agency; requests in-process over ASGI"
    )
    print(f"{'variant':<30}{'req/s (best of ' + str(rounds) + ')':>20}{'SQL/request':>13}")
    for name, runs in results.items():
        print(f"{name:<30}{best[name]:>20.1f}{runs[0][1]:>13.1f}")
    hand_written_rate = best["hand-written"]
    print(
        "ratio GraphQL / hand-written (authz, masking and audit in both): "
        f"compiled {best['GraphQL, compiled plans'] / hand_written_rate:.2f}, "
        f"standard {best['GraphQL, standard executor'] / hand_written_rate:.2f}"
    )
    print(
        "ratio audit on / off (GraphQL, compiled): "
        f"{best['GraphQL, compiled plans'] / best['GraphQL compiled, audit off']:.2f}"
    )
    print(
        "ratio authz+masking+audit on / off (hand-written): "
        f"{hand_written_rate / best['hand-written, no authz']:.2f}"
    )


# What the two endpoints' audit entries must agree on (the request's own details aside).
AUDITED = (
    "actor_login",
    "actor_roles",
    "operation_name",
    "operation_type",
    "document_hash",
    "action",
    "outcome",
    "resource_type",
    "resource_ids",
    "borrower_ids",
    "case_ids",
    "fields",
)


async def same_audit_entries(
    engine: AsyncEngine, clients: dict[str, httpx.AsyncClient], headers: Any, body: Any
) -> None:
    """Checks that the hand-written endpoint records the same entry as GraphQL does."""
    entries = tables.audit_entries
    columns = [entries.c[name] for name in AUDITED]
    last = select(*columns).order_by(entries.c.id.desc()).limit(1)
    recorded = []
    for send in (
        lambda: clients["compiled"].post("/graphql", json=body, headers=headers),
        lambda: clients["compiled"].get("/hand-written?authz=1"),
    ):
        assert (await send()).status_code == 200
        async with engine.connect() as conn:
            recorded.append(tuple((await conn.execute(last)).one()))
    assert recorded[0] == recorded[1], f"audit entries differ: {recorded}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.requests, args.rounds))
