"""What every report stands on, on both databases: the local day of an instant in a time zone
(``store.dialect.local_day``: PostgreSQL's time zones, the domain's rule on SQLite), and the
planner settings a report runs under on PostgreSQL, put back afterwards — also when the report
fails."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, literal, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.portfolios import local_date
from store.dialect import local_day
from store.report_basis import ANALYTIC_SETTINGS, analytic
from store.types import UTCDateTime

# Instants around midnight and New York's DST changes of 2026 (8 March, 1 November).
INSTANTS = [
    datetime(2026, 3, 8, 4, 59, 59, tzinfo=UTC),  # 23:59:59 EST, 7 March
    datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # 00:00 EST, 8 March
    datetime(2026, 3, 9, 3, 59, 59, tzinfo=UTC),  # 23:59:59 EDT, 8 March
    datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # 00:00 EDT, 9 March
    datetime(2026, 11, 1, 3, 59, 59, tzinfo=UTC),  # 23:59:59 EDT, 31 October
    datetime(2026, 11, 2, 4, 59, 59, tzinfo=UTC),  # 23:59:59 EST, 1 November
    datetime(2026, 11, 2, 5, 0, 0, 1, tzinfo=UTC),  # just after midnight EST, 2 November
    datetime(2026, 11, 1, 15, 59, 59, 999999, tzinfo=UTC),  # 23:59:59.999999 in Shanghai
    datetime(2026, 11, 1, 16, 0, tzinfo=UTC),  # 00:00 in Shanghai, 2 November
]
ZONES = ["America/New_York", "Asia/Shanghai", "UTC"]


async def test_an_instant_s_local_day_is_the_domain_s_on_both_databases(
    migrated: AsyncEngine,
) -> None:
    async with migrated.connect() as conn:
        for zone in ZONES:
            for at in INSTANTS:
                found = await conn.scalar(select(local_day(zone, literal(at, UTCDateTime()))))
                assert found == local_date(zone, at), (zone, at)
    assert local_date("America/New_York", INSTANTS[0]) == date(2026, 3, 7)
    assert local_date("America/New_York", INSTANTS[5]) == date(2026, 11, 1)
    assert local_date("Asia/Shanghai", INSTANTS[8]) == date(2026, 11, 2)


async def _settings(conn: AsyncConnection) -> tuple[Any, ...]:
    names = ", ".join(f"current_setting('{name}')" for name in ANALYTIC_SETTINGS)
    return tuple((await conn.execute(text(f"SELECT {names}"))).one())


async def test_a_report_s_planner_settings_hold_for_its_statements_only(
    migrated: AsyncEngine,
) -> None:
    """On PostgreSQL the settings hold inside and are put back after, also after an error in
    Python; on SQLite nothing is sent at all."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    async with migrated.connect() as conn:
        if migrated.dialect.name != "postgresql":
            event.listen(migrated.sync_engine, "before_cursor_execute", record)
            try:
                async with analytic(conn):
                    pass
            finally:
                event.remove(migrated.sync_engine, "before_cursor_execute", record)
            assert sent == []
            return
        before = await _settings(conn)
        assert before != tuple(ANALYTIC_SETTINGS.values())
        async with analytic(conn):
            assert await _settings(conn) == tuple(ANALYTIC_SETTINGS.values())
        assert await _settings(conn) == before
        with pytest.raises(ValueError, match="the report's own"):
            async with analytic(conn):
                raise ValueError("the report's own error")
        assert await _settings(conn) == before
