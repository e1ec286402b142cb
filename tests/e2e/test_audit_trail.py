"""The audit trail end to end, as an auditor reads it: exactly one entry per request (plus its
denials), the right details in each, filters, access history, who may read it, no clear value
anywhere, failure entries of rolled-back changes, and intact chains under concurrent writers.

Every test runs on a database of its own (migrated and seeded afresh), so the entries it counts
are exactly the ones its own requests wrote.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.auth import mint_token
from api.common.ids import to_global_id
from api.settings import Settings
from store import tables
from store.audit import AUDIT_CHAINS, audit_key, verify
from store.db import create_engine
from store.demo import DEMO_LOGINS, seed_demo
from store.migrate import upgrade
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET

UA = "arrears-audit-trail-e2e/1.0"
a = tables.audit_entries.c
c = tables.cases.c
s = tables.staff.c

ENTRY = """
fragment Entry on AuditEntry {
  id at actorLogin actorRoles action outcome resourceType resourceIds borrowerIds caseIds
  fields { name clear } reasonCode reasonText clientIp userAgent requestId operationName
  operationType documentHash changes chain seq prevHash hash
}
"""
TRAIL = (
    """
query Trail($first: Int, $after: String, $filter: AuditFilter) {
  auditTrail(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ...Entry } }
  }
}
"""
    + ENTRY
)
HISTORY = (
    """
query History($borrowerId: ID!, $first: Int, $after: String) {
  accessHistory(borrowerId: $borrowerId, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ...Entry } }
  }
}
"""
    + ENTRY
)
WORKLIST = """
query Worklist($first: Int) {
  cases(first: $first) { edges { node { id borrower { id phone nationalId } } } }
}
"""
REVEAL = """
mutation Reveal($input: RevealConfidentialInput!) {
  revealConfidential(input: $input) {
    __typename
    ... on RevealConfidentialSuccess { revealed value }
    ... on UserError { code }
  }
}
"""
# Anonymous: the request names no operation either, so the entry has none.
REVEAL_ANONYMOUS = """
mutation ($input: RevealConfidentialInput!) {
  revealConfidential(input: $input) { __typename ... on UserError { code } }
}
"""
ASSIGN = """
mutation Assign($input: AssignCaseInput!) {
  assignCase(input: $input) {
    __typename
    ... on AssignCaseSuccess { case { id version assignee { login } } }
    ... on UserError { code field }
  }
}
"""
# Two operations in one document: the request picks one by operationName.
ASSIGN_OR_PEEK = (
    ASSIGN
    + """
query Peek { viewer { login } }
"""
)
GRANT = """
mutation Grant($input: RoleChangeInput!) {
  grantRole(input: $input) {
    __typename
    ... on RoleChangeSuccess { staff { login roles } change { id effectiveFrom } }
    ... on UserError { code }
  }
}
"""
CASE_BORROWER = """
query CaseBorrower($id: ID!) { case(id: $id) { id borrower { id %s } } }
"""
NODE_BORROWER = """
query NodeBorrower($id: ID!) { node(id: $id) { ... on Borrower { id %s } } }
"""
VIEWER = "query Me { viewer { login } }"


def sha256(text: str) -> str:
    """The document hash: keyed with the audit key, so that it cannot be brute-forced."""
    return hmac.new(audit_key(TEST_AUDIT_SECRET), text.encode(), hashlib.sha256).hexdigest()


def pk_of(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().partition(":")[2])


def entry_gid(pk: int) -> str:
    return to_global_id("AuditEntry", pk)


@dataclass
class World:
    """The real app on a database of its own, spoken to over HTTP (ASGI transport)."""

    http: httpx.AsyncClient
    settings: Settings
    engine: AsyncEngine
    app: Any = None
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, login: str) -> str:
        if login not in self._tokens:
            self._tokens[login] = mint_token(self.settings, login)
        return self._tokens[login]

    async def post(
        self,
        login: str | None,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        token: str | None = None,
        user_agent: str = UA,
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name is not None:
            body["operationName"] = operation_name
        bearer = token if token is not None else self.token(login or "")
        return await self.http.post(
            "/graphql",
            json=body,
            headers={"Authorization": f"Bearer {bearer}", "User-Agent": user_agent},
        )

    async def data(
        self, login: str, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """Returns ``data`` of a response that must carry no errors."""
        return (await self.sent(login, query, variables, **kw))[0]

    async def sent(
        self, login: str, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[dict[str, Any], str]:
        """Returns ``data`` and the request id the server gave the request."""
        response = await self.post(login, query, variables, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"], response.headers["x-request-id"]

    async def trail(
        self,
        first: int = 100,
        filter: dict[str, Any] | None = None,
        after: str | None = None,
        login: str = "auditor1",
    ) -> dict[str, Any]:
        variables = {"first": first, "filter": filter, "after": after}
        connection: dict[str, Any] = (await self.data(login, TRAIL, variables))["auditTrail"]
        return connection

    async def rows(self) -> list[Any]:
        """Every audit row, oldest first."""
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(tables.audit_entries).order_by(a.id))).all())

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            stmt = select(func.count()).select_from(tables.audit_entries)
            return int((await conn.execute(stmt)).scalar_one())

    async def staff_id(self, login: str) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())

    async def cases_of(self, login: str) -> list[tuple[int, int]]:
        """(case id, borrower id) of the open cases assigned to a login, by case id."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(c.id, c.borrower_id)
                .join(tables.staff, s.id == c.assignee_id)
                .where(s.login == login, c.status == "OPEN", c.agency_id.is_(None))
                .order_by(c.id)
            )
            return [(r.id, r.borrower_id) for r in rows]


