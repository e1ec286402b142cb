"""The operator's additions of staff and agencies (``arrears staff add``, ``arrears agency add``):
plain inserts inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.agencies.model import Agency
from domain.staff.model import Staff
from store import tables

st, ag = tables.staff.c, tables.agencies.c


async def login_taken(conn: AsyncConnection, login: str) -> bool:
    """Whether a staff row has this login (logins are compared as written)."""
    found = await conn.execute(
        select(func.count()).select_from(tables.staff).where(st.login == login)
    )
    return bool(found.scalar_one())


async def agency_named(conn: AsyncConnection, name: str) -> int | None:
    """The id of the agency with this name, if any."""
    return (await conn.execute(select(ag.id).where(ag.name == name))).scalar_one_or_none()


async def insert_staff(conn: AsyncConnection, staff: Staff) -> int:
    """Inserts the staff member; returns its id."""
    stmt = insert(tables.staff).values(
        login=staff.login,
        name=staff.name,
        roles=list(staff.roles),
        team=staff.team,
        agency_id=staff.agency_id,
        capacity=staff.capacity,
        active=True,
    )
    return int((await conn.execute(stmt.returning(st.id))).scalar_one())


async def insert_agency(conn: AsyncConnection, agency: Agency) -> int:
    """Inserts the agency; returns its id."""
    stmt = insert(tables.agencies).values(
        name=agency.name,
        commission_rate=agency.commission_rate,
        placement_days=agency.placement_days,
        tail_days=agency.tail_days,
        active=True,
    )
    return int((await conn.execute(stmt.returning(ag.id))).scalar_one())
