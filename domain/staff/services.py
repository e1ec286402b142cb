"""Use cases on staff: granting and revoking roles."""

from __future__ import annotations

from collections.abc import Callable

from domain.cases.errors import StaffNotFound
from domain.clock import Clock
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
