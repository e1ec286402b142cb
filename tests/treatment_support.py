"""Rows and reads for the treatment tests: contact points, flags, complaints and warnings on a
case made by ``tests.daily_support.make_case``, and what the daily run's treatment step wrote."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.daily_support import Made
from tests.factories import writing

EARLIER = datetime(2020, 1, 1, tzinfo=UTC)


async def point(
    engine: AsyncEngine,
    made: Made,
    kind: str = "PHONE",
    status: str = "VERIFIED",
    owner: str = "BORROWER",
) -> int:
    """A contact point of the case's borrower; returns its id."""
    values = {"PHONE": "13800000000", "EMAIL": "someone@example.org", "ADDRESS": "上海市测试路1号"}
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.contact_points).values(
                borrower_id=made.borrower_id,
                kind=kind,
                value=values[kind],
                owner=owner,
                status=status,
                created_at=EARLIER,
                version=1,
            )
        )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def reachable(engine: AsyncEngine, made: Made) -> dict[str, int]:
    """A verified phone, e-mail and address of the borrower, by kind."""
    return {kind: await point(engine, made, kind) for kind in ("PHONE", "EMAIL", "ADDRESS")}


async def flag(engine: AsyncEngine, made: Made, kind: str) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.borrower_flags).values(
                borrower_id=made.borrower_id, flag=kind, evidence_ref="DOC-1", set_at=EARLIER
            )
        )


async def complaint(engine: AsyncEngine, made: Made, kind: str = "COMPLAINT") -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.complaints).values(
                case_id=made.case_id,
                borrower_id=made.borrower_id,
                kind=kind,
                channel="LETTER",
                written=True,
                description="Complaint about the calls",
                status="OPEN",
                filed_at=EARLIER,
                version=1,
            )
        )


async def warning(
    engine: AsyncEngine, made: Made, severity: str, status: str = "RAISED", cause: str = "t"
) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.warnings).values(
                case_id=made.case_id,
                borrower_id=made.borrower_id,
                rule="EXTERNAL_SIGNAL",
                rule_version="test",
                cause=f"{cause}:{severity}:{status}",
                severity=severity,
                status=status,
                reason="a test signal",
                raised_at=EARLIER,
                version=1,
            )
        )


async def _rows(engine: AsyncEngine, stmt: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(stmt))


async def actions(engine: AsyncEngine, case_id: int) -> list[tuple[date, str, str, str | None]]:
    """(as_of, step, status, rule) of every step taken on the case, in order."""
    a = tables.treatment_actions.c
    rows = await _rows(
        engine,
        select(a.as_of, a.step, a.status, a.rule).where(a.case_id == case_id).order_by(a.id),
    )
    return [tuple(row) for row in rows]


async def notices(engine: AsyncEngine, case_id: int) -> list[Any]:
    n = tables.notices.c
    return await _rows(engine, select(tables.notices).where(n.case_id == case_id).order_by(n.id))


async def tasks(engine: AsyncEngine, case_id: int) -> list[Any]:
    k = tables.tasks.c
    return await _rows(engine, select(tables.tasks).where(k.case_id == case_id).order_by(k.id))


async def treatment(engine: AsyncEngine, case_id: int) -> Any:
    ct = tables.case_treatments.c
    rows = await _rows(engine, select(tables.case_treatments).where(ct.case_id == case_id))
    return rows[0] if rows else None
