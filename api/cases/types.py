"""GraphQL types of the case aggregate: Case, Debt, Instalment and Borrower."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.ageing.types import ClassificationPeriod, classification_history_of
from api.arrangements.types import PromiseToPay, promises_of_case
from api.common.ids import to_global_id
from api.common.pagination import Connection
from api.common.types import Money, Node
from api.complaints.types import Complaint, complaints_of_case
from api.contacts.types import Contact, ContactPoint, contact_points_of, contacts_of_case
from api.context import Context, Info
from api.flags.types import BorrowerFlag, flags_of_borrower
from api.legal.types import (
    LegalAction,
    LegalReferral,
    legal_actions_of_case,
    legal_referrals_of_case,
)
from api.payments.types import Payment, payments_of_case
from api.permissions import needs
from api.restructuring.types import Restructuring, restructurings_of_case
from api.retention.types import LegalHold, legal_holds_of_case
from api.tasks.types import Task, TaskStatus, Treatment, tasks_of_case, treatment_of_case
from api.timeline.queries import timeline_of_case
from api.timeline.types import TimelineConnection
from authz.masking import MaskedBorrower, describe, mask_borrower
from domain.borrowers.model import Borrower as DomainBorrower
from domain.borrowers.model import ConfidentialField
from domain.cases.classification import Classification as DomainClassification
from domain.cases.model import Case as DomainCase
from domain.cases.model import CaseStage as DomainCaseStage
from domain.cases.model import CaseStatus as DomainCaseStatus
from domain.complaints.model import clock_days_at, paused_days_at
from domain.debts.ageing import aged_days_past_due
from domain.debts.model import Debt as DomainDebt
from domain.debts.model import DebtStatus as DomainDebtStatus
from domain.debts.model import Instalment as DomainInstalment
from domain.debts.model import ProductType as DomainProductType
from domain.money import Money as DomainMoney
from domain.portfolios import conduct_profile_of

if TYPE_CHECKING:
    from api.staff.types import Agency, Staff

# Domain enums registered once as GraphQL enums; fields are annotated with the domain types.
strawberry.enum(DomainCaseStatus, name="CaseStatus")
strawberry.enum(DomainCaseStage, name="CaseStage")
strawberry.enum(
    DomainClassification,
    name="Classification",
    description="Class by days past due: CURRENT 0, MILD 1–30, MODERATE 31–90, "
    "SERIOUS 91–180, SEVERE 181+.",
)
strawberry.enum(DomainProductType, name="ProductType")
strawberry.enum(DomainDebtStatus, name="DebtStatus")
CaseStatus = DomainCaseStatus
CaseStage = DomainCaseStage
Classification = DomainClassification
ProductType = DomainProductType
DebtStatus = DomainDebtStatus


def _confidential(field: ConfidentialField) -> Any:
    """Returns the resolver field that shows one confidential value as the viewer may see it
    and notes it for the request's audit entry."""

    def resolve(self: Borrower, info: Info) -> str:
        clear = field in self._masked.clear_fields
        info.context.audit.saw_borrower_field(self._pk, field.value, clear)
        return self._masked.values[field]

    return strawberry.field(resolver=resolve, description=describe(field))


@strawberry.type(
    description="A borrower. Confidential fields are masked per your role (e.g. `186****4530`); "
    "`revealConfidential` shows one clear value for a recorded reason."
)
class Borrower(Node):
    full_name: str
    time_zone: str
    _pk: strawberry.Private[int]
    _masked: strawberry.Private[MaskedBorrower]

    # One field per confidential field of the domain, in its order (nationalId, phone, …).
    for _field in ConfidentialField:
        vars()[_field.value] = _confidential(_field)
    del _field

    @strawberry.field(
        description="Numbers, e-mails and addresses of the borrower and the people around them, "
        "oldest first; values masked per your role."
    )
    async def contact_points(self, info: Info) -> list[ContactPoint]:
        return await contact_points_of(info.context, self._pk)

    @strawberry.field(
        description="The borrower's active flags (special customer groups), oldest first: each "
        "covers every case of theirs (effects: the API guide's flag-effects table)."
    )
    async def flags(self, info: Info) -> list[BorrowerFlag]:
        return await flags_of_borrower(info, self._pk)

    @classmethod
    def from_domain(
        cls, borrower: DomainBorrower, roles: Iterable[str], *, legal_stage: bool
    ) -> Borrower:
        """The only constructor, through ``mask_borrower``; resolvers call ``borrower_view``."""
        assert borrower.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Borrower", borrower.id)),
            full_name=borrower.full_name,
            time_zone=borrower.time_zone,
            _pk=borrower.id,
            _masked=mask_borrower(borrower, roles, legal_stage),
        )


