"""Benchmark: N cases (default a million) on PostgreSQL, seeded through `arrears import`, and
what a console and the nightly jobs cost at that size.

Seeds a fresh database through the import path (``jobs.importing.import_feed``, the job behind
``arrears import``): ``--feeds`` daily feeds on consecutive dates up to 2026-11-27, each with
its share of N borrowers and their debts (1.5 per borrower, every one overdue, three monthly
instalments, a payment for every tenth), so that the import opens N OPEN cases (one per borrower
and portfolio), each feed's on its own date. The operator's commands add the staff
(``jobs.staffing``, as ``arrears staff add``: a manager, twenty collectors of team East and
their lead, an agent) and an agency; through GraphQL the manager allocates the pool to team
East up to the collectors' capacity (``allocateCases``, N/20 cases) and places a few hundred
cases with the agency (``placeWithAgency``). ``VACUUM ANALYZE`` after the import and ``ANALYZE``
after the hand-out stand for autovacuum, which would do the same in time.

Every request goes through the real GraphQL endpoint in-process (``httpx.ASGITransport`` on
``api.app.create_app``, audit on), as the manager unless said otherwise; each figure is the
median of ``--runs`` requests after one warm-up. It prints:

1. for every ``CaseOrder``: the first page (``first: 100``) and the last page reached by keyset
   (``after:`` the cursor of the row just before it), their ratio (the goal: the last within
   1.5x of the first) and the page statement's own time in the store; EXPLAIN ANALYZE of the
   page statements of an ordering that misses the goal;
2. the first page under realistic filters, and the cases of a collector, a team lead and an
   agent (their row scopes); EXPLAIN ANALYZE of the page statement of any slower than 500 ms;
3. ``totalCount``: a page without and with it, the count alone, ``totalCountEstimate`` alone,
   and the store's count and estimate statements alone;
4. the daily run (``jobs.daily.run_daily``) for the last feed's date and the next (the figures
   of ``bench_daily.py``), then the reports over that next date (those of ``bench_reports.py``).

    python benchmarks/bench_scale.py [--cases 1000000] [--feeds 10] [--runs 7] [--keep]
        [--reuse DATABASE] [--sections pages,filters,counts,daily,reports]

The server is ARREARS_BENCH_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test);
the database ``arrears_bench_scale_<random>`` is created there and dropped at the end, unless
``--keep``; ``--reuse`` measures a kept one again without seeding (migrating it first).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import bench_daily
import bench_reports
import httpx
from feed import AS_OF, DEFAULT_URL, debts_for, fresh_database, write_feed
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import create_app
from api.auth import mint_token
from api.common.ids import to_global_id
from api.logging import configure_logging
from api.settings import Settings
from authz.scopes import Scope, scope_for
from domain.clock import FixedClock
from domain.reports.model import Period
from jobs.importing import import_feed
from jobs.staffing import add_agency, add_staff
from store import case_queries, loaders, tables
from store.case_queries import CaseFilterSpec, CaseOrder
from store.db import create_engine
from store.keyset import Keyset
from store.migrate import upgrade

PAGE = 100
PER_BORROWER = 1.5  # debts per borrower, as in bench_daily.py and bench_reports.py
COLLECTORS = 20
AGENCY = "Bench Agency"
GOAL = 1.5  # the last page within this many times the first
SLOW_MS = 500  # a filtered page slower than this gets its plan printed
SECTIONS = ("pages", "filters", "counts", "daily", "reports")

CASE_FIELDS = """
      id reference status stage bucket classification daysPastDue openedOn
      totalOutstanding { amount currency }
      borrower { id fullName phone }
      assignee { login }
      agency { name }
"""


def page_query(extra: str = "") -> str:
    """The page a console's case list asks for (``extra``: more connection fields)."""
    return f"""
query Page($first: Int!, $after: String, $filter: CaseFilter, $orderBy: CaseOrder!) {{
  cases(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {{
    {extra}
    pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {CASE_FIELDS} }} }}
  }}
}}
"""


COUNT_ONLY = """
query Count($filter: CaseFilter) { cases(first: 0, filter: $filter) { totalCount } }
"""
ESTIMATE_ONLY = """
query Estimate($filter: CaseFilter) {
  cases(first: 0, filter: $filter) { totalCountEstimate { count exact } }
}
"""


# ---- seeding ------------------------------------------------------------------------------------


