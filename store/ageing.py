"""The daily run in SQL: re-ageing every debt and case the run looks after, the moves of the life
cycle that ageing decides, classification history, placement expiry and the snapshot of the day.

Every statement is set-based (INSERT…SELECT, UPDATE…FROM) and runs in the caller's transaction;
none loops over rows in Python. The numbers come from the rules' own data, never from here:

- a debt's days past due: ``domain.debts.ageing.aged_days_past_due`` (the core's figure moved on
  while an instalment is unpaid, else the schedule's), as ``debt_ages``;
- bucket and classification: the CASE expressions are generated from the versioned policy
  (``ClassificationPolicy.bands``, ``bucket_days``, ``max_bucket``) by ``bucket_sql`` and
  ``classification_sql``;
- a case's figures: ``domain.cases.classification.assess`` (as late as its worst debt, the sum of
  their outstanding amounts);
- moves of the life cycle: the rows of ``domain.lifecycle.table`` for the triggers a change of
  ageing can fire (``after_balance_change``: PAY_IN_FULL, CURE, REOPEN; and ESCALATE past
  ``LifecyclePolicy.escalate_after_days``), with their statuses, stages, guards and close reasons;
- placement expiry: ``store.case_queries.placement_current_on``, the SQL twin of
  ``domain.agencies.placement.placement_is_current``, on the run's date (the end date is
  inclusive: a placement ending on D is current in D's run and recalled in D+1's).

Dates are the run's date ``as_of`` (the portfolios' business date); the only date arithmetic is
``store.dialect.days_between``, the one dialect helper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.arrangements.promises import PromiseStatus
from domain.cases.classification import CURRENT_BUCKET, ClassificationPolicy
from domain.cases.events import CaseRecalled, CaseReclassified, CaseTransitioned, check_data_keys
from domain.cases.model import CaseStatus
from domain.debts.model import DebtStatus
from domain.flags.effects import Effect
from domain.lifecycle.table import (
    CURE_REASONS,
    Action,
    Guard,
    LifecyclePolicy,
    Trigger,
    transition_for,
)
from domain.portfolios import DEFAULT_TIME_ZONE, TIME_ZONES, start_of_day, start_of_day_in
from domain.restructuring.plans import DEFAULT_PAYMENTS_IN_ROW
from store import dialect, plan_queries, tables
from store.case_queries import placement_current_on
from store.dialect import days_between, is_postgresql
from store.protections_queries import refused_clause
from store.types import Amount, UTCDateTime

c = tables.cases.c
d = tables.debts.c
i = tables.instalments.c
h = tables.classification_history.c
p = tables.promises.c
snap = tables.debt_snapshots.c

# The figures of the day per case, computed once and read by every later statement of the run;
# a temporary table of the run's transaction (never part of the schema's metadata).
_scratch = MetaData()
figures = Table(
    "daily_figures",
    _scratch,
    Column("case_id", Integer, primary_key=True),
    # The case before the run: what the life cycle's guards and the events compare against.
    Column("status", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("close_reason", String(24), nullable=True),
    Column("watch_until", Date, nullable=True),
    Column("closed_while_held", Boolean, nullable=False),
    Column("previous_dpd", Integer, nullable=False),
    # The case as of the run's date.
    Column("dpd", Integer, nullable=False),
    Column("outstanding", Amount(), nullable=False),
    Column("bucket", String(4), nullable=False),
    Column("classification", String(16), nullable=False),
    # The move of the life cycle this ageing fires, if any, and where it leads.
    Column("trigger", String(16), nullable=True),
    Column("new_status", String(16), nullable=True),
    Column("new_stage", String(16), nullable=True),
    # No open classification period (noted by ``record_history`` before it opens them).
    Column("needs_period", Boolean, nullable=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
f = figures.c

_ACTIVE = (CaseStatus.OPEN.value, CaseStatus.ON_HOLD.value)
_NOT_AGED = (DebtStatus.SETTLED.value, DebtStatus.CLOSED.value)
# The triggers a change of ageing fires, in the order ``moves.after_balance_change`` tries them
# (the first whose row allows the case and whose guards hold), then the stage's escalation.
BATCH_TRIGGERS = (Trigger.PAY_IN_FULL, Trigger.CURE, Trigger.REOPEN, Trigger.ESCALATE)
# The ``reason`` of a CaseRecalled event the run writes (a recall by hand has none: RECALLED).
EXPIRED = "EXPIRED"


def _date(value: date) -> ColumnElement[date]:
    return literal(value, Date)


def aged_cases(as_of: date) -> ColumnElement[bool]:
    """The cases the run ages on ``as_of``: open or on hold, and those closed by a cure whose
    watch window is still open (a new default reopens them)."""
    return or_(
        c.status.in_(_ACTIVE),
        and_(
            c.status == CaseStatus.CLOSED.value,
            c.close_reason.in_(sorted(CURE_REASONS)),
            c.watch_until >= as_of,
        ),
    )


def bucket_sql(policy: ClassificationPolicy, dpd: Any) -> ColumnElement[str]:
    """``policy.bucket(dpd)`` as a CASE expression built from the policy's data."""
    whens: list[tuple[ColumnElement[bool], str]] = [(dpd <= 0, policy.bucket(0))]
    for n in range(1, policy.max_bucket):
        last = n * policy.bucket_days
        whens.append((dpd <= last, policy.bucket(last)))
    return case(*whens, else_=policy.bucket((policy.max_bucket - 1) * policy.bucket_days + 1))


