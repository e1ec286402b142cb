"""Use cases of legal escalation, each one unit of work: referToLegal, approveLegalReferral,
rejectLegalReferral and recordLegalAction.

A referral is made only when every condition holds (``domain.legal.conditions``), and waits
for someone else's decision. Approval checks every condition again, then moves the case to
LEGAL through the life-cycle table, recalls it from its agency (a case going to court is no
agency's to work) and leaves its collector (the legal team works LEGAL cases: their scope)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.cases.errors import CaseNotFound
from domain.cases.model import Case, CaseStage
from domain.clock import Clock
from domain.errors import free_text, stated_reason
from domain.legal import conditions as rules
from domain.legal.errors import (
    LegalActionInvalid,
    LegalConditionsNotMet,
    ReferralNotFound,
    ReferralPending,
)
from domain.legal.events import (
    LegalActionRecorded,
    LegalReferralApproved,
    LegalReferralMade,
    LegalReferralRejected,
)
from domain.legal.model import (
    MAX_BODY,
    MAX_REFERENCE,
    SECURED_PRODUCTS,
    LegalAction,
    LegalActionKind,
    LegalReferral,
    LegalStep,
    ReferralStatus,
)
from domain.legal.ports import LegalUnitOfWork
from domain.lifecycle.moves import facts_of, move
from domain.lifecycle.table import Trigger
from domain.money import exact_amount
from domain.portfolios import conduct_profile_of, local_today

UowFactory = Callable[[], LegalUnitOfWork]


async def _check(
    uow: LegalUnitOfWork, case: Case, clock: Clock, field: str
) -> tuple[tuple[rules.Condition, ...], str]:
    """Every condition of the case now, and the policy version they were checked by; refuses
    with LEGAL_CONDITIONS_NOT_MET naming each failed one (on ``field``: the input's id)."""
    now = clock.now()
    policy, version = await uow.legal.policy(conduct_profile_of(case.portfolio), now)
    facts = await uow.legal.facts(case, local_today(case.portfolio, now))
    checked = rules.evaluate(policy, facts)
    if rules.failed(checked):
        raise LegalConditionsNotMet(rules.refusal_text(checked), field=field)
    return checked, version


async def refer_to_legal(
    uow_factory: UowFactory, clock: Clock, actor_id: int, case_id: int, reason: str
) -> LegalReferral:
    """Refers a case the caller may see to legal when every condition holds; the referral
    waits for a decision (REFERRAL_PENDING while one waits)."""
    text = stated_reason(reason, "reason", "say why the case goes to legal")
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        if await uow.legal.pending_referral(case.id) is not None:
            raise ReferralPending("a referral of this case is waiting for a decision")
        checked, version = await _check(uow, case, clock, "caseId")
        now = clock.now()
        referral = LegalReferral(case.id, text, checked, actor_id, now)
        await uow.legal.add_referral(referral)
        assert referral.id is not None
        case.events.append(
            LegalReferralMade(
                case.id, now, actor_id, referral.id, referral.status, actor_id, version, text
            )
        )
        await uow.commit()
        return referral


async def approve_referral(
    uow_factory: UowFactory, clock: Clock, actor_id: int, referral_id: int
) -> LegalReferral:
    """Approves a pending referral (not the referrer's own), after checking every condition
    again: the case moves to LEGAL, leaves its agency and its collector."""
    async with uow_factory() as uow:
        referral = await uow.legal.get_referral(referral_id)
        case = await uow.cases.get(referral.case_id) if referral is not None else None
        if referral is None or referral.id is None or case is None or case.id is None:
            raise ReferralNotFound("no such referral", field="referralId")
        now = clock.now()
        referral.decide(True, actor_id, now)  # refuses a decided one, or the maker, first
        checked, version = await _check(uow, case, clock, "referralId")
        referral.conditions = checked
        from_stage = CaseStage(case.stage)
        agency_id = case.agency_id
        if agency_id is not None:
            case.recall(now, actor_id)
        previous_assignee, case.assignee_id = case.assignee_id, None
        move(
            case,
            Trigger.REFER_TO_LEGAL,
            facts_of(case, local_today(case.portfolio, now)),
            now,
            actor_id,
        )
        await uow.legal.save_referral(referral)
        case.events.append(
            LegalReferralApproved(
                case.id,
                now,
                actor_id,
                referral.id,
                ReferralStatus.APPROVED,
                referral.referred_by,
                version,
                referral.reason,
                from_stage.value,
                previous_assignee,
                agency_id,
            )
        )
        await uow.commit()
        return referral


async def reject_referral(
    uow_factory: UowFactory, clock: Clock, actor_id: int, referral_id: int, reason: str
) -> LegalReferral:
    """Rejects a pending referral (not the referrer's own) with a stated reason; the case
    stays where it is."""
    text = stated_reason(reason, "reason", "say why the referral is rejected")
    async with uow_factory() as uow:
        referral = await uow.legal.get_referral(referral_id)
        case = await uow.cases.get(referral.case_id) if referral is not None else None
        if referral is None or referral.id is None or case is None or case.id is None:
            raise ReferralNotFound("no such referral", field="referralId")
        now = clock.now()
        referral.decide(False, actor_id, now, reason=text)
        await uow.legal.save_referral(referral)
        case.events.append(
            LegalReferralRejected(
                case.id,
                now,
                actor_id,
                referral.id,
                ReferralStatus.REJECTED,
                referral.referred_by,
                "",
                f"referred: {referral.reason}; rejected: {text}",
            )
        )
        await uow.commit()
        return referral


@dataclass(frozen=True)
class ActionRequest:
    case_id: int
    kind: LegalActionKind
    step: LegalStep
    occurred_on: date
    body: str | None = None
    reference: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    idempotency_key: str | None = None

    def same_as(self, action: LegalAction) -> bool:
        """Whether a recorded action is the one this request asks for (an idempotent retry)."""
        return (
            action.case_id == self.case_id
            and action.kind is self.kind
            and action.step is self.step
            and action.occurred_on == self.occurred_on
            and action.body == ((self.body or "").strip() or None)
            and action.reference == ((self.reference or "").strip() or None)
            and action.amount == self.amount
            and (action.currency if action.amount is not None else None)
            == (self.currency if self.amount is not None else None)
        )


async def record_legal_action(
    uow_factory: UowFactory, clock: Clock, actor_id: int, request: ActionRequest
) -> LegalAction:
    """Records a step of a legal route on a LEGAL case the caller may see (LEGAL_ACTION_INVALID
    for anything else: another stage, a date ahead, a judgment without its amount, collateral
    enforcement without a secured debt)."""
    body = free_text(request.body, "body", MAX_BODY, "the body")
    reference = free_text(request.reference, "reference", MAX_REFERENCE, "the reference")
    async with uow_factory() as uow:
        case = await uow.cases.get_with_debts(request.case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        now = clock.now()
        today = local_today(case.portfolio, now)
        # A case written off after an approved referral stays the legal team's to pursue.
        if case.stage != CaseStage.LEGAL and not (
            case.stage == CaseStage.WRITTEN_OFF and await uow.legal.approved_referral(case.id)
        ):
            raise LegalActionInvalid(
                f"case {case.reference} is in stage {case.stage}: legal actions are recorded "
                "on cases in stage LEGAL, or written off after an approved referral (approve "
                "a referral first)",
                field="caseId",
            )
        if request.occurred_on > today:
            raise LegalActionInvalid(
                f"occurredOn {request.occurred_on} is after today ({today})", field="occurredOn"
            )
        if request.kind is LegalActionKind.COLLATERAL_ENFORCEMENT and not any(
            d.product_type in SECURED_PRODUCTS for d in case.debts
        ):
            raise LegalActionInvalid(
                "collateral enforcement needs a secured debt (MORTGAGE or AUTO_LOAN) on the case",
                field="kind",
            )
        amount = None
        if request.amount is not None or request.currency is not None:
            if request.amount is None or request.currency is None:
                raise LegalActionInvalid("an amount goes with its currency", field="amount")
            amount = exact_amount(request.amount, request.currency, case.currency).amount
        elif request.step is LegalStep.JUDGMENT:
            raise LegalActionInvalid(
                f"a judgment is recorded with the amount awarded (in {case.currency})",
                field="amount",
            )
        action = LegalAction(
            case.id,
            request.kind,
            request.step,
            request.occurred_on,
            now,
            actor_id,
            body,
            reference,
            amount,
            case.currency if amount is not None else None,
            request.idempotency_key,
        )
        await uow.legal.add_action(action)
        assert action.id is not None
        case.events.append(
            LegalActionRecorded(
                case.id,
                now,
                actor_id,
                action.id,
                action.kind.value,
                action.step.value,
                action.occurred_on.isoformat(),
                f"{amount:.2f}" if amount is not None else None,
                action.currency,
            )
        )
        await uow.commit()
        return action