async def seed(engine: AsyncEngine, cases: int, feeds: int) -> None:
    """Imports ``feeds`` daily feeds that open ``cases`` cases between them (see the module's
    docstring), one feed file at a time."""
    rng = random.Random(42)
    opened = 0
    with tempfile.TemporaryDirectory() as folder:
        for k in range(feeds):
            as_of = AS_OF - timedelta(days=feeds - 1 - k)
            first, last = k * cases // feeds, (k + 1) * cases // feeds
            debts = range(debts_for(first, PER_BORROWER), debts_for(last, PER_BORROWER))
            path = Path(folder) / f"feed-{as_of}.jsonl"
            started = time.perf_counter()
            lines = write_feed(
                path, debts, rng=rng, as_of=as_of, late_share=1.0, per_borrower=PER_BORROWER
            )
            written = time.perf_counter() - started
            at = datetime(as_of.year, as_of.month, as_of.day, 11, tzinfo=UTC)
            report = await import_feed(engine, path, audit_key=bench_daily.KEY, now=at)
            assert report.imported, report.errors[:5]
            path.unlink()
            opened += report.summary["casesOpened"]
            print(
                f"  feed {as_of}: {lines:,} lines ({len(debts):,} debts), written in "
                f"{written:.1f} s, imported in {time.perf_counter() - started - written:.1f} s: "
                f"{report.summary['casesOpened']:,} cases opened",
                flush=True,
            )
    assert opened == cases, f"the feeds opened {opened:,} cases, not {cases:,}"


async def add_people(engine: AsyncEngine, cases: int) -> None:
    """Adds the manager, team East's collectors (room for N/20 cases between them) and the
    agency, as ``arrears staff add`` and ``arrears agency add`` do."""
    clock = FixedClock(datetime.now(UTC))
    key = bench_daily.KEY
    await add_staff(engine, clock, key, login="manager", name="Manager", roles=["manager"])
    capacity = max(1, cases // 20 // COLLECTORS)
    for n in range(1, COLLECTORS + 1):
        await add_staff(
            engine,
            clock,
            key,
            login=f"collector{n}",
            name=f"Collector {n}",
            roles=["collector"],
            team="East",
            capacity=capacity,
        )
    await add_staff(
        engine, clock, key, login="lead1", name="Lead", roles=["team_lead"], team="East"
    )
    await add_agency(engine, clock, key, name=AGENCY, commission_rate="0.15", placement_days=90)
    await add_staff(
        engine, clock, key, login="agent1", name="Agent", roles=["agency_agent"], agency=AGENCY
    )


ALLOCATE = """
mutation { allocateCases(input: {teamName: "East"}) {
  __typename ... on AllocateCasesSuccess { assignedCount unassignedCount }
  ... on UserError { code message } } }
"""
PLACE = """
mutation Place($id: ID!) { placeWithAgency(input: {caseId: $id, agencyName: "Bench Agency"}) {
  __typename ... on UserError { code message } } }
"""


async def hand_out(client: Client, engine: AsyncEngine, cases: int) -> None:
    """The manager allocates the pool to team East and places some of the rest with the agency,
    through GraphQL."""
    started = time.perf_counter()
    data = await client.data("manager", ALLOCATE)
    result = data["allocateCases"]
    assert result["__typename"] == "AllocateCasesSuccess", result
    print(
        f"  allocateCases: {result['assignedCount']:,} cases to team East in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    placed = min(300, max(1, cases // 100))
    async with engine.connect() as conn:
        c = tables.cases.c
        ids = (
            await conn.execute(
                select(c.id).where(c.assignee_id.is_(None)).order_by(c.id.desc()).limit(placed)
            )
        ).scalars()
        chosen = list(ids)
    started = time.perf_counter()
    for pk in chosen:
        data = await client.data("manager", PLACE, {"id": to_global_id("Case", pk)})
        assert data["placeWithAgency"]["__typename"] == "PlaceWithAgencySuccess", data
    print(
        f"  placeWithAgency: {len(chosen)} cases in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


async def vacuum(engine: AsyncEngine, command: str = "VACUUM ANALYZE") -> float:
    """Seconds to bring the statistics (and the visibility map) up to date, as autovacuum does
    in time after a bulk load (the benchmark cannot wait for it, and it may be off)."""
    started = time.perf_counter()
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(command))
    return time.perf_counter() - started


# ---- the GraphQL client -------------------------------------------------------------------------


class Client:
    """GraphQL over the real endpoint, in-process; a token per login."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        self.tokens: dict[str, str] = {}

    async def post(self, login: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        token = self.tokens.setdefault(login, mint_token(self.settings, login))
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body

    async def data(self, login: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        return (await self.post(login, query, variables))["data"]

    async def timed_pair(
        self, runs: int, login: str, query: str, one: dict[str, Any], other: dict[str, Any]
    ) -> tuple[float, float, Any, Any]:
        """The median milliseconds of two variants of a request (and their last answers),
        run in turn so that whatever else the machine does weighs on both alike."""
        spent: tuple[list[float], list[float]] = ([], [])
        answers: list[Any] = [
            await self.data(login, query, one),
            await self.data(login, query, other),
        ]
        for _ in range(runs):
            for n, variables in enumerate((one, other)):
                started = time.perf_counter()
                answers[n] = await self.data(login, query, variables)
                spent[n].append((time.perf_counter() - started) * 1000)
        return statistics.median(spent[0]), statistics.median(spent[1]), answers[0], answers[1]

    async def timed(
        self, runs: int, login: str, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[float, Any]:
        """Returns the median milliseconds of ``runs`` requests (after one warm-up) and the
        last answer's data."""
        data = await self.data(login, query, variables)
        spent = []
        for _ in range(runs):
            started = time.perf_counter()
            data = await self.data(login, query, variables)
            spent.append((time.perf_counter() - started) * 1000)
        return statistics.median(spent), data


@asynccontextmanager
async def serving(engine: AsyncEngine) -> AsyncIterator[Client]:
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, secret_key="b" * 40, audit_secret="c" * 40, env="test")
    configure_logging("WARNING")  # no line per request among the figures
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
    ):
        yield Client(http, settings)


