"""Write-offs in the store: the repository of a manager's write-off (its policy in effect and its
row), the daily run's application of the core's charge-offs, set-based, and when a payment is a
recovery.

``apply_charge_offs`` takes every charge-off the import stored and the run has not applied
(``applied_at`` NULL, dated on or before the run's date) in a handful of statements, none per
row. What a charge-off does depends on its debt as it stands:

- a debt still owed (not SETTLED, CLOSED or WRITTEN_OFF): a new write-off. Its case moves to
  WRITTEN_OFF by the life-cycle table's WRITE_OFF row (any status, any stage but WRITTEN_OFF; a
  closed case stays closed with its close reason), with its CaseTransitioned event; a
  ``write_offs`` row (source CHARGE_OFF, ``written_off_at`` the start of the charge-off's date
  in the portfolio's time zone) and a CaseWrittenOff event (decision CASE_WRITTEN_OFF) are
  written per charge-off — two charge-offs of one case in a run are two write-offs, each with
  its amount and ``charge_off_id``, and one move; the debt is marked WRITTEN_OFF; the debt's
  payments paid on or after that instant are marked recoveries;
- a debt already WRITTEN_OFF (a manager's write-off asked the core to book it): the core's
  booking of it. The case's MANAGER write-off not yet linked gets this ``charge_off_id``;
  nothing else is written (no second event, decision or row);
- a debt SETTLED or CLOSED: nothing (as a manager's write-off leaves such debts).

The charge-offs are then marked applied, so a repeated run finds nothing. The run projects the
events into decisions and names the moved cases in its audit entries (``jobs.daily``).

A payment is a recovery when its debt is WRITTEN_OFF and it was paid on or after the debt's
write-off (``recovery_since``): decided by the debt, not by its case's stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.cases.events import CaseTransitioned, check_data_keys
from domain.cases.model import CaseStage
from domain.debts.model import DebtStatus
from domain.legal.model import ReferralStatus
from domain.lifecycle.table import Trigger, transition_for
from domain.portfolios import start_of_day
from domain.restructuring.model import RestructuringStatus
from domain.writeoff.events import CaseWrittenOff
from domain.writeoff.policy import (
    CHARGE_OFF_REASON,
    DEFAULT,
    KIND,
    NAME,
    WriteOffPolicy,
    WriteOffSource,
    from_payload,
    version_name,
)
from domain.writeoff.rules import PendingWork
from domain.writeoff.services import WriteOff
from store import rule_sets, tables
from store.ageing import json_object
from store.decisions import money_text
from store.types import UTCDateTime

c = tables.cases.c
d = tables.debts.c
co = tables.charge_offs.c
w = tables.write_offs.c
p = tables.payments.c
_EVENT_COLUMNS = ["case_id", "at", "actor_id", "name", "data"]
# What a manager's write-off waits for (``domain.writeoff.rules.check_no_pending_work``).
_WAITING = (RestructuringStatus.PROPOSED.value, RestructuringStatus.ACTIVE.value)
_REFERRAL_PENDING = ReferralStatus.PENDING.value


async def policy_in_effect(db: AsyncConnection | AsyncSession, at: datetime) -> WriteOffPolicy:
    """Returns the write-off policy in effect at ``at``: the latest stored version, else the
    checked-in default (``default@builtin``)."""
    stored = await rule_sets.in_effect(db, KIND, NAME, at)
    if stored is None:
        return DEFAULT
    return from_payload(stored.payload, version_name(stored.version))


class SqlWriteOffRepository:
    """A manager's write-off: the policy it is judged by, and its row."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def policy(self, at: datetime) -> WriteOffPolicy:
        return await policy_in_effect(self.session, at)

    async def add(self, write_off: WriteOff) -> int:
        result = await self.session.execute(
            insert(tables.write_offs)
            .values(
                case_id=write_off.case_id,
                source=write_off.source.value,
                reason_code=write_off.reason_code,
                reason_text=write_off.reason_text,
                amount=write_off.amount,
                currency=write_off.currency,
                charge_off_id=write_off.charge_off_id,
                written_off_by=write_off.written_off_by,
                written_off_at=write_off.written_off_at,
                policy_version=write_off.policy_version,
            )
            .returning(w.id)
        )
        return int(result.scalar_one())

    async def pending_work(self, case_id: int) -> PendingWork:
        r, lr = tables.restructurings.c, tables.legal_referrals.c
        waiting = select(r.kind, r.status).where(r.case_id == case_id, r.status.in_(_WAITING))
        rows = (await self.session.execute(waiting.order_by(r.id))).all()
        referral = select(lr.id).where(lr.case_id == case_id, lr.status == _REFERRAL_PENDING)
        referred = (await self.session.execute(referral.limit(1))).first() is not None
        return PendingWork(tuple((row.kind, row.status) for row in rows), referred)


