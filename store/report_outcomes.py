"""The report's outcomes of collection: recoveries (a delinquent spell ending in a return to
current, from the classification history) with the days they took and the share resolved within
30 days, the promise kept rate and the complaints per 1,000 cases.

Three statements whatever the number of cases, groups or days: the spells (recoveries and the
spells still open), the promises resolved, the complaints with the cases they are counted over.
Every one joins ``cases`` and applies the caller's scope, numerators and denominators alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    FromClause,
    Integer,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.arrangements.promises import PromiseStatus
from domain.reports.goals import Goals
from domain.reports.model import CountBucket, Grouping, Period, Ratio
from store import tables
from store.dialect import days_between
from store.report_basis import (
    GroupId,
    Observations,
    calendar,
    falls_in,
    group_key,
    in_collection,
    period_bounds,
    time_zone_sql,
)

c = tables.cases.c
h = tables.classification_history.c
p = tables.promises.c
cp = tables.complaints.c

# The bucket of a case that is not past due: a period in it after one that was ends a spell.
CURRENT = "M0"
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


# ---- recoveries: gaps and islands over the classification history ------------------------------


def _spells(period: Period) -> Select[Any]:
    """Each classification period of a case begun by the period's end (later ones cannot change
    a closed period's report), with the bucket before it (``previous``, NULL for the case's
    first), the first day of the period after it (``next_from``, NULL for the case's latest) and
    the day its delinquent spell began (``began_on``).

    A spell's number is the count of current (M0) periods before a period: the delinquent
    periods after a return to current and the next return to current share it, so the spell
    began on the first delinquent period of its number."""
    order = (h.from_date, h.id)
    periods = (
        select(
            h.case_id,
            h.bucket,
            h.from_date,
            func.lag(h.bucket).over(partition_by=h.case_id, order_by=order).label("previous"),
            func.count(case((h.bucket == CURRENT, 1)))
            .over(partition_by=h.case_id, order_by=order, rows=(None, -1))
            .label("spell"),
            func.lead(h.from_date).over(partition_by=h.case_id, order_by=order).label("next_from"),
        )
        .where(h.from_date <= period.end)
        .subquery("periods")
    )
    s = periods.c
    began_on = func.min(case((s.bucket != CURRENT, s.from_date))).over(
        partition_by=(s.case_id, s.spell)
    )
    return select(
        s.case_id, s.bucket, s.from_date, s.previous, s.next_from, began_on.label("began_on")
    )


def _recovered(conn: AsyncConnection, spells: FromClause, period: Period) -> Select[Any]:
    """The recoveries of the period among ``spells``: case_id, recovered_on, began_on, days."""
    s = spells.c
    return select(
        s.case_id,
        s.from_date.label("recovered_on"),
        s.began_on,
        days_between(conn, s.from_date, s.began_on).label("days"),
    ).where(
        s.bucket == CURRENT,
        # NULL for the case's first period: a case opened current has not recovered.
        s.previous != CURRENT,
        s.from_date >= period.start,
    )


def recoveries(conn: AsyncConnection, observations: Observations) -> Select[Any]:
    """Returns the recoveries of the period as a query usable as a subquery, one row per
    recovery (a case can recover more than once): ``case_id``; ``recovered_on``, the day of the
    period on which the case was back at M0 (a date, the portfolio's business date);
    ``days``, whole days from the first delinquent day of the spell it ended to
    ``recovered_on``. Not scoped: join ``cases`` and apply the caller's scope."""
    spells = _spells(observations.period).subquery("spells")
    recovered = _recovered(conn, spells, observations.period)
    return recovered.with_only_columns(
        recovered.selected_columns.case_id,
        recovered.selected_columns.recovered_on,
        recovered.selected_columns.days,
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
    return (
        select(r.case_id, func.max(r.in_collection).label("in_collection"), key.label("key"))
        .group_by(r.case_id)
        .subquery("standing")
    )


# ---- the three statements ----------------------------------------------------------------------


def _spell_figures(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
) -> Select[Any]:
    """Per key and currency: the recoveries of the period by days taken, and the spells resolved
    within 30 days over the spells begun on or before the period's end less 30 days (younger
    ones cannot have taken 30 days yet) that were open in it: recovered in it, or still
    delinquent at its end on a case in collection at its opening or closing run (the history of
    a case written off or closed while delinquent never ends its last spell)."""
    period = observations.period
    old_enough = period.end - timedelta(days=RESOLVED_WITHIN_DAYS)
    spells = _spells(period).cte("spells")
    recovered = _recovered(conn, spells, period).subquery("recovered")
    rec = recovered.c
    cal = calendar(observations)
    snap = tables.debt_snapshots.alias("snapshot")
    # Each recovery's key: its case's snapshot on the run standing for the day it recovered.
    recovered_rows = (
        select(
            func.min(group_key(grouping, snap).expression).label("key"),
            c.currency,
            rec.days,
            case((rec.began_on <= old_enough, 1), else_=0).label("counted"),
        )
        .select_from(
            recovered.join(tables.cases, c.id == rec.case_id)
            .join(
                cal,
                and_(cal.c.zone == time_zone_sql(c.portfolio), cal.c.day == rec.recovered_on),
            )
            .outerjoin(
                snap,
                and_(snap.c.case_id == rec.case_id, snap.c.as_of == cal.c.run_as_of),
            )
        )
        .where(scope)
        .group_by(rec.case_id, rec.recovered_on, rec.began_on, rec.days, c.currency)
    )
    standing = _standing(observations, grouping)
    s = spells.c
    open_rows = (
        select(standing.c.key, c.currency, cast(null(), Integer).label("days"), literal(1))
        .select_from(
            spells.join(tables.cases, c.id == s.case_id).join(
                standing, standing.c.case_id == s.case_id
            )
        )
        .where(
            s.next_from.is_(None),
            s.bucket != CURRENT,
            s.began_on <= old_enough,
            standing.c.in_collection == 1,
            scope,
        )
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
    bounds = period_bounds(observations)
    cal = calendar(observations)
    snap = tables.debt_snapshots.alias("snapshot")
    run: ColumnElement[Any] = cal.c.run_as_of
    if observations.opening is not None:
        run = func.coalesce(run, literal(observations.opening, Date))
    promises = (
        select(
            func.min(group_key(grouping, snap).expression).label("key"),
            p.currency,
            p.status,
        )
        .select_from(
            tables.promises.join(tables.cases, c.id == p.case_id)
            .join(
                bounds,
                falls_in(bounds, zone, p.resolved_at),
            )
            .outerjoin(
                cal,
                falls_in(cal, zone, p.created_at),
            )
            .outerjoin(snap, and_(snap.c.case_id == p.case_id, snap.c.as_of == run))
        )
        .where(p.status.in_(JUDGED_PROMISES), scope)
        .group_by(p.id, p.currency, p.status)
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
    observations: Observations, grouping: Grouping | None, scope: ColumnElement[bool]
) -> Select[Any]:
    """Per key and currency (the case's): complaints filed in the period, keyed by their case's
    snapshot on the filing day, and the cases in collection at the opening or the closing run."""
    cal = calendar(observations)
    snap = tables.debt_snapshots.alias("snapshot")
    complaints = (
        select(
            func.min(group_key(grouping, snap).expression).label("key"),
            c.currency,
            literal(1).label("complaints"),
            literal(0).label("cases"),
        )
        .select_from(
            tables.complaints.join(tables.cases, c.id == cp.case_id)
            .join(
                cal,
                falls_in(cal, time_zone_sql(c.portfolio), cp.filed_at),
            )
            .outerjoin(
                snap,
                and_(snap.c.case_id == cp.case_id, snap.c.as_of == cal.c.run_as_of),
            )
        )
        .where(scope)
        .group_by(cp.id, c.currency)
    )
    standing = _standing(observations, grouping)
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
    complaint or a case in collection (three statements)."""
    spells = await conn.execute(_spell_figures(conn, observations, grouping, scope))
    resolved: dict[GroupId, Ratio] = {}
    days: dict[GroupId, list[CountBucket]] = {}
    for key, currency, within, counted, *spans in spells.all():
        resolved[key, currency] = Ratio(
            _count(within), _count(counted), goals.resolved_within_30_days
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
    complaints = await conn.execute(_complaint_figures(observations, grouping, scope))
    per_1000 = {
        (key, currency): Ratio(_count(n), _count(total), scale=1000)
        for key, currency, n, total in complaints.all()
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