def classification_sql(policy: ClassificationPolicy, dpd: Any) -> ColumnElement[str]:
    """``policy.classify(dpd).classification`` as a CASE expression from the policy's bands."""
    whens = [
        (dpd <= band.max_dpd, band.classification.value)
        for band in policy.bands
        if band.max_dpd is not None
    ]
    return case(*whens, else_=policy.bands[-1].classification.value)


def debt_ages(
    conn: AsyncConnection, as_of: date, cases: ColumnElement[bool] | None = None
) -> Select[Any]:
    """(debt id, days past due on ``as_of``) of every debt of the cases the run ages (or of the
    ``cases`` given, a condition on ``cases``), by ``domain.debts.ageing.aged_days_past_due``."""
    scope = aged_cases(as_of) if cases is None else cases
    joined = tables.debts.join(tables.cases, c.id == d.case_id)
    oldest = (
        select(i.debt_id, func.min(i.due_date).label("due"))
        .select_from(tables.instalments.join(joined, d.id == i.debt_id))
        .where(
            scope,
            i.amount_paid < i.amount_due,
            i.due_date <= as_of,
            # After the core said "current", only later due dates can make the debt late (a
            # late core figure counts only while some instalment is still unpaid: any of them).
            or_(
                d.core_dpd.is_(None),
                d.core_dpd_as_of.is_(None),
                d.core_dpd > 0,
                i.due_date > d.core_dpd_as_of,
            ),
        )
        .group_by(i.debt_id)
        .subquery("oldest")
    )
    moved_on = d.core_dpd + days_between(conn, _date(as_of), d.core_dpd_as_of)
    dpd = case(
        (d.status.in_(_NOT_AGED), 0),
        (
            and_(
                d.core_dpd.is_not(None),
                d.core_dpd_as_of.is_not(None),
                d.core_dpd > 0,
                # Something is overdue: an unpaid instalment due by then (without a schedule:
                # anything owed).
                or_(
                    oldest.c.due.is_not(None),
                    and_(
                        ~exists(select(i.id).where(i.debt_id == d.id)),
                        d.principal + d.interest + d.penalty + d.fee > 0,
                    ),
                ),
            ),
            case((moved_on > 0, moved_on), else_=0),
        ),
        (oldest.c.due.is_(None), 0),
        else_=days_between(conn, _date(as_of), oldest.c.due),
    )
    return (
        select(d.id.label("id"), dpd.label("dpd"))
        .select_from(joined.outerjoin(oldest, oldest.c.debt_id == d.id))
        .where(scope)
    )


