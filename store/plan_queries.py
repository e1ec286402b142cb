"""Plans and settlements in effect, in SQL for the daily run: which cases the run re-evaluates
first (their payments changed since: the core's feed evaluates nothing), which are broken on a
date, which cases are on a plan's probation (no cure), had their cure held, or have one in
effect (no escalation), and breaking them — set-based, no loop over rows.

One rule, two renderings: ``lapsed`` is ``domain.restructuring.plans.lapsed`` asked of every
ACTIVE restructuring at once (a plan instalment whose due date plus grace days is before the
run's date and that was not paid in full by then, or a settlement not paid by its last day),
``in_effect_cases`` is ``plans.in_effect``, and ``probation_cases`` is ``plans.on_probation``
(an ACTIVE plan with fewer than the configured payments in a row, or an ACTIVE settlement).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.cases.model import CaseStatus
from domain.lifecycle.table import CloseReason
from domain.restructuring import plans
from domain.restructuring.plan_events import RestructuringBroken
from domain.restructuring.policy import policy_in_effect
from domain.rulesets import DEFAULT_NAME, RuleSetKind
from store import dialect, rule_sets, tables
from store.decisions import money_text
from store.dialect import days_between
from store.types import UTCDateTime

r = tables.restructurings.c
ri = tables.restructuring_instalments.c
c = tables.cases.c
y = tables.payments.c

_APPROVED = (plans.ACTIVE, plans.COMPLETED, plans.BROKEN)
_BATCH = 1000  # restructuring ids per statement (bound parameters stay few)


def _date(value: date) -> ColumnElement[date]:
    return literal(value, Date)


async def payments_in_row_in_effect(db: AsyncConnection | AsyncSession, at: datetime) -> int:
    """The plan payments in a row a cure needs, by the restructuring policy in effect at
    ``at`` (its checked-in default without a stored version)."""
    stored = await rule_sets.in_effect(db, RuleSetKind.RESTRUCTURING_POLICY, DEFAULT_NAME, at)
    found = None if stored is None else (stored.version, stored.payload)
    return plans.payments_in_row_needed(policy_in_effect(found).payments_in_row_to_cure)


def _paid_off() -> ColumnElement[bool]:
    """The restructuring's case is closed PAID_IN_FULL: its plan or settlement ends (the daily
    run's re-evaluation completes it), never broken."""
    closed = select(c.id).where(
        c.status == CaseStatus.CLOSED.value, c.close_reason == CloseReason.PAID_IN_FULL.value
    )
    return r.case_id.in_(closed)


def lapsed(conn: AsyncConnection, as_of: date) -> ColumnElement[bool]:
    """``plans.lapsed``: an ACTIVE plan with an instalment whose due date plus grace days is
    before ``as_of`` and that was not paid in full by then (``paid_on``: the day the payment that
    completed it was made), or an ACTIVE settlement whose counted payments (made by its last
    day) fall short when that day is before ``as_of``: broken on ``as_of``. Not on a case
    closed PAID_IN_FULL."""
    missed = exists(
        select(ri.id).where(
            ri.restructuring_id == r.id,
            days_between(conn, _date(as_of), ri.due_date) > r.grace_days,
            or_(
                ri.paid_on.is_(None),
                days_between(conn, ri.paid_on, ri.due_date) > r.grace_days,
            ),
        )
    )
    return and_(
        r.status == plans.ACTIVE,
        ~_paid_off(),
        or_(
            and_(r.kind == plans.PLAN, missed),
            and_(
                r.kind == plans.SETTLEMENT,
                r.settle_by.is_not(None),
                days_between(conn, _date(as_of), r.settle_by) > r.grace_days,
                r.paid_amount < r.settlement_amount,
            ),
        ),
    )


def in_effect_cases(conn: AsyncConnection, as_of: date) -> Select[Any]:
    """The cases with a plan or settlement ACTIVE and not broken on ``as_of`` (not escalated:
    ``Guard.NO_PLAN_IN_EFFECT``)."""
    return select(r.case_id).where(
        r.status == plans.ACTIVE,
        r.kind.in_((plans.PLAN, plans.SETTLEMENT)),
        ~lapsed(conn, as_of),
    )


