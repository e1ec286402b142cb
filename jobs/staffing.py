"""The operator adds staff and agencies (``arrears staff add``, ``arrears agency add``): how a
fresh database gets its first administrator, and how agencies and people arrive before an HR
feed does. Each addition is one transaction with its audit entry (``staff.create``,
``agency.create``, by ``system:cli``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.agencies.model import Agency
from domain.cases.errors import AgencyNotFound
from domain.clock import Clock
from domain.errors import InvalidInput, RuleViolation
from domain.staff.model import Staff
from domain.staff.services import new_staff
from store import staffing
from store.audit import AuditAction, AuditRecord, Outcome, append

ACTOR = "system:cli"


async def add_staff(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    *,
    login: str,
    name: str,
    roles: Sequence[str],
    team: str | None = None,
    agency: str | None = None,
    capacity: int = 0,
) -> Staff:
    """Adds an active staff member; a refusal (a DomainError: bad input, a role that does not fit,
    a taken login, an unknown agency) changes nothing."""
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            agency_id = None
            if agency is not None:
                agency_id = await staffing.agency_named(conn, agency)
                if agency_id is None:
                    raise AgencyNotFound(f"no agency is named {agency!r}")
            staff = new_staff(login, name, roles, team, agency_id, capacity)
            if await staffing.login_taken(conn, staff.login):
                raise RuleViolation(f"the login {staff.login!r} exists already")
            staff.id = await staffing.insert_staff(conn, staff)
            changes: dict[str, object] = {
                "login": staff.login,
                "roles": list(staff.roles),
                "team": staff.team,
                "agencyId": agency_id,
                "capacity": staff.capacity,
            }
            await append(conn, audit_key, [_record(clock, "staff", "Staff", staff.id, changes)])
    return staff


async def add_agency(
    engine: AsyncEngine,
    clock: Clock,
    audit_key: bytes,
    *,
    name: str,
    commission_rate: str,
    placement_days: int,
    tail_days: int = 0,
) -> Agency:
    """Adds an active partner agency with its contract terms."""
    if not name.strip() or len(name) > 120:
        raise InvalidInput("an agency's name is 1 to 120 characters", field="name")
    try:
        rate = Decimal(commission_rate)
    except InvalidOperation:
        raise InvalidInput("the commission rate is a decimal fraction, e.g. 0.15") from None
    if not (
        rate.is_finite() and Decimal(0) <= rate < 1 and rate == rate.quantize(Decimal("0.0001"))
    ):
        raise InvalidInput("the commission rate is a fraction from 0 to below 1, e.g. 0.15")
    if placement_days < 1 or tail_days < 0:
        raise InvalidInput("the placement is 1 day or more, the tail 0 days or more")
    agency = Agency(name.strip(), rate, placement_days, tail_days=tail_days)
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            if await staffing.agency_named(conn, agency.name) is not None:
                raise RuleViolation(f"an agency named {agency.name!r} exists already")
            agency.id = await staffing.insert_agency(conn, agency)
            changes: dict[str, object] = {
                "name": agency.name,
                "commissionRate": str(rate),
                "placementDays": placement_days,
                "tailDays": tail_days,
            }
            await append(conn, audit_key, [_record(clock, "agency", "Agency", agency.id, changes)])
    return agency


def _record(
    clock: Clock, what: str, resource: str, pk: int, changes: dict[str, object]
) -> AuditRecord:
    action = AuditAction.STAFF_CREATE if what == "staff" else AuditAction.AGENCY_CREATE
    return AuditRecord(
        at=clock.now(),
        action=action,
        outcome=Outcome.ALLOWED,
        actor_login=ACTOR,
        request_id=uuid.uuid4().hex,
        operation_name=f"arrears {what} add",
        operation_type="job",
        resource_type=resource,
        resource_ids=[str(pk)],
        changes=changes,
    )
