"""The Case aggregate: one borrower's overdue debts and the collection work on them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.agencies.model import Agency
from domain.cases import errors
from domain.cases.classification import Classification, ClassificationPolicy, assess
from domain.cases.events import (
    CaseAssigned,
    CaseEvent,
    CasePlaced,
    CaseRecalled,
    CaseReclassified,
)
from domain.debts.ageing import debt_days_past_due
from domain.debts.model import Debt
from domain.money import Money
from domain.portfolios import local_today
from domain.staff.model import Staff


class CaseStatus(enum.StrEnum):
    OPEN = "OPEN"
    ON_HOLD = "ON_HOLD"
    CLOSED = "CLOSED"


class CaseStage(enum.StrEnum):
    EARLY = "EARLY"
    COLLECTION = "COLLECTION"
    LEGAL = "LEGAL"
    WRITTEN_OFF = "WRITTEN_OFF"


@dataclass(eq=False)
class Case:
    """Collection work on one borrower's debts in one portfolio.

    Days past due, bucket, classification and total outstanding are kept on the case as of
    ``dpd_as_of`` so that they can be filtered and ordered in SQL; ``reclassify`` refreshes them
    (work over many rows applies the same rule, ``classification.assess``, to plain values).
    """

    reference: str
    borrower_id: int
    portfolio: str
    currency: str
    opened_on: date
    status: CaseStatus = CaseStatus.OPEN
    stage: CaseStage = CaseStage.EARLY
    days_past_due: int = 0
    bucket: str = "M0"
    classification: Classification = Classification.CURRENT
    policy_version: str = ""
    dpd_as_of: date | None = None
    outstanding_amount: Decimal = Decimal(0)
    assignee_id: int | None = None
    agency_id: int | None = None
    placed_at: datetime | None = None
    placement_ends_on: date | None = None
    # Set while CLOSED: why, since when, and (after a cure) the last day a new default reopens it.
    close_reason: str | None = None
    closed_at: datetime | None = None
    watch_until: date | None = None
    closed_while_held: bool = False
    version: int = 1
    id: int | None = None
    debts: list[Debt] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list, repr=False)

    @property
    def total_outstanding(self) -> Money:
        return Money(self.outstanding_amount, self.currency)

    # Whether a case may be assigned, placed or recalled at all (closed, on hold, placed or not)
    # is the life cycle's decision: callers ask ``domain.lifecycle.table.ensure_allowed`` first,
    # as the services in ``domain.cases.services`` do. These methods apply the rest.

    def assign(self, collector: Staff, open_cases: int, at: datetime, actor_id: int | None) -> None:
        """Assigns the case to an internal collector who is active and has spare capacity
        (the life cycle allows ASSIGN: not closed, not placed)."""
        if not collector.active:
            raise errors.StaffInactive(f"{collector.login} is not active", field="assigneeLogin")
        if not collector.can_carry_cases:
            raise errors.StaffCannotCarryCases(
                f"{collector.login} cannot carry cases", field="assigneeLogin"
            )
        if self.assignee_id == collector.id:
            return
        if open_cases >= collector.capacity:
            raise errors.CapacityExceeded(
                f"{collector.login} already carries {open_cases} of {collector.capacity} cases",
                field="assigneeLogin",
            )
        assert collector.id is not None
        previous, self.assignee_id = self.assignee_id, collector.id
        self.events.append(CaseAssigned(self.id, at, actor_id, collector.id, previous))

    def place_with(
        self, agency: Agency, at: datetime, actor_id: int | None, until: date | None = None
    ) -> None:
        """Places the case with an active agency until ``until`` (inclusive), or for the
        contract's placement period. Dates are the portfolio's local dates: the period starts on
        the local date of ``at``, and ``until`` may fall on that date at the earliest and at the
        end of the contract's period at the latest (the life cycle allows PLACE: open, not
        placed)."""
        if not agency.active:
            raise errors.AgencyInactive(f"agency {agency.name} is not active", field="agencyName")
        assert agency.id is not None
        today = local_today(self.portfolio, at)
        latest = today + timedelta(days=agency.placement_days)
        if until is not None and not today <= until <= latest:
            raise errors.PlacementEndInvalid(
                f"the placement must end between {today} and {latest} (the contract's "
                f"{agency.placement_days} days), not on {until}",
                field="until",
            )
        previous = self.assignee_id
        self.assignee_id = None
        self.agency_id = agency.id
        self.placed_at = at
        self.placement_ends_on = until or latest
        self.events.append(
            CasePlaced(self.id, at, actor_id, agency.id, self.placement_ends_on, previous)
        )

    def recall(self, at: datetime, actor_id: int | None) -> None:
        """Recalls the case from its agency into the unassigned pool (the life cycle allows
        RECALL on a placed case, closed ones included)."""
        if self.agency_id is None:
            raise errors.CaseNotPlaced(f"case {self.reference} is not placed", field="caseId")
        agency_id, self.agency_id = self.agency_id, None
        self.placed_at = None
        self.placement_ends_on = None
        self.events.append(CaseRecalled(self.id, at, actor_id, agency_id))

    def reclassify(self, policy: ClassificationPolicy, as_of: date, at: datetime) -> None:
        """Refreshes DPD, bucket, class and outstanding from the debts as of a date (``assess``);
        records CaseReclassified when the bucket, the class or the policy version changes."""
        for debt in self.debts:
            if debt.currency != self.currency:
                raise ValueError(f"debt {debt.account_number} is not in {self.currency}")
        standing = assess(
            policy, ((debt_days_past_due(d, as_of), d.outstanding.amount) for d in self.debts)
        )
        verdict = standing.verdict
        changed = (verdict.bucket, verdict.classification) != (self.bucket, self.classification)
        previous = (self.bucket, str(self.classification)) if self.policy_version else (None, None)
        self.days_past_due = standing.days_past_due
        self.outstanding_amount = standing.outstanding_amount
        self.dpd_as_of = as_of
        if changed or verdict.policy_version != self.policy_version:
            self.bucket = verdict.bucket
            self.classification = verdict.classification
            self.policy_version = verdict.policy_version
            self.events.append(
                CaseReclassified(
                    self.id,
                    at,
                    None,
                    standing.days_past_due,
                    verdict.bucket,
                    str(verdict.classification),
                    previous[0],
                    previous[1],
                    verdict.policy_version,
                )
            )
