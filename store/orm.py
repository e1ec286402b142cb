"""Imperative mapping of the pure domain classes onto the tables (domain/ imports no ORM)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import registry, relationship

from domain.agencies.model import Agency
from domain.arrangements.promises import Promise
from domain.borrowers.model import Borrower
from domain.cases.model import Case
from domain.contacts.model import Contact, ContactPoint
from domain.debts.model import Debt, Instalment
from domain.payments.model import Payment
from domain.staff.model import Staff
from store import tables
from store.contacts_repository import contact_loaded, point_loaded

mapper_registry = registry(metadata=tables.metadata)
_mapped = False


def _init_events(target: Any, _context: Any) -> None:
    # Instances loaded by the ORM skip __init__, so the event list must be restored here.
    target.events = []


def start_mappers() -> None:
    """Maps the domain classes once per process."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(Agency, tables.agencies)
    staff_mapper = mapper_registry.map_imperatively(Staff, tables.staff)
    event.listen(staff_mapper, "load", _init_events)
    mapper_registry.map_imperatively(Borrower, tables.borrowers)
    point_mapper = mapper_registry.map_imperatively(
        ContactPoint, tables.contact_points, version_id_col=tables.contact_points.c.version
    )
    event.listen(point_mapper, "load", _init_events)
    event.listen(point_mapper, "load", point_loaded)
    contact_mapper = mapper_registry.map_imperatively(Contact, tables.contacts)
    event.listen(contact_mapper, "load", contact_loaded)
    mapper_registry.map_imperatively(Instalment, tables.instalments, exclude_properties=["debt_id"])
    mapper_registry.map_imperatively(
        Debt,
        tables.debts,
        properties={
            # Loaded on demand (selectinload, or the API's batch loader): most reads of a
            # debt do not need its schedule, and it is most of the rows.
            "instalments": relationship(
                Instalment, lazy="raise", order_by=tables.instalments.c.sequence
            )
        },
    )
    case_mapper = mapper_registry.map_imperatively(
        Case,
        tables.cases,
        properties={"debts": relationship(Debt, lazy="raise", order_by=tables.debts.c.id)},
        version_id_col=tables.cases.c.version,
    )
    event.listen(case_mapper, "load", _init_events)
    # Payments and promises (issue 9): allocations are kept apart by store.payment_repository.
    mapper_registry.map_imperatively(
        Payment, tables.payments, version_id_col=tables.payments.c.version
    )
    mapper_registry.map_imperatively(
        Promise, tables.promises, version_id_col=tables.promises.c.version
    )
    _mapped = True
