"""grantRole / revokeRole: an administrator proposes a role change; it takes effect when a second
person approves it (approveRuleChange: an admin or manager who is neither the proposer nor the
staff member concerned; for the admin role, another admin only)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.changes.types import RuleChangeNode
from api.common.inputs import check_text
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    user_error,
)
from api.context import Info
from api.permissions import needs
from api.staff.types import Staff
from domain.changes import services
from domain.errors import DomainError
from domain.staff.model import Role
from store.audit import AuditAction


@strawberry.input
class RoleChangeInput:
    login: str
    role: str = strawberry.field(description=", ".join(Role) + ".")
    reason: str | None = strawberry.field(
        default=None,
        description="Why (at most 500 characters), for the approver and the audit: required "
        "(REASON_REQUIRED when missing or blank).",
    )


@strawberry.type
class RoleChangeSuccess:
    staff: Staff = strawberry.field(
        description="The staff member as they are now: the role is unchanged until approval."
    )
    change: RuleChangeNode = strawberry.field(
        description="The pending change (ROLE_GRANT or ROLE_REVOKE) for approveRuleChange."
    )


RoleChangePayload = Annotated[
    RoleChangeSuccess | ValidationError | NotFoundError | RuleViolationError | ConflictError,
    strawberry.union("RoleChangePayload"),
]


async def _change(info: Info, data: RoleChangeInput, grant: bool) -> RoleChangePayload:
    ctx = info.context
    check_text("input.reason", data.reason)
    assert ctx.viewer.id is not None
    await ctx.release()
    try:
        result = await services.propose_role_change(
            ctx.unit_of_work, ctx.clock, ctx.viewer.id, data.login, data.role, grant, data.reason
        )
    except DomainError as error:
        await ctx.audit.refused(
            AuditAction.POLICY_CHANGE,
            error,
            resource_type="Staff",
            changes={"login": data.login, "role": data.role, "grant": grant},
        )
        return user_error(error)
    return RoleChangeSuccess(
        staff=Staff.from_domain(result.staff), change=RuleChangeNode.from_domain(result.change)
    )


@strawberry.type
class AdminMutation:
    @strawberry.mutation(
        description="Proposes granting a role to a staff member (never to yourself), saying "
        "why; it takes effect, on their next request, when someone else approves it "
        "(approveRuleChange; the admin role: another admin).",
        extensions=needs("role:grant"),
    )
    async def grant_role(self, info: Info, input: RoleChangeInput) -> RoleChangePayload:
        return await _change(info, input, grant=True)

    @strawberry.mutation(
        description="Proposes revoking a role from a staff member, saying why; it takes effect, "
        "on their next request, when someone else approves it (approveRuleChange; the admin "
        "role: another admin, and never the last active admin's).",
        extensions=needs("role:grant"),
    )
    async def revoke_role(self, info: Info, input: RoleChangeInput) -> RoleChangePayload:
        return await _change(info, input, grant=False)
