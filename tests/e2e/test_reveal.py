"""revealConfidential: allowed, not allowed, out of scope, blank reason, rate limit, and the
audit row each attempt leaves (never with the value); filters on masked fields."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.common.ids import to_global_id
from api.settings import Settings
from store import tables
from tests.helpers import Gql

c, s, b = tables.cases.c, tables.staff.c, tables.borrowers.c
audit = tables.audit_entries.c

REVEAL = """
mutation Reveal($input: RevealConfidentialInput!) {
  revealConfidential(input: $input) {
    __typename
    ... on RevealConfidentialSuccess { revealed value }
    ... on UserError { code message field }
    ... on RateLimitedError { retryAfterSeconds }
  }
}
"""
CONFIDENTIAL_COLUMNS = ("national_id", "phone", "email", "address", "employer")


async def borrower_of(engine: AsyncEngine, login: str, *where: Any) -> Any:
    """The lowest-id borrower of a case currently assigned to ``login``."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(tables.borrowers)
                .join(tables.cases, c.borrower_id == b.id)
                .join(tables.staff, s.id == c.assignee_id)
                .where(s.login == login, *where)
                .order_by(b.id)
                .limit(1)
            )
        ).one()


def reveal_input(
    borrower_gid: str, field: str, text: str = "borrower asked for a call back"
) -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": borrower_gid,
            "field": field,
            "reasonCode": "CONTACT_BORROWER",
            "reasonText": text,
        }
    }


async def last_audit_id(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(audit.id), 0)))).scalar_one())


async def audit_since(engine: AsyncEngine, after_id: int) -> list[Any]:
    async with engine.connect() as conn:
        stmt = select(tables.audit_entries).where(audit.id > after_id).order_by(audit.id)
        return list((await conn.execute(stmt)).all())


def assert_no_clear_value(rows: list[Any], borrower: Any) -> None:
    """No confidential value of the borrower in any column of any audit row."""
    for row in rows:
        for column, value in row._mapping.items():
            text = (
                value
                if isinstance(value, str)
                else json.dumps(value, ensure_ascii=False, default=str)
            )
            for name in CONFIDENTIAL_COLUMNS:
                assert getattr(borrower, name) not in text, (column, name)


async def attempt(
    gql: Gql,
    engine: AsyncEngine,
    login: str,
    borrower_gid: str,
    field: str,
    text: str = "borrower asked for a call back",
) -> tuple[dict[str, Any], Any]:
    """Sends one reveal; returns its result and the one audit row it wrote."""
    since = await last_audit_id(engine)
    result = (await gql(login, REVEAL, reveal_input(borrower_gid, field, text)))[
        "revealConfidential"
    ]
    # Other requests' entries may land meanwhile (e.g. coalesced failed logins of another test,
    # flushed in the background): only this caller's are this request's.
    rows = [r for r in await audit_since(engine, since) if r.actor_login == login]
    assert [(r.actor_login, r.action) for r in rows] == [(login, "borrower.reveal")], rows
    return result, rows[0]


async def test_a_collector_reveals_the_phone_of_their_own_borrower(
    gql: Gql, engine: AsyncEngine
) -> None:
    borrower = await borrower_of(engine, "collector1")
    gid = to_global_id("Borrower", borrower.id)
    result, row = await attempt(gql, engine, "collector1", gid, "PHONE")
    assert result == {
        "__typename": "RevealConfidentialSuccess",
        "revealed": "PHONE",
        "value": borrower.phone,
    }
    assert (row.outcome, row.fields, row.reason_code, row.reason_text) == (
        "ALLOWED",
        [{"name": "phone", "clear": True}],
        "CONTACT_BORROWER",
        "borrower asked for a call back",
    )
    assert (row.actor_roles, row.resource_type, row.resource_ids) == (
        ["collector"],
        "Borrower",
        [gid],
    )
    assert row.borrower_ids == [borrower.id]
    assert row.changes is None
    assert_no_clear_value([row], borrower)


