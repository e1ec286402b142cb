"""Alembic: the revisions build the whole schema, with no drift from the table metadata, and carry
the data already kept into new columns."""

from __future__ import annotations

from datetime import date, timedelta

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from store import tables
from store.db import create_engine
from store.migrate import alembic_config, current_revision, downgrade, drift, upgrade
from store.tables import metadata
from tests.factories import Factory


async def test_upgrade_creates_every_table_without_drift(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert await current_revision(engine) == head
        assert await drift(engine) == []
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(metadata.tables) <= names
        await upgrade(engine)  # idempotent
        assert await current_revision(engine) == head
    finally:
        await engine.dispose()


async def test_every_case_filter_and_ordering_has_an_index(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("cases"))
        leading = {tuple(ix["column_names"][:1]) for ix in indexes}
        for column in (
            "days_past_due",
            "outstanding_amount",
            "opened_on",
            "classification",
            "stage",
            "status",
            "assignee_id",
            "agency_id",
        ):
            assert (column,) in leading, column
    finally:
        await engine.dispose()


async def test_0011_keeps_the_spell_start_of_the_history_already_kept(
    empty_database_url: str,
) -> None:
    """Each existing classification period gets the first day of its delinquent spell (of the
    spell it ended, for a current one) when migration 0011 adds the column."""
    engine = create_engine(empty_database_url)
    try:
        # The factory writes today's tables: the case is made at head, then the schema goes
        # back to 0010 (the rows stay) and the history is written as 0010 knew it.
        await upgrade(engine)
        made = await Factory(engine).case()
        await downgrade(engine, "0010")
        periods = [
            ("M0", date(2026, 1, 1)),
            ("M1", date(2026, 2, 1)),
            ("M2", date(2026, 3, 3)),
            ("M0", date(2026, 3, 20)),
            ("M0", date(2026, 4, 1)),  # a new class, still current: ends no spell
            ("M1", date(2026, 5, 2)),
        ]
        async with engine.begin() as conn:
            for n, (bucket, first) in enumerate(periods):
                following = periods[n + 1][1] if n + 1 < len(periods) else None
                await conn.execute(
                    text(
                        "INSERT INTO classification_history (case_id, classification, bucket, "
                        "from_date, to_date, policy_version) "
                        "VALUES (:case_id, 'X', :bucket, :first, :last, 'v')"
                    ),
                    {
                        "case_id": made.case.id,
                        "bucket": bucket,
                        "first": first,
                        "last": following - timedelta(days=1) if following else None,
                    },
                )
        await upgrade(engine, "0011")
        h = tables.classification_history.c
        async with engine.connect() as conn:
            found = await conn.execute(
                select(h.bucket, h.spell_from)
                .where(h.case_id == made.case.id)
                .order_by(h.from_date)
            )
            assert [tuple(row) for row in found] == [
                ("M0", None),
                ("M1", date(2026, 2, 1)),
                ("M2", date(2026, 2, 1)),
                ("M0", date(2026, 2, 1)),
                ("M0", None),
                ("M1", date(2026, 5, 2)),
            ]
    finally:
        await engine.dispose()
