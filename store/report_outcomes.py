"""The report's outcomes of collection: recoveries (a delinquent spell ending in a return to
current, from the classification history) with the days they took and the share resolved within
30 days, the promise kept rate and the complaints per 1,000 cases.

Two statements whatever the number of cases, groups or days: the spells (recoveries and the
spells still open) with the complaints and the cases they are counted over (both read the cases
standing at the opening or the closing, found once), and the promises resolved. Every part joins
``cases`` and applies the caller's scope, numerators and denominators alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    FromClause,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.arrangements.promises import PromiseStatus
from domain.cases.classification import CURRENT_BUCKET
from domain.reports.goals import Goals
from domain.reports.model import CountBucket, Grouping, Period, Ratio
from store import tables
from store.dialect import days_between
from store.report_basis import (
    GroupId,
    Observations,
    group_key,
    in_collection,
    in_period,
    key_on,
    on_day,
    run_days,
    time_zone_sql,
)

c = tables.cases.c
h = tables.classification_history.c
p = tables.promises.c
cp = tables.complaints.c

# The bucket of a case that is not past due: a period in it after one that was ends a spell.
CURRENT = CURRENT_BUCKET
# How long a spell may take and still count as resolved within 30 days (its boundary included).
RESOLVED_WITHIN_DAYS = 30
# The distribution of days to recovery: label, first and last day (None: no end).
DAYS_TO_RECOVERY: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("181+", 181, None),
)
# A promise is judged once it is kept, partly kept or broken (superseded and cancelled ones
# never came due).
JUDGED_PROMISES = (
    PromiseStatus.KEPT.value,
    PromiseStatus.PARTIALLY_KEPT.value,
    PromiseStatus.BROKEN.value,
)


@dataclass(frozen=True, slots=True)
class Outcomes:
    resolved_within_30_days: Ratio
    days_to_recovery: list[CountBucket]
    promise_kept_rate: Ratio
    complaints_per_1000: Ratio


# ---- recoveries: delinquent spells over the classification history ----------------------------


def _recovered(conn: AsyncConnection, period: Period) -> Subquery:
    """The recoveries of the period: each current (M0) classification period begun in it that
    ended a delinquent spell (``case_id``, ``recovered_on``, ``began_on``: the spell's first
    day, kept on the period as it opened, and ``days`` between the two)."""
    return (
        select(
            h.case_id,
            h.from_date.label("recovered_on"),
            h.spell_from.label("began_on"),
            days_between(conn, h.from_date, h.spell_from).label("days"),
        )
        .where(
            h.bucket == CURRENT,
            h.from_date >= period.start,
            h.from_date <= period.end,
            # NULL: the period before was current too, or the case opened current.
            h.spell_from.is_not(None),
        )
        .subquery("recovered")
    )


def recoveries(conn: AsyncConnection, observations: Observations) -> Select[Any]:
    """Returns the recoveries of the period as a query usable as a subquery, one row per
    recovery (a case can recover more than once): ``case_id``; ``recovered_on``, the day of the
    period on which the case was back at M0 (a date, the portfolio's business date);
    ``days``, whole days from the first delinquent day of the spell it ended to
    ``recovered_on``. Not scoped: join ``cases`` and apply the caller's scope."""
    r = _recovered(conn, observations.period).c
    return select(r.case_id, r.recovered_on, r.days)


def _open_spells(period: Period, began_by: date) -> Subquery:
    """The spells still open at the period's end that began on or before ``began_by``: the
    cases whose classification period at the end is delinquent (``case_id``). Periods are
    contiguous (the daily run closes one the day before it opens the next), so the period at
    the end is the one begun by then and not closed before it."""
    return (
        select(h.case_id)
        .where(
            h.from_date <= period.end,
            or_(h.to_date.is_(None), h.to_date >= period.end),
            h.bucket != CURRENT,
            h.spell_from <= began_by,
        )
        .subquery("open_spells")
    )


# ---- the cases in collection at the opening or the closing -------------------------------------


def _on(snap: FromClause, day: date | None) -> ColumnElement[bool]:
    return snap.c.as_of == day if day is not None else false()


def _standing(observations: Observations, grouping: Grouping | None) -> FromClause:
    """Each case with a snapshot at the opening or the closing run: ``in_collection`` (1 when
    it was in collection at either) and its ``key``, from its closing rows if it has any, else
    from its opening rows (the least key of its debts)."""
    snap = tables.debt_snapshots.alias("standing_snapshot")
    runs = [day for day in (observations.opening, observations.closing) if day is not None]
    rows = (
        select(
            snap.c.case_id,
            _on(snap, observations.opening).label("at_opening"),
            _on(snap, observations.closing).label("at_closing"),
            group_key(grouping, snap).label(),
            case((in_collection(snap), 1), else_=0).label("in_collection"),
        )
        .where(snap.c.as_of.in_(runs), snap.c.case_id.is_not(None))
        .subquery("standing_rows")
    )
    r = rows.c
    has_closing = func.max(case((r.at_closing, 1), else_=0)) == 1
    key = case(
        (has_closing, func.min(case((r.at_closing, r.key)))),
        else_=func.min(case((r.at_opening, r.key))),
    )
    # Materialised: the spells and the complaints read it in the same statement.
    return (
        select(r.case_id, func.max(r.in_collection).label("in_collection"), key.label("key"))
        .group_by(r.case_id)
        .cte("standing")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )


# ---- the statements ----------------------------------------------------------------------------

# Which figures a row of ``_spells_and_complaints`` holds.
SPELLS = "SPELLS"
COMPLAINTS = "COMPLAINTS"


def _spell_figures(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    standing: FromClause,
) -> Select[Any]:
    """Per key and currency: the recoveries of the period by days taken, and the spells resolved
    within 30 days over the spells begun on or before the period's end less 30 days (younger
    ones cannot have taken 30 days yet) that were open in it: recovered in it, or still
    delinquent at its end on a case in collection at its opening or closing run (the history of
    a case written off or closed while delinquent never ends its last spell)."""
    period = observations.period
    old_enough = period.end - timedelta(days=RESOLVED_WITHIN_DAYS)
    recovered = _recovered(conn, period)
    rec = recovered.c
    days = run_days(observations)
    # Each recovery's key: its case's snapshot on the run standing for the day it recovered.
    recovered_rows = (
        select(
            key_on(grouping, days.c.run_as_of, case_id=rec.case_id).label("key"),
            c.currency,
            rec.days,
            case((rec.began_on <= old_enough, 1), else_=0).label("counted"),
        )
        .select_from(
            recovered.join(tables.cases, c.id == rec.case_id).join(
                days, days.c.day == rec.recovered_on
            )
        )
        .where(scope)
    )
    spells = _open_spells(period, old_enough)
    s = spells.c
    open_rows = (
        select(standing.c.key, c.currency, cast(null(), Integer).label("days"), literal(1))
        .select_from(
            spells.join(tables.cases, c.id == s.case_id).join(
                standing, standing.c.case_id == s.case_id
            )
        )
        .where(standing.c.in_collection == 1, scope)
    )
    rows = union_all(recovered_rows, open_rows).subquery("spell_rows")
    r = rows.c
    spans = [
        func.count(case((r.days >= first if last is None else r.days.between(first, last), 1)))
        for _, first, last in DAYS_TO_RECOVERY
    ]
    return select(
        r.key,
        r.currency,
        func.count(case((and_(r.counted == 1, r.days <= RESOLVED_WITHIN_DAYS), 1))),
        func.count(case((r.counted == 1, 1))),
        *spans,
    ).group_by(r.key, r.currency)


def _promise_figures(
    observations: Observations, grouping: Grouping | None, scope: ColumnElement[bool]
) -> Select[Any]:
    """Per key and currency (the promise's): promises judged in the period (resolved in it kept,
    partly kept or broken) and those kept; a promise's key is its case's snapshot on the day it
    was made (made before the period: the opening run)."""
    zone = time_zone_sql(c.portfolio)
    source = tables.promises.join(tables.cases, c.id == p.case_id)
    run: ColumnElement[Any] | None = None  # the totals need no run: their key is NULL
    if grouping is not None:
        days = run_days(observations)
        source = source.outerjoin(days, on_day(days, zone, p.created_at))
        run = days.c.run_as_of
        if observations.opening is not None:
            run = func.coalesce(run, literal(observations.opening, Date))
    key = key_on(grouping, run, case_id=p.case_id)
    promises = (
        select(key.label("key"), p.currency, p.status)
        .select_from(source)
        .where(p.status.in_(JUDGED_PROMISES), in_period(observations, zone, p.resolved_at), scope)
        .subquery("judged")
    )
    j = promises.c
    return select(
        j.key,
        j.currency,
        func.count(case((j.status == PromiseStatus.KEPT.value, 1))),
        func.count(),
    ).group_by(j.key, j.currency)


def _complaint_figures(
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    standing: FromClause,
) -> Select[Any]:
    """Per key and currency (the case's): complaints filed in the period, keyed by their case's
    snapshot on the filing day, and the cases in collection at the opening or the closing run."""
    days = run_days(observations)
    zone = time_zone_sql(c.portfolio)
    complaints = (
        select(
            key_on(grouping, days.c.run_as_of, case_id=cp.case_id).label("key"),
            c.currency,
            literal(1).label("complaints"),
            literal(0).label("cases"),
        )
        .select_from(
            tables.complaints.join(tables.cases, c.id == cp.case_id).join(
                days, on_day(days, zone, cp.filed_at)
            )
        )
        .where(in_period(observations, zone, cp.filed_at), scope)
    )
    cases = (
        select(standing.c.key, c.currency, literal(0), literal(1))
        .select_from(standing.join(tables.cases, c.id == standing.c.case_id))
        .where(standing.c.in_collection == 1, scope)
    )
    rows = union_all(complaints, cases).subquery("complaint_rows")
    r = rows.c
    return select(r.key, r.currency, func.sum(r.complaints), func.sum(r.cases)).group_by(
        r.key, r.currency
    )


def _spells_and_complaints(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
) -> CompoundSelect[Any]:
    """The spell figures and the complaint figures in one statement, so that the cases standing
    at the opening or the closing (a pass over two runs' snapshots) are found once: rows of
    ``figure`` SPELLS (key, currency, within, counted, and the distribution's counts) and
    COMPLAINTS (key, currency, complaints, cases)."""
    standing = _standing(observations, grouping)
    spells = _spell_figures(conn, observations, grouping, scope, standing).subquery("spells")
    filed = _complaint_figures(observations, grouping, scope, standing).subquery("filed")
    key, currency, complaints, cases = filed.c
    padding = [cast(null(), Integer)] * (len(spells.c) - 4)
    return union_all(
        select(literal(SPELLS).label("figure"), *spells.c),
        select(literal(COMPLAINTS), key, currency, complaints, cases, *padding),
    )


# ---- the figures of each group -----------------------------------------------------------------


def _count(value: Any) -> Decimal:
    return Decimal(int(value or 0))


def _no_recoveries() -> list[CountBucket]:
    """Every label of the distribution is listed, with zero cases where there are none."""
    return [CountBucket(label, 0) for label, _, _ in DAYS_TO_RECOVERY]


async def outcomes(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    goals: Goals,
) -> dict[GroupId, Outcomes]:
    """Returns the outcomes of every group with a recovery, a spell counted, a promise judged, a
    complaint or a case in collection (two statements)."""
    resolved: dict[GroupId, Ratio] = {}
    days: dict[GroupId, list[CountBucket]] = {}
    per_1000: dict[GroupId, Ratio] = {}
    figures = await conn.execute(_spells_and_complaints(conn, observations, grouping, scope))
    for figure, key, currency, first, second, *spans in figures.all():
        if figure == COMPLAINTS:
            per_1000[key, currency] = Ratio(_count(first), _count(second), scale=1000)
            continue
        resolved[key, currency] = Ratio(
            _count(first), _count(second), goals.resolved_within_30_days
        )
        days[key, currency] = [
            CountBucket(label, int(n))
            for (label, _, _), n in zip(DAYS_TO_RECOVERY, spans, strict=True)
        ]
    promises = await conn.execute(_promise_figures(observations, grouping, scope))
    kept = {
        (key, currency): Ratio(_count(n), _count(total))
        for key, currency, n, total in promises.all()
    }
    return {
        gid: Outcomes(
            resolved_within_30_days=resolved.get(
                gid, Ratio(Decimal(0), Decimal(0), goals.resolved_within_30_days)
            ),
            days_to_recovery=days.get(gid) or _no_recoveries(),
            promise_kept_rate=kept.get(gid, Ratio(Decimal(0), Decimal(0))),
            complaints_per_1000=per_1000.get(gid, Ratio(Decimal(0), Decimal(0), scale=1000)),
        )
        for gid in {*resolved, *kept, *per_1000}
    }