@pytest.mark.parametrize(
    ("login", "owner", "field", "text", "expected", "audited_field"),
    [
        pytest.param(
            "collector1",
            "collector1",
            "NATIONAL_ID",
            "verify identity",
            ("RevealNotAllowedError", "REVEAL_NOT_ALLOWED", "field"),
            "national_id",
            id="collector-national-id-not-allowed",
        ),
        pytest.param(
            "auditor1",
            "collector1",
            "PHONE",
            "verify identity",
            ("RevealNotAllowedError", "REVEAL_NOT_ALLOWED", "field"),
            "phone",
            id="auditor-phone-not-allowed",
        ),
        pytest.param(
            "collector1",
            "collector3",
            "PHONE",
            "verify identity",
            ("NotFoundError", "BORROWER_NOT_FOUND", "borrowerId"),
            "phone",
            id="collector-out-of-scope-borrower",
        ),
        pytest.param(
            "collector1",
            "collector1",
            "PHONE",
            "   ",
            ("ValidationError", "REASON_REQUIRED", "reasonText"),
            "phone",
            id="blank-reason",
        ),
    ],
)
async def test_refused_reveals_are_typed_audited_and_valueless(
    gql: Gql,
    engine: AsyncEngine,
    login: str,
    owner: str,
    field: str,
    text: str,
    expected: tuple[str, str, str],
    audited_field: str,
) -> None:
    borrower = await borrower_of(engine, owner)
    gid = to_global_id("Borrower", borrower.id)
    result, row = await attempt(gql, engine, login, gid, field, text)
    assert (result["__typename"], result["code"], result["field"]) == expected
    assert result["message"]
    assert "value" not in result
    assert row.outcome == "DENIED"
    assert row.fields == [{"name": audited_field, "clear": False}]
    assert row.reason_code == "CONTACT_BORROWER"
    assert row.reason_text == text.strip()
    assert row.changes == {"refused": expected[1]}
    assert row.borrower_ids == []  # nothing of the borrower was revealed
    assert_no_clear_value([row], borrower)
    assert borrower.phone not in json.dumps(result) and borrower.national_id not in json.dumps(
        result
    )


@pytest.mark.parametrize(
    "unknown",
    [
        pytest.param(to_global_id("Borrower", 10**7), id="nonexistent-borrower"),
        pytest.param("not-a-global-id", id="malformed-id"),
        pytest.param(None, id="case-id-of-the-same-borrower"),
    ],
)
async def test_out_of_scope_looks_exactly_like_nonexistent(
    gql: Gql, engine: AsyncEngine, unknown: str | None
) -> None:
    hidden = await borrower_of(engine, "collector3")
    if unknown is None:
        async with engine.connect() as conn:
            case_id = (
                await conn.execute(select(c.id).where(c.borrower_id == hidden.id).limit(1))
            ).scalar_one()
        unknown = to_global_id("Case", case_id)
    out_of_scope, _ = await attempt(
        gql, engine, "collector1", to_global_id("Borrower", hidden.id), "PHONE"
    )
    missing, row = await attempt(gql, engine, "collector1", unknown, "PHONE")
    assert out_of_scope == missing
    assert missing == {
        "__typename": "NotFoundError",
        "code": "BORROWER_NOT_FOUND",
        "message": missing["message"],
        "field": "borrowerId",
    }
    assert (row.outcome, row.changes) == ("DENIED", {"refused": "BORROWER_NOT_FOUND"})


# ---- Rate limit ---------------------------------------------------------------------------------

# collector2: this module's rate-limit login; no other test reveals as it on the shared database
# (the access matrix reveals on a database of its own).
RATE_LOGIN = "collector2"


