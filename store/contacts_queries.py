"""Read side of contact work: contact points by borrower or id, a borrower's recent contacts
for the conduct rules, a case's contacts in keyset order, and the contact a logContact or
startContact retry already made."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, or_, select
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
from store import keyset, loaders, tables
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


async def histories(
    session: AsyncSession, borrower_ids: Sequence[int], at: datetime
) -> dict[int, list[PastContact]]:
    """Returns what the conduct rules count for each borrower at ``at``, in one statement for
    them all: the borrower's contacts (on any of their cases) in the ``HISTORY_DAYS`` before it (by
    every caller, lender and agencies alike, refused attempts included), and every refusal by an
    unrelated third party ever recorded (a third party who refused stays refused), each with its
    point's ``value_key`` (duplicate points of a number count as one, whoever owns the point),
    oldest first. Every borrower asked for has an entry (empty: no contacts)."""
    found: dict[int, list[PastContact]] = {i: [] for i in borrower_ids}
    if not found:
        return found
    recent = and_(ct.at > at - timedelta(days=HISTORY_DAYS), ct.at <= at)
    refused = and_(
        ct.outcome == ContactOutcome.REFUSED_TO_PAY.value,
        ct.party == ContactParty.UNRELATED_THIRD_PARTY.value,
    )
    stmt = (
        select(
            ct.borrower_id,
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
        .where(ct.borrower_id.in_(sorted(found)), or_(recent, refused))
        .order_by(ct.at, ct.id)
    )
    for row in (await session.execute(stmt)).all():
        found[row.borrower_id].append(
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
        )
    return found


async def history(session: AsyncSession, borrower_id: int, at: datetime) -> list[PastContact]:
    """Returns what the conduct rules count for one borrower at ``at`` (``histories``)."""
    return (await histories(session, [borrower_id], at))[borrower_id]


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


async def contact_for_key(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, int | None, Contact | None] | None:
    """Returns (operation, case id, the contact it made or None) recorded for a caller's
    idempotency key, or None when the key is new (a contact logged, or started and granted or
    refused, keeps the key it was sent with, in the transaction that recorded the claim)."""
    claimed = await loaders.idempotent_result(session, staff_id, key)
    if claimed is None:
        return None
    operation, case_id = claimed
    stmt = select(Contact).where(ct.staff_id == staff_id, ct.idempotency_key == key)
    contact = (await session.execute(stmt.order_by(ct.id).limit(1))).scalar_one_or_none()
    return str(operation), case_id, contact
