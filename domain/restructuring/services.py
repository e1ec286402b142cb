"""Use cases of restructuring work: proposeRestructuring, approveRestructuring and
rejectRestructuring, each one unit of work.

Every one locks the case first (through the case repository), so that proposals and decisions
on a case are serialised: of two checkers deciding the same proposal at once, the second reads
it decided after the first commits and is refused ALREADY_DECIDED. Limits are judged on the
case's cumulative concession (``domain.restructuring.policy``), at proposal (which authority it
needs; none: refused) and again at approval (the approver's roles must cover it now)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.cases.classification import DEFAULT_POLICY as CLASSIFICATION
from domain.cases.errors import CaseClosed, CaseNotFound
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.clock import Clock
from domain.collection_policy import in_effect as collection_policy_in_effect
from domain.debts.ageing import debt_days_past_due
from domain.errors import stated_reason
from domain.lifecycle.moves import after_balance_change
from domain.money import Money
from domain.portfolios import local_today
from domain.restructuring import errors
from domain.restructuring.events import (
    RestructuringApproved,
    RestructuringProposed,
    RestructuringRejected,
)
from domain.restructuring.model import (
    Restructuring,
    RestructuringKind,
    RestructuringStatus,
)
from domain.restructuring.policy import (
    ApprovalLimits,
    RestructuringPolicy,
    limits_in_effect,
    policy_in_effect,
)
from domain.restructuring.ports import RestructuringUnitOfWork
from domain.restructuring.proposals import Proposal, check_terms, penalty_waived
from domain.rulesets import DEFAULT_NAME, RuleSetKind

UowFactory = Callable[[], RestructuringUnitOfWork]
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ProposalRequest:
    case_id: int
    proposal: Proposal
    reason: str
    actor_id: int
    actor_agency_id: int | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Decider:
    """Who decides: their id and roles (whose approval limits apply)."""

    id: int
    roles: tuple[str, ...]


def check_reason(reason: str, what: str) -> str:
    return stated_reason(reason, "reason", f"say why {what}")


async def _rules(
    uow: RestructuringUnitOfWork, at: datetime
) -> tuple[ApprovalLimits, RestructuringPolicy]:
    limits = await uow.restructurings.rule_set(RuleSetKind.APPROVAL_LIMITS, DEFAULT_NAME, at)
    policy = await uow.restructurings.rule_set(RuleSetKind.RESTRUCTURING_POLICY, DEFAULT_NAME, at)
    return limits_in_effect(limits), policy_in_effect(policy)


def _balance(case: Case) -> tuple[Decimal, Decimal]:
    """The case's outstanding balance and penalty, from its (locked) debts."""
    balance = sum((d.outstanding.amount for d in case.debts), ZERO)
    penalty = sum((d.penalty for d in case.debts), ZERO)
    return balance, penalty


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _no_cover(cumulative: Decimal, balance: Decimal, currency: str, limits: ApprovalLimits) -> str:
    return (
        f"no role's limits cover a cumulative concession of {Money(cumulative, currency)} on a "
        f"balance of {Money(balance, currency)} (limits {limits.version})"
    )


