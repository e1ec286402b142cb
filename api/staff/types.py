"""GraphQL types for staff, partner agencies and the viewer."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from domain.agencies.model import Agency as DomainAgency
from domain.staff.model import Staff as DomainStaff


@strawberry.type(description="A partner collection agency and its contract terms.")
class Agency(Node):
    name: str
    commission_rate: Decimal = strawberry.field(
        description="Commission as a fraction, e.g. 0.1800."
    )
    placement_days: int = strawberry.field(description="Length of a placement in days.")
    tail_days: int = strawberry.field(
        description="The contract's tail: days after a recall in which a payment on the case "
        "still earns the commission."
    )
    active: bool

    @classmethod
    def from_domain(cls, agency: DomainAgency) -> Agency:
        assert agency.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Agency", agency.id)),
            name=agency.name,
            commission_rate=agency.commission_rate,
            placement_days=agency.placement_days,
            tail_days=agency.tail_days,
            active=agency.active,
        )


async def load_agency(info: Info, agency_id: int | None) -> Agency | None:
    """Returns the agency through the request's batch loader (None when there is none)."""
    if agency_id is None:
        return None
    agency = await info.context.agencies.load(agency_id)
    return Agency.from_domain(agency) if agency else None


async def load_staff(info: Info, staff_id: int | None) -> Staff | None:
    """Returns the staff member through the request's batch loader (None when there is none, or
    the viewer cannot see them)."""
    if staff_id is None:
        return None
    staff = await info.context.staff.load(staff_id)
    return Staff.from_domain(staff) if staff else None


@strawberry.type(description="A person who works in the system, internal or at a partner agency.")
class Staff(Node):
    login: str
    name: str
    roles: list[str]
    team: str | None
    capacity: int = strawberry.field(description="Maximum number of open cases.")
    active: bool
    _agency_id: strawberry.Private[int | None]

    @strawberry.field
    async def agency(self, info: Info) -> Agency | None:
        return await load_agency(info, self._agency_id)

    @classmethod
    def from_domain(cls, staff: DomainStaff) -> Staff:
        assert staff.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Staff", staff.id)),
            login=staff.login,
            name=staff.name,
            roles=list(staff.roles),
            team=staff.team,
            capacity=staff.capacity,
            active=staff.active,
            _agency_id=staff.agency_id,
        )


@strawberry.type(description="The authenticated caller.")
class Viewer:
    login: str
    name: str
    roles: list[str]
    team: str | None
    permissions: list[str] = strawberry.field(
        description="What the caller may do (e.g. `case:assign`), so front ends can hide buttons."
    )
    _agency_id: strawberry.Private[int | None]

    @strawberry.field
    async def agency(self, info: Info) -> Agency | None:
        return await load_agency(info, self._agency_id)

    @classmethod
    def from_domain(cls, staff: DomainStaff, permissions: list[str]) -> Viewer:
        return cls(
            login=staff.login,
            name=staff.name,
            roles=list(staff.roles),
            team=staff.team,
            permissions=permissions,
            _agency_id=staff.agency_id,
        )