async def lock_cases(conn: AsyncConnection, as_of: date) -> None:
    """PostgreSQL: locks the rows of every case the run will change, in id order, so that a
    payment or a placement committed meanwhile is either seen whole or waits for the run (SQLite:
    the run's transaction holds the database's write lock already). With them, the closed cases
    a strategy still treats (their treatment ends and their open tasks are cancelled): every
    writer locks the case before its tasks, the run included, and before the audit head."""
    if not is_postgresql(conn):
        return
    treated = select(tables.case_treatments.c.case_id)
    leaving = and_(c.status == CaseStatus.CLOSED.value, c.id.in_(treated))
    mine = or_(aged_cases(as_of), _expired(as_of), leaving)
    locked = select(c.id).where(mine).order_by(c.id).with_for_update().subquery()
    await conn.execute(select(func.count()).select_from(locked))


async def age_debts(conn: AsyncConnection, as_of: date, policy: ClassificationPolicy) -> int:
    """Writes each aged debt's ``aged_dpd`` and ``aged_bucket``; returns how many changed."""
    ages = debt_ages(conn, as_of).subquery("ages")
    aged = select(ages.c.id, ages.c.dpd, bucket_sql(policy, ages.c.dpd).label("bucket")).subquery(
        "aged"
    )
    result = await conn.execute(
        update(tables.debts)
        .where(d.id == aged.c.id, or_(d.aged_dpd != aged.c.dpd, d.aged_bucket != aged.c.bucket))
        .values(aged_dpd=aged.c.dpd, aged_bucket=aged.c.bucket)
    )
    return max(result.rowcount or 0, 0)


# ---- the cases' figures and the moves they fire --------------------------------------------------


def _guards(conn: AsyncConnection, as_of: date, in_row: int) -> Mapping[Guard, ColumnElement[bool]]:
    """Each guard of the life-cycle table over the figures (``Facts.holds`` in SQL). The reversal
    of a closing payment is the payments' own path, never the daily run's. ``in_row``: the plan
    payments in a row a cure needs (``store.plan_queries``)."""
    return {
        Guard.ARREARS_CLEARED: f.dpd == 0,
        Guard.NOTHING_OWED: f.outstanding <= 0,
        Guard.IN_ARREARS: f.dpd > 0,
        Guard.WITHIN_WATCH_WINDOW: f.watch_until >= as_of,
        Guard.CLOSED_BY_CURE: f.close_reason.in_(sorted(CURE_REASONS)),
        Guard.NOT_ON_PLAN_PROBATION: f.case_id.not_in(plan_queries.probation_cases(in_row)),
        Guard.NO_PLAN_IN_EFFECT: f.case_id.not_in(plan_queries.in_effect_cases(conn, as_of)),
    }


def _fires(
    conn: AsyncConnection,
    trigger: Trigger,
    as_of: date,
    lifecycle: LifecyclePolicy,
    in_row: int,
) -> ColumnElement[bool]:
    """Whether the table's row for ``trigger`` moves a case of the figures now."""
    row = transition_for(trigger)
    guards = _guards(conn, as_of, in_row)
    condition = [
        f.status.in_(sorted(row.from_status)),
        f.stage.in_(sorted(row.from_stage)),
        *(guards[guard] for guard in row.guards),
    ]
    if trigger in (Trigger.PAY_IN_FULL, Trigger.CURE):
        # Only a case that was in arrears is cured, or one whose cure a plan may have held
        # (``after_balance_change``'s ``cure_held``): at DPD 0 and no longer on probation.
        cure_held = f.case_id.in_(plan_queries.cure_held_cases())
        condition.append(or_(f.previous_dpd > 0, cure_held))
    if trigger is Trigger.ESCALATE:
        condition.append(f.dpd > lifecycle.escalate_after_days)
        # The protections in force (an open complaint or dispute, a flag) forbid escalation or
        # stop the collection clock the timer runs on: the effects table decides which.
        # Forbidden by a protection, or its collection clock stands still.
        held = refused_clause(Action.ESCALATE, Effect.PAUSE_CLOCK)
        condition.append(f.case_id.not_in(select(c.id).where(held)))
    return and_(*condition)


