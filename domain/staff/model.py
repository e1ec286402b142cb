"""Staff: the people who work in the system."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    TEAM_LEAD = "team_lead"
    COLLECTOR = "collector"
    LEGAL = "legal"
    AUDITOR = "auditor"
    AGENCY_MANAGER = "agency_manager"
    AGENCY_AGENT = "agency_agent"


# Roles whose holders may carry internally assigned cases.
ASSIGNABLE_ROLES = frozenset({Role.COLLECTOR.value, Role.TEAM_LEAD.value})


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

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.roles

    @property
    def can_carry_cases(self) -> bool:
        """Internal collectors and team leads may be assignees; agency staff may not."""
        return self.agency_id is None and bool(ASSIGNABLE_ROLES.intersection(self.roles))
