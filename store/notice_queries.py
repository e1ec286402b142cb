"""Notices in SQL: the outbox's batch reads and writes (set-based: one statement per kind of
change, whatever the number of notices), the notice template versions notices name, and the
scoped, keyset-paginated listing of notices (newest first).

The outbox (``jobs.outbox``) takes the QUEUED notices that are due (``not_before`` NULL or
passed) in id order, a batch at a time:

- ``suppress_protected`` re-checks the batch in one UPDATE: the case's life cycle refusing
  contact (``CASE_CLOSED``, ``CASE_ON_HOLD``), a protection in force that stops contact (every
  channel) or allows letters only (SMS and e-mail), in the effects table's order
  (``domain.flags.effects``), then the notice's contact point gone (``NO_CONTACT_POINT``), opted
  out (``OPTED_OUT``) or marked invalid (``CONTACT_POINT_INVALID``), then the case owing nothing
  (``NOTHING_OWED``) or the notice queued too long ago (``STALE``): SUPPRESSED naming the
  first. A notice already handed to the gateway (``attempts`` > 0) is never suppressed
  (``domain.notices.outbox``: it may have reached the gateway, and is resent as stored);
- ``load_batch`` reads what the rest need in a fixed number of statements;
- ``claim`` stores one notice's text and counts its attempt just before it goes to the gateway
  (one statement per notice sent, by design: the attempt is on record before the request, and a
  notice never tried is left untouched);
- ``defer``, ``suppress``, ``fail``, ``retry`` and ``mark_sent`` write the outcomes (one
  statement each, executed for many rows), and ``sent_events`` / ``failed_events`` write the
  case events with INSERT…SELECT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import True_

from domain.borrowers.model import Borrower
from domain.cases.events import check_data_keys
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.complaints.model import ComplaintStatus
from domain.conduct.profiles import RuleName
from domain.contacts.conduct import WRITTEN_CHANNELS, lifecycle_refusal
from domain.contacts.model import ContactChannel, ContactParty, ContactPoint, ContactPointStatus
from domain.debts.model import DebtStatus
from domain.errors import DomainError
from domain.flags.effects import COMPLAINT_RULES, FLAG_RULES, Effect, Protection
from domain.lifecycle.table import Standing
from domain.notices.events import NoticeFailed, NoticeSent
from domain.notices.model import NoticeRule, NoticeStatus, Template
from domain.notices.outbox import STALE_AFTER, Instalment
from domain.notices.templates import DEFAULT_TEMPLATES, template_from_payload
from domain.portfolios import start_of_day
from domain.rulesets import RuleSetKind
from store import keyset, tables
from store.ageing import json_object
from store.contacts_queries import points_by_borrower_id
from store.keyset import InvalidCursor
from store.protections_queries import protections_by_case_id
from store.types import UTCDateTime

n, c, b = tables.notices.c, tables.cases.c, tables.borrowers.c
cm, bf, cp = tables.complaints.c, tables.borrower_flags.c, tables.contact_points.c
st, ag, d, p = tables.staff.c, tables.agencies.c, tables.debts.c, tables.payments.c
rv, nr = tables.rule_set_versions.c, tables.notice_receipts.c
i, snap = tables.instalments.c, tables.debt_snapshots.c
QUEUED = NoticeStatus.QUEUED.value

# ---- the outbox: which notices are due ---------------------------------------------------------


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(n.status == QUEUED, or_(n.not_before.is_(None), n.not_before <= now))


async def due_batch(conn: AsyncConnection, now: datetime, size: int) -> list[int]:
    """The ids of up to ``size`` QUEUED notices due at ``now``, oldest first."""
    stmt = select(n.id).where(_due(now)).order_by(n.id).limit(size)
    return [int(pk) for pk in (await conn.execute(stmt)).scalars()]


# ---- the outbox: the set-based re-check ---------------------------------------------------------


def _lifecycle_rules() -> list[tuple[ColumnElement[bool], str]]:
    """(condition on the notice's case, rule) for each case status whose life cycle refuses
    contact, from the life-cycle table (``domain.contacts.conduct.lifecycle_refusal``)."""
    found: list[tuple[ColumnElement[bool], str]] = []
    for status in CaseStatus:
        refusal = lifecycle_refusal(Standing(status, CaseStage.COLLECTION, False, False))
        if refusal is not None:
            held = exists().where(c.id == n.case_id, c.status == status.value)
            found.append((held, refusal[0]))
    return found


def _protection_rules() -> list[tuple[ColumnElement[bool], str]]:
    """(condition, rule) for each protection that stops the notice, in the effects table's
    order: STOP_CONTACT on every channel, LETTERS_ONLY on any channel but a letter."""
    written = sorted(ch.value for ch in WRITTEN_CHANNELS)
    found: list[tuple[ColumnElement[bool], str]] = []
    rows: list[tuple[Any, ColumnElement[bool]]] = [
        (
            row,
            exists().where(
                cm.case_id == n.case_id, cm.status == ComplaintStatus.OPEN.value, cm.kind == kind
            ),
        )
        for kind, row in COMPLAINT_RULES.items()
    ]
    rows += [
        (
            row,
            exists().where(
                bf.borrower_id == n.borrower_id, bf.lifted_at.is_(None), bf.flag == flag.value
            ),
        )
        for flag, row in FLAG_RULES.items()
    ]
    for row, in_force in rows:
        if Effect.STOP_CONTACT in row.effects:
            found.append((in_force, row.rule))
        elif Effect.LETTERS_ONLY in row.effects:
            found.append((and_(in_force, n.channel.not_in(written)), row.rule))
    return found


def _point_rules() -> list[tuple[ColumnElement[bool], str]]:
    """(condition, rule) of the notice's contact point: none, opted out, marked invalid."""
    status = select(cp.status).where(cp.id == n.contact_point_id).scalar_subquery()
    return [
        (n.contact_point_id.is_(None), NoticeRule.NO_CONTACT_POINT.value),
        (status == ContactPointStatus.OPTED_OUT.value, RuleName.OPTED_OUT.value),
        (status == ContactPointStatus.INVALID.value, RuleName.CONTACT_POINT_INVALID.value),
    ]


def _relevance_rules(now: datetime) -> list[tuple[ColumnElement[bool], str]]:
    """(condition, rule) of what the notice would say: the case owes nothing now, or the notice
    was queued more than ``STALE_AFTER`` ago."""
    paid = exists().where(c.id == n.case_id, c.outstanding_amount <= 0)
    return [
        (paid, NoticeRule.NOTHING_OWED.value),
        (n.created_at < now - STALE_AFTER, NoticeRule.STALE.value),
    ]


def suppression_rule(now: datetime) -> ColumnElement[Any]:
    """Over ``notices``: the first rule that stops the notice at ``now`` (NULL: none)."""
    whens = [
        *_lifecycle_rules(),
        *_protection_rules(),
        *_point_rules(),
        *_relevance_rules(now),
    ]
    return case(*((cond, literal(rule, String)) for cond, rule in whens), else_=null())


@dataclass(frozen=True)
class Suppressed:
    id: int
    case_id: int
    rule: str


async def suppress_protected(
    conn: AsyncConnection, ids: Sequence[int], now: datetime
) -> list[Suppressed]:
    """SUPPRESSES every notice of ``ids`` still QUEUED, never handed to the gateway, that a
    rule now stops (one UPDATE); returns them with the rule named."""
    if not ids:
        return []
    rule = suppression_rule(now)
    stmt = (
        update(tables.notices)
        .where(n.id.in_(list(ids)), n.status == QUEUED, n.attempts == 0, rule.is_not(None))
        .values(status=NoticeStatus.SUPPRESSED.value, rule=rule, version=n.version + 1)
        .returning(n.id, n.case_id, n.rule)
    )
    rows = (await conn.execute(stmt)).all()
    return sorted((Suppressed(r.id, r.case_id, r.rule) for r in rows), key=lambda s: s.id)


# ---- the outbox: what a batch needs --------------------------------------------------------------


@dataclass(frozen=True)
class QueuedNotice:
    """A QUEUED notice with what rendering and sending it needs (values in clear: the job
    masks what it prints)."""

    id: int
    case_id: int
    borrower_id: int
    contact_point_id: int | None
    channel: ContactChannel
    party: ContactParty
    template: str
    template_version: str
    language: str
    attempts: int
    created_at: datetime
    case_reference: str
    portfolio: str
    currency: str
    days_past_due: int
    outstanding: Decimal
    opened_on: date
    borrower_name: str
    borrower_address: str  # the borrower record's mailing address
    collector_name: str | None
    collector_login: str | None
    agency_name: str | None
    # What an earlier attempt stored (None: never handed to the gateway): resent as it is.
    subject: str | None = None
    body: str | None = None
    body_digest: str | None = None


@dataclass
class Batch:
    """A batch of queued notices and everything about them, each kind read in one statement."""

    notices: list[QueuedNotice]
    cases: dict[int, Case] = field(default_factory=dict)
    borrowers: dict[int, Borrower] = field(default_factory=dict)
    points: dict[int, list[ContactPoint]] = field(default_factory=dict)  # by borrower
    protections: dict[int, Protection] = field(default_factory=dict)  # by case
    accounts: dict[int, str] = field(default_factory=dict)  # the first debt's number, by case
    payments_since: dict[int, Decimal] = field(default_factory=dict)  # by case
    # The unpaid instalments of the case's open debts (neither SETTLED nor CLOSED), by case.
    instalments: dict[int, list[Instalment]] = field(default_factory=dict)
    # The case's balance on its itemization date (the day it opened), where the daily run
    # kept that day's snapshots, by case.
    itemization: dict[int, Decimal] = field(default_factory=dict)
    templates: dict[tuple[str, str], Template] = field(default_factory=dict)

    def point(self, notice: QueuedNotice) -> ContactPoint | None:
        return next(
            (x for x in self.points.get(notice.borrower_id, ()) if x.id == notice.contact_point_id),
            None,
        )


async def _queued(conn: AsyncConnection, ids: Sequence[int]) -> list[QueuedNotice]:
    stmt = (
        select(
            n.id,
            n.case_id,
            n.borrower_id,
            n.contact_point_id,
            n.channel,
            n.party,
            n.template,
            n.template_version,
            n.language,
            n.attempts,
            n.created_at,
            c.reference,
            c.portfolio,
            c.currency,
            c.days_past_due,
            c.outstanding_amount,
            c.opened_on,
            b.full_name,
            b.address.label("borrower_address"),
            n.subject,
            n.body,
            n.body_digest,
            st.name.label("collector_name"),
            st.login.label("collector_login"),
            ag.name.label("agency_name"),
        )
        .join(tables.cases, c.id == n.case_id)
        .join(tables.borrowers, b.id == n.borrower_id)
        .outerjoin(tables.staff, st.id == c.assignee_id)
        .outerjoin(tables.agencies, ag.id == c.agency_id)
        .where(n.id.in_(list(ids)), n.status == QUEUED)
        .order_by(n.id)
    )
    return [
        QueuedNotice(
            id=r.id,
            case_id=r.case_id,
            borrower_id=r.borrower_id,
            contact_point_id=r.contact_point_id,
            channel=ContactChannel(r.channel),
            party=ContactParty(r.party),
            template=r.template,
            template_version=r.template_version,
            language=r.language,
            attempts=int(r.attempts),
            created_at=r.created_at,
            case_reference=r.reference,
            portfolio=r.portfolio,
            currency=r.currency,
            days_past_due=int(r.days_past_due),
            outstanding=Decimal(r.outstanding_amount),
            opened_on=r.opened_on,
            borrower_name=r.full_name,
            borrower_address=r.borrower_address,
            collector_name=r.collector_name,
            collector_login=r.collector_login,
            agency_name=r.agency_name,
            subject=r.subject,
            body=r.body,
            body_digest=r.body_digest,
        )
        for r in (await conn.execute(stmt)).all()
    ]


async def _payments_since(
    conn: AsyncConnection, notices: Sequence[QueuedNotice]
) -> dict[int, Decimal]:
    """Each case's payments not reversed since its itemization date (the day the case opened:
    from the start of the next day in its portfolio's time zone, the itemization amount being
    that day's closing balance): one statement for the batch."""
    starts = {
        x.case_id: start_of_day(x.portfolio, x.opened_on + timedelta(days=1)) for x in notices
    }
    if not starts:
        return {}
    stmt = select(p.case_id, p.paid_at, p.amount).where(
        p.case_id.in_(sorted(starts)),
        p.reversed.is_(False),
        p.paid_at >= min(starts.values()),
    )
    total: dict[int, Decimal] = defaultdict(lambda: Decimal("0"))
    for case_id, paid_at, amount in (await conn.execute(stmt)).all():
        if paid_at >= starts[case_id]:
            total[case_id] += Decimal(amount)
    return dict(total)


async def _instalments(
    conn: AsyncConnection, case_ids: Sequence[int]
) -> dict[int, list[Instalment]]:
    """The unpaid instalments of each case's open debts (neither SETTLED nor CLOSED): one
    statement."""
    closed = [DebtStatus.SETTLED.value, DebtStatus.CLOSED.value]
    stmt = (
        select(d.case_id, i.due_date, i.amount_due, i.amount_paid)
        .join(tables.debts, d.id == i.debt_id)
        .where(d.case_id.in_(list(case_ids)), d.status.not_in(closed), i.amount_paid < i.amount_due)
        .order_by(d.case_id, i.due_date, i.id)
    )
    found: dict[int, list[Instalment]] = defaultdict(list)
    for case_id, due_date, amount_due, amount_paid in (await conn.execute(stmt)).all():
        found[case_id].append(Instalment(due_date, Decimal(amount_due), Decimal(amount_paid)))
    return dict(found)


async def _itemization(conn: AsyncConnection, case_ids: Sequence[int]) -> dict[int, Decimal]:
    """Each case's balance on the day it opened, from that day's debt snapshots (the cases the
    daily run did not snapshot that day are missing): one statement."""
    stmt = (
        select(snap.case_id, func.sum(snap.balance))
        .join(tables.cases, c.id == snap.case_id)
        .where(snap.case_id.in_(list(case_ids)), snap.as_of == c.opened_on)
        .group_by(snap.case_id)
    )
    return {
        int(case_id): Decimal(total)
        for case_id, total in (await conn.execute(stmt)).all()
        if total is not None
    }


async def _accounts(conn: AsyncConnection, case_ids: Sequence[int]) -> dict[int, str]:
    """Each case's first debt's account number (lowest id): one statement."""
    stmt = select(d.case_id, d.account_number).where(d.case_id.in_(list(case_ids))).order_by(d.id)
    found: dict[int, str] = {}
    for case_id, number in (await conn.execute(stmt)).all():
        found.setdefault(case_id, number)
    return found


async def template_versions(
    db: AsyncConnection | AsyncSession, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Template]:
    """The notice templates by (name, version label): the approved versions stored for those
    names (one statement) and the checked-in defaults. A notice is rendered from the version
    it names, whichever is in effect now; a pair found nowhere is missing from the answer."""
    pairs = set(wanted)
    names = sorted({name for name, _ in pairs})
    found: dict[tuple[str, str], Template] = {}
    for name, label in pairs:
        default = DEFAULT_TEMPLATES.get(name)
        if default is not None and default.version == label:
            found[(name, label)] = default
    if not names:
        return found
    stmt = (
        select(rv.name, rv.payload)
        .where(rv.kind == RuleSetKind.NOTICE_TEMPLATE.value, rv.name.in_(names))
        .order_by(rv.name, rv.version)
    )
    for name, payload in (await db.execute(stmt)).all():
        stored = payload.get("version") if isinstance(payload, dict) else None
        if (name, stored) not in pairs:
            continue
        try:
            found[(name, str(stored))] = template_from_payload(name, payload)
        except DomainError:
            continue  # a stored version the reader no longer takes: treated as missing
    return found


async def load_batch(session: AsyncSession, ids: Sequence[int]) -> Batch:
    """Everything a batch of queued notices needs, in a fixed number of statements: the notices
    with their cases, borrowers, collectors and agencies; the cases and borrowers (for the
    conduct rules); the borrowers' contact points; the cases' protections; their first debts'
    account numbers; the payments since itemization, the unpaid instalments and the balance on
    the itemization date; the template versions named."""
    conn = await session.connection()
    notices = await _queued(conn, ids)
    batch = Batch(notices)
    if not notices:
        return batch
    case_ids = sorted({x.case_id for x in notices})
    borrower_ids = sorted({x.borrower_id for x in notices})
    cases = (await session.execute(select(Case).where(c.id.in_(case_ids)))).scalars()
    batch.cases = {int(x.id): x for x in cases if x.id is not None}
    borrowers = (await session.execute(select(Borrower).where(b.id.in_(borrower_ids)))).scalars()
    batch.borrowers = {int(x.id): x for x in borrowers if x.id is not None}
    points = await points_by_borrower_id(session, borrower_ids)
    batch.points = dict(zip(borrower_ids, points, strict=True))
    protections = await protections_by_case_id(session, case_ids)
    batch.protections = dict(zip(case_ids, protections, strict=True))
    batch.accounts = await _accounts(conn, case_ids)
    batch.payments_since = await _payments_since(conn, notices)
    batch.instalments = await _instalments(conn, case_ids)
    batch.itemization = await _itemization(conn, case_ids)
    batch.templates = await template_versions(
        conn, {(x.template, x.template_version) for x in notices}
    )
    return batch


# ---- the outbox: writing outcomes ----------------------------------------------------------------


async def defer(conn: AsyncConnection, rows: Sequence[tuple[int, datetime]]) -> None:
    """Keeps each (notice, instant) QUEUED until the instant (the conduct rules' next allowed
    one)."""
    if not rows:
        return
    stmt = (
        update(tables.notices)
        .where(n.id == bindparam("pk"), n.status == QUEUED)
        .values(not_before=bindparam("until"), version=n.version + 1)
    )
    await conn.execute(stmt, [{"pk": pk, "until": until} for pk, until in rows])


async def suppress(conn: AsyncConnection, rows: Sequence[tuple[int, str]]) -> None:
    """SUPPRESSES each (notice, rule) still QUEUED."""
    if not rows:
        return
    stmt = (
        update(tables.notices)
        .where(n.id == bindparam("pk"), n.status == QUEUED)
        .values(status=NoticeStatus.SUPPRESSED.value, rule=bindparam("why"), version=n.version + 1)
    )
    await conn.execute(stmt, [{"pk": pk, "why": rule} for pk, rule in rows])


@dataclass(frozen=True)
class Failure:
    notice_id: int
    rule: str
    error: str | None = None  # no personal data: a status code, "timeout", an error's class


async def fail(conn: AsyncConnection, rows: Sequence[Failure], at: datetime) -> None:
    """FAILS each notice still QUEUED, naming the rule (and the gateway's or the renderer's
    error); its attempts were counted when it was handed to the gateway (``claim``)."""
    if not rows:
        return
    stmt = (
        update(tables.notices)
        .where(n.id == bindparam("pk"), n.status == QUEUED)
        .values(
            status=NoticeStatus.FAILED.value,
            rule=bindparam("why"),
            failed_at=at,
            not_before=null(),
            last_error=bindparam("error"),
            version=n.version + 1,
        )
    )
    await conn.execute(
        stmt,
        [{"pk": r.notice_id, "why": r.rule, "error": (r.error or "")[:300] or None} for r in rows],
    )


async def claim(
    conn: AsyncConnection,
    notice_id: int,
    subject: str | None,
    body: str,
    digest: str,
    lease: datetime,
) -> bool:
    """Just before a notice goes to the gateway: stores the text it is sent with (the same on a
    resend) and counts the attempt, leaving it QUEUED until ``lease`` should the run die before
    the answer is recorded. Returns False when the notice is no longer QUEUED (a receipt moved
    it): then it is not sent."""
    stmt = (
        update(tables.notices)
        .where(n.id == notice_id, n.status == QUEUED)
        .values(
            subject=subject,
            body=body,
            body_digest=digest,
            attempts=n.attempts + 1,
            not_before=lease,
            version=n.version + 1,
        )
    )
    return ((await conn.execute(stmt)).rowcount or 0) > 0


async def retry(conn: AsyncConnection, rows: Sequence[tuple[int, datetime, str]]) -> None:
    """Keeps each (notice, retry instant, error) QUEUED until the instant (its attempt was
    counted when it was handed to the gateway)."""
    if not rows:
        return
    stmt = (
        update(tables.notices)
        .where(n.id == bindparam("pk"), n.status == QUEUED)
        .values(
            not_before=bindparam("until"),
            last_error=bindparam("error"),
            version=n.version + 1,
        )
    )
    await conn.execute(
        stmt, [{"pk": pk, "until": until, "error": error} for pk, until, error in rows]
    )


@dataclass(frozen=True)
class Sent:
    notice_id: int
    at: datetime  # when the gateway answered
    provider_ref: str | None


async def mark_sent(conn: AsyncConnection, rows: Sequence[Sent]) -> list[int]:
    """Records that the gateway took each notice: SENT (unless a receipt moved it on first)
    at the instant of its answer (or of its delivery, were that earlier), the provider's
    reference; its text was stored when it was handed over (``claim``). Returns the ids
    recorded now (a notice recorded sent already is left as it is)."""
    if not rows:
        return []
    ids = [r.notice_id for r in rows]
    fresh = select(n.id).where(n.id.in_(ids), n.sent_at.is_(None))
    recorded = sorted(int(pk) for pk in (await conn.execute(fresh)).scalars())
    if not recorded:
        return []
    answered = bindparam("at", type_=UTCDateTime())
    stmt = (
        update(tables.notices)
        .where(n.id == bindparam("pk"), n.sent_at.is_(None))
        .values(
            status=case((n.status == QUEUED, NoticeStatus.SENT.value), else_=n.status),
            sent_at=case(
                (and_(n.delivered_at.is_not(None), n.delivered_at < answered), n.delivered_at),
                else_=answered,
            ),
            not_before=null(),
            provider_ref=func.coalesce(n.provider_ref, bindparam("ref", type_=String)),
            last_error=null(),
            version=n.version + 1,
        )
    )
    wanted = set(recorded)
    await conn.execute(
        stmt,
        [
            {"pk": r.notice_id, "at": r.at, "ref": r.provider_ref}
            for r in rows
            if r.notice_id in wanted
        ],
    )
    return recorded


_EVENT_COLUMNS = ["case_id", "at", "actor_id", "name", "data"]


def _event_data(event: type[Any], pairs: Mapping[str, Any]) -> ColumnElement[Any]:
    """An event's data in SQL: exactly the domain event's fields (the timeline reads both)."""
    check_data_keys(event, set(pairs))
    return json_object(pairs)


async def _events(
    conn: AsyncConnection,
    event: type[Any],
    data: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
    at: datetime,
) -> int:
    source = select(
        n.case_id,
        literal(at, UTCDateTime()),
        cast(null(), Integer),
        literal(event.__name__, String),
        data,
    ).where(*where)
    result = await conn.execute(insert(tables.case_events).from_select(_EVENT_COLUMNS, source))
    return max(result.rowcount or 0, 0)


async def sent_events(conn: AsyncConnection, ids: Sequence[int], at: datetime) -> int:
    """NoticeSent for each of the notices ``ids`` (just marked sent), recorded at ``at``
    (INSERT…SELECT)."""
    if not ids:
        return 0
    data = _event_data(
        NoticeSent,
        {
            "notice_id": n.id,
            "channel": n.channel,
            "template": n.template,
            "template_version": n.template_version,
        },
    )
    where = [n.id.in_(list(ids)), n.sent_at.is_not(None)]
    return await _events(conn, NoticeSent, data, where, at)


async def failed_events(conn: AsyncConnection, ids: Sequence[int], at: datetime) -> int:
    """NoticeFailed (the rule as its reason) for each of the notices failed at ``at``."""
    if not ids:
        return 0
    data = _event_data(NoticeFailed, {"notice_id": n.id, "reason": n.rule})
    where = [n.id.in_(list(ids)), n.status == NoticeStatus.FAILED.value, n.failed_at == at]
    return await _events(conn, NoticeFailed, data, where, at)


# ---- the listing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRow:
    """A notice as the API lists it: never its body, subject or address."""

    id: int
    case_id: int
    channel: str
    party: str
    template: str
    template_version: str
    language: str
    status: str
    rule: str | None
    not_before: datetime | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    provider_ref: str | None
    body_digest: str | None
    attempts: int


_ROW = [getattr(n, name) for name in NoticeRow.__dataclass_fields__]


def _row(r: Any) -> NoticeRow:
    return NoticeRow(**{name: getattr(r, name) for name in NoticeRow.__dataclass_fields__})


@dataclass(frozen=True)
class NoticeFilterSpec:
    case_id: int | None = None
    statuses: Sequence[str] = ()
    channels: Sequence[str] = ()
    templates: Sequence[str] = ()
    # The caller's case scope (a clause over ``cases``): a notice is visible with its case.
    case_scope: ColumnElement[bool] = field(default_factory=true)


def _in_scope(scope: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    if isinstance(scope, True_):
        return []
    return [n.case_id.in_(select(c.id).where(scope))]


def _clauses(spec: NoticeFilterSpec) -> list[ColumnElement[bool]]:
    clauses = _in_scope(spec.case_scope)
    if spec.case_id is not None:
        clauses.append(n.case_id == spec.case_id)
    if spec.statuses:
        clauses.append(n.status.in_(list(spec.statuses)))
    if spec.channels:
        clauses.append(n.channel.in_(list(spec.channels)))
    if spec.templates:
        clauses.append(n.template.in_(list(spec.templates)))
    return clauses


LISTING = "notices:NEWEST"


def encode_cursor(row: NoticeRow) -> str:
    """An opaque cursor of the notice's creation instant and id (no personal data)."""
    return keyset.encode_cursor(LISTING, row.id, row.created_at.astimezone(UTC).isoformat())


def decode_cursor(cursor: str) -> keyset.Keyset:
    """Returns the position a cursor of this listing holds, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, LISTING)
    raw = position.value
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidCursor("malformed cursor")
    try:
        at = datetime.fromisoformat(raw)
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidCursor("malformed cursor")
        at = at.astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        raise InvalidCursor("malformed cursor") from None
    return keyset.Keyset(at, position.id)


async def fetch_page(
    session: AsyncSession, spec: NoticeFilterSpec, after: keyset.Keyset | None, first: int
) -> tuple[list[NoticeRow], bool]:
    """Up to ``first`` notices after the position, newest first (created_at, then id, both
    descending), and whether more follow."""
    clauses = _clauses(spec)
    if after is not None:
        clauses.append(
            keyset.after_row_clause(
                [(n.created_at, True)], [after.value], n.id, after.id, id_descending=True
            )
        )
    stmt = select(*_ROW).where(*clauses).order_by(n.created_at.desc(), n.id.desc())
    rows, more = await keyset.fetch_page(session, stmt, first, scalars=False)
    return [_row(r) for r in rows], more


async def count(session: AsyncSession, spec: NoticeFilterSpec) -> int:
    stmt = select(func.count()).select_from(tables.notices).where(*_clauses(spec))
    return int((await session.execute(stmt)).scalar_one())


async def notices_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[NoticeRow | None]:
    """The notices with those ids whose case the scope lets through (None for the others)."""
    stmt = select(*_ROW).where(n.id.in_(ids), *_in_scope(true() if scope is None else scope))
    found = {r.id: _row(r) for r in (await session.execute(stmt)).all()}
    return [found.get(pk) for pk in ids]
