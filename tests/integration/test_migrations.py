"""Alembic: the first revision builds the whole schema, with no drift from the table metadata."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from store.db import create_engine
from store.migrate import alembic_config, current_revision, drift, upgrade
from store.tables import metadata


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