async def compute_figures(
    conn: AsyncConnection,
    as_of: date,
    policy: ClassificationPolicy,
    lifecycle: LifecyclePolicy,
    *,
    plan_payments_in_row: int = DEFAULT_PAYMENTS_IN_ROW,
) -> int:
    """Fills the run's ``daily_figures``: each aged case as it stands and as of ``as_of``, and the
    move its ageing fires (a plan in effect holds escalation, its probation a cure); returns the
    number of cases."""
    if not is_postgresql(conn):
        await conn.run_sync(lambda sync: figures.drop(sync, checkfirst=True))
    await conn.run_sync(lambda sync: figures.create(sync))
    per_case = (
        select(
            d.case_id,
            func.max(d.aged_dpd).label("dpd"),
            func.sum(d.principal + d.interest + d.penalty + d.fee).label("outstanding"),
        )
        .group_by(d.case_id)
        .subquery("per_case")
    )
    base = (
        select(
            c.id.label("case_id"),
            c.status,
            c.stage,
            c.close_reason,
            c.watch_until,
            c.closed_while_held,
            c.days_past_due.label("previous_dpd"),
            func.coalesce(per_case.c.dpd, 0).label("dpd"),
            func.coalesce(per_case.c.outstanding, 0).label("outstanding"),
        )
        .select_from(tables.cases.outerjoin(per_case, per_case.c.case_id == c.id))
        .where(aged_cases(as_of))
        .subquery("base")
    )
    columns = [
        "case_id",
        "status",
        "stage",
        "close_reason",
        "watch_until",
        "closed_while_held",
        "previous_dpd",
        "dpd",
        "outstanding",
    ]
    result = await conn.execute(
        insert(figures).from_select(
            [*columns, "bucket", "classification"],
            select(
                *(base.c[name] for name in columns),
                bucket_sql(policy, base.c.dpd),
                classification_sql(policy, base.c.dpd),
            ),
        )
    )
    if is_postgresql(conn):
        await conn.exec_driver_sql("ANALYZE daily_figures")
    moves = case(
        *(
            (_fires(conn, t, as_of, lifecycle, plan_payments_in_row), t.value)
            for t in BATCH_TRIGGERS
        ),
        else_=null(),
    )
    await conn.execute(update(figures).values(trigger=moves))
    await conn.execute(
        update(figures)
        .where(f.trigger.is_not(None))
        .values(
            new_status=new_status(f.trigger, f.status, f.closed_while_held),
            new_stage=new_stage(f.trigger, f.stage),
        )
    )
    return max(result.rowcount or 0, 0)


def new_status(
    trigger: Any,
    status: Any,
    closed_while_held: Any,
    triggers: Sequence[Trigger] = BATCH_TRIGGERS,
) -> ColumnElement[str]:
    """Where each of ``triggers`` (a column of trigger names) leads the status, by the table
    (``table.decide``: a reopening returns a case closed while on hold to the hold)."""
    whens: list[tuple[ColumnElement[bool], Any]] = []
    for each in triggers:
        row = transition_for(each)
        if each is Trigger.REOPEN:
            whens.append(
                (and_(trigger == each.value, closed_while_held.is_(True)), CaseStatus.ON_HOLD.value)
            )
        whens.append((trigger == each.value, row.to_status.value if row.to_status else status))
    return case(*whens, else_=status)


def new_stage(
    trigger: Any, stage: Any, triggers: Sequence[Trigger] = BATCH_TRIGGERS
) -> ColumnElement[str]:
    """Where each of ``triggers`` leads the stage, by the table."""
    whens = [
        (trigger == t.value, transition_for(t).to_stage.value)  # type: ignore[union-attr]
        for t in triggers
        if transition_for(t).to_stage is not None
    ]
    return case(*whens, else_=stage) if whens else stage


def _closing_triggers() -> list[Trigger]:
    return [t for t in BATCH_TRIGGERS if transition_for(t).to_status is CaseStatus.CLOSED]


def _close_reason(trigger: ColumnElement[Any]) -> ColumnElement[Any]:
    """The close reason the table gives a closing ``trigger`` (NULL for any other)."""
    whens = [
        (trigger == t.value, transition_for(t).close_reason.value)  # type: ignore[union-attr]
        for t in _closing_triggers()
    ]
    return case(*whens, else_=null()) if whens else cast(null(), String)


