"""The daily run's bookkeeping (which dates ran, with what summary) and the reads of what it
keeps: a case's classification history, batched for the API's DataLoader."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from store import tables

r = tables.daily_runs.c
h = tables.classification_history.c


@dataclass(frozen=True)
class ClassificationPeriod:
    """A case's classification and bucket from ``from_date`` to ``to_date`` (both inclusive;
    None: the current period), and the policy version that decided it."""

    case_id: int
    classification: str
    bucket: str
    from_date: date
    to_date: date | None
    policy_version: str


def sessions_in(conn: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions that join the connection's transaction: a unit of work made with them commits
    to a savepoint, so its changes, events and audit commit (or roll back) with the run."""
    return async_sessionmaker(
        bind=conn,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )


async def last_run(conn: AsyncConnection) -> date | None:
    """Returns the latest date the daily run completed, if any."""
    last: date | None = (await conn.execute(select(func.max(r.as_of)))).scalar_one()
    return last


async def has_run(conn: AsyncConnection, as_of: date) -> bool:
    return (await conn.execute(select(r.as_of).where(r.as_of == as_of))).first() is not None


async def record_run(
    conn: AsyncConnection,
    as_of: date,
    started_at: datetime,
    finished_at: datetime,
    summary: Mapping[str, Any],
) -> None:
    """Records that the run for ``as_of`` completed (in the run's own transaction)."""
    await conn.execute(
        insert(tables.daily_runs).values(
            as_of=as_of, started_at=started_at, finished_at=finished_at, summary=dict(summary)
        )
    )


async def periods_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[ClassificationPeriod]]:
    """Returns each case's classification periods, oldest first (one statement per batch,
    limited by the caller's case scope)."""
    stmt = select(
        h.case_id, h.classification, h.bucket, h.from_date, h.to_date, h.policy_version
    ).where(h.case_id.in_(case_ids))
    if scope is not None:
        stmt = stmt.where(h.case_id.in_(select(tables.cases.c.id).where(scope)))
    stmt = stmt.order_by(h.case_id, h.from_date, h.id)
    grouped: dict[int, list[ClassificationPeriod]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row.case_id].append(ClassificationPeriod(**row._mapping))
    return [grouped.get(case_id, []) for case_id in case_ids]