# ---- the core's charge-offs, applied by the daily run ------------------------------------------


@dataclass(frozen=True)
class ChargeOffsApplied:
    """What the run's charge-off step did: charge-offs applied (all taken), of which new
    write-offs and bookings of a manager's write-off (linked), and the cases it moved."""

    applied: int
    moved: list[int]
    written_off: int = 0
    linked: int = 0


def _text(value: str | None) -> ColumnElement[Any]:
    return cast(null(), String) if value is None else cast(literal(value), String)


def _event_data(event: type[Any], pairs: Mapping[str, Any]) -> ColumnElement[Any]:
    """An event's data in SQL: exactly the domain event's fields (the timeline reads both)."""
    check_data_keys(event, set(pairs))
    return json_object(pairs)


def _pending(as_of: date) -> ColumnElement[bool]:
    return and_(co.applied_at.is_(None), co.date <= as_of)


# Debts a write-off leaves: no longer owed here (settled, closed) or written off already.
_FINISHED = sorted(str(s) for s in (DebtStatus.SETTLED, DebtStatus.CLOSED, DebtStatus.WRITTEN_OFF))


def _start_sql(pairs: Sequence[tuple[str, date]]) -> ColumnElement[Any]:
    """Over ``charge_offs`` joined to its case: the start of the charge-off's date in the case's
    portfolio's time zone, from the few (portfolio, date) pairs of the run's charge-offs."""
    whens = [
        (
            and_(c.portfolio == portfolio, co.date == day),
            literal(start_of_day(portfolio, day), UTCDateTime()),
        )
        for portfolio, day in pairs
    ]
    return case(*whens, else_=cast(null(), UTCDateTime()))


async def apply_charge_offs(conn: AsyncConnection, as_of: date, at: datetime) -> ChargeOffsApplied:
    """Applies the charge-offs not yet applied and dated on or before ``as_of`` (see the
    module's docstring), stamping the day's instant ``at``; returns what it did."""
    pending = _pending(as_of)
    row = transition_for(Trigger.WRITE_OFF)
    assert row.to_stage is CaseStage.WRITTEN_OFF and row.to_status is None
    # A charge-off of a debt still owed, on a case: a new write-off.
    fresh = and_(pending, d.status.not_in(_FINISHED))
    of_case = tables.charge_offs.join(tables.debts, d.id == co.debt_id).join(
        tables.cases, c.id == d.case_id
    )
    # A charge-off of a debt a manager wrote off: the core booked the write-off requested.
    booked = (
        select(func.min(co.id))
        .select_from(tables.charge_offs.join(tables.debts, d.id == co.debt_id))
        .where(pending, d.status == DebtStatus.WRITTEN_OFF.value, d.case_id == w.case_id)
        .scalar_subquery()
    )
    linked = await conn.execute(
        update(tables.write_offs)
        .where(
            w.source == WriteOffSource.MANAGER.value,
            w.charge_off_id.is_(None),
            booked.is_not(None),
        )
        .values(charge_off_id=booked)
    )
    pairs = [
        (str(portfolio), day)
        for portfolio, day in (
            await conn.execute(
                select(c.portfolio, co.date).select_from(of_case).where(fresh).distinct()
            )
        ).all()
    ]
    moved: list[int] = []
    written_off = 0
    if pairs:
        moved, written_off = await _write_off_charged(conn, fresh, of_case, row, pairs, at)
    applied = await conn.execute(update(tables.charge_offs).where(pending).values(applied_at=at))
    return ChargeOffsApplied(
        max(applied.rowcount or 0, 0), moved, written_off, max(linked.rowcount or 0, 0)
    )


