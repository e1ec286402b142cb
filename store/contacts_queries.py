"""Read side of contact work: contact points by borrower or id, a borrower's recent contacts
for the conduct rules, a case's contacts in keyset order, and the contact a logContact or
startContact retry already made."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.conduct.engine import PastContact
from domain.contacts.model import (
    Contact,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    ContactPointKind,
    value_key,
)
from store import keyset, tables
from store.keyset import InvalidCursor, Keyset

cp, ct, cs = tables.contact_points.c, tables.contacts.c, tables.cases.c

# How far back the conduct rules look: the longest window (7 days) and a local day around it.
HISTORY_DAYS = 8


def _scoped_points(scope: ColumnElement[bool] | None) -> Select[ContactPoint]:
    stmt = select(ContactPoint)
    if scope is not None:
        stmt = stmt.join(tables.borrowers, tables.borrowers.c.id == cp.borrower_id).where(scope)
    return stmt


async def points_by_borrower_id(
    session: AsyncSession, borrower_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[ContactPoint]]:
    """Returns each borrower's contact points, oldest first (``scope``: over ``borrowers``)."""
    stmt = _scoped_points(scope).where(cp.borrower_id.in_(borrower_ids)).order_by(cp.id)
    grouped: dict[int, list[ContactPoint]] = defaultdict(list)
    for point in (await session.execute(stmt)).scalars():
        grouped[point.borrower_id].append(point)
    return [grouped.get(i, []) for i in borrower_ids]


async def points_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[ContactPoint | None]:
    """Returns the contact points with those ids whose borrower the scope lets through."""
    stmt = _scoped_points(scope).where(cp.id.in_(ids))
    found = {point.id: point for point in (await session.execute(stmt)).scalars()}
    return [found.get(i) for i in ids]


def _scoped_contacts(scope: ColumnElement[bool] | None) -> Select[Contact]:
    stmt = select(Contact)
    if scope is not None:
        stmt = stmt.join(tables.cases, cs.id == ct.case_id).where(scope)
    return stmt


async def contacts_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Contact | None]:
    """Returns the contacts with those ids whose case the scope lets through."""
    stmt = _scoped_contacts(scope).where(ct.id.in_(ids))
    found = {contact.id: contact for contact in (await session.execute(stmt)).scalars()}
    return [found.get(i) for i in ids]


async def history(session: AsyncSession, borrower_id: int, at: datetime) -> list[PastContact]:
    """Returns what the conduct rules count for a borrower at ``at``: the contacts on any of
    their cases in the ``HISTORY_DAYS`` before it (by every caller, refused attempts included),
    and every refusal by an unrelated third party ever recorded (a third party who refused stays
    refused), each with its point's ``value_key`` (duplicate points of a number count as one)."""
    of_borrower = select(cs.id).where(cs.borrower_id == borrower_id).scalar_subquery()
    mine = ct.case_id.in_(of_borrower)
    recent = and_(ct.at > at - timedelta(days=HISTORY_DAYS), ct.at <= at)
    refused = and_(
        ct.outcome == ContactOutcome.REFUSED_TO_PAY.value,
        ct.party == ContactParty.UNRELATED_THIRD_PARTY.value,
    )
    stmt = (
        select(
            ct.at,
            ct.case_id,
            ct.channel,
            ct.party,
            ct.direction,
            ct.contact_point_id,
            ct.outcome,
            ct.blocked,
            ct.consented,
            ct.agency_id,
            cp.kind.label("point_kind"),
            cp.value.label("point_value"),
        )
        .outerjoin(tables.contact_points, cp.id == ct.contact_point_id)
        .where(mine, or_(recent, refused))
    )
    return [
        PastContact(
            at=row.at,
            case_id=row.case_id,
            channel=ContactChannel(row.channel),
            party=ContactParty(row.party),
            direction=ContactDirection(row.direction),
            contact_point_id=row.contact_point_id,
            outcome=ContactOutcome(row.outcome) if row.outcome else None,
            blocked=bool(row.blocked),
            consented=bool(row.consented),
            agency_id=row.agency_id,
            point_key=(
                value_key(ContactPointKind(row.point_kind), row.point_value)
                if row.point_value is not None
                else None
            ),
        )
        for row in (await session.execute(stmt)).all()
    ]


# ---- a case's contacts, newest first ---------------------------------------------------------

LISTING = "contacts"


def encode_cursor(contact: Contact) -> str:
    assert contact.id is not None
    return keyset.encode_cursor(LISTING, contact.id, contact.at.isoformat())


def decode_cursor(cursor: str) -> Keyset:
    """Returns the position a cursor of this listing points after, or raises InvalidCursor."""
    found = keyset.decode_cursor(cursor, LISTING)
    try:
        at = datetime.fromisoformat(found.value) if isinstance(found.value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidCursor("malformed cursor")
    return Keyset(at, found.id)


def _of_case(case_id: int, scope: ColumnElement[bool]) -> Select[Contact]:
    return _scoped_contacts(scope).where(ct.case_id == case_id)


async def fetch_page(
    session: AsyncSession,
    case_id: int,
    scope: ColumnElement[bool],
    after: Keyset | None,
    first: int,
) -> tuple[list[Contact], bool]:
    """Returns a page of a case's contacts, newest first (ties by id), and whether more follow."""
    stmt = _of_case(case_id, scope).order_by(ct.at.desc(), ct.id)
    if after is not None:
        stmt = stmt.where(keyset.after_clause(ct.at, True, ct.id, after))
    return await keyset.fetch_page(session, stmt, first)


async def count(session: AsyncSession, case_id: int, scope: ColumnElement[bool]) -> int:
    stmt = select(func.count()).select_from(_of_case(case_id, scope).subquery())
    return int((await session.execute(stmt)).scalar_one())


async def contact_for_key(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, int | None, Contact | None] | None:
    """Returns (operation, case id, the contact it made or None) recorded for a caller's
    idempotency key, or None when the key is new (a contact logged, or started and granted or
    refused, keeps the key it was sent with, in the transaction that recorded the claim)."""
    k = tables.idempotency_keys.c
    row = (
        await session.execute(
            select(k.operation, k.case_id, k.created_at).where(k.staff_id == staff_id, k.key == key)
        )
    ).one_or_none()
    if row is None:
        return None
    stmt = select(Contact).where(ct.staff_id == staff_id, ct.idempotency_key == key)
    contact = (await session.execute(stmt.order_by(ct.id).limit(1))).scalar_one_or_none()
    return str(row.operation), row.case_id, contact
