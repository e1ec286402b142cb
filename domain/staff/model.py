"""Staff: the people who work in the system."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from domain.staff.errors import CannotRevokeOwnAdmin, RoleNotApplicable, UnknownRole
from domain.staff.events import RolesChanged


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    TEAM_LEAD = "team_lead"
    COLLECTOR = "collector"
    LEGAL = "legal"
    AUDITOR = "auditor"
    AGENCY_MANAGER = "agency_manager"
    AGENCY_AGENT = "agency_agent"
    # A system account (the core banking system): posts payments and signals, sees no
    # personal data in clear.
    INTEGRATION = "integration"


# Roles held by staff of partner agencies; every other role is internal.
AGENCY_ROLES = frozenset({Role.AGENCY_MANAGER, Role.AGENCY_AGENT})

# Roles whose holders may carry internally assigned cases.
ASSIGNABLE_ROLES = frozenset({Role.COLLECTOR, Role.TEAM_LEAD})


@dataclass(eq=False)
class Staff:
    """A login with its roles, team or agency, and capacity (maximum open cases)."""

    login: str
    name: str
    roles: list[str] = field(default_factory=list)
    team: str | None = None
    agency_id: int | None = None
    capacity: int = 0
    active: bool = True
    id: int | None = None
    events: list[RolesChanged] = field(default_factory=list, repr=False)

    @property
    def can_carry_cases(self) -> bool:
        """Internal collectors and team leads may be assignees; agency staff may not."""
        return self.agency_id is None and bool(ASSIGNABLE_ROLES.intersection(self.roles))

    def grant(self, role: str, at: datetime, actor_id: int | None) -> None:
        """Grants a role; agency roles only to agency staff, internal roles only to internal."""
        if role not in set(Role):
            raise UnknownRole(f"no such role {role!r}", field="role")
        if (role in AGENCY_ROLES) != (self.agency_id is not None):
            kind = "agency" if role in AGENCY_ROLES else "internal"
            raise RoleNotApplicable(f"{role} is an {kind} role; {self.login} is not", field="role")
        if role in self.roles:
            return
        before = tuple(self.roles)
        self.roles = [*self.roles, role]
        self.events.append(
            RolesChanged(self.id, at, actor_id, role, True, before, tuple(self.roles))
        )

    def revoke(self, role: str, at: datetime, actor_id: int | None) -> None:
        """Revokes a role; an administrator cannot revoke their own admin role."""
        if role not in set(Role):
            raise UnknownRole(f"no such role {role!r}", field="role")
        if role == Role.ADMIN and actor_id is not None and actor_id == self.id:
            raise CannotRevokeOwnAdmin("you cannot revoke your own admin role", field="role")
        if role not in self.roles:
            return
        before = tuple(self.roles)
        self.roles = [r for r in self.roles if r != role]
        self.events.append(
            RolesChanged(self.id, at, actor_id, role, False, before, tuple(self.roles))
        )