@asynccontextmanager
async def open_world(url: str, **engine_options: Any) -> AsyncIterator[World]:
    """Migrates and seeds a new database and serves the real app over it."""
    engine = create_engine(url, **engine_options)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=40, seed=11)
        settings = Settings(
            database_url=url, secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET, env="test"
        )
        app = create_app(settings, engine=engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as h:
                w = World(h, settings, engine, app)
                assert await w.count() == 0  # a fresh trail: every entry below is ours
                yield w
    finally:
        await engine.dispose()


@pytest.fixture
async def world(empty_database_url: str) -> AsyncIterator[World]:
    async with open_world(empty_database_url) as w:
        yield w


def reveal_input(borrower_id: int, field_name: str, text: str = "call back") -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": to_global_id("Borrower", borrower_id),
            "field": field_name,
            "reasonCode": "CONTACT_BORROWER",
            "reasonText": text,
        }
    }


@dataclass
class Script:
    """What the scripted sequence did, to compare with what the trail says."""

    case_id: int
    borrower_id: int
    read_case_ids: list[int]
    read_borrower_ids: list[int]
    request_ids: list[str]
    staff: dict[str, int]
    grant: dict[str, str]  # the proposed role change: its id and start


async def run_script(world: World) -> Script:
    """Reads, reveals, a refusal, a denial, a change, a refused change, a proposed role grant
    (maker–checker: it waits for a second person's approval), a 401."""
    (case_id, borrower_id), *_ = await world.cases_of("collector1")
    case_gid = to_global_id("Case", case_id)
    ids: list[str] = []

    read, rid = await world.sent("collector1", WORKLIST, {"first": 3}, operation_name="Worklist")
    ids.append(rid)
    nodes = [e["node"] for e in read["cases"]["edges"]]
    assert len(nodes) == 3
    assert all("****" in n["borrower"]["phone"] for n in nodes)  # collectors see masks

    ok, rid = await world.sent(
        "collector1", REVEAL, reveal_input(borrower_id, "PHONE", "borrower asked for a call")
    )
    ids.append(rid)
    assert ok["revealConfidential"]["__typename"] == "RevealConfidentialSuccess"

    refused, rid = await world.sent(
        "collector1", REVEAL_ANONYMOUS, reveal_input(borrower_id, "NATIONAL_ID", "check id")
    )
    ids.append(rid)
    assert refused["revealConfidential"] == {
        "__typename": "RevealNotAllowedError",
        "code": "REVEAL_NOT_ALLOWED",
    }

    assign = {"input": {"caseId": case_gid, "assigneeLogin": "collector2"}}
    denied = await world.post("collector1", ASSIGN, assign)
    ids.append(denied.headers["x-request-id"])
    body = denied.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]

    changed, rid = await world.sent("manager", ASSIGN_OR_PEEK, assign, operation_name="Assign")
    ids.append(rid)
    assert changed["assignCase"]["case"]["assignee"] == {"login": "collector2"}

    ghost = {"input": {"caseId": case_gid, "assigneeLogin": "ghost"}}
    rule, rid = await world.sent("manager", ASSIGN, ghost)
    ids.append(rid)
    assert rule["assignCase"] == {
        "__typename": "NotFoundError",
        "code": "STAFF_NOT_FOUND",
        "field": "assigneeLogin",
    }

    granted, rid = await world.sent(
        "admin", GRANT, {"input": {"login": "collector2", "role": "legal", "reason": "cover"}}
    )
    ids.append(rid)
    assert granted["grantRole"]["staff"] == {"login": "collector2", "roles": ["collector"]}

    failed = await world.post(None, VIEWER, token="forged.token.value")
    ids.append(failed.headers["x-request-id"])
    assert failed.status_code == 401
    assert failed.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    assert len(set(ids)) == len(ids)
    staff = {login: await world.staff_id(login) for login in ("collector1", "collector2")}
    return Script(
        case_id=case_id,
        borrower_id=borrower_id,
        read_case_ids=sorted(pk_of(n["id"]) for n in nodes),
        read_borrower_ids=sorted({pk_of(n["borrower"]["id"]) for n in nodes}),
        request_ids=ids,
        staff=staff,
        grant=granted["grantRole"]["change"],
    )


# ---- The scripted sequence ------------------------------------------------------------------