async def propose_restructuring(
    uow_factory: UowFactory, clock: Clock, request: ProposalRequest, *, at: datetime | None = None
) -> Restructuring:
    """Proposes a restructuring of a case the caller may see: refused on a closed case, while
    the case has a PROPOSED one or an ACTIVE plan or settlement (``_pending``), for terms that
    do not hold (``proposals.check_terms``), and when no role's limits cover the case's
    cumulative concession with it. The proposal records the authority it needs."""
    reason = check_reason(request.reason, "you propose it")
    now = at or clock.now()
    async with uow_factory() as uow:
        case = await uow.cases.get_with_debts(request.case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        if CaseStatus(case.status) is CaseStatus.CLOSED:
            raise CaseClosed(f"case {case.reference} is closed", field="caseId")
        kind = request.proposal.kind
        await _pending(uow, case, None, "caseId")
        limits, policy = await _rules(uow, now)
        balance, penalty = _balance(case)
        terms = check_terms(
            request.proposal,
            balance=balance,
            penalty=penalty,
            currency=case.currency,
            today=local_today(case.portfolio, now),
            policy=policy,
        )
        since = now - timedelta(days=policy.cumulative_period_days)
        prior = await uow.restructurings.granted_since(case.id, since, None, case.currency)
        cumulative = prior + terms.concession
        needed = limits.required_authority(cumulative, balance, case.currency)
        if needed is None:
            raise errors.ApprovalLimitExceeded(
                _no_cover(cumulative, balance, case.currency, limits), field="kind"
            )
        restructuring = Restructuring(
            case_id=case.id,
            kind=kind,
            currency=case.currency,
            balance=balance,
            concession=terms.concession,
            reason=reason,
            proposed_by=request.actor_id,
            proposed_at=now,
            settlement_amount=terms.settlement_amount,
            settle_by=terms.settle_by,
            waiver_amount=terms.waiver_amount,
            replaced_amount=terms.replaced_amount,
            capitalised_interest=terms.capitalised_interest,
            grace_days=policy.grace_days,
            required_authority=needed,
            agency_id=request.actor_agency_id,
            idempotency_key=request.idempotency_key,
            instalments=list(terms.instalments),
        )
        await uow.restructurings.add(restructuring)
        assert restructuring.id is not None
        case.events.append(
            RestructuringProposed(
                case.id,
                now,
                request.actor_id,
                restructuring.id,
                kind.value,
                restructuring.status.value,
                case.currency,
                str(balance),
                str(terms.concession),
                str(cumulative),
                _text(terms.settlement_amount),
                terms.settle_by.isoformat() if terms.settle_by else None,
                _text(terms.waiver_amount),
                len(terms.instalments),
                _text(terms.total),
                needed,
                limits.version,
                reason,
            )
        )
        await uow.commit()
        return restructuring


async def _pending(
    uow: RestructuringUnitOfWork, case: Case, restructuring_id: int | None, field: str
) -> None:
    """Refuses (RESTRUCTURING_PENDING) while the case has another PROPOSED restructuring, or an
    ACTIVE plan or settlement: one proposal at a time, one arrangement in effect at a time, and
    no waiver beside a plan or settlement in effect (it would change the balance the plan
    replaces or the settlement discounts; a plan carries its own waiver)."""
    assert case.id is not None
    for other_id, other_kind, status in await uow.restructurings.open_of_case(case.id):
        if other_id != restructuring_id:
            raise errors.RestructuringPending(
                f"case {case.reference} already has a {status} {other_kind}", field=field
            )


async def _decidable(
    uow: RestructuringUnitOfWork, restructuring_id: int
) -> tuple[Case, Restructuring]:
    """The restructuring and its case, the case locked first and the restructuring read after
    the lock (so a concurrent decision is seen); RESTRUCTURING_NOT_FOUND outside scope."""
    case_id = await uow.restructurings.case_of(restructuring_id)
    case = await uow.cases.get_with_debts(case_id) if case_id is not None else None
    restructuring = await uow.restructurings.get(restructuring_id) if case else None
    if case is None or case.id is None or restructuring is None:
        raise errors.RestructuringNotFound("no such restructuring", field="restructuringId")
    return case, restructuring


def _still_holds(
    case: Case, restructuring: Restructuring, today: date
) -> list[tuple[int, Decimal]]:
    """Re-checks the terms against the case now, as of the portfolio's ``today`` (payments may
    have come in since the proposal, days may have passed): a plan or settlement needs the
    balance it was proposed on (else the kind's code: propose again), a settlement's settleBy
    and a plan's first due date still after today. Returns what a waiver (or a plan's) takes
    off each debt's penalty, oldest debt first."""
    if CaseStatus(case.status) is CaseStatus.CLOSED:
        raise CaseClosed(f"case {case.reference} is closed", field="restructuringId")
    balance, penalty = _balance(case)
    kind = restructuring.kind
    was = Money(restructuring.balance, case.currency)
    now_is = f"the balance is {Money(balance, case.currency)} now, not the {was}"
    if kind is RestructuringKind.INSTALMENT_PLAN:
        if balance != restructuring.replaced_amount:
            raise errors.PlanInvalid(
                f"{now_is} the plan replaces: propose it again", field="restructuringId"
            )
        first = restructuring.instalments[0].due_date if restructuring.instalments else None
        if first is not None and first <= today:
            raise errors.PlanInvalid(
                f"the first instalment was due {first.isoformat()}, not after today "
                f"({today.isoformat()}, the portfolio's date): propose it again",
                field="restructuringId",
            )
    if kind is RestructuringKind.SETTLEMENT:
        if balance != restructuring.balance:
            raise errors.SettlementInvalid(
                f"{now_is} the settlement was proposed on: propose it again",
                field="restructuringId",
            )
        settle_by = restructuring.settle_by
        if settle_by is None or settle_by <= today:
            raise errors.SettlementInvalid(
                f"settleBy {settle_by.isoformat() if settle_by else '(none)'} is not after today "
                f"({today.isoformat()}, the portfolio's date): propose it again",
                field="restructuringId",
            )
    waiver = restructuring.waiver_amount
    if waiver is None:
        return []
    if waiver > penalty:
        raise errors.WaiverInvalid(
            f"the outstanding penalty is {Money(penalty, case.currency)} now, less than the "
            f"waiver of {Money(waiver, case.currency)}",
            field="restructuringId",
        )
    oldest = sorted(case.debts, key=lambda d: (d.opened_on, d.id or 0))
    return penalty_waived([(d.id or 0, d.penalty) for d in oldest], waiver)


def _undecided(restructuring: Restructuring, decider: Decider, what: str) -> None:
    """Refuses a decision on a restructuring no longer PROPOSED, or by its maker."""
    if restructuring.status is not RestructuringStatus.PROPOSED:
        raise errors.AlreadyDecided(
            f"the restructuring is {restructuring.status}, no longer PROPOSED",
            field="restructuringId",
        )
    if restructuring.proposed_by == decider.id:
        raise errors.MakerCannotApprove(
            f"you proposed this restructuring: someone else must {what} it",
            field="restructuringId",
        )


@dataclass(frozen=True)
class _Judged:
    """The case's cumulative concession with a restructuring, judged at a decision: the
    authority it needs, the decider's role that covers it, and the rules read."""

    cumulative: Decimal
    needed: str
    authority: str
    limits: ApprovalLimits
    policy: RestructuringPolicy


async def _judge(
    uow: RestructuringUnitOfWork,
    restructuring: Restructuring,
    decider: Decider,
    now: datetime,
    *,
    rejecting: bool = False,
) -> _Judged:
    """The case's cumulative concession with this restructuring now (the others counted as
    ``model.counted_concession`` says, decided within the period), and the decider's role whose
    limits cover it; APPROVAL_LIMIT_EXCEEDED otherwise, naming the authority needed. Approving
    and rejecting need the same authority. When no role's limits cover it any more (limits
    lowered, or concessions granted since), nobody may approve it and the highest authority of
    the limits may reject it, so that it never holds its case for good."""
    limits, policy = await _rules(uow, now)
    since = now - timedelta(days=policy.cumulative_period_days)
    balance, currency = restructuring.balance, restructuring.currency
    prior = await uow.restructurings.granted_since(
        restructuring.case_id, since, restructuring.id, currency
    )
    cumulative = prior + restructuring.concession
    needed = limits.required_authority(cumulative, balance, currency)
    if needed is None and not rejecting:
        raise errors.ApprovalLimitExceeded(
            _no_cover(cumulative, balance, currency, limits), field="restructuringId"
        )
    if needed is None:
        needed = limits.limits[-1].role
        authority = needed if needed in decider.roles else None
    else:
        authority = next(
            (
                x.role
                for x in limits.limits
                if x.role in decider.roles and x.covers(cumulative, balance, currency)
            ),
            None,
        )
    if authority is None:
        raise errors.ApprovalLimitExceeded(
            f"a cumulative concession of {Money(cumulative, currency)} needs the authority "
            f"of a {needed} (limits {limits.version})",
            field="restructuringId",
        )
    return _Judged(cumulative, needed, authority, limits, policy)


async def approve_restructuring(
    uow_factory: UowFactory, clock: Clock, decider: Decider, restructuring_id: int
) -> tuple[Restructuring, Case]:
    """Approves a PROPOSED restructuring by someone other than its maker whose roles' limits
    cover the case's cumulative concession now, while the case has no plan or settlement in
    effect and the terms still hold (``_still_holds``). A plan or settlement becomes ACTIVE; a
    waiver is APPROVED and applied at once: the debts' penalties (oldest debt first) are
    reduced and the case reclassified, a concession, never a payment — and moved on as after
    any balance change (a waiver that clears what was owed pays the case in full, one that
    clears the arrears cures it)."""
    now = clock.now()
    async with uow_factory() as uow:
        case, restructuring = await _decidable(uow, restructuring_id)
        assert case.id is not None and restructuring.id is not None
        _undecided(restructuring, decider, "approve")
        judged = await _judge(uow, restructuring, decider, now)
        await _pending(uow, case, restructuring.id, "restructuringId")
        today = local_today(case.portfolio, now)
        waived = _still_holds(case, restructuring, today)
        previous = max((debt_days_past_due(d, today) for d in case.debts), default=0)
        restructuring.approve(
            now, decider.id, CaseStage(case.stage).value, judged.policy.grace_days
        )
        if waived:
            _apply_waiver(case, waived, today, now)
        if restructuring.kind is RestructuringKind.PENALTY_WAIVER:
            # No plan or settlement is in effect beside a waiver (``_pending``). A cure is
            # watched for the collection policy's window in effect now.
            stored = await uow.restructurings.rule_set(
                RuleSetKind.COLLECTION_POLICY, DEFAULT_NAME, now
            )
            lifecycle = collection_policy_in_effect(stored).lifecycle
            after_balance_change(case, previous, today, now, decider.id, policy=lifecycle)
        await uow.restructurings.save(restructuring)
        uow.restructurings.touch(case)
        case.events.append(_approved(case, restructuring, waived, judged))
        await uow.commit()
        return restructuring, case


def _apply_waiver(
    case: Case, waived: Sequence[tuple[int, Decimal]], today: date, now: datetime
) -> None:
    by_id = {d.id: d for d in case.debts}
    for debt_id, amount in waived:
        debt = by_id[debt_id]
        debt.penalty -= amount
    case.reclassify(CLASSIFICATION, today, now)


def _approved(
    case: Case,
    restructuring: Restructuring,
    waived: Sequence[tuple[int, Decimal]],
    judged: _Judged,
) -> RestructuringApproved:
    """The approval's event; ``judged``: the cumulative concession, the authority that
    covered it and the rules read."""
    assert restructuring.id is not None
    assert restructuring.decided_at is not None and restructuring.decided_by is not None
    plan = restructuring.instalments
    schedule = ",".join(f"{i.due_date.isoformat()}={i.amount}" for i in plan) or None
    return RestructuringApproved(
        case.id,
        restructuring.decided_at,
        restructuring.decided_by,
        restructuring.id,
        restructuring.kind.value,
        restructuring.status.value,
        restructuring.currency,
        str(restructuring.balance),
        str(restructuring.concession),
        str(judged.cumulative),
        _text(restructuring.settlement_amount),
        restructuring.settle_by.isoformat() if restructuring.settle_by else None,
        _text(restructuring.waiver_amount),
        len(plan),
        _text(restructuring.total),
        schedule,
        {str(debt_id): str(amount) for debt_id, amount in waived},
        restructuring.grace_days,
        restructuring.previous_stage,
        restructuring.proposed_by,
        restructuring.required_authority or "",
        judged.authority,
        judged.limits.version,
        judged.policy.version,
        restructuring.reason,
    )


async def reject_restructuring(
    uow_factory: UowFactory, clock: Clock, decider: Decider, restructuring_id: int, reason: str
) -> tuple[Restructuring, Case]:
    """Rejects a PROPOSED restructuring, with a reason, by someone other than its maker whose
    roles' limits cover it, as for approval (``_judge``)."""
    text = check_reason(reason, "you reject it")
    now = clock.now()
    async with uow_factory() as uow:
        case, restructuring = await _decidable(uow, restructuring_id)
        assert case.id is not None and restructuring.id is not None
        _undecided(restructuring, decider, "reject")
        judged = await _judge(uow, restructuring, decider, now, rejecting=True)
        restructuring.reject(now, decider.id, text)
        await uow.restructurings.save(restructuring)
        uow.restructurings.touch(case)
        case.events.append(
            RestructuringRejected(
                case.id,
                now,
                decider.id,
                restructuring.id,
                restructuring.kind.value,
                restructuring.status.value,
                restructuring.proposed_by,
                judged.authority,
                judged.limits.version,
                text,
            )
        )
        await uow.commit()
        return restructuring, case
