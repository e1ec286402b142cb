"""GraphQL types of early warning: Warning, Severity, WarningStatus, ExternalSignal."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from domain.warnings.model import EarlyWarning
from domain.warnings.model import WarningStatus as DomainWarningStatus
from domain.warnings.rules import Severity as DomainSeverity
from domain.warnings.rules import SignalKind as DomainSignalKind

if TYPE_CHECKING:
    from api.cases.types import Borrower, Case
    from api.staff.types import Agency, Staff

strawberry.enum(DomainSeverity, name="Severity", description="How urgent a warning is.")
strawberry.enum(
    DomainWarningStatus,
    name="WarningStatus",
    description="RAISED by a rule; ACKNOWLEDGED: somebody has seen it; HANDLED: acted on "
    "(from RAISED or ACKNOWLEDGED), with a note.",
)
strawberry.enum(
    DomainSignalKind,
    name="ExternalSignalKind",
    description="What a partner system reports about a borrower (postExternalSignal).",
)
Severity = DomainSeverity
ExternalSignalKind = DomainSignalKind
WarningStatus = DomainWarningStatus


@strawberry.type(
    name="Warning",
    description="An early-warning signal on a case (manual ch. 3): raised by a rule once per "
    "cause, visible to whoever sees its case, then acknowledged and handled.",
)
class WarningNode(Node):
    rule: str = strawberry.field(description="The rule that raised it, e.g. RISING_DPD.")
    rule_version: str = strawberry.field(description="The version of the rule set.")
    severity: Severity
    status: WarningStatus
    raised_at: datetime
    reason: str = strawberry.field(description="What triggered it, in one sentence.")
    acknowledged_at: datetime | None
    handled_at: datetime | None
    version: int = strawberry.field(description="Changes with each step (expectedVersion).")
    _case_id: strawberry.Private[int]
    _assignee_id: strawberry.Private[int | None]
    _agency_id: strawberry.Private[int | None]
    _acknowledged_by: strawberry.Private[int | None]
    _handled_by: strawberry.Private[int | None]
    _note: strawberry.Private[str | None]

    @strawberry.field(
        description="What was done, as handled; null unless your role works cases (contact:make)."
    )
    def note(self, info: Info) -> str | None:
        return self._note if info.context.may_read_notes() else None

    @strawberry.field(description="The case it is about.")
    async def case(self, info: Info) -> Annotated[Case, strawberry.lazy("api.cases.types")]:
        from api.cases.types import Case

        case = await info.context.cases.load(self._case_id)
        assert case is not None  # a warning in scope is on a case in scope
        info.context.audit.saw_cases([self._case_id])
        return Case.from_domain(case)

    @strawberry.field(description="The case's collector when it was raised (whom it reached).")
    async def assignee(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._assignee_id)

    @strawberry.field(description="The case's agency when it was raised (whom it reached).")
    async def agency(
        self, info: Info
    ) -> Annotated[Agency, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_agency

        return await load_agency(info, self._agency_id)

    @strawberry.field(description="Who acknowledged it.")
    async def acknowledged_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._acknowledged_by)

    @strawberry.field(description="Who handled it.")
    async def handled_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._handled_by)

    @classmethod
    def from_domain(cls, warning: EarlyWarning) -> WarningNode:
        return cls(
            id=strawberry.ID(to_global_id("Warning", warning.id)),
            rule=warning.rule,
            rule_version=warning.rule_version,
            severity=DomainSeverity(warning.severity),
            status=DomainWarningStatus(warning.status),
            raised_at=warning.raised_at,
            reason=warning.reason,
            acknowledged_at=warning.acknowledged_at,
            handled_at=warning.handled_at,
            version=warning.version,
            _case_id=warning.case_id,
            _assignee_id=warning.assignee_id,
            _agency_id=warning.agency_id,
            _acknowledged_by=warning.acknowledged_by,
            _handled_by=warning.handled_by,
            _note=warning.note,
        )


async def warning_node(info: Info, pk: int) -> WarningNode | None:
    """Returns a warning whose case the viewer can see (``node(id:)``), else None."""
    warning = await info.context.warnings.load(pk)
    return WarningNode.from_domain(warning) if warning is not None else None


@strawberry.type(
    description="A partner system's signal about a borrower, as stored (its details are kept "
    "with it and shown nowhere)."
)
class ExternalSignal:
    kind: ExternalSignalKind
    severity: Severity
    received_at: datetime
    _borrower_id: strawberry.Private[int]

    @strawberry.field(description="The borrower it is about, as you may see them.")
    async def borrower(
        self, info: Info
    ) -> Annotated[Borrower, strawberry.lazy("api.cases.types")] | None:
        from api.cases.types import borrower_view

        return await borrower_view(info.context, self._borrower_id)