async def borrower_view(ctx: Context, borrower_id: int) -> Borrower | None:
    """Returns a borrower as the viewer may see them (None out of scope): the one decision on
    their masking, used by every path that shows a borrower."""
    borrower = await ctx.borrowers.load(borrower_id)
    if borrower is None:
        return None
    roles = ctx.viewer.roles
    # In legal proceedings: one of their cases the viewer sees is LEGAL.
    legal = await ctx.legal_stage(borrower_id)
    return Borrower.from_domain(borrower, roles, legal_stage=legal)


@strawberry.type(description="One scheduled payment of a debt.")
class Instalment:
    sequence: int
    due_date: date
    amount_due: Money
    amount_paid: Money

    @classmethod
    def from_domain(cls, instalment: DomainInstalment, currency: str) -> Instalment:
        return cls(
            sequence=instalment.sequence,
            due_date=instalment.due_date,
            amount_due=Money.from_domain(DomainMoney(instalment.amount_due, currency)),
            amount_paid=Money.from_domain(DomainMoney(instalment.amount_paid, currency)),
        )


@strawberry.type(description="One overdue obligation: a card balance, loan, mortgage or auto loan.")
class Debt(Node):
    account_number: str
    product_type: ProductType
    status: DebtStatus
    currency: str
    principal: Money
    interest: Money
    penalty: Money
    fee: Money
    outstanding: Money = strawberry.field(description="Principal + interest + penalty + fee.")
    opened_on: date
    _pk: strawberry.Private[int]
    _debt: strawberry.Private[DomainDebt]

    @strawberry.field(
        description="Days its case's collection clock stood still since the case opened "
        "(complaints, disputes, pausing flags such as HARDSHIP), as Case.collectionClockDays "
        "counts them; DPD runs on."
    )
    async def paused_days(self, info: Info) -> int:
        case_id = self._debt.case_id
        case = await info.context.cases.load(case_id) if case_id is not None else None
        if case_id is None or case is None:
            return 0
        spans = await info.context.clock_pauses.load(case_id)
        return paused_days_at(case.opened_on, case.portfolio, spans, info.context.clock.now())

    @strawberry.field(description="The schedule, in order of due date.")
    async def instalments(self, info: Info) -> list[Instalment]:
        schedule = await info.context.instalments.load(self._pk)
        return [Instalment.from_domain(i, self.currency) for i in schedule]

    @strawberry.field(
        description=(
            "Days since the oldest unpaid due date as of today (UTC), or the core banking "
            "system's figure moved on to today while something is overdue: the rule of the "
            "daily run and of every payment."
        )
    )
    async def days_past_due(self, info: Info) -> int:
        schedule = await info.context.instalments.load(self._pk)
        debt = self._debt
        return aged_days_past_due(
            debt, schedule, info.context.clock.today(), debt.core_dpd, debt.core_dpd_as_of
        )

    @classmethod
    def from_domain(cls, debt: DomainDebt) -> Debt:
        assert debt.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Debt", debt.id)),
            account_number=debt.account_number,
            product_type=debt.product_type,
            status=debt.status,
            currency=debt.currency,
            principal=Money.of(debt.principal, debt.currency),
            interest=Money.of(debt.interest, debt.currency),
            penalty=Money.of(debt.penalty, debt.currency),
            fee=Money.of(debt.fee, debt.currency),
            outstanding=Money.from_domain(debt.outstanding),
            opened_on=debt.opened_on,
            _pk=debt.id,
            _debt=debt,
        )