async def _write_off_charged(
    conn: AsyncConnection,
    fresh: ColumnElement[bool],
    of_case: Any,
    row: Any,
    pairs: Sequence[tuple[str, date]],
    at: datetime,
) -> tuple[list[int], int]:
    """The new write-offs of the run's charge-offs (``fresh``): the cases moved, the rows and
    events, the recoveries and the debts; returns (cases moved, write-offs written)."""
    charged = exists().where(co.debt_id == d.id, d.case_id == c.id, fresh)
    movable = and_(
        c.status.in_(sorted(row.from_status)), c.stage.in_(sorted(row.from_stage)), charged
    )
    moved = list((await conn.execute(select(c.id).where(movable).order_by(c.id))).scalars())
    at_value = literal(at, UTCDateTime())
    if moved:
        transitioned = _event_data(
            CaseTransitioned,
            {
                "trigger": _text(Trigger.WRITE_OFF.value),
                "from_status": c.status,
                "to_status": c.status,
                "from_stage": c.stage,
                "to_stage": _text(row.to_stage.value),
                "close_reason": _text(None),
            },
        )
        await conn.execute(
            insert(tables.case_events).from_select(
                _EVENT_COLUMNS,
                select(
                    c.id, at_value, cast(null(), Integer), _text("CaseTransitioned"), transitioned
                )
                .where(c.id.in_(moved))
                .order_by(c.id),
            )
        )
        await conn.execute(
            update(tables.cases)
            .where(c.id.in_(moved))
            .values(stage=row.to_stage.value, version=c.version + 1)
        )
    # One write-off and one event per charge-off (each its amount and id; a case's several
    # charge-offs in one run are several write-offs, and one move).
    starts = _start_sql(pairs)
    on_case = (
        select(co.id, co.amount, co.currency, d.case_id, starts.label("since"))
        .select_from(of_case)
        .where(fresh)
        .subquery("charged")
    )
    source = WriteOffSource.CHARGE_OFF.value
    inserted = await conn.execute(
        insert(tables.write_offs).from_select(
            [
                "case_id",
                "source",
                "reason_code",
                "reason_text",
                "amount",
                "currency",
                "charge_off_id",
                "written_off_by",
                "written_off_at",
                "policy_version",
            ],
            select(
                on_case.c.case_id,
                _text(source),
                _text(CHARGE_OFF_REASON),
                _text(None),
                on_case.c.amount,
                on_case.c.currency,
                on_case.c.id,
                cast(null(), Integer),
                on_case.c.since,
                _text(None),
            ).order_by(on_case.c.id),
        )
    )
    written_off = _event_data(
        CaseWrittenOff,
        {
            "source": _text(source),
            "reason_code": _text(CHARGE_OFF_REASON),
            "amount": money_text(on_case.c.amount),
            "currency": on_case.c.currency,
            "policy_version": _text(None),
            "charge_off_id": on_case.c.id,
        },
    )
    await conn.execute(
        insert(tables.case_events).from_select(
            _EVENT_COLUMNS,
            select(
                on_case.c.case_id,
                at_value,
                cast(null(), Integer),
                _text("CaseWrittenOff"),
                written_off,
            ).order_by(on_case.c.id),
        )
    )
    # The debt's payments from its write-off on are recoveries (received before the import
    # or the run, paid on or after the charge-off's date).
    await conn.execute(
        update(tables.payments)
        .where(
            p.recovery.is_(False),
            exists()
            .select_from(of_case)
            .where(fresh, co.debt_id == p.debt_id, p.paid_at >= starts),
        )
        .values(recovery=True)
    )
    await conn.execute(
        update(tables.debts)
        .where(d.id.in_(select(co.debt_id).where(fresh)), d.status.not_in(_FINISHED))
        .values(status=DebtStatus.WRITTEN_OFF.value)
    )
    return moved, max(inserted.rowcount or 0, 0)


# ---- recoveries -------------------------------------------------------------------------------


def recovery_since(debt_id: Any, case_id: Any) -> ColumnElement[Any]:
    """The instant a debt was written off (SQL over columns or values): the earliest write-off
    of its case that covers it (a manager's covers every debt of the case it marked; a
    charge-off, its own debt); NULL if none is stored (a debt the core sent WRITTEN_OFF)."""
    return (
        select(func.min(w.written_off_at))
        .select_from(tables.write_offs.outerjoin(tables.charge_offs, co.id == w.charge_off_id))
        .where(
            w.case_id == case_id,
            or_(w.source == WriteOffSource.MANAGER.value, co.debt_id == debt_id),
        )
        .scalar_subquery()
    )


def is_recovery(debt_status: Any, paid_at: Any, since: Any) -> ColumnElement[bool]:
    """SQL: a payment is a recovery when its debt is WRITTEN_OFF and it was paid on or after the
    debt's write-off (any time, if the write-off's instant is not stored)."""
    return and_(debt_status == DebtStatus.WRITTEN_OFF.value, or_(since.is_(None), paid_at >= since))


async def written_off_since(
    db: AsyncConnection | AsyncSession, debt_id: int, case_id: int
) -> datetime | None:
    """The instant the debt was written off (``recovery_since``), if one is stored."""
    found = (await db.execute(select(recovery_since(debt_id, case_id)))).scalar()
    return found if isinstance(found, datetime) else None