def json_object(pairs: Mapping[str, Any]) -> ColumnElement[Any]:
    """A JSON object built in SQL from constant keys and column values."""
    arguments: list[Any] = []
    for key, value in pairs.items():
        arguments += [literal_column(f"'{key}'"), value]
    return dialect.json_object(*arguments)


def _text(value: str | None) -> ColumnElement[Any]:
    return null() if value is None else cast(literal(value), String)


def _event_data(
    event: type[Any], pairs: Mapping[str, Any], extra: Sequence[str] = ()
) -> ColumnElement[Any]:
    """An event's ``data`` in SQL: exactly the fields ``CaseEvent.data`` gives the domain event
    (and ``extra`` keys the batch adds), so that the timeline reads both alike."""
    check_data_keys(event, set(pairs), extra)
    return json_object(pairs)


def _event_rows(name: str, at: datetime, data: ColumnElement[Any]) -> list[Any]:
    return [c.id, literal(at, UTCDateTime()), cast(null(), Integer), literal(name, String), data]


_EVENT_COLUMNS = ["case_id", "at", "actor_id", "name", "data"]


async def write_case_events(
    conn: AsyncConnection, as_of: date, at: datetime, policy: ClassificationPolicy
) -> tuple[int, dict[str, list[int]]]:
    """Writes CaseReclassified for every case whose bucket, class or policy changes and
    CaseTransitioned for every move, before the cases change (the events carry the previous
    values); returns the number reclassified and the cases moved by each trigger."""
    joined = tables.cases.join(figures, f.case_id == c.id)
    changed = or_(
        c.bucket != f.bucket,
        c.classification != f.classification,
        c.policy_version != policy.version,
    )
    classified = c.policy_version != ""
    reclassified = _event_data(
        CaseReclassified,
        {
            "days_past_due": f.dpd,
            "bucket": f.bucket,
            "classification": f.classification,
            "previous_bucket": case((classified, c.bucket), else_=null()),
            "previous_classification": case((classified, c.classification), else_=null()),
            "policy_version": _text(policy.version),
        },
    )
    result = await conn.execute(
        insert(tables.case_events).from_select(
            _EVENT_COLUMNS,
            select(*_event_rows("CaseReclassified", at, reclassified))
            .select_from(joined)
            .where(changed)
            .order_by(c.id),
        )
    )
    transitioned = _event_data(
        CaseTransitioned,
        {
            "trigger": f.trigger,
            "from_status": f.status,
            "to_status": f.new_status,
            "from_stage": f.stage,
            "to_stage": f.new_stage,
            "close_reason": _close_reason(f.trigger),
        },
    )
    await conn.execute(
        insert(tables.case_events).from_select(
            _EVENT_COLUMNS,
            select(*_event_rows("CaseTransitioned", at, transitioned))
            .select_from(joined)
            .where(f.trigger.is_not(None))
            .order_by(c.id),
        )
    )
    moved: dict[str, list[int]] = {}
    for row in await conn.execute(
        select(f.trigger, f.case_id).where(f.trigger.is_not(None)).order_by(f.case_id)
    ):
        moved.setdefault(row.trigger, []).append(row.case_id)
    return max(result.rowcount or 0, 0), moved


