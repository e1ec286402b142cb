"""A case's timeline in SQL: one UNION ALL over its contacts (refused attempts and breaches
included), promises, payments, payment reversals and the case events the timeline shows,
newest first, keyset-paginated on (at, source, id). The union covers many cases at once
(``union_of``): ``store.nested_pages`` pages it per case, so that the timelines of a whole page
of cases cost one statement (and one more for their counts, when asked), whatever their size."""

from __future__ import annotations

from collections.abc import Sequence
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
    literal_column,
    null,
    select,
    union_all,
)

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


def _branches(case_ids: Sequence[int] | Select[tuple[int]]) -> list[Select[Any]]:
    """One SELECT per source, with the same columns: src, id, at, actor_id, t1…t5 (text),
    flag (a contact: blocked; a payment: a recovery; a reversal: reversed), at2, amount,
    currency, day, data, case_id."""
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
        ct.case_id.label("case_id"),
    ).where(ct.case_id.in_(case_ids))
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
        p.case_id,
    ).where(p.case_id.in_(case_ids))

    def payment_branch(code: int, at: Any, actor: Any, flag: Any, *where: Any) -> Select[Any]:
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
            flag,
            _typed_null(UTCDateTime()),
            pay.amount,
            pay.currency,
            _typed_null(Date()),
            _typed_null(JSON()),
            pay.case_id,
        ).where(pay.case_id.in_(case_ids), *where)

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
        ev.case_id,
    ).where(ev.case_id.in_(case_ids), ev.name.in_(sorted(EVENT_KINDS)))
    return [
        contacts,
        promises,
        payment_branch(Source.PAYMENT, pay.paid_at, pay.posted_by, pay.recovery),
        payment_branch(
            Source.REVERSAL,
            pay.reversed_at,
            pay.reversed_by,
            pay.reversed,
            pay.reversed.is_(True),
            pay.reversed_at.is_not(None),
        ),
        events,
    ]


def union_of(case_ids: Sequence[int] | Select[tuple[int]]) -> Any:
    """The subquery of every entry of those cases' timelines (``case_id`` says whose;
    ``case_ids``: the ids, or a SELECT of them)."""
    return union_all(*_branches(case_ids)).subquery("timeline")


def after_clause(u: Any, after: keyset.Keyset) -> ColumnElement[bool]:
    """The entries of ``union_of`` after a position, in timeline order (``order_of``)."""
    at, src = after.value
    order = [(u.c.at, True), (u.c.src, True)]
    return keyset.after_row_clause(order, [at, src], u.c.id, after.id, id_descending=True)


def order_of(u: Any) -> list[ColumnElement[Any]]:
    """Timeline order, newest first: by instant, then source, then id (all descending)."""
    return [u.c.at.desc(), u.c.src.desc(), u.c.id.desc()]


def row_of(r: Any) -> TimelineRow:
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
        summary = payment_summary(Decimal(r.amount), r.currency, r.t1, bool(r.flag))
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
    payment = data.get("payment_id") if kind is EntryKind.PAYMENT_REAPPLIED else None
    return TimelineRow(
        **common,
        kind=kind,
        summary=event_summary(kind, data),
        assignee_id=assignee if isinstance(assignee, int) else None,
        agency_id=agency if isinstance(agency, int) else None,
        payment_id=payment if isinstance(payment, int) else None,
    )


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
