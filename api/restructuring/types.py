"""GraphQL types of restructuring work: Restructuring (a Node), its plan's instalments and its
enums; ``Case.restructurings`` loads here in batches."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.types import Money, Node
from api.context import Info
from domain.money import Money as DomainMoney
from domain.restructuring.model import PlanInstalment as DomainPlanInstalment
from domain.restructuring.model import Restructuring as DomainRestructuring
from domain.restructuring.model import RestructuringKind as DomainRestructuringKind
from domain.restructuring.model import RestructuringStatus as DomainRestructuringStatus

if TYPE_CHECKING:
    from api.cases.types import Case
    from api.staff.types import Staff

strawberry.enum(
    DomainRestructuringKind,
    name="RestructuringKind",
    description="INSTALMENT_PLAN: a new schedule for the outstanding balance; SETTLEMENT: a "
    "discounted lump sum by a date; PENALTY_WAIVER: penalties given up.",
)
strawberry.enum(
    DomainRestructuringStatus,
    name="RestructuringStatus",
    description="PROPOSED until decided: REJECTED, or approved: a plan or settlement ACTIVE "
    "(then COMPLETED or BROKEN), a waiver APPROVED (applied at once).",
)
RestructuringKind = DomainRestructuringKind
RestructuringStatus = DomainRestructuringStatus


def _money(amount: Decimal | None, currency: str) -> Money | None:
    return None if amount is None else Money.from_domain(DomainMoney(amount, currency))


@strawberry.type(description="One payment of a plan's new schedule.")
class PlanInstalment:
    sequence: int
    due_date: date
    amount: Money
    amount_paid: Money

    @classmethod
    def from_domain(cls, instalment: DomainPlanInstalment, currency: str) -> PlanInstalment:
        return cls(
            sequence=instalment.sequence,
            due_date=instalment.due_date,
            amount=Money.from_domain(DomainMoney(instalment.amount, currency)),
            amount_paid=Money.from_domain(DomainMoney(instalment.amount_paid, currency)),
        )


@strawberry.type(
    description="A restructuring of a case (plan, settlement or penalty waiver): proposed by "
    "one person, decided by another whose role's approval limits cover the case's cumulative "
    "concession. A plan's lines: replacedAmount − waiverAmount + capitalisedInterest = total, "
    "which its instalments add up to exactly."
)
class Restructuring(Node):
    kind: RestructuringKind
    status: RestructuringStatus
    currency: str
    balance: Money = strawberry.field(
        description="The case's outstanding balance when proposed: the base of the share limits."
    )
    concession: Money = strawberry.field(
        description="What the lender gives up: a settlement's discount (balance − settlement "
        "amount), a waiver's amount, a plan's waiver (zero without one)."
    )
    settlement_amount: Money | None
    settle_by: date | None = strawberry.field(
        description="A settlement's deadline (the portfolio's local date)."
    )
    waiver_amount: Money | None = strawberry.field(
        description="Penalty waived: a waiver's amount, or a plan's (taken off the debts' "
        "penalties, oldest debt first, at approval)."
    )
    replaced_amount: Money | None = strawberry.field(
        description="A plan: the amount its schedule replaces (the balance when proposed)."
    )
    capitalised_interest: Money | None = strawberry.field(
        description="A plan: interest added for the time it gives (zero: plans add none)."
    )
    total: Money | None = strawberry.field(
        description="A plan: replacedAmount − waiverAmount + capitalisedInterest."
    )
    instalments: list[PlanInstalment] = strawberry.field(
        description="A plan's new schedule, in order (empty for other kinds)."
    )
    required_authority: str | None = strawberry.field(
        description="The authority it needed when proposed: the lowest role whose approval "
        "limits then covered the case's cumulative concession with this one (team_lead, "
        "manager). Not recomputed (an APPROVAL_LIMITS change may make it stale): approval "
        "judges the limits in effect then."
    )
    grace_days: int = strawberry.field(
        description="Days after a plan instalment's (a settlement's) due date before it is missed."
    )
    payments_in_row: int = strawberry.field(description="Plan payments made on time in a row.")
    proposed_at: datetime
    decided_at: datetime | None
    _pk: strawberry.Private[int]
    _case_id: strawberry.Private[int]
    _reason: strawberry.Private[str]
    _decision_reason: strawberry.Private[str | None]
    _proposed_by: strawberry.Private[int]
    _decided_by: strawberry.Private[int | None]

    @strawberry.field(
        description="Why it is proposed; null unless your role works cases (contact:make), as "
        "for contact notes."
    )
    def reason(self, info: Info) -> str | None:
        return self._reason if info.context.may_read_notes() else None

    @strawberry.field(description="Why it was rejected (null otherwise; as `reason`).")
    def decision_reason(self, info: Info) -> str | None:
        return self._decision_reason if info.context.may_read_notes() else None

    @strawberry.field(
        description="Who proposed it (the maker): always shown to whoever sees the "
        "restructuring, even a staff member your scope does not otherwise show (an internal "
        "proposer to an agency user)."
    )
    async def proposed_by(self, info: Info) -> Annotated[Staff, strawberry.lazy("api.staff.types")]:
        from api.staff.types import Staff

        # A deliberate exception to the staff scope (``store.restructuring_queries``): read by
        # this restructuring, through its case's scope, as the restructuring itself was.
        maker = await info.context.restructuring_proposers.load(self._pk)
        assert maker is not None, "a restructuring is read through its case's scope"
        return Staff.from_domain(maker)

    @strawberry.field(description="Who approved or rejected it (the checker).")
    async def decided_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._decided_by)

    @strawberry.field(description="The case restructured.")
    async def case(self, info: Info) -> Annotated[Case, strawberry.lazy("api.cases.types")]:
        from api.cases.types import Case

        case = await info.context.cases.load(self._case_id)
        assert case is not None  # a restructuring is read through its case's scope
        info.context.audit.saw_cases([self._case_id])
        return Case.from_domain(case)

    @classmethod
    def from_domain(cls, x: DomainRestructuring) -> Restructuring:
        assert x.id is not None
        currency = x.currency
        return cls(
            id=strawberry.ID(to_global_id("Restructuring", x.id)),
            kind=x.kind,
            status=x.status,
            currency=currency,
            balance=Money.from_domain(DomainMoney(x.balance, currency)),
            concession=Money.from_domain(DomainMoney(x.concession, currency)),
            settlement_amount=_money(x.settlement_amount, currency),
            settle_by=x.settle_by,
            waiver_amount=_money(x.waiver_amount, currency),
            replaced_amount=_money(x.replaced_amount, currency),
            capitalised_interest=_money(x.capitalised_interest, currency),
            total=_money(x.total, currency),
            instalments=[PlanInstalment.from_domain(i, currency) for i in x.instalments],
            required_authority=x.required_authority,
            grace_days=x.grace_days,
            payments_in_row=x.payments_in_row,
            proposed_at=x.proposed_at,
            decided_at=x.decided_at,
            _pk=x.id,
            _case_id=x.case_id,
            _reason=x.reason,
            _decision_reason=x.decision_reason,
            _proposed_by=x.proposed_by,
            _decided_by=x.decided_by,
        )


async def restructurings_of_case(info: Info, case_id: int) -> list[Restructuring]:
    """Returns a case's restructurings, newest first (one batch for every case asked)."""
    found = await info.context.restructurings_of_case.load(case_id)
    return [Restructuring.from_domain(x) for x in found]


async def restructuring_node(info: Info, pk: int) -> Restructuring | None:
    """Returns a restructuring by id for ``node(id:)`` (None: none the viewer may see)."""
    found = await info.context.restructurings.load(pk)
    if found is None:
        return None
    info.context.audit.saw_cases([found.case_id])
    return Restructuring.from_domain(found)