# ---- the store's own statements -----------------------------------------------------------------


class PageStatement:
    """The last page statement of the cases listing an engine ran, with its parameters (for
    EXPLAIN ANALYZE)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.sql = ""
        self.parameters: Any = ()
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)

    def _before(self, _c: Any, _k: Any, sql: str, parameters: Any, *_: Any) -> None:
        if sql.startswith("SELECT cases.id,") and "ORDER BY" in sql and "LIMIT" in sql:
            self.sql, self.parameters = sql, parameters


async def scope_of(engine: AsyncEngine, login: str) -> Scope:
    """The login's row scopes, as the API compiles them (``authz.scopes``)."""
    async with AsyncSession(engine) as session:
        staff = await loaders.staff_by_login(session, login)
    assert staff is not None
    return scope_for(staff, datetime.now(UTC))


async def store_median(
    engine: AsyncEngine, runs: int, call: Callable[[AsyncSession], Any]
) -> float:
    """Median milliseconds of a store call, after one warm-up."""
    spent = []
    async with AsyncSession(engine) as session:
        for _ in range(runs + 1):
            started = time.perf_counter()
            await call(session)
            spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent[1:])


async def store_pages(
    engine: AsyncEngine,
    spec: CaseFilterSpec,
    order: CaseOrder,
    afters: list[Keyset | None],
    runs: int,
) -> list[float]:
    """Median milliseconds of the page statement alone (``case_queries.fetch_page``) after each
    keyset, the pages in turn, after one warm-up each (``runs`` 0: the warm-up alone)."""
    spent: list[list[float]] = [[] for _ in afters]
    async with AsyncSession(engine) as session:
        for _ in range(runs + 1):
            for n, after in enumerate(afters):
                started = time.perf_counter()
                rows, _more = await case_queries.fetch_page(session, spec, order, after, PAGE)
                spent[n].append((time.perf_counter() - started) * 1000)
                assert rows
    return [statistics.median(times[1:] or times) for times in spent]


async def before_last_page(
    engine: AsyncEngine, spec: CaseFilterSpec, order: CaseOrder, total: int
) -> tuple[str, Keyset]:
    """The cursor of the row just before the last page of ``order`` (found once with OFFSET,
    untimed) and its keyset."""
    statement = case_queries.page_statement(spec, order, None).offset(total - PAGE - 1).limit(1)
    async with AsyncSession(engine) as session:
        row = (await session.execute(statement)).scalars().one()
    cursor = case_queries.encode_cursor(row, order)
    return cursor, case_queries.decode_cursor(cursor, order)


