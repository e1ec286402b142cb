"""Load test of the persona mixes against a real `arrears serve --workers N` on PostgreSQL.

The personas are the service's three kinds of client: the collector workbench, an agency's
sync and the auditor's trail, over loopback. For each worker count it creates a fresh database
on the server ARREARS_BENCH_DATABASE_URL names (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test), seeds the demo into it with `arrears demo`
(3,000 cases by default, so that each agency's placed cases take three pages of 100), creates
an API client for each agency with `arrears client create`, starts `arrears serve --workers N`
on a free loopback port (tests/servers.py) and runs each persona mix alone, then the three
together, for ``--seconds`` each with ``--users`` virtual users. A virtual user sends its next
request as soon as the last one is answered (closed loop, no think time), so the figures are
the service's capacity, not a traffic forecast. The database is dropped at the end, whatever
happened.

Per operation it prints the count, throughput, p50/p95/p99 latency and the errors: any answer
that is not HTTP 200, or carries GraphQL errors, or never came, is an error, and the first
codes are printed, so that a run that measured refusals cannot pass for a fast one; so is an
answer that cannot be right (pages of cases that miss or repeat one, audit pages out of order,
a retried batch that logs its contacts again). Mutations' typed refusals (a conduct rule that
another user's call made binding meanwhile) are counted apart as "refused", with their codes.
With each phase go the CPU seconds the server, its PostgreSQL backends, this load generator and
the machine's other work used, and per request: the machine is shared. After the load,
`arrears audit verify` checks the chains the concurrent requests wrote. It exits 1 when any
request was an error or the trail does not verify.

Run it from the repository root (it reuses the end-to-end tests' server starter):

    python -m benchmarks.load [--workers 1,2] [--seconds 20] [--users 8] [--cases 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from graphql import OperationDefinitionNode, build_schema, parse, validate
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.auth import mint_token
from api.settings import Settings
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.servers import serve_process

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MIXES = ("collector", "agency", "auditor", "mixed")
# The mixed phase's users, in turn: half collectors, a quarter agency systems, a quarter auditors.
MIXED_USERS = ("collector", "agency", "collector", "auditor")
COLLECTOR_LOGINS = ("collector1", "collector2", "collector3", "lead1")
AGENCIES = ("Acme Recovery", "Zenith Collections")
AGENCY_LOGINS = {"Acme Recovery": "acme.agent1", "Zenith Collections": "zenith.agent1"}
AUDITOR_LOGIN = "auditor1"
# A collector records work (a call, or an e-mail when a call is not allowed) on this share of
# the cases they open; an agency system logs its dialler's outcomes this many at a time.
WORK_SHARE = 0.3
BATCH = 10
# The share of batches an agency's system sends twice, as after a lost answer (idempotency).
RETRY_SHARE = 0.1
AUDIT_PAGES = 3

WORKLIST = """
query Worklist($after: String) {
  myWorklist(first: 20, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { case { id reference daysPastDue totalOutstanding { amount currency } }
      reasons contactAllowedNow nextContactAt } }
  }
}
"""

CASE_DETAIL = """
query CaseDetail($id: ID!) {
  case(id: $id) {
    id reference status stage classification bucket daysPastDue conductProfile version
    totalOutstanding { amount currency }
    borrower { id fullName nationalId phone email address timeZone
      contactPoints { id kind value owner status timeZone } flags { flag reviewOn } }
    debts { id accountNumber productType status daysPastDue outstanding { amount currency }
      instalments { sequence dueDate amountDue { amount } amountPaid { amount } } }
    promises { id amount { amount currency } dueDate status paidAmount { amount } }
    timeline(first: 20) {
      pageInfo { hasNextPage endCursor }
      edges { node { id at kind summary actor { login } contact { channel outcome } } }
    }
  }
}
"""

ALLOWANCE = """
query Allowance($id: ID!) {
  contactAllowance(caseId: $id, channel: PHONE) {
    allowed nextAllowedAt attemptsLeftToday checks { rule passed detail }
  }
}
"""

START_CONTACT = """
mutation StartContact($input: StartContactInput!) {
  startContact(input: $input) {
    __typename
    ... on StartContactSuccess { contact { id } }
    ... on UserError { code message field }
  }
}
"""

COMPLETE_CONTACT = """
mutation CompleteContact($input: CompleteContactInput!) {
  completeContact(input: $input) {
    __typename
    ... on CompleteContactSuccess { contact { id outcome breaches } }
    ... on UserError { code message field }
  }
}
"""

LOG_CONTACT = """
mutation LogContact($input: LogContactInput!) {
  logContact(input: $input) {
    __typename
    ... on LogContactSuccess { contact { id breaches } }
    ... on UserError { code message field }
  }
}
"""

AGENCY_CASES = """
query AgencyCases($after: String) {
  cases(first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id reference status stage bucket classification daysPastDue version
      totalOutstanding { amount currency } placementEndsOn
      borrower { id fullName phone } debts { accountNumber outstanding { amount currency } } } }
  }
}
"""


def log_batch(size: int) -> str:
    """One mutation logging ``size`` contacts, as a dialler posts a batch of outcomes."""
    variables = ", ".join(f"$c{i}: LogContactInput!" for i in range(size))
    fields = " ".join(
        f"c{i}: logContact(input: $c{i}) {{ __typename "
        f"... on LogContactSuccess {{ contact {{ id }} }} ... on UserError {{ code message }} }}"
        for i in range(size)
    )
    return f"mutation LogBatch({variables}) {{ {fields} }}"


AUDIT_ENTRY = """
id at actorLogin actorRoles action outcome resourceType resourceIds caseIds borrowerIds
fields { name clear } reasonCode operationName operationType changes chain seq hash
"""

AUDIT_TRAIL = f"""
query AuditTrail($after: String, $filter: AuditFilter) {{
  auditTrail(first: 50, after: $after, filter: $filter) {{
    pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ {AUDIT_ENTRY} }} }}
  }}
}}
"""

ACCESS_HISTORY = f"""
query AccessHistory($borrower: ID!) {{
  accessHistory(borrowerId: $borrower, first: 20) {{
    pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ {AUDIT_ENTRY} }} }}
  }}
}}
"""

AUDITOR_CASES = """
query AuditorCases {
  cases(first: 20, orderBy: OPENED_ON_DESC) { edges { node { id reference borrower { id } } } }
}
"""

CASE_TIMELINE = """
query CaseTimeline($id: ID!) {
  case(id: $id) {
    id reference status stage version
    timeline(first: 50) {
      pageInfo { hasNextPage endCursor }
      edges { node { id at kind summary actor { login } assignee { login } agency { name }
        contact { channel direction outcome blocked breaches } promise { status }
        payment { reference reversed } } }
    }
  }
}
"""

# Every document the virtual users send, by operation name (checked before anything runs).
DOCUMENTS = {
    "Worklist": WORKLIST,
    "CaseDetail": CASE_DETAIL,
    "Allowance": ALLOWANCE,
    "StartContact": START_CONTACT,
    "CompleteContact": COMPLETE_CONTACT,
    "LogContact": LOG_CONTACT,
    "AgencyCases": AGENCY_CASES,
    "LogBatch": log_batch(BATCH),  # its retries too, reported as LogBatchRetry
    "AuditTrail": AUDIT_TRAIL,
    "AccessHistory": ACCESS_HISTORY,
    "CaseTimeline": CASE_TIMELINE,
    "AuditorCases": AUDITOR_CASES,
}


def check_documents() -> None:
    """Refuses to run when a document does not validate against schema.graphql (the SDL the
    server serves) or is not named as it is reported: a renamed field would otherwise turn the
    load test into a measurement of validation errors."""
    schema = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    for name, source in DOCUMENTS.items():
        document = parse(source)
        problems = [error.message for error in validate(schema, document)]
        named = [
            d.name.value
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode) and d.name
        ]
        if named != [name]:
            problems.append(f"the operation is named {named}, not {name!r}")
        if problems:
            raise SystemExit(f"the load test's {name} document is out of date: {problems[0]}")


# ---- measuring ------------------------------------------------------------------------------


@dataclass
class Operation:
    """What one operation's requests gave in a phase."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


