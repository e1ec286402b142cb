"""Whether a database holds the schema this code needs, found without changing the database.

Commands that only read (``arrears token``, ``arrears audit verify``…) check first, so that run
from the wrong directory they say which database they opened instead of creating an empty SQLite
file there and failing on a missing table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine

from store.db import DatabaseUrlError
from store.migrate import alembic_config


class SchemaNotReady(Exception):
    """The database is missing, was never migrated, or is at another revision than the code."""


@dataclass(frozen=True)
class SchemaState:
    """What a database holds: ``exists`` False for a SQLite file that is not there (nothing
    was opened); ``revision`` None for a database that was never migrated."""

    name: str  # as people see it: the URL, password hidden (and a SQLite file's full path)
    exists: bool
    revision: str | None
    heads: tuple[str, ...]
    known: tuple[str, ...]  # every revision of the packaged migrations

    @property
    def current(self) -> bool:
        return self.revision is not None and self.heads == (self.revision,)

    def problem(self) -> str | None:
        """Returns what stops a command from using the database, or None."""
        if not self.exists:
            return (
                f"the database {self.name} does not exist; run `arrears migrate` first "
                "(or set ARREARS_DATABASE_URL)"
            )
        if self.revision is None:
            return (
                f"the database {self.name} has no schema (not migrated); "
                "run `arrears migrate` first"
            )
        if self.revision not in self.known:
            return (
                f"the database {self.name} is at revision {self.revision}, which this version of "
                "arrears does not know; upgrade arrears"
            )
        if not self.current:
            return (
                f"the database {self.name} is at revision {self.revision}, not the newest "
                f"({', '.join(self.heads)}); run `arrears migrate` first"
            )
        return None


def display_url(url: str) -> str:
    """Returns the URL as people may see it: the password, if any, as ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def _revisions() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Returns the newest revision(s) of the packaged migrations, and all of them."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return tuple(scripts.get_heads()), tuple(r.revision for r in scripts.walk_revisions())


def _sqlite_file(url: URL) -> Path | None:
    """Returns the file of a SQLite URL, or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    return Path(database.removeprefix("file:"))


def _read_only(url: URL) -> URL:
    """Returns a SQLite URL that opens its file read-only (and never creates it)."""
    database = url.database or ""
    if not database.startswith("file:"):
        database = f"file:{database}"
    query = {**url.query, "mode": "ro", "uri": "true"}
    return url.set(database=database, query=query)


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def schema_state(url: str) -> SchemaState:
    """Returns the database's Alembic revision without creating or changing anything.

    A SQLite file that does not exist is not opened; one that does is opened read-only."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"invalid database URL: {exc}") from None
    shown = display_url(url)
    heads, known = _revisions()
    if parsed.drivername.startswith("sqlite"):
        path = _sqlite_file(parsed)
        if path is None:
            return SchemaState(shown, True, None, heads, known)
        if not path.is_file():
            return SchemaState(f"{shown} ({path.resolve()})", False, None, heads, known)
        parsed = _read_only(parsed)
    elif not parsed.drivername.startswith("postgresql"):
        raise DatabaseUrlError(
            f"unsupported database driver {parsed.drivername!r}: "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    engine = create_async_engine(parsed, hide_parameters=True)
    try:
        async with engine.connect() as conn:
            revision = await conn.run_sync(_revision)
    finally:
        await engine.dispose()
    return SchemaState(shown, True, revision, heads, known)


async def require_current_schema(url: str) -> None:
    """Raises SchemaNotReady, naming the database, unless it is migrated to the newest revision."""
    problem = (await schema_state(url)).problem()
    if problem is not None:
        raise SchemaNotReady(problem)
