"""Use cases on staff: granting and revoking roles, and the operator adding a member."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from domain.cases.errors import StaffNotFound
from domain.clock import Clock
from domain.errors import InvalidInput
from domain.ports import UnitOfWork
from domain.staff.model import Staff


async def change_role(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    login: str,
    role: str,
    grant: bool,
    actor_id: int | None,
) -> Staff:
    """Grants or revokes a role of a staff member."""
    async with uow_factory() as uow:
        staff = await uow.staff.get_by_login(login)
        if staff is None:
            raise StaffNotFound(f"no staff member {login!r}", field="login")
        if grant:
            staff.grant(role, clock.now(), actor_id)
        else:
            staff.revoke(role, clock.now(), actor_id)
        await uow.commit()
        return staff


# A login: letters, digits and . _ @ - (at most 80); ``client:`` and ``system:`` name API
# clients' service accounts and the batch jobs, never a person.
LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}")


def new_staff(
    login: str,
    name: str,
    roles: Sequence[str],
    team: str | None = None,
    agency_id: int | None = None,
    capacity: int = 0,
) -> Staff:
    """A staff member as the operator adds them (``arrears staff add``): a well-formed login, a
    name, at least one role, each fitting (agency roles for an agency's staff only, internal
    roles for internal staff only), a team only for internal staff, a capacity of 0 or more."""
    if not LOGIN.fullmatch(login):
        raise InvalidInput(
            "a login is 1 to 80 letters, digits and . _ @ -, starting with a letter or digit",
            field="login",
        )
    if not name.strip() or len(name) > 120:
        raise InvalidInput("a name is 1 to 120 characters", field="name")
    if not roles:
        raise InvalidInput("give at least one role", field="role")
    if team is not None and (agency_id is not None or not team.strip() or len(team) > 80):
        raise InvalidInput("a team (1 to 80 characters) is for internal staff", field="team")
    if capacity < 0:
        raise InvalidInput("the capacity is 0 or more", field="capacity")
    staff = Staff(login=login, name=name.strip(), team=team, agency_id=agency_id, capacity=capacity)
    for role in roles:
        staff.grant(role, datetime.now(UTC), None)
    staff.events.clear()  # a new member's roles are part of the addition, not changes
    return staff