async def test_the_trail_lists_exactly_what_the_sequence_did_newest_first(world: World) -> None:
    script = await run_script(world)
    case_gid = to_global_id("Case", script.case_id)
    borrower_gid = to_global_id("Borrower", script.borrower_id)

    trail = await world.trail(first=100)
    entries = [e["node"] for e in trail["edges"]]
    assert [(e["actorLogin"], e["action"], e["outcome"]) for e in entries] == [
        (None, "auth.failed", "DENIED"),
        ("admin", "policy.change", "ALLOWED"),
        ("manager", "case.assign", "DENIED"),
        ("manager", "case.assign", "ALLOWED"),
        ("collector1", "authz.denied", "DENIED"),
        ("collector1", "borrower.reveal", "DENIED"),
        ("collector1", "borrower.reveal", "ALLOWED"),
        ("collector1", "case.read", "ALLOWED"),
    ]
    assert trail["totalCount"] == 8
    assert trail["pageInfo"]["hasNextPage"] is False
    failed, grant, rule, change, denial, refused, reveal, read = entries

    # Each entry belongs to the request that caused it, in request order.
    assert [e["requestId"] for e in reversed(entries)] == script.request_ids
    assert all(e["userAgent"] == UA and e["clientIp"] == "127.0.0.1" for e in entries)
    ats = [datetime.fromisoformat(e["at"]) for e in entries]
    assert ats == sorted(ats, reverse=True)
    assert [pk_of(e["id"]) for e in entries] == sorted(
        (pk_of(e["id"]) for e in entries), reverse=True
    )

    assert read["actorRoles"] == ["collector"]
    assert read["resourceType"] == "Case"
    assert read["caseIds"] == [to_global_id("Case", pk) for pk in script.read_case_ids]
    assert read["resourceIds"] == read["caseIds"]
    assert read["borrowerIds"] == [to_global_id("Borrower", pk) for pk in script.read_borrower_ids]
    assert read["fields"] == [
        {"name": "national_id", "clear": False},
        {"name": "phone", "clear": False},
    ]
    assert (read["operationName"], read["operationType"]) == ("Worklist", "query")
    assert read["documentHash"] == sha256(WORKLIST)
    assert (read["reasonCode"], read["reasonText"], read["changes"]) == (None, None, None)

    assert reveal["resourceType"] == "Borrower"
    assert reveal["resourceIds"] == [borrower_gid]
    assert reveal["borrowerIds"] == [borrower_gid]
    assert reveal["fields"] == [{"name": "phone", "clear": True}]
    assert (reveal["reasonCode"], reveal["reasonText"]) == (
        "CONTACT_BORROWER",
        "borrower asked for a call",
    )
    assert reveal["changes"] is None
    assert (reveal["operationName"], reveal["operationType"]) == ("Reveal", "mutation")
    assert reveal["documentHash"] == sha256(REVEAL)

    assert refused["resourceIds"] == [borrower_gid]
    assert refused["borrowerIds"] == []  # nothing of the borrower was returned or revealed
    assert refused["fields"] == [{"name": "national_id", "clear": False}]
    assert (refused["reasonCode"], refused["reasonText"]) == ("CONTACT_BORROWER", "check id")
    assert refused["changes"] == {"refused": "REVEAL_NOT_ALLOWED"}
    assert (refused["operationName"], refused["operationType"]) == (None, "mutation")
    assert refused["documentHash"] == sha256(REVEAL_ANONYMOUS)

    assert denial["resourceType"] == "case"
    assert denial["changes"] == {"permission": "case:assign", "field": "assignCase"}
    assert (denial["borrowerIds"], denial["caseIds"], denial["fields"]) == ([], [], [])
    assert (denial["operationName"], denial["operationType"]) == ("Assign", "mutation")
    assert denial["documentHash"] == sha256(ASSIGN)

    assert change["actorRoles"] == ["manager"]
    assert (change["resourceType"], change["resourceIds"], change["caseIds"]) == (
        "Case",
        [case_gid],
        [case_gid],
    )
    assert change["changes"] == {
        "assignee_id": script.staff["collector2"],
        "previous_assignee_id": script.staff["collector1"],
    }
    assert (change["operationName"], change["operationType"]) == ("Assign", "mutation")
    assert change["documentHash"] == sha256(ASSIGN_OR_PEEK)
    assert (change["borrowerIds"], change["fields"]) == ([], [])

    assert (rule["resourceIds"], rule["caseIds"]) == ([case_gid], [case_gid])
    assert rule["changes"] == {"refused": "STAFF_NOT_FOUND"}
    assert rule["documentHash"] == sha256(ASSIGN)

    assert grant["actorRoles"] == ["admin"]
    assert grant["resourceType"] == "RuleChange"
    staff_gid = to_global_id("Staff", script.staff["collector2"])
    assert grant["resourceIds"] == [script.grant["id"], staff_gid]
    assert grant["changes"] == {
        "change": "PROPOSED",
        "kind": "ROLE_GRANT",
        "name": "collector2",
        "effectiveFrom": datetime.fromisoformat(script.grant["effectiveFrom"]).isoformat(),
        "proposedBy": to_global_id("Staff", await world.staff_id("admin")),
    }
    assert (grant["operationName"], grant["operationType"]) == ("Grant", "mutation")
    assert grant["documentHash"] == sha256(GRANT)

    assert failed["actorRoles"] == []
    assert failed["clientIp"] == "127.0.0.1"
    assert failed["changes"] == {"reason": "invalid token", "count": 1}
    assert (failed["operationName"], failed["operationType"], failed["documentHash"]) == (
        None,
        None,
        None,
    )

    # What the API shows is what the chain holds (and the auditor's read is now in it too).
    async with world.engine.connect() as conn:
        assert await verify(conn, world.settings.audit_key) == (8 + 1, [])
    rows = {entry_gid(r.id): r for r in await world.rows()}
    for entry in entries:
        row = rows[entry["id"]]
        assert (entry["chain"], entry["seq"], entry["prevHash"], entry["hash"]) == (
            row.chain,
            row.seq,
            row.prev_hash,
            row.hash,
        )


