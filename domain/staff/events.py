"""Events recorded by the Staff aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RolesChanged:
    staff_id: int | None
    at: datetime
    actor_id: int | None
    role: str
    granted: bool
    roles_before: tuple[str, ...]
    roles_after: tuple[str, ...]

    @property
    def name(self) -> str:
        return "RoleGranted" if self.granted else "RoleRevoked"