async def apply_figures(
    conn: AsyncConnection,
    as_of: date,
    at: datetime,
    policy: ClassificationPolicy,
    lifecycle: LifecyclePolicy,
) -> int:
    """Writes each aged case's figures, policy version, ``dpd_as_of`` and move (as
    ``moves.move`` does: a closure by a cure sets the watch window, a reopening clears the
    closure); bumps ``version`` of the cases that changed. Returns how many changed (the
    version bumps)."""
    closing = _closing_triggers()
    closes = f.trigger.in_([t.value for t in closing])
    reopens = and_(
        f.trigger.is_not(None),
        f.status == CaseStatus.CLOSED.value,
        f.new_status != CaseStatus.CLOSED.value,
    )
    reason = _close_reason(f.trigger)
    cured = f.trigger.in_(
        [t.value for t in closing if transition_for(t).close_reason in CURE_REASONS]
    )
    changed = or_(
        c.days_past_due != f.dpd,
        c.outstanding_amount != f.outstanding,
        c.bucket != f.bucket,
        c.classification != f.classification,
        c.policy_version != policy.version,
        f.trigger.is_not(None),
    )
    # Counted before the update: the cases whose version it bumps (a case whose only change is
    # ``dpd_as_of`` moving on is written but not counted).
    bumped = (
        await conn.execute(
            select(func.count())
            .select_from(tables.cases.join(figures, f.case_id == c.id))
            .where(changed)
        )
    ).scalar_one()
    await conn.execute(
        update(tables.cases)
        .where(
            c.id == f.case_id,
            or_(changed, c.dpd_as_of.is_(None), c.dpd_as_of != as_of),
        )
        .values(
            days_past_due=f.dpd,
            outstanding_amount=f.outstanding,
            bucket=f.bucket,
            classification=f.classification,
            policy_version=policy.version,
            dpd_as_of=as_of,
            status=func.coalesce(f.new_status, c.status),
            stage=func.coalesce(f.new_stage, c.stage),
            close_reason=case((closes, reason), (reopens, null()), else_=c.close_reason),
            closed_at=case(
                (closes, literal(at, UTCDateTime())), (reopens, null()), else_=c.closed_at
            ),
            watch_until=case(
                (cured, _date(lifecycle.watch_until(as_of))),
                (or_(closes, reopens), null()),
                else_=c.watch_until,
            ),
            closed_while_held=case(
                (closes, f.status == CaseStatus.ON_HOLD.value),
                (reopens, False),
                else_=c.closed_while_held,
            ),
            version=c.version + case((changed, 1), else_=0),
        )
    )
    return int(bumped)


def _spell_from(case_id: Any, from_date: Any, bucket: Any) -> ColumnElement[date]:
    """The spell start of a period of the case opening on ``from_date`` in ``bucket``: a
    delinquent period continues the spell of a delinquent period just before it, or begins one
    on its first day; a current (M0) period ends the spell of a delinquent one just before it
    (NULL after a current period, or as the case's first)."""
    before = tables.classification_history.alias("before")
    previous = (
        select(
            case(
                (
                    before.c.bucket != CURRENT_BUCKET,
                    # A delinquent period without one (kept before it was): at least its own.
                    func.coalesce(before.c.spell_from, before.c.from_date),
                )
            )
        )
        .where(before.c.case_id == case_id, before.c.from_date < from_date)
        .order_by(before.c.from_date.desc(), before.c.id.desc())
        .limit(1)
        .correlate_except(before)
        .scalar_subquery()
    )
    return case(
        (bucket == CURRENT_BUCKET, previous),
        else_=func.coalesce(previous, from_date),
    )


async def record_history(conn: AsyncConnection, as_of: date) -> int:
    """Keeps each aged case's classification history: the open period whose class, bucket or
    policy version is not the case's any more ends the day before ``as_of`` (periods are
    inclusive: ``[from_date, to_date]``), and a new one opens on ``as_of`` for every aged case
    without an open period. Returns the number of periods opened."""
    aged = c.id.in_(select(f.case_id))
    differs = or_(
        c.classification != h.classification,
        c.bucket != h.bucket,
        c.policy_version != h.policy_version,
    )
    history = tables.classification_history
    await conn.execute(
        update(history)
        .where(h.case_id == c.id, aged, h.to_date.is_(None), h.from_date < as_of, differs)
        .values(to_date=as_of - timedelta(days=1))
    )
    # A period opened on this very date (the demo seeds one) is corrected, not closed empty.
    await conn.execute(
        update(history)
        .where(h.case_id == c.id, aged, h.to_date.is_(None), h.from_date >= as_of, differs)
        .values(
            classification=c.classification,
            bucket=c.bucket,
            policy_version=c.policy_version,
            spell_from=_spell_from(h.case_id, h.from_date, c.bucket),
        )
    )
    # Which cases lack an open period, noted before inserting: an INSERT that reads the table it
    # writes (NOT EXISTS) is planned on stale statistics, and on a first run that is quadratic.
    is_open = select(h.id).where(h.case_id == f.case_id, h.to_date.is_(None))
    await conn.execute(update(figures).values(needs_period=~exists(is_open)))
    result = await conn.execute(
        insert(history).from_select(
            [
                "case_id",
                "classification",
                "bucket",
                "from_date",
                "to_date",
                "policy_version",
                "spell_from",
            ],
            select(
                c.id,
                c.classification,
                c.bucket,
                _date(as_of),
                cast(null(), Date),
                c.policy_version,
                _spell_from(c.id, _date(as_of), c.bucket),
            )
            .select_from(tables.cases.join(figures, f.case_id == c.id))
            .where(f.needs_period.is_(True))
            .order_by(c.id),
        )
    )
    return max(result.rowcount or 0, 0)