def cure_held_cases() -> Select[Any]:
    """The cases a plan or settlement took effect on (ACTIVE, COMPLETED or BROKEN): their cure
    may have been held, so one OPEN at DPD 0 is cured once not on probation
    (``PlanStanding.cure_held``, ``after_balance_change``)."""
    return select(r.case_id).where(
        r.kind.in_((plans.PLAN, plans.SETTLEMENT)),
        r.status.in_(_APPROVED),
        r.decided_at.is_not(None),
    )


async def cases_to_reevaluate(conn: AsyncConnection, as_of: date) -> list[int]:
    """The cases the daily run re-evaluates before it ages them (a small set): those whose
    plan or settlement in effect, or completed, has a payment made or reversed since it was
    last evaluated (the core's feed), those lapsing on ``as_of`` (judged on fresh figures),
    an ACTIVE settlement whose debts are not recorded yet, and one whose case was closed
    PAID_IN_FULL (it ends). In id order."""
    since = func.coalesce(r.evaluated_at, r.decided_at)
    changed = exists(
        select(y.id).where(
            y.case_id == r.case_id,
            or_(y.created_at > since, and_(y.reversed_at.is_not(None), y.reversed_at > since)),
        )
    )
    active = r.status == plans.ACTIVE
    stmt = (
        select(r.case_id)
        .where(
            r.kind.in_((plans.PLAN, plans.SETTLEMENT)),
            r.decided_at.is_not(None),
            r.status.in_((plans.ACTIVE, plans.COMPLETED)),
            or_(
                changed,
                and_(active, or_(lapsed(conn, as_of), _paid_off())),
                and_(active, r.kind == plans.SETTLEMENT, r.debt_ids.is_(None)),
            ),
        )
        .distinct()
        .order_by(r.case_id)
    )
    return [int(x) for x in (await conn.execute(stmt)).scalars()]


def probation_cases(needed: int) -> Select[Any]:
    """The cases on probation (``plans.on_probation``): an ACTIVE plan with fewer than
    ``needed`` payments in a row, or an ACTIVE settlement (not cured:
    ``Guard.NOT_ON_PLAN_PROBATION``)."""
    return select(r.case_id).where(
        r.status == plans.ACTIVE,
        or_(
            r.kind == plans.SETTLEMENT,
            and_(r.kind == plans.PLAN, r.payments_in_row < needed),
        ),
    )


def _text(value: str) -> ColumnElement[Any]:
    return cast(literal(value), String)


async def break_lapsed(conn: AsyncConnection, as_of: date, at: datetime) -> list[int]:
    """Breaks every plan or settlement that is broken on ``as_of``, in one UPDATE … RETURNING
    (status BROKEN, ``ended_at``; a row a payment is evaluating stays locked until it commits,
    and is then judged as it committed), then a RestructuringBroken event on the case of each
    row returned, at the day's instant ``at`` (the case's stage now beside the one it had when
    the plan took effect). Returns the cases, in id order; a second call for the same date
    finds nothing (they are no longer ACTIVE)."""
    returned = await conn.execute(
        update(tables.restructurings)
        .where(lapsed(conn, as_of))
        .values(status=plans.BROKEN, ended_at=at, version=r.version + 1)
        .returning(r.id, r.case_id)
    )
    rows = returned.all()
    if not rows:
        return []
    pairs: dict[str, Any] = {
        "restructuring_id": r.id,
        "kind": r.kind,
        "paid_amount": money_text(r.paid_amount),
        "currency": r.currency,
        "broken_on": _text(as_of.isoformat()),
        "previous_stage": r.previous_stage,
        "stage": c.stage,
    }
    fields = {n for n in RestructuringBroken.__slots__ if n not in ("case_id", "at", "actor_id")}
    assert set(pairs) == fields, sorted(fields)
    arguments: list[Any] = []
    for key, value in pairs.items():
        arguments += [literal_column(f"'{key}'"), value]
    ids = sorted(int(row.id) for row in rows)
    for start in range(0, len(ids), _BATCH):
        await conn.execute(
            insert(tables.case_events).from_select(
                ["case_id", "at", "actor_id", "name", "data"],
                select(
                    r.case_id,
                    literal(at, UTCDateTime()),
                    cast(null(), Integer),
                    literal(RestructuringBroken.__name__, String),
                    dialect.json_object(*arguments),
                )
                .select_from(tables.restructurings.join(tables.cases, c.id == r.case_id))
                .where(r.id.in_(ids[start : start + _BATCH]))
                .order_by(r.case_id, r.id),
            )
        )
    return sorted({int(row.case_id) for row in rows})