@dataclass
class Recorder:
    """Every request of a phase, by operation name."""

    operations: dict[str, Operation] = field(default_factory=dict)

    def of(self, name: str) -> Operation:
        return self.operations.setdefault(name, Operation())


def error_codes(body: Any) -> list[str]:
    """The `extensions.code` of each GraphQL error in a body (or what stands in for one)."""
    if not isinstance(body, dict):
        return []
    errors = body.get("errors") or []
    return [
        str((error.get("extensions") or {}).get("code") or "NO_CODE")
        if isinstance(error, dict)
        else "NO_CODE"
        for error in errors
    ]


class Caller:
    """One virtual user's identity on the shared HTTP client: every request it sends is timed
    and classified into the recorder."""

    def __init__(self, client: httpx.AsyncClient, token: str, recorder: Recorder) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.recorder = recorder

    async def graphql(self, name: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Sends one operation; returns its `data` ({} for an error, which is recorded)."""
        operation = self.recorder.of(name)
        started = time.perf_counter()
        try:
            response = await self.client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=self.headers
            )
        except httpx.HTTPError as exc:  # no answer at all: an error like any other
            operation.latencies.append((time.perf_counter() - started) * 1000)
            self._error(operation, type(exc).__name__, repr(exc))
            return {}
        operation.latencies.append((time.perf_counter() - started) * 1000)
        try:
            body = response.json()
        except ValueError:
            body = None
        codes = error_codes(body)
        if response.status_code != 200:
            code = f"HTTP {response.status_code}" + (f" {codes[0]}" if codes else "")
            self._error(operation, code, response.text[:200])
            return {}
        if codes or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            self._error(operation, ",".join(codes) or "NO_DATA", json.dumps(body)[:200])
            return {}
        data: dict[str, Any] = body["data"]
        for answer in data.values():  # a mutation's typed refusal (a member of its union)
            if isinstance(answer, dict) and "code" in answer:
                operation.refused[str(answer["code"])] += 1
        return data

    def wrong(self, name: str, detail: str) -> None:
        """Records an answer that came back 200 but cannot be right (a page repeating an earlier
        one's rows, a count that disagrees with the rows): an error of that operation."""
        self._error(self.recorder.of(name), "WRONG_ANSWER", detail)

    @staticmethod
    def _error(operation: Operation, code: str, detail: str) -> None:
        operation.errors[code] += 1
        if len(operation.examples) < 3:
            operation.examples.append(f"{code}: {detail}")


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


# ---- the personas ---------------------------------------------------------------------------


def key() -> str:
    """A fresh idempotency key: a retry of the same request would send the same one."""
    return str(uuid.uuid4())


def moments_ago(rng: random.Random) -> str:
    """A time in the last hour, when an agency's dialler made the call it reports."""
    return (datetime.now(UTC) - timedelta(seconds=rng.randint(60, 3600))).isoformat()


async def collector(caller: Caller, rng: random.Random, deadline: float) -> None:
    """A collector at the workbench: opens the worklist (sometimes its next page), opens one of
    the first cases with its borrower, debts and timeline, asks whether a call is allowed, and
    on some cases records work: the call (start, then its outcome) when it is allowed, else an
    e-mail sent, logged after the fact."""
    after: str | None = None
    while time.perf_counter() < deadline:
        data = await caller.graphql("Worklist", WORKLIST, {"after": after})
        page = data.get("myWorklist") or {}
        edges = page.get("edges") or []
        more = (page.get("pageInfo") or {}).get("hasNextPage")
        after = page["pageInfo"]["endCursor"] if more and rng.random() < 0.2 else None
        if not edges or time.perf_counter() >= deadline:
            continue
        case_id = rng.choice(edges[:10])["node"]["case"]["id"]
        await caller.graphql("CaseDetail", CASE_DETAIL, {"id": case_id})
        if time.perf_counter() >= deadline:
            break
        allowance = (await caller.graphql("Allowance", ALLOWANCE, {"id": case_id})).get(
            "contactAllowance"
        ) or {}
        if rng.random() >= WORK_SHARE or time.perf_counter() >= deadline:
            continue
        if allowance.get("allowed"):
            started = await caller.graphql(
                "StartContact",
                START_CONTACT,
                {"input": {"caseId": case_id, "channel": "PHONE", "idempotencyKey": key()}},
            )
            contact = (started.get("startContact") or {}).get("contact")
            if contact:
                outcome = rng.choice(
                    ["NO_ANSWER", "NO_ANSWER", "LEFT_MESSAGE", "BUSY_OR_NOT_CONNECTED"]
                )
                await caller.graphql(
                    "CompleteContact",
                    COMPLETE_CONTACT,
                    {"input": {"contactId": contact["id"], "outcome": outcome}},
                )
        else:
            email = {
                "caseId": case_id,
                "channel": "EMAIL",
                "direction": "OUTBOUND",
                "outcome": "DELIVERED",
                "idempotencyKey": key(),
            }
            await caller.graphql("LogContact", LOG_CONTACT, {"input": email})


def ids_of(data: dict[str, Any]) -> dict[str, str | None]:
    """The contact each alias of a logged batch answered with (None for a refusal)."""
    return {alias: (answer.get("contact") or {}).get("id") for alias, answer in data.items()}


async def agency(caller: Caller, rng: random.Random, deadline: float) -> None:
    """An agency's system syncing: pages through every case placed with the agency, 100 at a
    time, then posts its dialler's outcomes on some of them in one batch."""
    while time.perf_counter() < deadline:
        case_ids: list[str] = []
        after: str | None = None
        while time.perf_counter() < deadline:
            page = (await caller.graphql("AgencyCases", AGENCY_CASES, {"after": after})).get(
                "cases"
            ) or {}
            case_ids += [edge["node"]["id"] for edge in page.get("edges") or []]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                # Contacts move no case in the order (days past due, then ID), so the pages
                # must hold every case once.
                if page and len(set(case_ids)) != page["totalCount"]:
                    caller.wrong(
                        "AgencyCases",
                        f"{len(case_ids)} rows ({len(set(case_ids))} distinct) in the pages, "
                        f"totalCount {page['totalCount']}",
                    )
                break
            after = info["endCursor"]
        if not case_ids or time.perf_counter() >= deadline:
            continue
        calls = {
            f"c{i}": {
                "caseId": rng.choice(case_ids),
                "channel": "PHONE",
                "direction": "OUTBOUND",
                "outcome": rng.choice(["NO_ANSWER", "BUSY_OR_NOT_CONNECTED", "LEFT_MESSAGE"]),
                "occurredAt": moments_ago(rng),
                "idempotencyKey": key(),
            }
            for i in range(BATCH)
        }
        logged = await caller.graphql("LogBatch", log_batch(BATCH), calls)
        if logged and rng.random() < RETRY_SHARE and time.perf_counter() < deadline:
            # The dialler did not see the answer (a timeout, say) and sends the batch again: the
            # same keys must give back the same contacts, not log them twice.
            again = await caller.graphql("LogBatchRetry", log_batch(BATCH), calls)
            if again and ids_of(again) != ids_of(logged):
                caller.wrong("LogBatchRetry", f"{ids_of(logged)} then {ids_of(again)}")


async def auditor(caller: Caller, rng: random.Random, deadline: float) -> None:
    """An auditor following the trail: pages through the newest entries, then for one case they
    name (or, while the trail names none, one of the newest cases) reads its timeline and its
    own entries, and who saw a borrower's personal data."""
    while time.perf_counter() < deadline:
        cases: list[str] = []
        borrowers: list[str] = []
        last: int | None = None
        after: str | None = None
        for _ in range(AUDIT_PAGES):
            if time.perf_counter() >= deadline:
                return
            page = (
                await caller.graphql("AuditTrail", AUDIT_TRAIL, {"after": after, "filter": None})
            ).get("auditTrail") or {}
            for edge in page.get("edges") or []:
                entry = edge["node"]
                # "AuditEntry:<n>" in base64 (an audit entry is no Node: from_global_id refuses it)
                number = int(base64.b64decode(entry["id"]).decode().rpartition(":")[2])
                # Newest first by a keyset on the entry's number: the pages' numbers fall,
                # whatever was written meanwhile (newer entries come before the cursor).
                if last is not None and number >= last:
                    caller.wrong("AuditTrail", f"entry {number} after entry {last}")
                last = number
                cases += entry["caseIds"]
                borrowers += entry["borrowerIds"]
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                break
            after = info["endCursor"]
        if time.perf_counter() >= deadline:
            break
        if not cases:  # a young trail names no case yet: the auditor looks one up
            found = (await caller.graphql("AuditorCases", AUDITOR_CASES, {})).get("cases") or {}
            for edge in found.get("edges") or []:
                cases.append(edge["node"]["id"])
                borrowers.append(edge["node"]["borrower"]["id"])
            if not cases or time.perf_counter() >= deadline:
                continue
        case_id = rng.choice(cases)
        await caller.graphql("CaseTimeline", CASE_TIMELINE, {"id": case_id})
        if time.perf_counter() >= deadline:
            break
        await caller.graphql(
            "CaseAuditTrail", AUDIT_TRAIL, {"after": None, "filter": {"caseId": case_id}}
        )
        if borrowers and time.perf_counter() < deadline:
            await caller.graphql(
                "AccessHistory", ACCESS_HISTORY, {"borrower": rng.choice(borrowers)}
            )


PERSONAS: dict[str, Callable[[Caller, random.Random, float], Awaitable[None]]] = {
    "collector": collector,
    "agency": agency,
    "auditor": auditor,
}


# ---- set-up ---------------------------------------------------------------------------------


def benchmark_env(args: argparse.Namespace) -> dict[str, str]:
    """The settings the server runs with, chosen so that the test measures the service and not
    its refusals; printed with the results.

    Production mode, as deployed. The per-caller cap (4 at once by default) stands for one
    person; here several virtual users share a login (all auditors are auditor1), so it is
    raised to the number of users, else their requests would queue behind each other or be
    refused with 429. The process's cap of requests at once (10) stays: it queues, refuses
    nothing, and is what a deployment runs with. API clients' tokens outlive a phase.

    How queries execute is set outright: the test suite's conftest, imported with the server
    starter, asks every server it starts for its differential mode (each query run twice)."""
    env = {
        "ARREARS_MAX_CONCURRENT_PER_CALLER": str(max(4, args.users)),
        "ARREARS_CLIENT_TOKEN_TTL_SECONDS": str(max(900, int(args.seconds) + 300)),
        "ARREARS_LIMITS_STORAGE": args.limits_storage,
    }
    if args.execution is not None:
        env["ARREARS_EXECUTION"] = args.execution
    return env


def default_execution() -> str | None:
    """The service's own way of executing queries (Settings.execution), if it has a choice."""
    declared = Settings.model_fields.get("execution")
    return None if declared is None else str(declared.default)


SHOWN = (
    "env",
    "execution",
    "shared_limits",
    "max_concurrent_per_caller",
    "max_concurrent_requests",
    "unauthenticated_per_minute",
    "reveal_limit_per_hour",
    "client_token_ttl_seconds",
    "audit_reads",
    "log_level",
    "database_timeout_seconds",
    "max_response_bytes",
)


def describe_settings(url: str, env: dict[str, str], workers: int) -> list[str]:
    """The server's settings that bear on the figures, read as the server reads them."""
    given: dict[str, Any] = {
        name.removeprefix("ARREARS_").lower(): value for name, value in env.items()
    }
    settings = Settings(
        **given,
        database_url=url,
        env="production",
        secret_key=TEST_SECRET,
        audit_secret=TEST_AUDIT_SECRET,
        workers=workers,
    )
    return [f"{name}={getattr(settings, name)}" for name in SHOWN if hasattr(settings, name)]


def cli(url: str, *args: str) -> str:
    """Runs an `arrears` command against the benchmark's database; returns its output."""
    result = run_cli(url, *args)
    if result.returncode != 0:
        raise SystemExit(f"arrears {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs an `arrears` command against the benchmark's database, as the operator would."""
    environment = {
        **os.environ,
        "ARREARS_DATABASE_URL": url,
        "ARREARS_ENV": "production",
        "ARREARS_SECRET_KEY": TEST_SECRET,
        "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def administration() -> AsyncEngine:
    """An engine on the ARREARS_BENCH_DATABASE_URL server's own database, to create and drop
    the benchmark's databases and to find their backends."""
    base = os.environ.get("ARREARS_BENCH_DATABASE_URL", DEFAULT_URL)
    return create_async_engine(base, isolation_level="AUTOCOMMIT")


@asynccontextmanager
async def fresh_database(admin: AsyncEngine) -> AsyncIterator[str]:
    """Creates an empty database on the server, yields its URL and drops it afterwards,
    whatever happened (the server's connections with it)."""
    name = f"arrears_load_{uuid.uuid4().hex[:8]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def server_version(admin: AsyncEngine) -> str:
    """The PostgreSQL server's version, for the header."""
    async with admin.connect() as conn:
        return str((await conn.execute(text("SHOW server_version"))).scalar_one())


@dataclass
class Identities:
    """Who the virtual users are: staff tokens by login, and each agency's API client."""

    settings: Settings
    clients: dict[str, tuple[str, str]]
    staff: dict[str, str] = field(default_factory=dict)

    def staff_token(self, login: str) -> str:
        if login not in self.staff:
            self.staff[login] = mint_token(self.settings, login)
        return self.staff[login]


async def client_token(client: httpx.AsyncClient, credentials: tuple[str, str]) -> str:
    """Exchanges an API client's credentials at POST /oauth/token, as a partner's system does."""
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials
    )
    if response.status_code != 200:
        raise SystemExit(f"/oauth/token answered {response.status_code}: {response.text[:200]}")
    return str(response.json()["access_token"])


async def tokens_for(
    mix: str, users: int, client: httpx.AsyncClient, identities: Identities
) -> list[tuple[str, str]]:
    """Each virtual user's persona and bearer token. Agency users take turns: one agency's API
    client, the other's, then each agency's demo agent (both ways of signing in); API clients
    exchange their credentials afresh each phase, as a sync job does when it starts."""
    kinds = [MIXED_USERS[i % len(MIXED_USERS)] if mix == "mixed" else mix for i in range(users)]
    exchanged = {
        agency_name: await client_token(client, credentials)
        for agency_name, credentials in identities.clients.items()
    }
    result: list[tuple[str, str]] = []
    for kind in kinds:
        turn = sum(1 for earlier, _ in result if earlier == kind)
        if kind == "collector":
            token = identities.staff_token(COLLECTOR_LOGINS[turn % len(COLLECTOR_LOGINS)])
        elif kind == "agency":
            name = AGENCIES[turn % len(AGENCIES)]
            api_client = turn % (2 * len(AGENCIES)) < len(AGENCIES)
            token = exchanged[name] if api_client else identities.staff_token(AGENCY_LOGINS[name])
        else:
            token = identities.staff_token(AUDITOR_LOGIN)
        result.append((kind, token))
    return result


# ---- running --------------------------------------------------------------------------------


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with suppress(OSError):  # a process that ended meanwhile
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O), all CPUs."""
    fields = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Cpu:
    """CPU seconds: the machine busy, and of that the server's processes, the PostgreSQL
    backends serving the benchmark's database and this load generator; and the connections
    (sessions) PostgreSQL accepted for that database."""

    machine: float
    server: float
    database: float
    generator: float
    sessions: int = 0

    @property
    def other(self) -> float:
        """What the machine's other work took (other databases' backends, other programs)."""
        return max(0.0, self.machine - self.server - self.database - self.generator)


@dataclass
class CpuMeter:
    """Reads the CPU used so far, so that each phase reports what it added: how much of the
    machine the service had, and how much other work took meanwhile."""

    server_pid: int
    database: str
    admin: AsyncEngine

    async def read(self) -> tuple[Cpu, dict[int, float]]:
        name = {"name": self.database}
        async with self.admin.connect() as conn:
            backends = (
                await conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), name
                )
            ).scalars()
            database = {int(pid): tree_cpu(int(pid)) for pid in backends}
            # Statistics are read as of the transaction's start, and the collector lags a
            # little: a snapshot taken afresh, at the phase's edges (seconds apart).
            await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            sessions = (
                await conn.execute(
                    text("SELECT sessions FROM pg_stat_database WHERE datname = :name"), name
                )
            ).scalar_one()
        cpu = Cpu(machine_busy(), tree_cpu(self.server_pid), 0.0, time.process_time(), sessions)
        return cpu, database

    @staticmethod
    def used(before: tuple[Cpu, dict[int, float]], after: tuple[Cpu, dict[int, float]]) -> Cpu:
        """The CPU seconds between two readings (a backend that ended meanwhile is missed; the
        pool keeps them open)."""
        (start, backends_before), (end, backends_after) = before, after
        return Cpu(
            end.machine - start.machine,
            end.server - start.server,
            sum(cpu - backends_before.get(pid, 0.0) for pid, cpu in backends_after.items()),
            end.generator - start.generator,
            end.sessions - start.sessions,
        )


@dataclass
class Phase:
    """One mix's run: what its users recorded, how long it took (until the last answer came),
    the users per persona and the CPU used meanwhile."""

    mix: str
    recorder: Recorder
    elapsed: float
    users: Counter[str]
    cpu: Cpu

    @property
    def requests(self) -> int:
        return sum(len(o.latencies) for o in self.recorder.operations.values())


async def run_phase(
    client: httpx.AsyncClient,
    meter: CpuMeter,
    mix: str,
    args: argparse.Namespace,
    identities: Identities,
) -> Phase:
    """Runs one mix with ``--users`` virtual users until ``--seconds`` have passed."""
    recorder = Recorder()
    assigned = await tokens_for(mix, args.users, client, identities)
    before = await meter.read()
    started = time.perf_counter()
    deadline = started + args.seconds
    await asyncio.gather(
        *(
            PERSONAS[kind](Caller(client, token, recorder), random.Random(args.seed + n), deadline)
            for n, (kind, token) in enumerate(assigned)
        )
    )
    elapsed = time.perf_counter() - started
    return Phase(
        mix,
        recorder,
        elapsed,
        Counter(kind for kind, _ in assigned),
        CpuMeter.used(before, await meter.read()),
    )


@dataclass
class Totals:
    """A phase's figures over all its operations, for the closing summary."""

    workers: int
    mix: str
    requests: int
    rate: float
    p50: float
    p95: float
    p99: float
    errors: int
    refused: int
    cpu: Cpu
    elapsed: float


def report(workers: int, phase: Phase) -> Totals:
    """Prints a phase's table; returns its totals."""
    who = ", ".join(f"{count} {kind}" for kind, count in sorted(phase.users.items()))
    elapsed = phase.elapsed
    cpus = len(os.sched_getaffinity(0))
    print(f"\n--- workers={workers} mix={phase.mix} ({who}; {elapsed:.1f} s) ---")
    cpu = phase.cpu
    print(
        f"CPU seconds: machine busy {cpu.machine:.1f} of {elapsed * cpus:.1f} ({cpus} CPUs): "
        f"server {cpu.server:.1f}, its PostgreSQL backends {cpu.database:.1f}, load generator "
        f"{cpu.generator:.1f}, other work {cpu.other:.1f}"
    )
    if phase.requests:
        print(
            f"CPU per request: server {cpu.server * 1000 / phase.requests:.1f} ms, "
            f"its PostgreSQL backends {cpu.database * 1000 / phase.requests:.1f} ms (at least: "
            f"a backend that ended meanwhile is missed); PostgreSQL connections opened: "
            f"{cpu.sessions} ({cpu.sessions * 100 / phase.requests:.0f} per 100 requests)"
        )
    print(
        f"{'operation':<16}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'refused':>9}  first error codes / refusals"
    )
    every: list[float] = []
    errors = refused = 0
    for name, operation in sorted(phase.recorder.operations.items()):
        ordered = sorted(operation.latencies)
        every += ordered
        failed, turned_down = sum(operation.errors.values()), sum(operation.refused.values())
        errors += failed
        refused += turned_down
        codes = [f"{code}×{n}" for code, n in operation.errors.most_common(3)]
        codes += [f"refused {code}×{n}" for code, n in operation.refused.most_common(3)]
        figures = (
            f"{percentile(ordered, 0.50):>9.1f}{percentile(ordered, 0.95):>9.1f}"
            f"{percentile(ordered, 0.99):>9.1f}"
            if ordered
            else f"{'-':>9}{'-':>9}{'-':>9}"
        )
        print(
            f"{name:<16}{len(ordered):>7}{len(ordered) / elapsed:>8.1f}{figures}"
            f"{failed:>8}{turned_down:>9}  {' '.join(codes)}"
        )
        for example in operation.examples:
            print(f"{'':<16}  e.g. {example}")
    every.sort()
    if not every:
        print("(no requests)")
        return Totals(workers, phase.mix, 0, 0.0, 0.0, 0.0, 0.0, errors, refused, cpu, elapsed)
    totals = Totals(
        workers,
        phase.mix,
        len(every),
        len(every) / elapsed,
        percentile(every, 0.50),
        percentile(every, 0.95),
        percentile(every, 0.99),
        errors,
        refused,
        cpu,
        elapsed,
    )
    print(
        f"{'all':<16}{totals.requests:>7}{totals.rate:>8.1f}{totals.p50:>9.1f}{totals.p95:>9.1f}"
        f"{totals.p99:>9.1f}{errors:>8}{refused:>9}"
    )
    return totals


def server_problems(log: Path) -> list[str]:
    """The server log's errors and 5xx answers (the log is JSON lines in production)."""
    problems = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line or "ERROR" in line:
                problems.append(line[:200])
            continue
        status = entry.get("status") if isinstance(entry, dict) else None
        level = entry.get("level") if isinstance(entry, dict) else None
        if level in ("error", "critical") or (isinstance(status, int) and status >= 500):
            problems.append(line[:300])
    return problems


async def run_workers(args: argparse.Namespace, workers: int, admin: AsyncEngine) -> list[Totals]:
    """Everything for one worker count, on its own fresh database."""
    results: list[Totals] = []
    async with fresh_database(admin) as url:
        started = time.perf_counter()
        cli(url, "demo", "--cases", str(args.cases))
        clients = {
            name: json.loads(cli(url, "client", "create", "--agency", name, "--name", "load"))
            for name in AGENCIES
        }
        env = benchmark_env(args)
        print(f"\n=== arrears serve --workers {workers} ===")
        print(
            f"fresh database seeded with {args.cases} demo cases and two API clients "
            f"in {time.perf_counter() - started:.1f} s"
        )
        print("server settings: " + " ".join(describe_settings(url, env, workers)))
        identities = Identities(
            Settings(
                database_url=url,
                env="production",
                secret_key=TEST_SECRET,
                audit_secret=TEST_AUDIT_SECRET,
            ),
            {name: (c["clientId"], c["clientSecret"]) for name, c in clients.items()},
        )
        with tempfile.TemporaryDirectory() as folder:
            log = Path(folder) / "server.log"
            with serve_process(url, log, extra_env=env, workers=workers) as served:
                limits = httpx.Limits(max_connections=args.users * 2)
                async with httpx.AsyncClient(
                    base_url=served.base, timeout=60, limits=limits
                ) as client:
                    meter = CpuMeter(served.process.pid, make_url(url).database or "", admin)
                    if args.warmup > 0:
                        warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
                        await run_phase(client, meter, "mixed", warm, identities)
                    for mix in args.mixes:
                        phase = await run_phase(client, meter, mix, args, identities)
                        results.append(report(workers, phase))
                # Stopped as an operator stops it (SIGTERM), so that its log is complete.
                served.process.terminate()
                with suppress(subprocess.TimeoutExpired):  # else serve_process kills it
                    served.process.wait(timeout=30)
            problems = server_problems(log)
            print(f"\nserver log: {len(problems)} errors or 5xx answers")
            for line in problems[:5]:
                print(f"  {line}")
        # Thousands of entries were chained by concurrent requests (and processes): the chains
        # must still verify.
        verified = run_cli(url, "audit", "verify")
        outcome = "verified" if verified.returncode == 0 else "FAILED"
        print(f"arrears audit verify: {outcome}: {verified.stdout.strip()}")
        if verified.returncode != 0:
            for line in verified.stderr.strip().splitlines()[:5]:
                print(f"  {line}")
            results.append(broken_trail(workers))
    return results


def broken_trail(workers: int) -> Totals:
    """A summary row that makes the run fail: the audit trail did not verify after the load."""
    return Totals(workers, "audit", 0, 0.0, 0.0, 0.0, 0.0, 1, 0, Cpu(0.0, 0.0, 0.0, 0.0), 1.0)


def summary(results: list[Totals]) -> None:
    """One line per worker count and mix, to compare them at a glance."""
    print("\n=== summary (all operations of a phase together) ===")
    print(
        "CPUs: the CPUs' worth the server, its PostgreSQL backends and other work used on "
        "average (1.00 = one CPU all along);\nCPU ms/req: the server's and its backends' CPU "
        "time per request, which contention on the machine changes far less than latency"
    )
    print(
        f"{'':<35}{'latency':^27}{'':<17}{'CPUs':^19}{'CPU ms/req':^14}\n"
        f"{'workers':>7}  {'mix':<10}{'requests':>9}{'req/s':>7}{'p50':>9}{'p95':>9}{'p99':>9}"
        f"{'errors':>8}{'refused':>9}{'server':>7}{'pg':>6}{'other':>6}{'server':>8}{'pg':>6}"
    )
    for t in results:
        per = 1000 / t.requests if t.requests else 0.0
        print(
            f"{t.workers:>7}  {t.mix:<10}{t.requests:>9}{t.rate:>7.1f}{t.p50:>9.1f}"
            f"{t.p95:>9.1f}{t.p99:>9.1f}{t.errors:>8}{t.refused:>9}"
            f"{t.cpu.server / t.elapsed:>7.2f}{t.cpu.database / t.elapsed:>6.2f}"
            f"{t.cpu.other / t.elapsed:>6.2f}{t.cpu.server * per:>8.1f}{t.cpu.database * per:>6.1f}"
        )


PERSONA_NOTES = (
    "personas (operation names as in the tables):",
    "  collector: Worklist (myWorklist, 20; now and then its next page) -> CaseDetail (case with "
    "borrower, contact points, debts, instalments, promises, timeline 20) -> Allowance "
    f"(contactAllowance PHONE) -> on {WORK_SHARE:.0%} of cases StartContact + CompleteContact "
    "when a call is allowed, else LogContact (an e-mail); logins collector1-3 and lead1",
    "  agency: AgencyCases (cases(first: 100, after:) through every case placed with the agency) "
    f"-> LogBatch (one mutation of {BATCH} logContact); users take turns: Acme's and Zenith's "
    "API clients (token from POST /oauth/token), acme.agent1, zenith.agent1",
    f"  auditor: AuditTrail ({AUDIT_PAGES} pages of 50, newest first) -> CaseTimeline (a named "
    "case's timeline, 50; AuditorCases finds one while the trail names none) -> CaseAuditTrail "
    "(auditTrail filtered by that case) -> AccessHistory (a named borrower); login auditor1",
    "  every mutation carries its own idempotencyKey; refused = a mutation's typed refusal",
)


def code_state() -> str:
    """The commit the server runs, and whether the working tree differs from it (the server
    runs the tree as it stands)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "?"

    changed = [line for line in git("status", "--porcelain").splitlines() if line]
    state = f"{len(changed)} files changed or new in the working tree" if changed else "clean"
    return f"{git('rev-parse', '--short', 'HEAD')} ({state})"


def header(args: argparse.Namespace, version: str) -> None:
    """What the figures were measured on; the machine is shared, so they vary between runs."""
    load = os.getloadavg()
    print(f"command: python -m benchmarks.load {shlex.join(sys.argv[1:])}")
    print(f"started: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"code: {code_state()}")
    print(
        f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; Python "
        f"{platform.python_version()}; PostgreSQL {version} on the same machine"
    )
    print(
        "note: the server, PostgreSQL and this load generator share these CPUs, and other work "
        "runs on the machine at the same time: compare figures within one run, not across runs"
    )
    for line in PERSONA_NOTES:
        print(line)
    print(
        f"load: {args.users} virtual users per phase, closed loop (no think time), "
        f"{args.seconds:g} s per phase after a {args.warmup:g} s warm-up; "
        f"mixes {', '.join(args.mixes)}"
    )


async def main(args: argparse.Namespace) -> int:
    check_documents()
    admin = administration()
    try:
        header(args, await server_version(admin))
        results: list[Totals] = []
        for workers in args.workers:
            results += await run_workers(args, workers, admin)
    finally:
        await admin.dispose()
    summary(results)
    failed = sum(t.errors for t in results)
    if failed:
        print(f"\n{failed} requests failed: these figures measure failures too")
    return 1 if failed else 0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--workers",
        type=lambda value: [int(n) for n in value.split(",")],
        default=[1, 2],
        help="worker counts to run, comma-separated (default 1,2)",
    )
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--users", type=int, default=8, help="concurrent virtual users")
    parser.add_argument("--cases", type=int, default=3000, help="demo cases to seed")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per server")
    parser.add_argument(
        "--mixes",
        type=lambda value: value.split(","),
        default=list(MIXES),
        help=f"phases to run, comma-separated (default {','.join(MIXES)})",
    )
    parser.add_argument(
        "--limits-storage",
        default="auto",
        choices=["auto", "memory", "database", "redis"],
        help="ARREARS_LIMITS_STORAGE (auto: memory with one worker, the database with more)",
    )
    parser.add_argument("--seed", type=int, default=7, help="the virtual users' random seed")
    execution = default_execution()
    if execution is not None:
        parser.add_argument(
            "--execution",
            default=execution,
            help=f"ARREARS_EXECUTION, how queries execute (default {execution}, the service's)",
        )
    else:
        parser.set_defaults(execution=None)
    args = parser.parse_args()
    unknown = set(args.mixes) - set(MIXES)
    if unknown:
        parser.error(f"unknown mixes: {', '.join(sorted(unknown))}")
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(arguments())))
