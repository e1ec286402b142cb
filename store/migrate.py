"""Programmatic Alembic on an async engine: upgrade (to head or a given revision), read the
current revision, check for drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


def alembic_config(connection: Connection | None = None) -> Config:
    """Returns an Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrades the database to the given revision (the newest by default)."""
    async with engine.begin() as connection:
        await connection.run_sync(lambda conn: command.upgrade(alembic_config(conn), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Downgrades the database to the given revision (tests of a migration's data step)."""
    async with engine.begin() as connection:
        await connection.run_sync(lambda conn: command.downgrade(alembic_config(conn), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """Returns the database's current revision, or None if it was never migrated."""

    def _current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def drift(engine: AsyncEngine) -> list[Any]:
    """Returns the differences between the migrated database and the table metadata."""
    from alembic.autogenerate import compare_metadata

    from store.tables import metadata

    def _compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        return await connection.run_sync(_compare)
