"""GraphQL types of legal escalation: LegalReferral (a Node), its conditions, LegalAction and
their enums; ``Case.legalActions`` and ``Case.legalReferrals`` load here in batches."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.types import Money, Node
from api.context import Info
from domain.legal.conditions import Condition as DomainCondition
from domain.legal.conditions import ConditionName as DomainConditionName
from domain.legal.model import LegalAction as DomainLegalAction
from domain.legal.model import LegalActionKind as DomainLegalActionKind
from domain.legal.model import LegalReferral as DomainLegalReferral
from domain.legal.model import LegalStep as DomainLegalStep
from domain.legal.model import ReferralStatus as DomainReferralStatus
from domain.money import Money as DomainMoney

if TYPE_CHECKING:
    from api.cases.types import Case
    from api.staff.types import Staff

strawberry.enum(
    DomainLegalActionKind,
    name="LegalActionKind",
    description="The legal route: LITIGATION, PAYMENT_ORDER (支付令), NOTARISED_ENFORCEMENT "
    "(赋强公证), MEDIATION, ARBITRATION, COLLATERAL_ENFORCEMENT (secured debts only: MORTGAGE, "
    "AUTO_LOAN).",
)
strawberry.enum(
    DomainLegalStep,
    name="LegalStep",
    description="A step of a legal route; JUDGMENT is recorded with the amount awarded.",
)
strawberry.enum(DomainReferralStatus, name="LegalReferralStatus")
strawberry.enum(
    DomainConditionName,
    name="LegalConditionName",
    description="The conditions of a legal referral (docs/API.md, Legal escalation).",
)
LegalActionKind = DomainLegalActionKind
LegalStep = DomainLegalStep
LegalReferralStatus = DomainReferralStatus
LegalConditionName = DomainConditionName


@strawberry.type(description="One condition of a legal referral, as checked.")
class LegalCondition:
    name: LegalConditionName
    passed: bool
    detail: str = strawberry.field(description="Why it holds or fails (figures and dates).")

    @classmethod
    def from_domain(cls, condition: DomainCondition) -> LegalCondition:
        return cls(name=condition.name, passed=condition.passed, detail=condition.detail)


@strawberry.type(
    description="A referral of a case to legal: made when every condition holds, decided by "
    "someone else (approval checks every condition again and moves the case to LEGAL)."
)
class LegalReferral(Node):
    status: LegalReferralStatus
    conditions: list[LegalCondition] = strawberry.field(
        description="Every condition as last checked: at the referral, or at its approval."
    )
    referred_at: datetime
    decided_at: datetime | None
    _case_id: strawberry.Private[int]
    _reason: strawberry.Private[str]
    _decision_reason: strawberry.Private[str | None]
    _referred_by: strawberry.Private[int]
    _decided_by: strawberry.Private[int | None]

    @strawberry.field(
        description="Why the case goes to legal; null unless your role works cases "
        "(contact:make), as for contact notes."
    )
    def reason(self, info: Info) -> str | None:
        return self._reason if info.context.may_read_notes() else None

    @strawberry.field(description="Why it was rejected (null otherwise; as `reason`).")
    def decision_reason(self, info: Info) -> str | None:
        return self._decision_reason if info.context.may_read_notes() else None

    @strawberry.field(description="Who referred the case.")
    async def referred_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._referred_by)

    @strawberry.field(description="Who approved or rejected it.")
    async def decided_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._decided_by)

    @strawberry.field(description="The case referred.")
    async def case(self, info: Info) -> Annotated[Case, strawberry.lazy("api.cases.types")]:
        from api.cases.types import Case

        case = await info.context.cases.load(self._case_id)
        assert case is not None  # a referral is read through its case's scope
        return Case.from_domain(case)

    @classmethod
    def from_domain(cls, referral: DomainLegalReferral) -> LegalReferral:
        assert referral.id is not None
        return cls(
            id=strawberry.ID(to_global_id("LegalReferral", referral.id)),
            status=referral.status,
            conditions=[LegalCondition.from_domain(c) for c in referral.conditions],
            referred_at=referral.referred_at,
            decided_at=referral.decided_at,
            _case_id=referral.case_id,
            _reason=referral.reason,
            _decision_reason=referral.decision_reason,
            _referred_by=referral.referred_by,
            _decided_by=referral.decided_by,
        )


@strawberry.type(description="A step of a case's legal route.")
class LegalAction:
    id: strawberry.ID
    kind: LegalActionKind
    step: LegalStep
    occurred_on: date = strawberry.field(description="The portfolio's local date of the step.")
    amount: Money | None = strawberry.field(
        description="The amount awarded (JUDGMENT) or concerned, in the case's currency."
    )
    recorded_at: datetime
    _recorded_by: strawberry.Private[int | None]
    _body: strawberry.Private[str | None]
    _reference: strawberry.Private[str | None]

    @strawberry.field(
        description="The court, notary, arbitration body… (free text identifying a lawsuit: "
        "null unless your role works cases, contact:make, as for contact notes)."
    )
    def body(self, info: Info) -> str | None:
        return self._body if info.context.may_read_notes() else None

    @strawberry.field(description="Its case or file number (null as `body` is).")
    def reference(self, info: Info) -> str | None:
        return self._reference if info.context.may_read_notes() else None

    @strawberry.field(description="Who recorded it.")
    async def recorded_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._recorded_by)

    @classmethod
    def from_domain(cls, action: DomainLegalAction) -> LegalAction:
        assert action.id is not None
        money = (
            Money.from_domain(DomainMoney(action.amount, action.currency))
            if action.amount is not None and action.currency is not None
            else None
        )
        return cls(
            id=strawberry.ID(to_global_id("LegalAction", action.id)),
            kind=action.kind,
            step=action.step,
            _body=action.body,
            _reference=action.reference,
            occurred_on=action.occurred_on,
            amount=money,
            recorded_at=action.recorded_at,
            _recorded_by=action.recorded_by,
        )


async def legal_actions_of_case(info: Info, case_id: int) -> list[LegalAction]:
    """A case's legal actions in the order they happened (one statement per batch of cases)."""
    found = await info.context.legal_actions_of_case.load(case_id)
    return [LegalAction.from_domain(a) for a in found]


async def legal_referrals_of_case(info: Info, case_id: int) -> list[LegalReferral]:
    """A case's legal referrals, newest first (one statement per batch of cases)."""
    found = await info.context.legal_referrals_of_case.load(case_id)
    return [LegalReferral.from_domain(r) for r in found]


async def legal_referral_node(info: Info, pk: int) -> LegalReferral | None:
    """A referral by id for ``node(id:)`` (None: none the viewer may see)."""
    found = await info.context.legal_referrals.load(pk)
    if found is None:
        return None
    info.context.audit.saw_cases([found.case_id])
    return LegalReferral.from_domain(found)