async def explain(engine: AsyncEngine, last: PageStatement, title: str) -> None:
    """Prints EXPLAIN ANALYZE of the page statement ``last`` caught."""
    sql, parameters = last.sql, last.parameters
    print(f"\n  EXPLAIN ANALYZE, {title}:")
    async with engine.connect() as conn:
        plan = await conn.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS) {sql}", tuple(parameters or ())
        )
        for (line,) in plan:
            print(f"    {line}")


# ---- the sections -------------------------------------------------------------------------------


async def pages(client: Client, engine: AsyncEngine, runs: int) -> None:
    """First page vs last page by keyset, for every ordering."""
    spec = CaseFilterSpec(extra=[(await scope_of(engine, "manager")).case])
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(tables.cases))).scalar_one()
    print(
        f"\n1. keyset pages, cases(first: {PAGE}), the manager (sees all {total:,} cases); "
        f"GraphQL request and, apart, the page statement alone; median of {runs}"
    )
    print(
        f"{'ordering':<22}{'first ms':>10}{'last ms':>10}{'last/first':>12}"
        f"{'SQL first':>11}{'SQL last':>10}{'SQL ratio':>11}  goal (last <= {GOAL}x first)"
    )
    query = page_query()
    last = PageStatement(engine)
    missed = []
    for order in CaseOrder:
        cursor, keyset = await before_last_page(engine, spec, order, total)
        first_ms, last_ms, head, tail = await client.timed_pair(
            runs,
            "manager",
            query,
            {"first": PAGE, "orderBy": order.value},
            {"first": PAGE, "after": cursor, "orderBy": order.value},
        )
        assert len(head["cases"]["edges"]) == PAGE
        page = tail["cases"]
        assert len(page["edges"]) == PAGE and not page["pageInfo"]["hasNextPage"], page["pageInfo"]
        sql_first, sql_last = await store_pages(engine, spec, order, [None, keyset], runs)
        ratio = last_ms / first_ms
        verdict = "met" if ratio <= GOAL else "MISSED"
        print(
            f"{order.value:<22}{first_ms:>10.1f}{last_ms:>10.1f}{ratio:>11.2f}x"
            f"{sql_first:>11.1f}{sql_last:>10.1f}{sql_last / sql_first:>10.2f}x  {verdict}",
            flush=True,
        )
        if ratio > GOAL:
            missed.append((order, keyset))
    for order, keyset in missed:
        await store_pages(engine, spec, order, [None], 0)
        await explain(engine, last, f"{order.value}, first page")
        await store_pages(engine, spec, order, [keyset], 0)
        await explain(engine, last, f"{order.value}, last page")


