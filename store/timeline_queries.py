"""A case's timeline in SQL: one UNION ALL over its contacts (refused attempts and breaches
included), promises, payments, payment reversals and the case events the timeline shows,
newest first, keyset-paginated on (at, source, id). A page is one statement (and one more for
the count, when asked), whatever its size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    false,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.timeline.entries import (
    EVENT_KINDS,
    EntryKind,
    contact_summary,
    event_summary,
    payment_summary,
    promise_summary,
    reversal_summary,
)
from store import keyset, tables
from store.keys import is_int
from store.keyset import InvalidCursor
from store.types import Amount, UTCDateTime

LISTING = "timeline"


class Source:
    """Where an entry comes from; also the tiebreak of entries at the same instant (higher
    first, then the higher id)."""

    CONTACT = 1
    PROMISE = 2
    PAYMENT = 3
    REVERSAL = 4
    EVENT = 5


@dataclass(frozen=True)
class TimelineRow:
    """One entry as read: what it is, when, who acted, and what it links to."""

    source: int
    id: int  # the row's id in its own table (contacts, promises, payments, case_events)
    at: datetime
    kind: EntryKind
    summary: str
    actor_id: int | None
    contact_id: int | None = None
    promise_id: int | None = None
    payment_id: int | None = None
    assignee_id: int | None = None
    agency_id: int | None = None

    @property
    def sort_value(self) -> list[Any]:
        return [self.at.isoformat(), self.source]


def _typed_null(type_: Any) -> ColumnElement[Any]:
    return null().cast(type_)


def _source(code: int) -> ColumnElement[int]:
    return literal_column(str(code), Integer)


def _branches(case_id: int) -> list[Select[Any]]:
    """One SELECT per source, with the same columns: src, id, at, actor_id, t1…t5 (text),
    flag, at2, amount, currency, day, data."""
    ct, p, pay, ev = (
        tables.contacts.c,
        tables.promises.c,
        tables.payments.c,
        tables.case_events.c,
    )
    none_text = _typed_null(String(64))
    contacts = select(
        _source(Source.CONTACT).label("src"),
        ct.id.label("id"),
        ct.at.label("at"),
        ct.staff_id.label("actor_id"),
        ct.channel.label("t1"),
        ct.direction.label("t2"),
        ct.party.label("t3"),
        ct.outcome.label("t4"),
        ct.rule.label("t5"),
        ct.blocked.label("flag"),
        ct.next_allowed_at.label("at2"),
        _typed_null(Amount()).label("amount"),
        _typed_null(String(3)).label("currency"),
        _typed_null(Date()).label("day"),
        ct.breaches.label("data"),
    ).where(ct.case_id == case_id)
    promises = select(
        _source(Source.PROMISE),
        p.id,
        p.created_at,
        p.staff_id,
        p.status,
        none_text,
        none_text,
        none_text,
        none_text,
        false(),
        _typed_null(UTCDateTime()),
        p.amount,
        p.currency,
        p.due_date,
        _typed_null(JSON()),
    ).where(p.case_id == case_id)

    def payment_branch(code: int, at: Any, actor: Any, *where: Any) -> Select[Any]:
        return select(
            _source(code),
            pay.id,
            at,
            actor,
            pay.source,
            none_text,
            none_text,
            none_text,
            none_text,
            pay.reversed,
            _typed_null(UTCDateTime()),
            pay.amount,
            pay.currency,
            _typed_null(Date()),
            _typed_null(JSON()),
        ).where(pay.case_id == case_id, *where)

    events = select(
        _source(Source.EVENT),
        ev.id,
        ev.at,
        ev.actor_id,
        ev.name,
        none_text,
        none_text,
        none_text,
        none_text,
        false(),
        _typed_null(UTCDateTime()),
        _typed_null(Amount()),
        _typed_null(String(3)),
        _typed_null(Date()),
        ev.data,
    ).where(ev.case_id == case_id, ev.name.in_(sorted(EVENT_KINDS)))
    return [
        contacts,
        promises,
        payment_branch(Source.PAYMENT, pay.paid_at, pay.posted_by),
        payment_branch(
            Source.REVERSAL,
            pay.reversed_at,
            pay.reversed_by,
            pay.reversed.is_(True),
            pay.reversed_at.is_not(None),
        ),
        events,
    ]


def _union(case_id: int) -> Any:
    return union_all(*_branches(case_id)).subquery("timeline")


def page_statement(case_id: int, after: keyset.Keyset | None) -> Select[Any]:
    """The page's SELECT, newest first (``keyset.fetch_page`` adds the LIMIT)."""
    u = _union(case_id)
    statement = select(u)
    if after is not None:
        at, src = after.value
        order = [(u.c.at, True), (u.c.src, True)]
        statement = statement.where(
            keyset.after_row_clause(order, [at, src], u.c.id, after.id, id_descending=True)
        )
    return statement.order_by(u.c.at.desc(), u.c.src.desc(), u.c.id.desc())