# ---- placements, snapshots, promises ------------------------------------------------------------


def _expired(as_of: date) -> ColumnElement[bool]:
    """Placements that are not current on the run's date ``as_of`` (the business date of every
    portfolio) by the one rule (none without an end date: fail closed)."""
    return and_(
        c.agency_id.is_not(None),
        or_(c.placement_ends_on.is_(None), not_(placement_current_on(as_of))),
    )


async def expire_placements(conn: AsyncConnection, as_of: date, at: datetime) -> list[int]:
    """Returns every case whose placement is no longer current on ``as_of`` to the unassigned
    pool, with a CaseRecalled event (reason EXPIRED) at the day's instant ``at`` each; returns
    their ids."""
    expired = _expired(as_of)
    ids = list((await conn.execute(select(c.id).where(expired).order_by(c.id))).scalars())
    if not ids:
        return []
    data = _event_data(
        CaseRecalled,
        {"agency_id": c.agency_id, "reason": _text(EXPIRED)},
        extra=("reason",),
    )
    await conn.execute(
        insert(tables.case_events).from_select(
            _EVENT_COLUMNS,
            select(*_event_rows("CaseRecalled", at, data)).where(expired).order_by(c.id),
        )
    )
    await conn.execute(
        update(tables.cases)
        .where(expired)
        .values(agency_id=None, placed_at=None, placement_ends_on=None, version=c.version + 1)
    )
    return ids


_SNAPSHOT_COLUMNS = [
    "debt_id",
    "as_of",
    "case_id",
    "portfolio",
    "product_type",
    "currency",
    "balance",
    "principal",
    "days_past_due",
    "bucket",
    "classification",
    "status",
    "assignee_id",
    "agency_id",
    "case_status",
    "case_stage",
]


def _snapshot_of(as_of: date, policy: ClassificationPolicy, agency_id: Any) -> Select[Any]:
    """Each debt (joined to its case) as it stands, a row of ``debt_snapshots`` on ``as_of``."""
    return select(
        d.id,
        _date(as_of),
        d.case_id,
        c.portfolio,
        d.product_type,
        d.currency,
        d.principal + d.interest + d.penalty + d.fee,
        d.principal,
        d.aged_dpd,
        d.aged_bucket,
        classification_sql(policy, d.aged_dpd),
        d.status,
        c.assignee_id,
        agency_id,
        c.status,
        c.stage,
    )


def _start_of(day: date) -> ColumnElement[datetime]:
    """The instant ``day`` begins in the time zone of each case's portfolio
    (``domain.portfolios.start_of_day``): the reports' calendar of local days."""
    default = literal(start_of_day_in(DEFAULT_TIME_ZONE, day), UTCDateTime())
    whens = [
        (c.portfolio == name, literal(start_of_day(name, day), UTCDateTime()))
        for name in TIME_ZONES
    ]
    return case(*whens, else_=default) if whens else default


def _recalled_by_closure() -> ColumnElement[int]:
    """The agency a case's closure recalled (a debt sold: the buyer collects, no longer the
    agency), from the CaseRecalled event stamped with the closing instant (NULL: none)."""
    e = tables.case_events.c
    return (
        select(e.data["agency_id"].as_integer())
        .where(e.case_id == c.id, e.name == CaseRecalled.__name__, e.at == c.closed_at)
        .limit(1)
        .scalar_subquery()
    )