@pytest.fixture
async def limited_gql(engine: AsyncEngine, settings: Settings) -> AsyncIterator[tuple[Gql, int]]:
    """A second app whose limit leaves RATE_LOGIN exactly two reveals this hour."""
    async with engine.connect() as conn:
        earlier = (
            await conn.execute(
                select(func.count()).where(
                    audit.actor_login == RATE_LOGIN,
                    audit.action == "borrower.reveal",
                    audit.outcome == "ALLOWED",
                    audit.at >= datetime.now(UTC) - timedelta(hours=1),
                )
            )
        ).scalar_one()
    limit = 2 + int(earlier)  # 2 when this module runs first, as it does in the suite
    limited = Settings(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        audit_secret=settings.audit_secret,
        env="test",
        reveal_limit_per_hour=limit,
    )
    app = create_app(limited, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://limited.test") as h:
            yield Gql(h, limited), limit


async def test_the_reveal_after_the_hourly_limit_is_refused(
    limited_gql: tuple[Gql, int], engine: AsyncEngine
) -> None:
    gql, limit = limited_gql
    borrower = await borrower_of(engine, RATE_LOGIN)
    gid = to_global_id("Borrower", borrower.id)
    results, rows = [], []
    for field in ("PHONE", "EMAIL", "PHONE"):
        result, row = await attempt(gql, engine, RATE_LOGIN, gid, field)
        results.append(result)
        rows.append(row)
    assert results[0] == {
        "__typename": "RevealConfidentialSuccess",
        "revealed": "PHONE",
        "value": borrower.phone,
    }
    assert results[1] == {
        "__typename": "RevealConfidentialSuccess",
        "revealed": "EMAIL",
        "value": borrower.email,
    }
    # The first reveal leaves the hour's window an hour after it was made: moments from now.
    retry_after = results[2].pop("retryAfterSeconds")
    assert 3540 <= retry_after <= 3600
    assert results[2] == {
        "__typename": "RateLimitedError",
        "code": "RATE_LIMITED",
        "message": results[2]["message"],
        "field": None,
    }
    assert str(limit) in results[2]["message"]
    assert [(r.outcome, r.changes) for r in rows] == [
        ("ALLOWED", None),
        ("ALLOWED", None),
        ("DENIED", {"refused": "RATE_LIMITED"}),
    ]
    assert rows[2].fields == [{"name": "phone", "clear": False}]
    # A refused reveal does not count: still refused, and still audited.
    again, row = await attempt(gql, engine, RATE_LOGIN, gid, "PHONE")
    assert again["code"] == "RATE_LIMITED"
    assert row.outcome == "DENIED"
    assert_no_clear_value(rows, borrower)


async def test_concurrent_reveals_cannot_exceed_the_hourly_limit(
    limited_gql: tuple[Gql, int], engine: AsyncEngine
) -> None:
    gql, limit = limited_gql
    borrower = await borrower_of(engine, RATE_LOGIN)
    gid = to_global_id("Borrower", borrower.id)
    results = await asyncio.gather(
        *(gql(RATE_LOGIN, REVEAL, reveal_input(gid, "PHONE")) for _ in range(6))
    )
    kinds = sorted(r["revealConfidential"]["__typename"] for r in results)
    # Two reveals were left this hour: two succeed, four are refused.
    assert kinds == ["RateLimitedError"] * 4 + ["RevealConfidentialSuccess"] * 2, kinds
    async with engine.connect() as conn:
        allowed = (
            await conn.execute(
                select(func.count()).where(
                    audit.actor_login == RATE_LOGIN,
                    audit.action == "borrower.reveal",
                    audit.outcome == "ALLOWED",
                    audit.at >= datetime.now(UTC) - timedelta(hours=1),
                )
            )
        ).scalar_one()
    assert allowed == limit


# ---- Filters on masked fields ------------------------------------------------------------------

FILTER = """
query($f: CaseFilter) {
  cases(first: 100, filter: $f) { totalCount edges { node { reference stage } } }
}
"""


@pytest.mark.parametrize(
    ("login", "field"),
    [
        ("collector1", "borrowerPhone"),
        ("collector1", "borrowerNationalId"),
        ("manager", "borrowerPhone"),
        ("admin", "borrowerNationalId"),
        ("acme.agent1", "borrowerPhone"),
    ],
)
async def test_filtering_on_a_field_seen_masked_is_refused(
    gql: Gql, engine: AsyncEngine, login: str, field: str
) -> None:
    borrower = await borrower_of(engine, "collector1")
    value = borrower.phone if field == "borrowerPhone" else borrower.national_id
    response = await gql.raw(login, FILTER, {"f": {field: value}})
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["MASKED_FIELD"], body
    assert body["data"] is None
    assert value not in response.text


async def legal_borrower(engine: AsyncEngine) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(tables.borrowers)
                .join(tables.cases, c.borrower_id == b.id)
                .where(c.stage == "LEGAL")
                .order_by(b.id)
                .limit(1)
            )
        ).one()


@pytest.mark.parametrize(
    ("field", "column"), [("borrowerPhone", "phone"), ("borrowerNationalId", "national_id")]
)
async def test_legal_filters_on_what_it_sees_in_clear(
    gql: Gql, engine: AsyncEngine, field: str, column: str
) -> None:
    borrower = await legal_borrower(engine)
    value = getattr(borrower, column)
    async with engine.connect() as conn:
        expected = set(
            (
                await conn.execute(
                    select(c.reference)
                    .join(tables.borrowers, c.borrower_id == b.id)
                    .where(getattr(b, column) == value, c.stage == "LEGAL")
                )
            ).scalars()
        )
    data = await gql("legal1", FILTER, {"f": {field: value}})
    references = {e["node"]["reference"] for e in data["cases"]["edges"]}
    assert references == expected and expected
    assert data["cases"]["totalCount"] == len(expected)
    assert {e["node"]["stage"] for e in data["cases"]["edges"]} == {"LEGAL"}


async def test_legal_cannot_probe_borrowers_it_sees_masked(gql: Gql, engine: AsyncEngine) -> None:
    """A phone of a borrower with no legal-stage case finds nothing (not even a count)."""
    async with engine.connect() as conn:
        phone = (
            await conn.execute(
                select(b.phone)
                .where(b.id.not_in(select(c.borrower_id).where(c.stage == "LEGAL")))
                .order_by(b.id)
                .limit(1)
            )
        ).scalar_one()
    data = await gql("legal1", FILTER, {"f": {"borrowerPhone": phone}})
    assert data["cases"] == {"totalCount": 0, "edges": []}