@strawberry.type(description="Collection work on one borrower's overdue debts in one portfolio.")
class Case(Node):
    reference: str
    portfolio: str
    status: CaseStatus
    stage: CaseStage
    classification: Classification
    bucket: str = strawberry.field(description="M0 (current), M1 (1–30 DPD) … M7 (181+).")
    days_past_due: int = strawberry.field(
        description="Worst DPD of the case's debts, as of dpdAsOf."
    )
    dpd_as_of: date | None
    policy_version: str = strawberry.field(description="Classification policy that decided.")
    total_outstanding: Money
    opened_on: date
    placed_at: datetime | None
    placement_ends_on: date | None
    close_reason: str | None = strawberry.field(
        description="Why the case is CLOSED: CURED, PAID_IN_FULL, SETTLED, DEBT_SOLD, "
        "UNCOLLECTIBLE (null while the case is not closed)."
    )
    closed_at: datetime | None
    watch_until: date | None = strawberry.field(
        description="After a cure: the last day (portfolio's local date) on which a new default "
        "reopens this same case."
    )
    version: int = strawberry.field(description="Optimistic-concurrency version.")
    _pk: strawberry.Private[int]
    _borrower_id: strawberry.Private[int]
    _assignee_id: strawberry.Private[int | None]
    _agency_id: strawberry.Private[int | None]

    @strawberry.field
    async def borrower(self, info: Info) -> Borrower:
        borrower = await borrower_view(info.context, self._borrower_id)
        assert borrower is not None  # the borrower scope holds the borrower of every case in it
        return borrower

    @strawberry.field
    async def debts(self, info: Info) -> list[Debt]:
        return [Debt.from_domain(d) for d in await info.context.debts_of_case.load(self._pk)]

    @strawberry.field
    async def assignee(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._assignee_id)

    @strawberry.field
    async def agency(
        self, info: Info
    ) -> Annotated[Agency, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_agency

        return await load_agency(info, self._agency_id)

    @strawberry.field(description="Promises to pay, newest first.")
    async def promises(self, info: Info) -> list[PromiseToPay]:
        return await promises_of_case(info, self._pk)

    @strawberry.field(description="Payments received, newest first (by when paid).")
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Payment]:
        return await payments_of_case(info, self._pk, first, after)

    @strawberry.field(description="Complaints and disputes about the case, newest first.")
    async def complaints(self, info: Info) -> list[Complaint]:
        return await complaints_of_case(info, self._pk, self.portfolio)

    @strawberry.field(
        description="Restructurings (plans, settlements, penalty waivers), newest first."
    )
    async def restructurings(self, info: Info) -> list[Restructuring]:
        return await restructurings_of_case(info, self._pk)

    @strawberry.field(description="Legal actions (a route's steps), in the order they happened.")
    async def legal_actions(self, info: Info) -> list[LegalAction]:
        return await legal_actions_of_case(info, self._pk)

    @strawberry.field(description="Referrals to legal, newest first.")
    async def legal_referrals(self, info: Info) -> list[LegalReferral]:
        return await legal_referrals_of_case(info, self._pk)

    @strawberry.field(
        description="Legal holds on the case, newest first (in force and released): while one is "
        "in force, the purge keeps the case's records and its borrower's personal data. One "
        "statement for a whole page of cases.",
        extensions=needs("legal_hold:read"),
    )
    async def legal_holds(self, info: Info) -> list[LegalHold]:
        return await legal_holds_of_case(info, self._pk)

    @strawberry.field(
        description="Days the collection clock has run since the case opened: days spent "
        "under an open complaint or dispute, or a pausing flag (HARDSHIP), do not count. "
        "Escalation timers read it; daysPastDue (contractual) never pauses."
    )
    async def collection_clock_days(self, info: Info) -> int:
        spans = await info.context.clock_pauses.load(self._pk)
        return clock_days_at(self.opened_on, self.portfolio, spans, info.context.clock.now())

    @strawberry.field(
        description="How the strategy treats the case, as the last daily run left it (strategy, "
        "version, variant, segment, step, when the next step falls due); null before the daily "
        "run has treated it. One statement for a whole page of cases."
    )
    async def treatment(self, info: Info) -> Treatment | None:
        return await treatment_of_case(info, self._pk)

    @strawberry.field(
        description="The tasks a strategy gave to people on the case, of the statuses asked for "
        "(all when none): OPEN ones first, earliest due first, then the rest newest first. One "
        "statement for a whole page of cases."
    )
    async def tasks(self, info: Info, status: list[TaskStatus] | None = None) -> list[Task]:
        return await tasks_of_case(info, self._pk, status)

    @strawberry.field(description="The conduct profile that governs contact: CN or US_REG_F.")
    def conduct_profile(self) -> str:
        return conduct_profile_of(self.portfolio)

    @strawberry.field(description="Contacts, newest first: refused attempts and breaches too.")
    async def contacts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Contact]:
        return await contacts_of_case(info, self._pk, first, after)

    @strawberry.field(
        description="Everything that happened on the case, newest first: contacts (refused "
        "attempts and breaches too), promises, payments and reversals, assignments, placements, "
        "recalls, reclassifications and life-cycle transitions.",
        extensions=needs("case:read"),
    )
    async def timeline(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> TimelineConnection:
        return await timeline_of_case(info, self._pk, first, after)

    @strawberry.field(
        description="The case's classification over time, oldest first: one period per "
        "class and bucket it was in, as the daily run keeps them (the last one current)."
    )
    async def classification_history(self, info: Info) -> list[ClassificationPeriod]:
        return await classification_history_of(info, self._pk)

    @classmethod
    def from_domain(cls, case: DomainCase) -> Case:
        assert case.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Case", case.id)),
            reference=case.reference,
            portfolio=case.portfolio,
            status=case.status,
            stage=case.stage,
            classification=case.classification,
            bucket=case.bucket,
            days_past_due=case.days_past_due,
            dpd_as_of=case.dpd_as_of,
            policy_version=case.policy_version,
            total_outstanding=Money.from_domain(case.total_outstanding),
            opened_on=case.opened_on,
            placed_at=case.placed_at,
            placement_ends_on=case.placement_ends_on,
            close_reason=case.close_reason,
            closed_at=case.closed_at,
            watch_until=case.watch_until,
            version=case.version,
            _pk=case.id,
            _borrower_id=case.borrower_id,
            _assignee_id=case.assignee_id,
            _agency_id=case.agency_id,
        )
