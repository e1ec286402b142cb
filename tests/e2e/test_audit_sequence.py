"""A scripted sequence of reads, reveals, denials, changes and a failed login, as the auditor
sees it afterwards (on a database of its own, so that no other test's entries interleave)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.common.ids import to_global_id
from api.settings import Settings
from store import tables
from store.audit import verify
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.helpers import Gql

READ = (
    "query Worklist { cases(first: 3) { edges { node { id borrower { id phone nationalId } } } } }"
)
REVEAL = """
mutation Reveal($input: RevealConfidentialInput!) {
  revealConfidential(input: $input) { __typename ... on RevealConfidentialSuccess { value } }
}
"""
ASSIGN = """
mutation Assign($input: AssignCaseInput!) {
  assignCase(input: $input) { __typename ... on UserError { code } }
}
"""
TRAIL = """
query Trail($first: Int, $filter: AuditFilter) {
  auditTrail(first: $first, filter: $filter) {
    totalCount
    edges { node {
      actorLogin action outcome resourceType resourceIds borrowerIds caseIds
      fields { name clear } reasonCode reasonText clientIp operationName operationType
      documentHash changes hash
    } }
  }
}
"""


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Gql, AsyncEngine]]:
    from tests.conftest import PG_URL, _create_pg_database

    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('audit') / 'audit.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await seed_demo(engine, cases=40, seed=11)
    settings = Settings(
        database_url=url, secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET, env="test"
    )
    app = create_app(settings, engine=engine)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield Gql(client, settings), engine
    finally:
        await engine.dispose()
        if drop:
            await drop()


async def _case_of(engine: AsyncEngine, login: str) -> tuple[int, int]:
    c, s = tables.cases.c, tables.staff.c
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(c.id, c.borrower_id)
                .join(tables.staff, s.id == c.assignee_id)
                .where(s.login == login, c.status == "OPEN")
                .order_by(c.id)
                .limit(1)
            )
        ).one()
    return row.id, row.borrower_id


async def test_the_auditor_sees_exactly_what_happened(world: tuple[Gql, AsyncEngine]) -> None:
    gql, engine = world
    case_id, borrower_id = await _case_of(engine, "collector1")
    borrower_gid = to_global_id("Borrower", borrower_id)

    read = await gql("collector1", READ)
    read_borrowers = sorted(
        int(__import__("base64").b64decode(e["node"]["borrower"]["id"]).decode().split(":")[1])
        for e in read["cases"]["edges"]
    )
    reveal = {
        "borrowerId": borrower_gid,
        "reasonCode": "CONTACT_BORROWER",
        "reasonText": "borrower asked for a call back",
    }
    ok = await gql("collector1", REVEAL, {"input": {**reveal, "field": "PHONE"}})
    refused = await gql("collector1", REVEAL, {"input": {**reveal, "field": "NATIONAL_ID"}})
    denied = await gql.errors(
        "collector1",
        ASSIGN,
        {"input": {"caseId": to_global_id("Case", case_id), "assigneeLogin": "collector2"}},
    )
    changed = await gql(
        "manager",
        ASSIGN,
        {"input": {"caseId": to_global_id("Case", case_id), "assigneeLogin": "collector2"}},
    )
    rule = await gql(
        "manager",
        ASSIGN,
        {"input": {"caseId": to_global_id("Case", case_id), "assigneeLogin": "nobody"}},
    )
    failed = await gql.client.post(
        "/graphql",
        json={"query": "{ viewer { login } }"},
        headers={"Authorization": "Bearer forged.token.value"},
    )
    assert ok["revealConfidential"]["__typename"] == "RevealConfidentialSuccess"
    assert refused["revealConfidential"]["__typename"] == "RevealNotAllowedError"
    assert denied[0]["extensions"]["code"] == "FORBIDDEN"
    assert changed["assignCase"]["__typename"] == "AssignCaseSuccess"
    assert rule["assignCase"]["code"] == "STAFF_NOT_FOUND"
    assert failed.status_code == 401

    trail = (await gql("auditor1", TRAIL, {"first": 100}))["auditTrail"]
    entries = [e["node"] for e in trail["edges"]]
    assert [(e["actorLogin"], e["action"], e["outcome"]) for e in entries] == [
        (None, "auth.failed", "DENIED"),
        ("manager", "case.assign", "DENIED"),
        ("manager", "case.assign", "ALLOWED"),
        ("collector1", "authz.denied", "DENIED"),
        ("collector1", "borrower.reveal", "DENIED"),
        ("collector1", "borrower.reveal", "ALLOWED"),
        ("collector1", "case.read", "ALLOWED"),
    ]
    assert trail["totalCount"] == 7
    failed_login, refused_change, change, denial, no_reveal, reveal_entry, read_entry = entries
    assert failed_login["clientIp"] == "127.0.0.1"
    assert failed_login["changes"] == {"reason": "invalid token", "count": 1}
    assert refused_change["changes"] == {"refused": "STAFF_NOT_FOUND"}
    staff = {r.login: r.id for r in await _staff(engine)}
    assert change["changes"]["assignee_id"] == staff["collector2"]
    assert change["changes"]["previous_assignee_id"] == staff["collector1"]
    assert change["caseIds"] == [to_global_id("Case", case_id)]
    assert change["operationType"] == "mutation" and change["operationName"] == "Assign"
    assert denial["changes"] == {"permission": "case:assign", "field": "assignCase"}
    assert no_reveal["fields"] == [{"name": "national_id", "clear": False}]
    assert no_reveal["changes"] == {"refused": "REVEAL_NOT_ALLOWED"}
    assert reveal_entry["fields"] == [{"name": "phone", "clear": True}]
    assert (reveal_entry["reasonCode"], reveal_entry["reasonText"]) == (
        "CONTACT_BORROWER",
        "borrower asked for a call back",
    )
    assert reveal_entry["borrowerIds"] == [borrower_gid]
    assert read_entry["operationName"] == "Worklist"
    assert (
        read_entry["documentHash"]
        == hmac.new(gql.settings.audit_key, READ.encode(), hashlib.sha256).hexdigest()
    )
    assert read_entry["fields"] == [
        {"name": "national_id", "clear": False},
        {"name": "phone", "clear": False},
    ]
    assert read_entry["borrowerIds"] == [to_global_id("Borrower", b) for b in read_borrowers]

    # The auditor's own read is audited too.
    again = (await gql("auditor1", TRAIL, {"first": 1}))["auditTrail"]["edges"][0]["node"]
    assert (again["actorLogin"], again["action"], again["operationName"]) == (
        "auditor1",
        "audit.read",
        "Trail",
    )

    # No clear confidential value is anywhere in the trail, the reveal included.
    async with engine.connect() as conn:
        rows = [dict(r._mapping) for r in (await conn.execute(select(tables.audit_entries))).all()]
        secrets = (
            await conn.execute(
                select(
                    tables.borrowers.c.national_id,
                    tables.borrowers.c.phone,
                    tables.borrowers.c.email,
                    tables.borrowers.c.address,
                )
            )
        ).all()
        checked, breaks = await verify(conn, gql.settings.audit_key)
    dump = json.dumps(rows, default=str, ensure_ascii=False)
    assert not [v for row in secrets for v in row if v in dump]
    assert (checked, breaks) == (len(rows), [])


async def test_filters_and_access_history(world: tuple[Gql, AsyncEngine]) -> None:
    gql, engine = world
    _case_id, borrower_id = await _case_of(engine, "collector3")
    borrower_gid = to_global_id("Borrower", borrower_id)
    await gql(
        "manager",
        "query($id: ID!) { node(id: $id) { ... on Borrower { phone } } }",
        {"id": borrower_gid},
    )
    await gql(
        "collector3",
        REVEAL,
        {
            "input": {
                "borrowerId": borrower_gid,
                "field": "EMAIL",
                "reasonCode": "CONTACT_BORROWER",
                "reasonText": "send the statement",
            }
        },
    )
    history = (
        await gql(
            "auditor1",
            """query($b: ID!) { accessHistory(borrowerId: $b) {
        totalCount edges { node { actorLogin action fields { name clear } } } } }""",
            {"b": borrower_gid},
        )
    )["accessHistory"]
    seen = [(e["node"]["actorLogin"], e["node"]["action"]) for e in history["edges"]]
    assert seen[:2] == [("collector3", "borrower.reveal"), ("manager", "case.read")]
    assert history["totalCount"] == len(seen)

    for filter_, check in [
        ({"actorLogin": "collector3"}, lambda e: e["actorLogin"] == "collector3"),
        ({"action": "borrower.reveal"}, lambda e: e["action"] == "borrower.reveal"),
        ({"outcome": "DENIED"}, lambda e: e["outcome"] == "DENIED"),
        ({"borrowerId": borrower_gid}, lambda e: borrower_gid in e["borrowerIds"]),
    ]:
        page = (await gql("admin", TRAIL, {"first": 100, "filter": filter_}))["auditTrail"]
        nodes = [e["node"] for e in page["edges"]]
        assert nodes and all(check(n) for n in nodes), filter_
        assert page["totalCount"] == len(nodes)


async def test_only_auditors_and_admins_read_the_trail(world: tuple[Gql, AsyncEngine]) -> None:
    gql, _engine = world
    for login in ("manager", "collector1", "legal1", "acme.manager", "lead1"):
        errors = await gql.errors(login, TRAIL, {"first": 1})
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], login
    denial = await gql("admin", TRAIL, {"first": 1, "filter": {"action": "authz.denied"}})
    node = denial["auditTrail"]["edges"][0]["node"]
    assert node["changes"] == {"permission": "audit:read", "field": "auditTrail"}


async def _staff(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(tables.staff))).all())
