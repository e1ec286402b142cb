"""Staging tables of a feed import: temporary tables, one per record type, loaded in batches
(PostgreSQL: ``COPY`` through asyncpg's ``copy_records_to_table``; SQLite: executemany), then
checked and merged by ``store.feed_import`` with set-based SQL.

Each staged row carries ``rec``: where the record came from, packed as
``file_index * 2**32 + line`` (``pack``), so that a check in SQL can name the row without the
row's values ever leaving the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from store.types import Amount, UTCDateTime

# Apart from the application's metadata: Alembic never sees these.
staging = MetaData()
_LINE_BITS = 32


def pack(file_index: int, line: int) -> int:
    """Returns the ``rec`` of a line of the ``file_index``-th file of a feed."""
    return (file_index << _LINE_BITS) | line


def unpack(rec: int) -> tuple[int, int]:
    """Returns (file index, line) of a ``rec``."""
    return rec >> _LINE_BITS, rec & ((1 << _LINE_BITS) - 1)


def _temp(name: str, *columns: Any) -> Table:
    return Table(
        name,
        staging,
        Column("rec", BigInteger, nullable=False),
        *columns,
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )


borrowers = _temp(
    "feed_borrowers",
    Column("external_id", String(64), nullable=False),
    Column("full_name", String(120), nullable=False),
    Column("national_id", String(18), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("email", String(200), nullable=False),
    Column("address", String(300), nullable=False),
    Column("city", String(80), nullable=False),
    Column("district", String(80), nullable=False),
    Column("employer", String(200), nullable=False),
    Column("income", Amount(), nullable=False),
    Column("income_currency", String(3), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Index("ix_feed_borrowers_external_id", "external_id"),
    Index("ix_feed_borrowers_national_id", "national_id"),
)

contact_points = _temp(
    "feed_contact_points",
    Column("borrower_external_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", String(300), nullable=False),
    Column("owner", String(24), nullable=False),
    Column("status", String(16), nullable=False),
    Column("time_zone", String(64), nullable=True),
)

debts = _temp(
    "feed_debts",
    Column("account_number", String(32), nullable=False),
    Column("borrower_external_id", String(64), nullable=False),
    Column("portfolio", String(64), nullable=False),
    Column("product_type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal", Amount(), nullable=False),
    Column("interest", Amount(), nullable=False),
    Column("penalty", Amount(), nullable=False),
    Column("fee", Amount(), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("core_dpd", Integer, nullable=True),
    # Days past due as of the feed's date: the core's, else the schedule's (domain.feeds).
    Column("dpd", Integer, nullable=False),
    Index("ix_feed_debts_account_number", "account_number"),
)

instalments = _temp(
    "feed_instalments",
    Column("account_number", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("amount_due", Amount(), nullable=False),
    Column("amount_paid", Amount(), nullable=False),
    Index("ix_feed_instalments_account_sequence", "account_number", "sequence"),
)

payments = _temp(
    "feed_payments",
    Column("account_number", String(32), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=False),
    Index("ix_feed_payments_reference", "reference"),
    Index("ix_feed_payments_account_number", "account_number"),
)

reversals = _temp(
    "feed_reversals",
    Column("reference", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)

charge_offs = _temp(
    "feed_charge_offs",
    Column("account_number", String(32), nullable=False),
    Column("date", Date, nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
)

loan_book = _temp(
    "feed_loan_book",
    Column("date", Date, nullable=False),
    Column("portfolio", String(64), nullable=False),
    Column("product_type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal", Amount(), nullable=False),
)

costs = _temp(
    "feed_costs",
    Column("date", Date, nullable=False),
    Column("portfolio", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Amount(), nullable=False),
)

# Keys of rows refused before staging (their key field was readable): a reference to one is
# that row's fault, reported once at the row itself.
rejected_keys = Table(
    "feed_rejected_keys",
    staging,
    Column("kind", String(16), nullable=False),
    Column("key", String(64), nullable=False),
    Index("ix_feed_rejected_keys_kind_key", "kind", "key"),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)

TABLES: tuple[Table, ...] = (
    borrowers,
    contact_points,
    debts,
    instalments,
    payments,
    reversals,
    charge_offs,
    loan_book,
    costs,
    rejected_keys,
)
# Temporary tables the merge makes with CREATE TEMPORARY TABLE … AS.
DERIVED = ("feed_groups", "feed_moves", "feed_figures")


async def create(conn: AsyncConnection) -> None:
    """Creates the staging tables (empty) in the connection's transaction; indexes come after
    the load (``index``), which is faster than keeping them up to date row by row."""
    await drop(conn)
    for table in TABLES:
        indexes = set(table.indexes)
        table.indexes.clear()
        try:
            await conn.run_sync(table.create)
        finally:
            table.indexes.update(indexes)


async def index(conn: AsyncConnection) -> None:
    """Indexes the loaded staging tables and, on PostgreSQL, gathers their statistics (nothing
    analyses temporary tables on its own, and the merge's plans depend on them)."""
    for table in TABLES:
        for ix in table.indexes:
            await conn.run_sync(ix.create)
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"ANALYZE {table.name}")


async def drop(conn: AsyncConnection) -> None:
    """Drops the staging tables if they exist (SQLite keeps temporary tables per connection)."""
    for name in (*DERIVED, *(t.name for t in TABLES)):
        await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


async def load(conn: AsyncConnection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """Appends rows (tuples in the table's column order) to a staging table: COPY on
    PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    names = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=rows, columns=names)
        return
    await conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
