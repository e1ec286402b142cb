"""The demo makes every promise status visible (issue 9, item 11: "contacts, promises and payments
that make every rule and status visible"), CANCELLED included: an open promise on a case that
closed (the US cured story: its promise was for more than the payment that cured the case)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.arrangements.promises import PromiseStatus
from store import tables
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import PG_URL, _create_pg_database

AS_OF = date(2026, 3, 31)


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    """200 demo cases (160 retail, 40 us-cards), as tests/integration/test_demo_collection.py."""
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=200, seed=5, as_of=AS_OF)
        yield engine
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()


async def test_every_promise_status_is_shown_and_a_cancelled_one_is_on_a_closed_case(
    seeded: AsyncEngine,
) -> None:
    p, c = tables.promises.c, tables.cases.c
    async with seeded.connect() as conn:
        rows = (
            await conn.execute(
                select(p.status, c.status.label("case_status"), p.resolved_at, c.closed_at).join(
                    tables.cases, c.id == p.case_id
                )
            )
        ).all()
    assert {r.status for r in rows} == set(PromiseStatus)
    for r in rows:
        if r.status == "CANCELLED":
            # Cancelled when the case closed: the promise had nothing left to keep.
            assert r.case_status == "CLOSED" and r.resolved_at == r.closed_at