async def _first_day(conn: AsyncConnection, as_of: date) -> date:
    """The first local day the run for ``as_of`` stands for in the reports' calendar: the day
    after the previous completed run (``as_of`` itself on a first run)."""
    runs = tables.daily_runs.c
    previous = (
        await conn.execute(
            select(func.max(runs.as_of)).where(runs.as_of < as_of, runs.finished_at.is_not(None))
        )
    ).scalar_one()
    return as_of if previous is None else previous + timedelta(days=1)


async def take_snapshots(conn: AsyncConnection, as_of: date, policy: ClassificationPolicy) -> int:
    """Writes each aged debt as it stands on ``as_of`` (balance, principal, days past due,
    bucket, class, status, the case's collector or agency, status and stage), and each debt of a
    case closed on one of the days the run stands for (after the previous completed run, up to
    the end of ``as_of`` in its portfolio's time zone) that the run does not age — settled, sold,
    uncollectible — so that the reports find the closing day's payment or complaint in the hands
    that held the case until it closed; a debt already taken on that date is left as it is.
    Returns the number written (one INSERT…SELECT for both).

    A closure keeps the collector; a debt sold recalls the agency in the closure's own unit of
    work, so that agency is read from the recall at the closing instant. The treatment never
    marks these rows (a closed case leaves ``case_treatments`` before the day's snapshots are
    marked): they carry no strategy, like every closed case's."""
    # Snapshots of the date exist only when its run committed and is run again (its record
    # deleted by hand): only then is each debt checked, which on an empty date would make the
    # INSERT read the table it writes, row by row.
    again = (await conn.execute(select(snap.debt_id).where(snap.as_of == as_of).limit(1))).first()
    taken = select(snap.debt_id).where(snap.debt_id == d.id, snap.as_of == as_of)
    debts = tables.debts.join(tables.cases, c.id == d.case_id)
    aged = _snapshot_of(as_of, policy, c.agency_id).select_from(
        debts.join(figures, f.case_id == c.id)
    )
    first = await _first_day(conn, as_of)
    closed = (
        _snapshot_of(as_of, policy, func.coalesce(c.agency_id, _recalled_by_closure()))
        .select_from(debts)
        .where(
            c.status == CaseStatus.CLOSED.value,
            c.closed_at >= _start_of(first),
            c.closed_at < _start_of(as_of + timedelta(days=1)),
            ~exists(select(f.case_id).where(f.case_id == c.id)),
        )
    )
    if again is not None:
        aged = aged.where(~exists(taken))
        closed = closed.where(~exists(taken))
    result = await conn.execute(
        insert(tables.debt_snapshots).from_select(_SNAPSHOT_COLUMNS, union_all(aged, closed))
    )
    return max(result.rowcount or 0, 0)


async def cases_with_lapsed_promises(conn: AsyncConnection, as_of: date) -> list[int]:
    """Cases with an OPEN promise whose window (due date plus grace days) ended before
    ``as_of``, or whose case has closed (the promise is then CANCELLED): the ones the
    collection-work service must judge today (a small set)."""
    lapsed = days_between(conn, _date(as_of), p.due_date) > p.grace_days
    closed = exists(select(c.id).where(c.id == p.case_id, c.status == CaseStatus.CLOSED.value))
    stmt = (
        select(p.case_id)
        .where(p.status == PromiseStatus.OPEN.value, or_(lapsed, closed))
        .distinct()
        .order_by(p.case_id)
    )
    return list((await conn.execute(stmt)).scalars())


async def drop_figures(conn: AsyncConnection) -> None:
    """SQLite keeps a temporary table for the connection's life: drop it (PostgreSQL drops it at
    commit)."""
    if not is_postgresql(conn):
        await conn.run_sync(lambda sync: figures.drop(sync, checkfirst=True))


async def last_event_id(conn: AsyncConnection) -> int:
    return int(
        (
            await conn.execute(select(func.coalesce(func.max(tables.case_events.c.id), 0)))
        ).scalar_one()
    )
