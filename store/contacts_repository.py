"""Repositories of contact work (contact points, contacts) for the unit of work, and the
mapping hooks that give loaded rows their domain enums back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from domain.borrowers.model import Borrower
from domain.conduct.engine import PastContact
from domain.contacts.model import (
    Contact,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    ContactPointKind,
    ContactPointStatus,
    ContactSource,
)
from domain.staff.model import Staff
from store import contacts_queries, loaders, tables

cp, ct = tables.contact_points.c, tables.contacts.c


def point_loaded(point: ContactPoint, _context: Any) -> None:
    """Gives a loaded contact point its enums (the columns hold their names)."""
    set_committed_value(point, "kind", ContactPointKind(point.kind))
    set_committed_value(point, "owner", ContactParty(point.owner))
    set_committed_value(point, "status", ContactPointStatus(point.status))


def contact_loaded(contact: Contact, _context: Any) -> None:
    """Gives a loaded contact its enums (the columns hold their names)."""
    set_committed_value(contact, "channel", ContactChannel(contact.channel))
    set_committed_value(contact, "direction", ContactDirection(contact.direction))
    set_committed_value(contact, "party", ContactParty(contact.party))
    set_committed_value(contact, "source", ContactSource(contact.source))
    if contact.outcome is not None:
        set_committed_value(contact, "outcome", ContactOutcome(contact.outcome))
    set_committed_value(contact, "breaches", list(contact.breaches or []))


class SqlContactPointRepository:
    def __init__(self, session: AsyncSession, scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = scope

    async def get(self, point_id: int) -> ContactPoint | None:
        found = await contacts_queries.points_by_id(self.session, [point_id], self.scope)
        return found[0]

    async def of_borrower(self, borrower_id: int) -> list[ContactPoint]:
        # Unscoped, as before: the caller has the borrower in scope already.
        found = await contacts_queries.points_by_borrower_id(self.session, [borrower_id])
        return found[0]

    async def add(self, point: ContactPoint) -> None:
        self.session.add(point)
        await self.session.flush()


class SqlContactRepository:
    def __init__(self, session: AsyncSession, case_scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = case_scope

    async def get(self, contact_id: int) -> Contact | None:
        stmt = (
            select(Contact)
            .join(tables.cases, tables.cases.c.id == ct.case_id)
            .where(ct.id == contact_id, self.scope)
            .with_for_update(of=tables.contacts)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, contact: Contact) -> None:
        self.session.add(contact)
        await self.session.flush()

    async def lock_borrower(self, borrower_id: int) -> Borrower | None:
        # PostgreSQL: the borrower's row stays locked until commit. SQLite: the unit of work's
        # IMMEDIATE transaction already holds the database's write lock. Unscoped: the borrower
        # of a case the caller may see is one they may see.
        stmt = (
            select(Borrower)
            .where(tables.borrowers.c.id == borrower_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def history(self, borrower_id: int, at: datetime) -> list[PastContact]:
        return await contacts_queries.history(self.session, borrower_id, at)

    async def staff_by_login(self, login: str) -> Staff | None:
        return await loaders.staff_by_login(self.session, login)