async def test_an_auditors_own_reads_are_audited(world: World) -> None:
    await run_script(world)
    first = await world.post("auditor1", TRAIL, {"first": 5}, operation_name="Trail")
    assert first.status_code == 200 and "errors" not in first.json()
    second = await world.trail(first=1)
    (own,) = [e["node"] for e in second["edges"]]
    assert (own["actorLogin"], own["action"], own["outcome"]) == (
        "auditor1",
        "audit.read",
        "ALLOWED",
    )
    assert own["requestId"] == first.headers["x-request-id"]
    assert own["actorRoles"] == ["auditor"]
    assert (own["operationName"], own["operationType"]) == ("Trail", "query")
    assert own["documentHash"] == sha256(TRAIL)
    assert (own["borrowerIds"], own["caseIds"], own["fields"], own["resourceType"]) == (
        [],
        [],
        [],
        None,
    )
    assert second["totalCount"] == 8 + 1  # the script's entries and the first read

    history = await world.post(
        "admin", HISTORY, {"borrowerId": to_global_id("Borrower", 1), "first": 1}
    )
    assert history.status_code == 200 and "errors" not in history.json()
    reads = await world.trail(filter={"action": "audit.read"})
    nodes = [e["node"] for e in reads["edges"]]
    assert [(n["actorLogin"], n["operationName"]) for n in nodes] == [
        ("admin", "History"),
        ("auditor1", "Trail"),
        ("auditor1", "Trail"),
    ]
    assert nodes[0]["requestId"] == history.headers["x-request-id"]
    assert nodes[2]["requestId"] == first.headers["x-request-id"]
    assert reads["totalCount"] == 3


# ---- Filters and pagination -----------------------------------------------------------------