def filters(reference: str, account: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(title, login, filter) of the filtered pages: what a console's list is filtered by."""
    return [
        ("classification SEVERE", "manager", {"classification": ["SEVERE"]}),
        ("classification MILD", "manager", {"classification": ["MILD"]}),
        ("stage COLLECTION", "manager", {"stage": ["COLLECTION"]}),
        ("status OPEN", "manager", {"status": ["OPEN"]}),
        ("DPD 31-60 (bucket M2)", "manager", {"minDaysPastDue": 31, "maxDaysPastDue": 60}),
        ("DPD >= 181 (M7)", "manager", {"minDaysPastDue": 181}),
        ("assignee collector1", "manager", {"assigneeLogin": "collector1"}),
        (f"agency {AGENCY}", "manager", {"agencyName": AGENCY}),
        (
            "SEVERE in COLLECTION",
            "manager",
            {"classification": ["SEVERE"], "stage": ["COLLECTION"]},
        ),
        ("search: a reference", "manager", {"search": reference}),
        ("search: a borrower name", "manager", {"search": "Borrower 4242"}),
        ("accountNumber (exact)", "manager", {"accountNumber": account}),
        ("lead1's team's cases", "lead1", None),
        ("agent1's agency's cases", "agent1", None),
        ("collector1's own cases", "collector1", None),
        ("collector1's, DPD >= 91", "collector1", {"minDaysPastDue": 91}),
    ]


async def sample_keys(engine: AsyncEngine) -> tuple[str, str]:
    """A case reference and an account number from the middle of the book."""
    async with engine.connect() as conn:
        c, d = tables.cases.c, tables.debts.c
        middle = (await conn.execute(select(func.max(c.id) / 2))).scalar_one()
        reference = (await conn.execute(select(c.reference).where(c.id >= middle).limit(1))).one()
        account = (
            await conn.execute(select(d.account_number).where(d.case_id >= middle).limit(1))
        ).one()
    return str(reference[0]), str(account[0])


async def filtered(client: Client, engine: AsyncEngine, runs: int) -> None:
    reference, account = await sample_keys(engine)
    print(f"\n2. filtered pages, cases(first: {PAGE}, filter: …), default order; median of {runs}")
    print(f"{'filter':<32}{'login':<12}{'first page ms':>14}{'rows':>7}")
    query = page_query()
    last = PageStatement(engine)
    slow = []
    for title, login, where in filters(reference, account):
        variables = {"first": PAGE, "orderBy": CaseOrder.DAYS_PAST_DUE_DESC.value, "filter": where}
        spent, data = await client.timed(runs, login, query, variables)
        print(f"{title:<32}{login:<12}{spent:>14.1f}{len(data['cases']['edges']):>7}", flush=True)
        if spent > SLOW_MS:
            slow.append((title, login, variables))
    for title, login, variables in slow:
        await client.data(login, query, variables)
        await explain(engine, last, f"filtered page over {SLOW_MS} ms: {title}")


FLOOR = """
query Floor($filter: CaseFilter) { cases(first: 0, filter: $filter) { pageInfo { hasNextPage } } }
"""


async def counts(client: Client, engine: AsyncEngine, runs: int) -> None:
    """What ``totalCount`` costs beside a page, and what ``totalCountEstimate`` costs."""
    print(
        f"\n3. totalCount: ms, median of {runs}. GraphQL: cases(first: {PAGE}) without and with "
        "totalCount; cases(first: 0) alone (the request's floor), with totalCount, with "
        "totalCountEstimate. SQL: the count statement alone (case_queries.count) and the "
        "estimate's (estimate_count)"
    )
    print(
        f"{'filter':<24}{'login':<12}{'page':>7}{'+count':>8}{'floor':>7}{'count':>7}"
        f"{'estim.':>8}{'SQL count':>11}{'SQL estim.':>12}{'exact count':>13}  estimate"
    )
    plain, counted = page_query(), page_query("totalCount")
    rows: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
        ("none", "manager", None, {}),
        (
            "classification SEVERE",
            "manager",
            {"classification": ["SEVERE"]},
            {"classifications": ["SEVERE"]},
        ),
        (
            "DPD 31-60",
            "manager",
            {"minDaysPastDue": 31, "maxDaysPastDue": 60},
            {"min_days_past_due": 31, "max_days_past_due": 60},
        ),
        ("stage COLLECTION", "manager", {"stage": ["COLLECTION"]}, {"stages": ["COLLECTION"]}),
        (
            "assignee collector1",
            "manager",
            {"assigneeLogin": "collector1"},
            {"assignee_login": "collector1"},
        ),
        ("none (own cases)", "collector1", None, {}),
        ("none (team's cases)", "lead1", None, {}),
    ]
    for title, login, where, store_where in rows:
        variables = {"first": PAGE, "orderBy": CaseOrder.DAYS_PAST_DUE_DESC.value, "filter": where}
        page_ms, _ = await client.timed(runs, login, plain, variables)
        with_ms, _ = await client.timed(runs, login, counted, variables)
        floor_ms, _ = await client.timed(runs, login, FLOOR, {"filter": where})
        count_ms, data = await client.timed(runs, login, COUNT_ONLY, {"filter": where})
        exact = data["cases"]["totalCount"]
        estimate_ms, data = await client.timed(runs, login, ESTIMATE_ONLY, {"filter": where})
        estimate = data["cases"]["totalCountEstimate"]
        scope = await scope_of(engine, login)
        spec = CaseFilterSpec(**store_where, extra=[scope.case])
        sql_count = await store_median(engine, runs, partial(case_queries.count, spec=spec))
        estimate_count = partial(
            case_queries.estimate_count, spec=spec, whole_book=scope.every_case
        )
        sql_estimate = await store_median(engine, runs, estimate_count)
        shown = f"{estimate['count']:,} ({'exact' if estimate['exact'] else 'planner'})"
        print(
            f"{title:<24}{login:<12}{page_ms:>7.1f}{with_ms:>8.1f}{floor_ms:>7.1f}"
            f"{count_ms:>7.1f}{estimate_ms:>8.1f}{sql_count:>11.1f}{sql_estimate:>12.1f}"
            f"{exact:>13,}  {shown}",
            flush=True,
        )


