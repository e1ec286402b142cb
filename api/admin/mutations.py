"""grantRole / revokeRole: administrators change who holds which role."""

from __future__ import annotations

from typing import Annotated

import strawberry

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
from domain.errors import DomainError
from domain.staff import services
from domain.staff.model import Role
from store.audit import AuditAction


@strawberry.input
class RoleChangeInput:
    login: str
    role: str = strawberry.field(description=", ".join(Role) + ".")


@strawberry.type
class RoleChangeSuccess:
    staff: Staff


RoleChangePayload = Annotated[
    RoleChangeSuccess | ValidationError | NotFoundError | RuleViolationError | ConflictError,
    strawberry.union("RoleChangePayload"),
]


async def _change(info: Info, data: RoleChangeInput, grant: bool) -> RoleChangePayload:
    ctx = info.context
    await ctx.release()
    try:
        staff = await services.change_role(
            ctx.unit_of_work, ctx.clock, data.login, data.role, grant, ctx.viewer.id
        )
    except DomainError as error:
        await ctx.audit.refused(
            AuditAction.POLICY_CHANGE,
            error,
            resource_type="Staff",
            changes={"login": data.login, "role": data.role, "grant": grant},
        )
        return user_error(error)
    return RoleChangeSuccess(staff=Staff.from_domain(staff))


@strawberry.type
class AdminMutation:
    @strawberry.mutation(
        description="Grants a role to a staff member (takes effect on their next request).",
        extensions=needs("role:grant"),
    )
    async def grant_role(self, info: Info, input: RoleChangeInput) -> RoleChangePayload:
        return await _change(info, input, grant=True)

    @strawberry.mutation(
        description="Revokes a role from a staff member (takes effect on their next request).",
        extensions=needs("role:grant"),
    )
    async def revoke_role(self, info: Info, input: RoleChangeInput) -> RoleChangePayload:
        return await _change(info, input, grant=False)