def _row(r: Any) -> TimelineRow:
    common = {"source": r.src, "id": r.id, "at": r.at, "actor_id": r.actor_id}
    if r.src == Source.CONTACT:
        blocked = bool(r.flag)
        summary = contact_summary(
            r.t1,
            r.t2,
            r.t3,
            r.t4,
            blocked=blocked,
            rule=r.t5,
            next_allowed_at=r.at2,
            breaches=list(r.data or ()),
        )
        kind = EntryKind.CONTACT_BLOCKED if blocked else EntryKind.CONTACT
        return TimelineRow(**common, kind=kind, summary=summary, contact_id=r.id)
    if r.src == Source.PROMISE:
        summary = promise_summary(Decimal(r.amount), r.currency, r.day, r.t1)
        return TimelineRow(**common, kind=EntryKind.PROMISE, summary=summary, promise_id=r.id)
    if r.src == Source.PAYMENT:
        summary = payment_summary(Decimal(r.amount), r.currency, r.t1)
        return TimelineRow(**common, kind=EntryKind.PAYMENT, summary=summary, payment_id=r.id)
    if r.src == Source.REVERSAL:
        summary = reversal_summary(Decimal(r.amount), r.currency)
        return TimelineRow(
            **common, kind=EntryKind.PAYMENT_REVERSED, summary=summary, payment_id=r.id
        )
    data = dict(r.data or {})
    kind = EVENT_KINDS[r.t1]
    assignee = data.get("assignee_id") if kind is EntryKind.ASSIGNED else None
    agency = data.get("agency_id") if kind in (EntryKind.PLACED, EntryKind.RECALLED) else None
    return TimelineRow(
        **common,
        kind=kind,
        summary=event_summary(kind, data),
        assignee_id=assignee if isinstance(assignee, int) else None,
        agency_id=agency if isinstance(agency, int) else None,
    )


async def fetch_page(
    session: AsyncSession, case_id: int, after: keyset.Keyset | None, first: int
) -> tuple[list[TimelineRow], bool]:
    """Returns up to ``first`` entries after the keyset, newest first, and whether more follow."""
    rows, more = await keyset.fetch_page(
        session, page_statement(case_id, after), first, scalars=False
    )
    return [_row(r) for r in rows], more


async def count(session: AsyncSession, case_id: int) -> int:
    """Returns how many entries the case's timeline holds."""
    statement = select(func.count()).select_from(_union(case_id))
    return int((await session.execute(statement)).scalar_one())


def encode_cursor(row: TimelineRow) -> str:
    """An opaque cursor of the entry's instant, source and id (no personal data)."""
    return keyset.encode_cursor(LISTING, row.id, row.sort_value)


def decode_cursor(cursor: str) -> keyset.Keyset:
    """Returns the position a timeline cursor encodes, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, LISTING)
    raw = position.value
    try:
        if not (isinstance(raw, list) and len(raw) == 2):
            raise InvalidCursor("malformed cursor")
        at_text, src = raw
        if not (isinstance(src, int) and is_int(src) and Source.CONTACT <= src <= Source.EVENT):
            raise InvalidCursor("malformed cursor")
        if not isinstance(at_text, str) or len(at_text) > 40:
            raise InvalidCursor("malformed cursor")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidCursor("malformed cursor")
        at = at.astimezone(UTC)  # an instant no timestamp column can hold overflows here
    except (TypeError, ValueError, OverflowError):
        raise InvalidCursor("malformed cursor") from None
    return keyset.Keyset([at, src], position.id)
