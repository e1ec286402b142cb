"""proposeRuleChange, approveRuleChange and rejectRuleChange: parse input → call the maker–checker
service → map the result (refusals audited as policy.change, DENIED)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.changes.types import RuleChangeNode
from api.common.ids import pk_of
from api.common.inputs import check_text, utc_instant
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.context import Info
from api.permissions import needs
from api.staff.types import Staff
from domain.changes import services
from domain.changes.errors import ChangeInvalid, ChangeNotFound
from domain.errors import DomainError
from domain.rulesets import DEFAULT_NAME, RuleSetKind
from store.audit import AuditAction

UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError


@strawberry.input
class ProposeRuleChangeInput:
    kind: RuleSetKind
    name: str = strawberry.field(
        default=DEFAULT_NAME,
        description="The rule set within its kind: `default`, or a conduct profile's name (CN, "
        "US_REG_F) for CONDUCT_PROFILE and LEGAL_POLICY.",
    )
    payload: JSON = strawberry.field(
        description="The whole new rule set, as `ruleSet(kind, name).builtin` shows its form."
    )
    effective_from: datetime = strawberry.field(
        description="When it takes effect once approved: now or later (a minute of clock skew "
        "is allowed), with a time zone."
    )
    reason: str = strawberry.field(description="Why (at most 500 characters).")


@strawberry.input
class ApproveRuleChangeInput:
    change_id: strawberry.ID


@strawberry.input
class RejectRuleChangeInput:
    change_id: strawberry.ID
    reason: str = strawberry.field(description="Why (at most 500 characters).")


@strawberry.type
class ProposeRuleChangeSuccess:
    change: RuleChangeNode


@strawberry.type
class ApproveRuleChangeSuccess:
    change: RuleChangeNode
    staff: Staff | None = strawberry.field(
        description="For a role change: the staff member, with the role now changed."
    )


@strawberry.type
class RejectRuleChangeSuccess:
    change: RuleChangeNode


ProposeRuleChangePayload = Annotated[
    ProposeRuleChangeSuccess | UserErrors, strawberry.union("ProposeRuleChangePayload")
]
ApproveRuleChangePayload = Annotated[
    ApproveRuleChangeSuccess | UserErrors, strawberry.union("ApproveRuleChangePayload")
]
RejectRuleChangePayload = Annotated[
    RejectRuleChangeSuccess | UserErrors, strawberry.union("RejectRuleChangePayload")
]


def _change_pk(change_id: strawberry.ID) -> int:
    pk = pk_of(change_id, "RuleChange")
    if pk is None:
        raise ChangeNotFound("no such change", field="changeId")
    return pk


@strawberry.type
class ChangeMutation:
    @strawberry.mutation(
        description="Proposes a new version of a rule set, in effect from `effectiveFrom` once "
        "someone else approves it. The payload is checked at once (CHANGE_INVALID naming the "
        "field).",
        extensions=needs("rule_change:propose"),
    )
    async def propose_rule_change(
        self, info: Info, input: ProposeRuleChangeInput
    ) -> ProposeRuleChangePayload:
        ctx = info.context
        check_text("input.name", input.name)
        check_text("input.reason", input.reason)
        start = utc_instant("input.effectiveFrom", input.effective_from)
        assert start is not None and ctx.viewer.id is not None
        await ctx.release()
        payload: Any = input.payload
        try:
            if not isinstance(payload, dict):
                raise ChangeInvalid("payload must be an object", field="payload")
            change = await services.propose_rule_change(
                ctx.unit_of_work,
                ctx.clock,
                ctx.viewer.id,
                input.kind,
                input.name,
                payload,
                start,
                input.reason,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.POLICY_CHANGE, error, "RuleChange", None)
        return ProposeRuleChangeSuccess(change=RuleChangeNode.from_domain(change))

    @strawberry.mutation(
        description="Approves a pending change: never by its maker, nor a role change by the "
        "staff member it concerns; a change of the admin role only by another admin "
        "(APPROVER_NOT_ENTITLED); never one whose proposer is no longer active or entitled to "
        "propose it (PROPOSER_NOT_ENTITLED), nor an admin revoke leaving no active admin "
        "(LAST_ADMIN). A rule set becomes its next version; a role changes at once.",
        extensions=needs("rule_change:approve"),
    )
    async def approve_rule_change(
        self, info: Info, input: ApproveRuleChangeInput
    ) -> ApproveRuleChangePayload:
        ctx = info.context
        pk = pk_of(input.change_id, "RuleChange")
        assert ctx.viewer.id is not None
        await ctx.release()
        try:
            change, staff = await services.approve(
                ctx.unit_of_work,
                ctx.clock,
                ctx.viewer.id,
                _change_pk(input.change_id),
                ctx.authorizer,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.POLICY_CHANGE, error, "RuleChange", pk)
        return ApproveRuleChangeSuccess(
            change=RuleChangeNode.from_domain(change),
            staff=Staff.from_domain(staff) if staff is not None else None,
        )

    @strawberry.mutation(
        description="Rejects a pending change (never by its maker, nor a role change by the "
        "staff member it concerns), saying why.",
        extensions=needs("rule_change:approve"),
    )
    async def reject_rule_change(
        self, info: Info, input: RejectRuleChangeInput
    ) -> RejectRuleChangePayload:
        ctx = info.context
        check_text("input.reason", input.reason)
        pk = pk_of(input.change_id, "RuleChange")
        assert ctx.viewer.id is not None
        await ctx.release()
        try:
            change = await services.reject(
                ctx.unit_of_work,
                ctx.clock,
                ctx.viewer.id,
                _change_pk(input.change_id),
                input.reason,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.POLICY_CHANGE, error, "RuleChange", pk)
        return RejectRuleChangeSuccess(change=RuleChangeNode.from_domain(change))