async def test_each_filter_returns_exactly_the_matching_entries(world: World) -> None:
    script = await run_script(world)
    case_gid = to_global_id("Case", script.case_id)
    borrower_gid = to_global_id("Borrower", script.borrower_id)
    staff_gid = to_global_id("Staff", script.staff["collector2"])
    script_rows = await world.rows()
    at = [r.at for r in script_rows]
    assert len(at) == 8 and at == sorted(at) and len(set(at)) == 8

    async def check(
        filter: dict[str, Any], matches: Callable[[Any], bool], actions: list[str] | None = None
    ) -> None:
        rows = await world.rows()  # the trail as it stands (earlier filter reads included)
        expected = [entry_gid(r.id) for r in reversed(rows) if matches(r)]
        got = await world.trail(first=100, filter=filter)
        ids = [e["node"]["id"] for e in got["edges"]]
        assert ids == expected, filter
        assert got["totalCount"] == len(expected), filter
        assert 0 < len(expected) < len(rows), filter  # the filter does select something
        if actions is not None:
            assert [e["node"]["action"] for e in got["edges"]] == actions, filter

    await check(
        {"actorLogin": "collector1"},
        lambda r: r.actor_login == "collector1",
        ["authz.denied", "borrower.reveal", "borrower.reveal", "case.read"],
    )
    await check(
        {"actorLogin": "manager"}, lambda r: r.actor_login == "manager", ["case.assign"] * 2
    )
    await check({"action": "borrower.reveal"}, lambda r: r.action == "borrower.reveal")
    await check(
        {"action": "policy.change"}, lambda r: r.action == "policy.change", ["policy.change"]
    )
    await check(
        {"outcome": "DENIED"},
        lambda r: r.outcome == "DENIED",
        ["auth.failed", "case.assign", "authz.denied", "borrower.reveal"],
    )
    await check({"outcome": "ALLOWED"}, lambda r: r.outcome == "ALLOWED")
    await check({"borrowerId": borrower_gid}, lambda r: script.borrower_id in r.borrower_ids)
    await check(
        {"caseId": case_gid},
        lambda r: script.case_id in r.case_ids,
        [
            "case.assign",
            "case.assign",
            *(["case.read"] if script.case_id in script.read_case_ids else []),
        ],
    )
    await check({"resourceId": case_gid}, lambda r: case_gid in r.resource_ids)
    await check(
        {"resourceId": borrower_gid},
        lambda r: borrower_gid in r.resource_ids,
        ["borrower.reveal", "borrower.reveal"],
    )
    await check({"resourceId": staff_gid}, lambda r: staff_gid in r.resource_ids, ["policy.change"])
    await check(
        {"actorLogin": "manager", "outcome": "DENIED"},
        lambda r: r.actor_login == "manager" and r.outcome == "DENIED",
        ["case.assign"],
    )

    # since is inclusive, until exclusive; a time in another zone means the same instant.
    since, until = at[2], at[5]
    window = [entry_gid(r.id) for r in reversed(script_rows[2:5])]
    shanghai = timezone(timedelta(hours=8))
    for low, high in [
        (since, until),
        (since.astimezone(shanghai), until.astimezone(shanghai)),
    ]:
        got = await world.trail(filter={"since": low.isoformat(), "until": high.isoformat()})
        assert [e["node"]["id"] for e in got["edges"]] == window
        assert got["totalCount"] == 3
    await check({"until": until.isoformat()}, lambda r: r.at < until)
    await check({"since": since.isoformat()}, lambda r: r.at >= since)
    await check(
        {"since": since.isoformat(), "actorLogin": "collector1"},
        lambda r: r.at >= since and r.actor_login == "collector1",
        ["authz.denied", "borrower.reveal"],
    )

    nothing = await world.trail(filter={"action": "no.such.action"})
    assert (nothing["edges"], nothing["totalCount"]) == ([], 0)
    later = await world.trail(filter={"since": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert (later["edges"], later["totalCount"]) == ([], 0)


async def test_pagination_walks_every_entry_once(world: World) -> None:
    await run_script(world)
    before = [entry_gid(r.id) for r in reversed(await world.rows())]
    walked: list[str] = []
    after = None
    pages = 0
    while True:
        page = await world.trail(first=3, after=after)
        # Each earlier page added its own audit.read entry, newer than anything walked.
        assert page["totalCount"] == len(before) + pages
        walked += [e["node"]["id"] for e in page["edges"]]
        assert [e["cursor"] for e in page["edges"]][-1:] == [page["pageInfo"]["endCursor"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == before
    assert pages == 3  # 8 entries, 3 a page

    denied: list[str] = []
    after = None
    while True:
        page = await world.trail(first=2, after=after, filter={"outcome": "DENIED"})
        assert page["totalCount"] == 4
        denied += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    rows = await world.rows()
    assert denied == [entry_gid(r.id) for r in reversed(rows) if r.outcome == "DENIED"]
    assert len(denied) == 4

    bad = await world.post("auditor1", TRAIL, {"first": 2, "after": "not-a-cursor"})
    assert [e["extensions"]["code"] for e in bad.json()["errors"]] == ["BAD_USER_INPUT"]


# ---- Access history -------------------------------------------------------------------------


async def test_access_history_lists_who_saw_or_revealed_the_borrower_and_nothing_else(
    world: World,
) -> None:
    (case_id, borrower_id), (_other_case, other_borrower), *_ = await world.cases_of("collector1")
    assert borrower_id != other_borrower
    case_gid = to_global_id("Case", case_id)
    borrower_gid = to_global_id("Borrower", borrower_id)

    await world.data("collector1", CASE_BORROWER % "phone email", {"id": case_gid})
    # Reading the case without any confidential field returns no personal data.
    await world.data("collector1", CASE_BORROWER % "fullName", {"id": case_gid})
    await world.data("manager", NODE_BORROWER % "nationalId", {"id": borrower_gid})
    await world.data(
        "manager", NODE_BORROWER % "phone", {"id": to_global_id("Borrower", other_borrower)}
    )
    revealed = await world.data("collector1", REVEAL, reveal_input(borrower_id, "PHONE"))
    assert revealed["revealConfidential"]["revealed"] == "PHONE"
    moved = await world.data(
        "manager", ASSIGN, {"input": {"caseId": case_gid, "assigneeLogin": "collector2"}}
    )
    assert moved["assignCase"]["__typename"] == "AssignCaseSuccess"
    await world.data("collector2", CASE_BORROWER % "address", {"id": case_gid})
    await world.data("collector2", VIEWER)

    history = (await world.data("auditor1", HISTORY, {"borrowerId": borrower_gid}))["accessHistory"]
    seen = [e["node"] for e in history["edges"]]
    assert [(e["actorLogin"], e["action"], e["outcome"], e["fields"]) for e in seen] == [
        ("collector2", "case.read", "ALLOWED", [{"name": "address", "clear": False}]),
        ("collector1", "borrower.reveal", "ALLOWED", [{"name": "phone", "clear": True}]),
        ("manager", "case.read", "ALLOWED", [{"name": "national_id", "clear": False}]),
        (
            "collector1",
            "case.read",
            "ALLOWED",
            [{"name": "email", "clear": False}, {"name": "phone", "clear": False}],
        ),
    ]
    assert all(e["borrowerIds"] == [borrower_gid] for e in seen)
    assert history["totalCount"] == 4
    assert history["pageInfo"]["hasNextPage"] is False

    other = (
        await world.data("admin", HISTORY, {"borrowerId": to_global_id("Borrower", other_borrower)})
    )["accessHistory"]
    assert [(e["node"]["actorLogin"], e["node"]["fields"]) for e in other["edges"]] == [
        ("manager", [{"name": "phone", "clear": False}])
    ]
    assert other["totalCount"] == 1

    # Paging the history gives the same entries, once each.
    pages: list[str] = []
    after = None
    while True:
        page = (
            await world.data(
                "auditor1", HISTORY, {"borrowerId": borrower_gid, "first": 3, "after": after}
            )
        )["accessHistory"]
        pages += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == [e["id"] for e in seen]

    bad = await world.post("auditor1", HISTORY, {"borrowerId": case_gid})
    assert [e["extensions"]["code"] for e in bad.json()["errors"]] == ["BAD_USER_INPUT"]


async def test_a_refused_reveal_does_not_count_as_access_to_the_borrower(world: World) -> None:
    (_case_id, borrower_id), *_ = await world.cases_of("collector1")
    borrower_gid = to_global_id("Borrower", borrower_id)
    refused = await world.data("collector1", REVEAL, reveal_input(borrower_id, "NATIONAL_ID"))
    assert refused["revealConfidential"]["code"] == "REVEAL_NOT_ALLOWED"
    entry = (await world.trail(first=1))["edges"][0]["node"]
    assert (entry["action"], entry["outcome"], entry["resourceIds"]) == (
        "borrower.reveal",
        "DENIED",
        [borrower_gid],
    )
    history = (await world.data("auditor1", HISTORY, {"borrowerId": borrower_gid}))["accessHistory"]
    assert entry["borrowerIds"] == []
    assert (history["edges"], history["totalCount"]) == ([], 0)


# ---- Who may read the trail -----------------------------------------------------------------


READERS = {"auditor1", "admin"}
OTHERS = sorted(login for login, _roles in DEMO_LOGINS if login not in READERS)


async def test_only_auditors_and_admins_read_the_trail_and_every_refusal_is_recorded(
    world: World,
) -> None:
    assert len(OTHERS) == len(DEMO_LOGINS) - 2 and "manager" in OTHERS
    borrower_gid = to_global_id("Borrower", 1)
    refused: dict[str, tuple[str, str]] = {}
    for login in OTHERS:
        for query, variables, name in [
            (TRAIL, {"first": 1}, "auditTrail"),
            (HISTORY, {"borrowerId": borrower_gid}, "accessHistory"),
        ]:
            response = await world.post(login, query, variables)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["data"] is None, (login, name)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], login
            refused[response.headers["x-request-id"]] = (login, name)

    rows = await world.rows()
    by_request: dict[str, list[Any]] = {}
    for row in rows:
        by_request.setdefault(row.request_id, []).append(row)
    assert set(by_request) == set(refused)
    for request_id, (login, name) in refused.items():
        denial, request = by_request[request_id]
        assert (denial.actor_login, denial.action, denial.outcome) == (
            login,
            "authz.denied",
            "DENIED",
        )
        assert denial.changes == {"permission": "audit:read", "field": name}
        assert denial.resource_type == "audit"
        # The request's own entry: it read nothing, and was refused.
        assert (request.actor_login, request.action, request.outcome) == (
            login,
            "api.read",
            "DENIED",
        )
        assert (request.borrower_ids, request.fields) == ([], [])
    assert len(rows) == 2 * 2 * len(OTHERS)

    total = len(rows)
    for login in ("auditor1", "admin"):
        trail = await world.trail(first=100, login=login)
        assert trail["totalCount"] == total
        history = await world.data(login, HISTORY, {"borrowerId": borrower_gid})
        assert (history["accessHistory"]["edges"], history["accessHistory"]["totalCount"]) == (
            [],
            0,
        )
        total += 2  # each of the two reads is an audit.read entry of its own
    readers = await world.trail(filter={"action": "audit.read"})
    assert sorted(e["node"]["actorLogin"] for e in readers["edges"]) == [
        "admin",
        "admin",
        "auditor1",
        "auditor1",
    ]
    assert {e["node"]["outcome"] for e in readers["edges"]} == {"ALLOWED"}
    denials = await world.trail(filter={"action": "authz.denied"})
    assert denials["totalCount"] == 2 * len(OTHERS)
    assert sorted({e["node"]["actorLogin"] for e in denials["edges"]}) == OTHERS


# ---- No clear value in the trail ------------------------------------------------------------

CLEAR_READ = """
query Clear { cases(first: 100) { edges { node { id stage borrower {
  id nationalId phone email address employer income } } } } }
"""


async def test_no_clear_confidential_value_is_in_any_audit_column(world: World) -> None:
    async with world.engine.connect() as conn:
        borrowers = (
            await conn.execute(
                select(
                    tables.borrowers.c.id,
                    tables.borrowers.c.national_id,
                    tables.borrowers.c.phone,
                    tables.borrowers.c.email,
                    tables.borrowers.c.address,
                )
            )
        ).all()
        legal = (
            await conn.execute(
                select(c.borrower_id).where(c.stage == "LEGAL").order_by(c.id).limit(1)
            )
        ).scalar_one()
    secrets = {b.id: (b.national_id, b.phone, b.email, b.address) for b in borrowers}
    (_case, own), *_ = await world.cases_of("collector1")

    # Reads: masked for most, clear for legal on legal-stage cases.
    for login in ("collector1", "manager", "legal1", "auditor1", "acme.agent1"):
        await world.data(login, CLEAR_READ)
    legal_read = (await world.data("legal1", CLEAR_READ))["cases"]["edges"]
    shown = {
        (pk_of(e["node"]["borrower"]["id"]), e["node"]["borrower"]["phone"]) for e in legal_read
    }
    assert (legal, secrets[legal][1]) in shown  # the legal read really returned a clear value

    # Reveals of every kind of value, allowed and refused.
    revealed: list[str] = []
    for login, borrower, field_name in [
        ("collector1", own, "PHONE"),
        ("collector1", own, "EMAIL"),
        ("manager", own, "NATIONAL_ID"),
        ("manager", own, "ADDRESS"),
        ("legal1", legal, "NATIONAL_ID"),
        ("legal1", legal, "EMPLOYER"),
    ]:
        result = (await world.data(login, REVEAL, reveal_input(borrower, field_name)))[
            "revealConfidential"
        ]
        assert result["__typename"] == "RevealConfidentialSuccess", result
        revealed.append(result["value"])
    refused = await world.data("collector1", REVEAL, reveal_input(own, "ADDRESS"))
    assert refused["revealConfidential"]["code"] == "REVEAL_NOT_ALLOWED"
    assert revealed[:4] == [secrets[own][1], secrets[own][2], secrets[own][0], secrets[own][3]]

    rows = await world.rows()
    assert {r.action for r in rows} == {"case.read", "borrower.reveal"}
    clear_reads = [r for r in rows if r.action == "case.read" and r.actor_login == "legal1"]
    assert all({"name": "phone", "clear": True} in r.fields for r in clear_reads)
    dump = json.dumps([dict(r._mapping) for r in rows], default=str, ensure_ascii=False)
    leaked = [v for values in secrets.values() for v in values if v and v in dump]
    assert leaked == []
    assert [v for v in revealed if v in dump] == []


# ---- A rolled-back change -------------------------------------------------------------------


async def test_a_refused_change_leaves_the_case_alone_and_only_a_failure_entry(
    world: World,
) -> None:
    (case_id, _borrower), *_ = await world.cases_of("collector1")
    case_gid = to_global_id("Case", case_id)
    async with world.engine.connect() as conn:
        before = (await conn.execute(select(tables.cases).where(c.id == case_id))).one()

    variables = {
        "input": {
            "caseId": case_gid,
            "assigneeLogin": "collector2",
            "expectedVersion": before.version + 5,
        }
    }
    result, request_id = await world.sent("manager", ASSIGN, variables)
    assert (result["assignCase"]["__typename"], result["assignCase"]["code"]) == (
        "ConflictError",
        "CONFLICT",
    )

    async with world.engine.connect() as conn:
        after = (await conn.execute(select(tables.cases).where(c.id == case_id))).one()
        events = (
            await conn.execute(
                select(func.count())
                .select_from(tables.case_events)
                .where(tables.case_events.c.case_id == case_id)
            )
        ).scalar_one()
    assert after == before
    assert events == 0
    (entry,) = await world.rows()
    assert (entry.actor_login, entry.action, entry.outcome) == ("manager", "case.assign", "DENIED")
    assert entry.changes == {"refused": "CONFLICT"}
    assert (entry.case_ids, entry.resource_ids) == ([case_id], [case_gid])
    assert entry.request_id == request_id

    # Two managers racing on one version: one change, one failure entry, one event.
    racing = {"input": {"caseId": case_gid, "expectedVersion": before.version}}
    results = await asyncio.gather(
        world.data(
            "manager", ASSIGN, {"input": {**racing["input"], "assigneeLogin": "collector2"}}
        ),
        world.data("admin", ASSIGN, {"input": {**racing["input"], "assigneeLogin": "lead1"}}),
    )
    kinds = sorted(r["assignCase"]["__typename"] for r in results)
    assert kinds == ["AssignCaseSuccess", "ConflictError"], results
    rows = (await world.rows())[1:]
    assert sorted((r.action, r.outcome) for r in rows) == [
        ("case.assign", "ALLOWED"),
        ("case.assign", "DENIED"),
    ]
    (allowed,) = [r for r in rows if r.outcome == "ALLOWED"]
    (lost,) = [r for r in rows if r.outcome == "DENIED"]
    assert lost.changes == {"refused": "CONFLICT"}
    async with world.engine.connect() as conn:
        final = (await conn.execute(select(tables.cases).where(c.id == case_id))).one()
        names = (
            (
                await conn.execute(
                    select(tables.case_events.c.name).where(tables.case_events.c.case_id == case_id)
                )
            )
            .scalars()
            .all()
        )
    assert final.version == before.version + 1
    assert names == ["CaseAssigned"]
    assert allowed.changes == {
        "assignee_id": final.assignee_id,
        "previous_assignee_id": before.assignee_id,
    }


# ---- Concurrency ----------------------------------------------------------------------------


WORKLIST_5 = "query { cases(first: 5) { edges { node { id borrower { phone } } } } }"


async def test_parallel_requests_write_one_entry_each_and_keep_every_chain_intact(
    world: World,
) -> None:
    collector1 = [b for _c, b in await world.cases_of("collector1")]
    collector2 = [b for _c, b in await world.cases_of("collector2")]
    assert len(collector1) >= 6 and len(collector2) >= 6

    # (login, query, variables, token, entries the request must write)
    plan: list[tuple[str, str, dict[str, Any] | None, str | None, int]] = []
    readers = ("collector1", "collector2", "collector3", "manager", "lead1", "legal1")
    for n in range(12):  # case reads: one case.read each
        plan.append((readers[n % 6], WORKLIST_5, None, None, 1))
    for n in range(12):  # reads of no case: one api.read each
        login = ("acme.agent1", "zenith.agent1", "acme.manager", "admin")[n % 4]
        plan.append((login, VIEWER, None, None, 1))
    for n in range(6):  # allowed reveals: one borrower.reveal each
        plan.append(("collector1", REVEAL, reveal_input(collector1[n], "PHONE"), None, 1))
        plan.append(("manager", REVEAL, reveal_input(collector2[n], "NATIONAL_ID"), None, 1))
    for n in range(6):  # refused reveals: one borrower.reveal (DENIED) each
        plan.append(("collector2", REVEAL, reveal_input(collector2[n], "NATIONAL_ID"), None, 1))
    for n in range(8):  # auditors reading: one audit.read each
        plan.append((("auditor1", "admin")[n % 2], TRAIL, {"first": 5}, None, 1))
    for _ in range(6):  # refused audit reads: an authz.denied and the request's api.read
        plan.append(("collector3", TRAIL, {"first": 5}, None, 2))
    for _ in range(4):  # failed logins from one address: the first recorded at once
        plan.append(("nobody", VIEWER, None, "forged.token.value", 0))
    assert len(plan) == 60

    responses = await asyncio.gather(
        *(world.post(login, q, v, token=t) for login, q, v, t, _n in plan)
    )
    expected: dict[str, int] = {}
    for (_login, _q, _v, token, n), response in zip(plan, responses, strict=True):
        assert response.status_code == (401 if token else 200), response.text
        expected[response.headers["x-request-id"]] = n
    assert len(expected) == 60
    assert sum(expected.values()) == 62
    failed_ids = [r.headers["x-request-id"] for r, p in zip(responses, plan, strict=True) if p[3]]
    # The rest of the window's failures become one entry with a count when the window closes.
    await world.app.state.guards.failed_logins.flush(force=True)

    rows = await world.rows()
    assert len(rows) == 64
    written: dict[str, int] = {}
    for row in rows:
        if row.action != "auth.failed":
            written[row.request_id] = written.get(row.request_id, 0) + 1
    assert written == {k: n for k, n in expected.items() if n}
    failures = sorted((r for r in rows if r.action == "auth.failed"), key=lambda r: r.id)
    assert [f.changes["count"] for f in failures] == [1, 3]
    assert failures[0].request_id in failed_ids
    assert failures[1].changes["reasons"] == {"invalid token": 3}
    actions = {}
    for row in rows:
        actions[(row.action, row.outcome)] = actions.get((row.action, row.outcome), 0) + 1
    assert actions == {
        ("case.read", "ALLOWED"): 12,
        ("api.read", "ALLOWED"): 12,
        ("borrower.reveal", "ALLOWED"): 12,
        ("borrower.reveal", "DENIED"): 6,
        ("audit.read", "ALLOWED"): 8,
        ("authz.denied", "DENIED"): 6,
        ("api.read", "DENIED"): 6,
        ("auth.failed", "DENIED"): 2,
    }

    async with world.engine.connect() as conn:
        checked, breaks = await verify(conn, world.settings.audit_key)
        heads = {h.chain: h for h in (await conn.execute(select(tables.audit_heads))).all()}
    assert (checked, breaks) == (64, [])
    chains: dict[int, list[Any]] = {}
    for row in rows:
        chains.setdefault(row.chain, []).append(row)
    assert len(chains) > 1  # the requests spread over several chains
    assert set(chains) <= set(range(AUDIT_CHAINS))
    for chain, members in chains.items():
        members.sort(key=lambda r: r.seq)
        assert [r.seq for r in members] == list(range(1, len(members) + 1)), chain
        assert [r.prev_hash for r in members[1:]] == [r.hash for r in members[:-1]], chain
        assert (heads[chain].seq, heads[chain].hash) == (len(members), members[-1].hash)
    # One request's entries stay together in one chain.
    for request_id in written:
        assert len({r.chain for r in rows if r.request_id == request_id}) == 1


async def test_many_concurrent_reveals_do_not_exhaust_the_connection_pool(
    empty_database_url: str,
) -> None:
    """More concurrent reveals than the pool has connections: each request holds at most one
    connection at a time, so none waits on another until the pool times out."""
    # The default pool size (5 + 10); only the wait for a free connection is shortened.
    async with open_world(empty_database_url, pool_timeout=3) as world:
        async with world.engine.connect() as conn:
            stmt = select(tables.borrowers.c.id).order_by(tables.borrowers.c.id)
            borrowers = list((await conn.execute(stmt)).scalars().all())
        assert len(borrowers) >= 24
        responses = await asyncio.gather(
            *(world.post("manager", REVEAL, reveal_input(b, "NATIONAL_ID")) for b in borrowers[:24])
        )
        kinds = [r.json().get("data", {}) or {} for r in responses]
        assert [k.get("revealConfidential", {}).get("__typename") for k in kinds] == [
            "RevealConfidentialSuccess"
        ] * 24
        rows = await world.rows()
        assert [(r.action, r.outcome) for r in rows] == [("borrower.reveal", "ALLOWED")] * 24
