"""Ports of maker–checker: the repository of changes and the unit of work that holds it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from domain.changes.model import RuleChange
from domain.conduct.profiles import ConductProfile
from domain.ports import UnitOfWork


class ChangeRepository(Protocol):
    async def add(self, change: RuleChange) -> None:
        """Stores a new change and gives it its id."""
        ...

    async def get(self, change_id: int) -> RuleChange | None:
        """Returns the change locked until commit (concurrent deciders queue), or None."""
        ...

    async def save_decision(self, change: RuleChange) -> None:
        """Stores the decision, refusing (ALREADY_DECIDED) a row changed since it was read."""
        ...

    async def add_version(self, change: RuleChange) -> int:
        """Writes the approved rule set as the next version of its kind and name; returns its
        number. Call ``lock_rule_set`` first in the same transaction."""
        ...

    async def lock_rule_set(self, kind: str, name: str) -> None:
        """Serialises the approvals of one rule set until commit (two approvals of different
        changes of it would otherwise compute the same next version)."""
        ...

    async def labels(self, kind: str, name: str) -> set[str]:
        """The version labels (a payload's ``version``) of the stored versions of a rule set."""
        ...

    async def lock_active_admins(self) -> list[int]:
        """The ids of the active staff holding the admin role, locked until commit (two admin
        revokes decided at once queue, and the second sees the first)."""
        ...


class ChangesUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> ChangesUnitOfWork: ...

    @property
    def changes(self) -> ChangeRepository: ...


class Permissions(Protocol):
    """Whether roles grant a permission (the api passes the authorizer: the domain never imports
    it)."""

    def allows(self, roles: Iterable[str], permission: str) -> bool: ...


class RuleSetReader(Protocol):
    """The rule sets in effect at an instant, read in the caller's transaction."""

    async def conduct_profile(self, name: str, at: datetime) -> ConductProfile:
        """Returns the version of the named conduct profile in effect at ``at`` (the checked-in
        one when no approved version is in effect yet)."""
        ...
