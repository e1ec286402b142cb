"""Read side of legal escalation: the facts the legal conditions look at for one case (a fixed
number of statements, whatever the number of contacts, promises or payments), and the legal
actions and referrals of many cases at once (one statement per batch), through the caller's
case scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from domain.arrangements.promises import PromiseStatus
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.complaints.model import ComplaintStatus
from domain.contacts.model import ContactOutcome
from domain.debts.model import DebtStatus
from domain.flags.effects import Effect, flags_with
from domain.legal.conditions import (
    DEMAND_CONTACT_CHANNELS,
    DEMAND_NOTICE_CHANNELS,
    DEMAND_NOTICE_PURPOSE,
    DEMAND_PARTIES,
    DEMAND_RESTARTS_LIMITATION,
    RIGHT_PARTIES,
    RIGHT_PARTY_OUTCOMES,
    Condition,
    ConditionName,
    LegalFacts,
)
from domain.legal.model import (
    LegalAction,
    LegalActionKind,
    LegalReferral,
    LegalStep,
    ReferralStatus,
)
from domain.money import Money
from domain.notices.model import NoticeStatus
from domain.portfolios import conduct_profile_of, local_date, start_of_day, time_zone_of
from domain.restructuring.model import IN_EFFECT_KINDS, RestructuringStatus
from store import tables
from store.audit import AuditAction

cs, ct, pr, pm = tables.cases.c, tables.contacts.c, tables.promises.c, tables.payments.c
dt, ins, cm, bf = tables.debts.c, tables.instalments.c, tables.complaints.c, tables.borrower_flags.c
lr, la, rs = tables.legal_referrals.c, tables.legal_actions.c, tables.restructurings.c
nt = tables.notices.c
DEMAND, PAYMENT = "DEMAND", "PAYMENT"
# What stops a referral (NO_RESTRUCTURING_IN_EFFECT): an ACTIVE plan or settlement (a penalty
# waiver is APPROVED once applied, never ACTIVE), or any restructuring waiting for a decision.
_IN_EFFECT = and_(
    rs.status == RestructuringStatus.ACTIVE.value,
    rs.kind.in_(sorted(k.value for k in IN_EFFECT_KINDS)),
)
_WAITING = rs.status == RestructuringStatus.PROPOSED.value


def _right_party(case_id: int) -> ColumnElement[bool]:
    return and_(
        ct.case_id == case_id,
        ct.blocked.is_(False),
        ct.outcome.in_(sorted(o.value for o in RIGHT_PARTY_OUTCOMES)),
        ct.party.in_(sorted(p.value for p in RIGHT_PARTIES)),
    )


def _local(portfolio: str, at: datetime | None) -> date | None:
    return local_date(time_zone_of(portfolio), at) if at is not None else None


def _delivered_demands(case_id: int) -> Any:
    """The instants (``at``) of the demand notices delivered to a right party (the borrower, a
    guarantor, a debt-related spouse; never an emergency contact or a third party), as
    ``domain.legal.conditions`` defines them: LEGAL_NOTICE contacts with outcome DELIVERED, and
    LETTER notices of a DEMAND template, sent by the outbox, that a receipt said were DELIVERED
    (at their delivery)."""
    parties = sorted(p.value for p in DEMAND_PARTIES)
    contacts = select(ct.at.label("at")).where(
        ct.case_id == case_id,
        ct.blocked.is_(False),
        ct.channel.in_(sorted(ch.value for ch in DEMAND_CONTACT_CHANNELS)),
        ct.outcome == ContactOutcome.DELIVERED.value,
        ct.party.in_(parties),
    )
    notices = select(nt.delivered_at.label("at")).where(
        nt.case_id == case_id,
        nt.channel.in_(sorted(ch.value for ch in DEMAND_NOTICE_CHANNELS)),
        nt.purpose == DEMAND_NOTICE_PURPOSE.value,
        nt.status == NoticeStatus.DELIVERED.value,
        nt.sent_at.is_not(None),
        nt.delivered_at.is_not(None),
        nt.party.in_(parties),
    )
    return union_all(contacts, notices).subquery("demands")


async def _restarts(
    session: AsyncSession, case: Case, due: date | None
) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """The local dates of every delivered demand (where the case's conduct profile lets one
    restart the limitation period: ``DEMAND_RESTARTS_LIMITATION``) and every payment not
    reversed after the oldest unpaid due date ``due``, each sorted (one statement)."""
    if due is None:
        return (), ()
    assert case.id is not None
    since = start_of_day(case.portfolio, due + timedelta(days=1))
    delivered = _delivered_demands(case.id)
    demands = select(literal(DEMAND).label("what"), delivered.c.at.label("at")).where(
        delivered.c.at >= since
    )
    payments = select(literal(PAYMENT).label("what"), pm.paid_at.label("at")).where(
        pm.case_id == case.id, pm.reversed.is_(False), pm.paid_at >= since
    )
    rows = (await session.execute(union_all(demands, payments))).all()
    found: dict[str, list[date]] = {DEMAND: [], PAYMENT: []}
    for what, at in rows:
        day = _local(case.portfolio, at)
        if day is not None and day > due:
            found[what].append(day)
    if conduct_profile_of(case.portfolio) not in DEMAND_RESTARTS_LIMITATION:
        found[DEMAND] = []
    return tuple(sorted(found[DEMAND])), tuple(sorted(found[PAYMENT]))


async def legal_facts(session: AsyncSession, case: Case, today: date) -> LegalFacts:
    """The legal conditions' facts of one case as of the portfolio's local date ``today``:
    one statement of aggregates over contacts, promises, payments, the schedule and
    restructurings, one for the demands and payments since the oldest unpaid due date, one
    for open complaints and one for protecting flags."""
    assert case.id is not None
    latest_rpc = (
        select(ct.at, ct.outcome)
        .where(_right_party(case.id))
        .order_by(ct.at.desc(), ct.id.desc())
        .limit(1)
        .subquery()
    )
    demand = select(func.max(_delivered_demands(case.id).c.at))
    broken = select(func.count()).where(
        pr.case_id == case.id, pr.status == PromiseStatus.BROKEN.value
    )
    oldest = (
        select(func.min(ins.due_date))
        .join(tables.debts, dt.id == ins.debt_id)
        .where(
            dt.case_id == case.id,
            dt.status.not_in([DebtStatus.SETTLED.value, DebtStatus.CLOSED.value]),
            ins.amount_paid < ins.amount_due,
            ins.due_date <= today,
        )
    )
    row = (
        await session.execute(
            select(
                select(latest_rpc.c.at).scalar_subquery().label("rpc_at"),
                select(latest_rpc.c.outcome).scalar_subquery().label("rpc_outcome"),
                demand.scalar_subquery().label("demand_at"),
                broken.scalar_subquery().label("broken"),
                oldest.scalar_subquery().label("oldest_due"),
            )
        )
    ).one()
    complaints = select(cm.kind).where(
        cm.case_id == case.id, cm.status == ComplaintStatus.OPEN.value
    )
    protecting = sorted(f.value for f in flags_with(Effect.NO_ESCALATION))
    flags = select(bf.flag).where(
        bf.borrower_id == case.borrower_id, bf.lifted_at.is_(None), bf.flag.in_(protecting)
    )
    portfolio = case.portfolio
    restructurings = select(rs.kind, rs.status).where(rs.case_id == case.id, _IN_EFFECT | _WAITING)
    demands, payments = await _restarts(session, case, row.oldest_due)
    return LegalFacts(
        today=today,
        status=CaseStatus(case.status),
        stage=CaseStage(case.stage),
        days_past_due=case.days_past_due,
        outstanding=Money(case.outstanding_amount, case.currency),
        opened_on=case.opened_on,
        last_right_party_contact=_local(portfolio, row.rpc_at),
        last_right_party_refused=row.rpc_outcome == ContactOutcome.REFUSED_TO_PAY.value,
        broken_promises=int(row.broken or 0),
        last_demand_delivered=_local(portfolio, row.demand_at),
        oldest_unpaid_due=row.oldest_due,
        demands_since_due=demands,
        part_payments_since_due=payments,
        open_complaints=tuple(sorted((await session.execute(complaints)).scalars())),
        protecting_flags=tuple(sorted((await session.execute(flags)).scalars())),
        restructurings=tuple(
            sorted(f"{k} {st}" for k, st in (await session.execute(restructurings)).all())
        ),
    )


# ---- referrals and actions ----------------------------------------------------------------------


def referral_of(row: Any) -> LegalReferral:
    """Returns the referral of a ``legal_referrals`` row."""
    r = row._mapping
    return LegalReferral(
        id=r["id"],
        case_id=r["case_id"],
        reason=r["reason"],
        conditions=tuple(
            Condition(ConditionName(c["name"]), bool(c["passed"]), str(c["detail"]))
            for c in r["conditions"]
        ),
        referred_by=r["referred_by"],
        referred_at=r["referred_at"],
        status=ReferralStatus(r["status"]),
        decided_by=r["decided_by"],
        decided_at=r["decided_at"],
        decision_reason=r["decision_reason"],
        version=r["version"],
    )


def action_of(row: Any) -> LegalAction:
    """Returns the legal action of a ``legal_actions`` row."""
    r = row._mapping
    return LegalAction(
        id=r["id"],
        case_id=r["case_id"],
        kind=LegalActionKind(r["kind"]),
        step=LegalStep(r["step"]),
        occurred_on=r["occurred_on"],
        recorded_at=r["recorded_at"],
        recorded_by=r["recorded_by"],
        body=r["body"],
        reference=r["reference"],
        amount=r["amount"],
        currency=r["currency"],
        idempotency_key=r["idempotency_key"],
    )


async def claimed_action(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, LegalAction | None] | None:
    """Returns the operation a caller's idempotency key was used for and, for a legal action,
    the action it recorded (None when the key is unused). The claim and the action (which keeps
    the key) commit in one transaction."""
    k = tables.idempotency_keys.c
    claimed = (
        await session.execute(select(k.operation).where(k.staff_id == staff_id, k.key == key))
    ).scalar_one_or_none()
    if claimed is None:
        return None
    if claimed != AuditAction.LEGAL_ACT:
        return str(claimed), None
    stmt = select(tables.legal_actions).where(la.recorded_by == staff_id, la.idempotency_key == key)
    row = (await session.execute(stmt)).one_or_none()
    return str(claimed), action_of(row) if row is not None else None


def _scoped(stmt: Select[Any], scope: ColumnElement[bool] | None) -> Select[Any]:
    return stmt if scope is None else stmt.where(scope)


async def legal_actions_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[LegalAction]]:
    """Returns each case's legal actions in the order they happened (one statement)."""
    stmt = (
        select(tables.legal_actions)
        .join(tables.cases, cs.id == la.case_id)
        .where(la.case_id.in_(case_ids))
        .order_by(la.occurred_on, la.id)
    )
    grouped: dict[int, list[LegalAction]] = defaultdict(list)
    for row in (await session.execute(_scoped(stmt, scope))).all():
        grouped[row.case_id].append(action_of(row))
    return [grouped.get(i, []) for i in case_ids]


async def referrals_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[LegalReferral]]:
    """Returns each case's legal referrals, newest first (one statement)."""
    stmt = (
        select(tables.legal_referrals)
        .join(tables.cases, cs.id == lr.case_id)
        .where(lr.case_id.in_(case_ids))
        .order_by(lr.referred_at.desc(), lr.id.desc())
    )
    grouped: dict[int, list[LegalReferral]] = defaultdict(list)
    for row in (await session.execute(_scoped(stmt, scope))).all():
        grouped[row.case_id].append(referral_of(row))
    return [grouped.get(i, []) for i in case_ids]


async def referrals_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[LegalReferral | None]:
    """Returns each referral if the scope lets its case through (one statement)."""
    stmt = (
        select(tables.legal_referrals).join(tables.cases, cs.id == lr.case_id).where(lr.id.in_(ids))
    )
    found = {row.id: referral_of(row) for row in (await session.execute(_scoped(stmt, scope)))}
    return [found.get(i) for i in ids]
