"""Two agents racing for the last attempt the conduct rules allow get exactly one grant: the
borrower's contact work is serialised (PostgreSQL: the borrower's row is locked before the
count), so the loser counts the winner's attempt. Concurrent HTTP requests on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.conftest import PG_URL
from tests.e2e.contacts_support import START, midday_zone, past_contact, point, send
from tests.factories import Factory
from tests.helpers import Gql

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="a race needs PostgreSQL (SQLite serialises every writer anyway)"
)
ct = tables.contacts.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


@pytest.mark.parametrize("round_", range(3))
async def test_racing_for_the_last_attempt_grants_one(
    gql: Gql, engine: AsyncEngine, factory: Factory, round_: int
) -> None:
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    # Two cases of the borrower (a second portfolio governed by the default profile, CN), so
    # that the racers do not queue behind one case's lock: only the borrower's serialises them.
    made = await factory.case(borrower=borrower, agency="Acme Recovery")
    other = await factory.case(borrower=borrower, agency="Acme Recovery", portfolio="retail-2")
    phone = await point(factory, borrower.id, zone=zone)
    now = datetime.now(UTC)
    for minutes in range(1, 6):  # five of the six attempts of the day are used
        await past_contact(factory, made.case, now - timedelta(minutes=minutes), point_id=phone.id)
    logins = ["acme.agent1", "acme.manager"] * 3
    cases = [made, other, other, made, made, other]
    results = await asyncio.gather(
        *(
            send(gql, login, START, {"input": {"caseId": case.gid, "channel": "PHONE"}})
            for login, case in zip(logins, cases, strict=True)
        )
    )
    kinds = sorted(r["__typename"] for r, _ in results)
    assert kinds == ["ComplianceViolation"] * 5 + ["StartContactSuccess"], round_
    assert {r["rule"] for r, _ in results if r["__typename"] == "ComplianceViolation"} == {
        "DAILY_ATTEMPTS"
    }
    async with engine.connect() as conn:
        both = ct.case_id.in_([made.case.id, other.case.id])
        granted = (
            await conn.execute(select(func.count()).where(both, ct.blocked.is_(False)))
        ).scalar_one()
        blocked = (
            await conn.execute(select(func.count()).where(both, ct.blocked.is_(True)))
        ).scalar_one()
    assert (granted, blocked) == (6, 5)


@pytest.mark.parametrize("round_", range(3))
async def test_racing_for_the_last_connected_call_grants_one(
    gql: Gql, engine: AsyncEngine, factory: Factory, round_: int
) -> None:
    """Two conversations today (CN allows three): of six agents asking at once, one is granted
    and its call, in progress, is counted as connected against the others."""
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, agency="Acme Recovery")
    other = await factory.case(borrower=borrower, agency="Acme Recovery", portfolio="retail-2")
    phone = await point(factory, borrower.id, zone=zone)
    now = datetime.now(UTC)
    for minutes in (20, 10):
        await past_contact(
            factory, made.case, now - timedelta(minutes=minutes), point_id=phone.id,
            outcome="RIGHT_PARTY_CONTACT",
        )  # fmt: skip
    logins = ["acme.agent1", "acme.manager"] * 3
    cases = [made, other, other, made, made, other]
    results = await asyncio.gather(
        *(
            send(gql, login, START, {"input": {"caseId": case.gid, "channel": "PHONE"}})
            for login, case in zip(logins, cases, strict=True)
        )
    )
    kinds = sorted(r["__typename"] for r, _ in results)
    assert kinds == ["ComplianceViolation"] * 5 + ["StartContactSuccess"], round_
    assert {r["rule"] for r, _ in results if r["__typename"] == "ComplianceViolation"} == {
        "CONNECTED_CALLS_PER_DAY"
    }
    async with engine.connect() as conn:
        both = ct.case_id.in_([made.case.id, other.case.id])
        rows = (
            await conn.execute(select(ct.blocked, ct.outcome).where(both, ct.source == "STARTED"))
        ).all()
    assert sorted((bool(b), o) for b, o in rows) == [(False, None)] + [(True, None)] * 5