async def daily(engine: AsyncEngine) -> None:
    print("\n4a. the daily run (jobs.daily.run_daily), as bench_daily.py reports it")
    for day, title in (
        (AS_OF, f"daily run, {AS_OF} (the last feed's date; first run)"),
        (AS_OF + timedelta(days=1), f"daily run, {AS_OF + timedelta(days=1)} (the next date)"),
    ):
        seconds, outcome, steps = await bench_daily.timed_run(engine, day)
        if not outcome.days:
            print(f"{title}: {outcome.nothing_to_do}")
            continue
        bench_daily.report(title, seconds, outcome, steps)


async def reports(engine: AsyncEngine) -> None:
    period = Period(AS_OF + timedelta(days=1), AS_OF + timedelta(days=1))
    print(
        f"\n4b. the reports over {period.start} (one run date, opening {AS_OF}), a caller who "
        "sees every case, as bench_reports.py times them"
    )
    statements = bench_reports.Statements()
    statements.watch(engine)
    print(f"{'call':<36}{'seconds':>10}{'statements':>12}  outcome")
    for name, call in bench_reports.calls(period):
        measured = await bench_reports.measure(engine, statements, call, 1800, [])
        print(
            f"{name:<36}{measured.seconds:>10.2f}{len(measured.statements):>12}  "
            f"{measured.outcome}",
            flush=True,
        )


# ---- main ---------------------------------------------------------------------------------------


@asynccontextmanager
async def database(cases: int, keep: bool, reuse: str | None) -> AsyncIterator[AsyncEngine]:
    """A fresh database (dropped afterwards unless ``keep``) or the kept one ``reuse`` names."""
    if reuse is None:
        async with fresh_database("arrears_bench_scale", keep=keep) as engine:
            yield engine
        return
    base = os.environ.get("ARREARS_BENCH_DATABASE_URL", DEFAULT_URL)
    engine = create_engine(make_url(base).set(database=reuse).render_as_string(False))
    try:
        yield engine
    finally:
        await engine.dispose()


async def main(
    cases: int, feeds: int, runs: int, keep: bool, reuse: str | None, sections: list[str]
) -> None:
    began = time.perf_counter()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    sized = "a kept database" if reuse else f"{cases:,} cases, {feeds} feeds"
    print(f"bench_scale: {sized}, {os.cpu_count()} cores, load average {load}", flush=True)
    async with database(cases, keep, reuse) as engine:
        await upgrade(engine)
        async with engine.connect() as conn:
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
        print(f"PostgreSQL {version}, database {engine.url.database}", flush=True)
        if reuse is None:
            print(f"seeding through the import, {feeds} feeds:", flush=True)
            started = time.perf_counter()
            await seed(engine, cases, feeds)
            print(f"  imported in {time.perf_counter() - started:.1f} s", flush=True)
            print(f"  VACUUM ANALYZE in {await vacuum(engine):.1f} s", flush=True)
            await add_people(engine, cases)
        async with serving(engine) as client:
            if reuse is None:
                await hand_out(client, engine, cases)
                print(f"  ANALYZE in {await vacuum(engine, 'ANALYZE'):.1f} s", flush=True)
                print(f"seeded in {time.perf_counter() - began:.1f} s", flush=True)
            steps: dict[str, Callable[[], Awaitable[None]]] = {
                "pages": lambda: pages(client, engine, runs),
                "filters": lambda: filtered(client, engine, runs),
                "counts": lambda: counts(client, engine, runs),
                "daily": lambda: daily(engine),
                "reports": lambda: reports(engine),
            }
            for name in sections:
                started = time.perf_counter()
                await steps[name]()
                print(f"  ({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    print(f"\nwall time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases to seed")
    parser.add_argument("--feeds", type=int, default=10, help="daily feeds that open them")
    parser.add_argument("--runs", type=int, default=7, help="requests per figure (median)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure a kept database again")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"what to measure, comma-separated (default: {','.join(SECTIONS)})",
    )
    arguments = parser.parse_args()
    chosen = [s.strip() for s in arguments.sections.split(",") if s.strip()]
    if unknown := set(chosen) - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if arguments.cases < 10 * PAGE or arguments.feeds < 1:
        parser.error(f"--cases must be at least {10 * PAGE} and --feeds at least 1")
    asyncio.run(
        main(
            arguments.cases,
            arguments.feeds,
            arguments.runs,
            arguments.keep,
            arguments.reuse,
            chosen,
        )
    )
