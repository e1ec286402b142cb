"""The machinery of the access matrix (tests/e2e/test_access_matrix.py): what an operation
declaration holds (``Operation``; the declarations are in tests/operations.py), the kinds of
refusal, the cell a declaration is called in, and the small world the cells address.

The world is built by the factories in a database of the matrix's own: the three agencies, the
matrix's logins as tests/access.py describes them, and one case per kind of scope boundary. A
cell addresses the world's object inside or outside its login's scope, or a fresh object when
its call is allowed and changes state, so no cell depends on another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.access import LOGINS, ROLE_NAMES, Role
from tests.factories import Factory, MadeCase, today
from tests.helpers import Gql

e = tables.audit_entries.c

# ---- What a refused caller gets -----------------------------------------------------------------


@dataclass(frozen=True)
class Forbidden:
    """A GraphQL error with code FORBIDDEN, ``data`` null, and an ``authz.denied`` audit entry
    naming the permission and the field; nothing else is done."""

    permission: str


@dataclass(frozen=True)
class Refused:
    """A typed member of the payload union, audited as a DENIED ``action`` entry whose changes
    name the refusal; nothing of the borrower is shown."""

    typename: str
    code: str
    field: str
    action: str


@dataclass(frozen=True)
class Null:
    """``null``, exactly as for an id that does not exist."""


@dataclass(frozen=True)
class Empty:
    """An empty connection: no edges and a totalCount of 0."""


@dataclass(frozen=True)
class Failed:
    """A GraphQL error with this ``extensions.code`` and ``data`` null, exactly as for an id
    that does not exist (a non-null query's answer); nothing of the borrower is shown."""

    code: str


Denial = Forbidden | Refused | Null | Empty | Failed

# ---- The world ----------------------------------------------------------------------------------

AGENCIES = (("Acme Recovery", True), ("Zenith Collections", True), ("Dormant Partners", False))
# One login per role, and a second agency. The world also holds collectors to assign to and to
# own cases outside a team, and an inactive collector.
MATRIX_LOGINS = (
    "admin",
    "manager",
    "lead1",
    "collector1",
    "legal1",
    "auditor1",
    "acme.manager",
    "acme.agent1",
    "zenith.agent1",
    "core.banking",
)
EXTRA_STAFF = {"collector2": True, "collector3": True, "collector9": False}  # login → active


def world_cases() -> dict[str, dict[str, Any]]:
    """Named case shapes (``Factory.case`` arguments), one per kind of scope boundary."""
    return {
        "pool": {"stage": "COLLECTION"},
        "east": {"assignee": "collector1", "classification": "MODERATE", "debts": 2},
        "west": {"assignee": "collector3", "stage": "EARLY", "classification": "MILD"},
        "legal": {"stage": "LEGAL", "classification": "SEVERE"},
        "acme": {"agency": "Acme Recovery", "classification": "SERIOUS"},
        "lapsed": {"agency": "Acme Recovery", "placement_ends_on": today() - timedelta(days=2)},
        "zenith": {"agency": "Zenith Collections"},
    }


# login → (world case inside the login's case scope, one outside it or None)
CASE_TARGETS: dict[str, tuple[str, str | None]] = {
    # Roles that see every case get the legal-stage one: masked for them all the same.
    "admin": ("legal", None),
    "manager": ("legal", None),
    "auditor1": ("legal", None),
    "core.banking": ("legal", None),
    "lead1": ("east", "west"),
    "collector1": ("east", "west"),
    "legal1": ("legal", "pool"),
    "acme.manager": ("acme", "lapsed"),
    "acme.agent1": ("acme", "zenith"),
    "zenith.agent1": ("zenith", "acme"),
}
# login → (staff member inside the login's staff scope, one outside it or None)
STAFF_TARGETS: dict[str, tuple[str, str | None]] = {
    **{login: ("collector9", None) for login in MATRIX_LOGINS if LOGINS[login].internal},
    "acme.manager": ("acme.agent1", "zenith.agent1"),
    "acme.agent1": ("acme.manager", "zenith.agent1"),
    "zenith.agent1": ("zenith.agent1", "acme.manager"),
}
# login → (agency inside the login's agency scope, one outside it or None)
AGENCY_TARGETS: dict[str, tuple[str, str | None]] = {
    **{login: ("Dormant Partners", None) for login in MATRIX_LOGINS if LOGINS[login].internal},
    "acme.manager": ("Acme Recovery", "Zenith Collections"),
    "acme.agent1": ("Acme Recovery", "Dormant Partners"),
    "zenith.agent1": ("Zenith Collections", "Acme Recovery"),
}


@dataclass
class World:
    """The matrix's database: its engine, factory, staff, agencies and named cases."""

    engine: AsyncEngine
    factory: Factory
    staff: dict[str, Any]
    agencies: dict[str, Any]
    cases: dict[str, MadeCase]


async def build_world(engine: AsyncEngine) -> World:
    """Agencies, the matrix's logins (as tests/access.py describes them) and the named cases."""
    factory = Factory(engine)
    agencies = {name: await factory.agency(name, active=active) for name, active in AGENCIES}
    staff = {}
    for login in MATRIX_LOGINS:
        role = LOGINS[login]
        staff[login] = await factory.staff(
            login, roles=role.roles, team=role.team, agency=role.agency
        )
    for login, active in EXTRA_STAFF.items():
        team = LOGINS[login].team if login in LOGINS else "West"
        staff[login] = await factory.staff(login, team=team, active=active)
    cases = {name: await factory.case(**shape) for name, shape in world_cases().items()}
    return World(engine, factory, staff, agencies, cases)


# ---- A cell -------------------------------------------------------------------------------------


@dataclass
class Target:
    """What a cell addresses: a case (with its borrower and debts), a staff member, an agency,
    or a role change (``login`` gets or loses ``role``)."""

    case: MadeCase | None = None
    staff: Any = None
    agency: Any = None
    login: str | None = None
    role: str | None = None
    request_id: str | None = None  # the request that made the target what it is

    @property
    def made(self) -> MadeCase:
        assert self.case is not None
        return self.case


@dataclass
class Cell:
    """One login calling one operation on an object inside (or outside) its scope."""

    gql: Gql
    world: World
    login: str
    inside: bool | None
    target: Target = field(default_factory=Target)

    @property
    def role(self) -> Role:
        return LOGINS[self.login]

    @property
    def engine(self) -> AsyncEngine:
        return self.world.engine

    async def send(
        self, document: str, variables: dict[str, Any], login: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """Posts the document; returns the JSON body and the request's id."""
        response = await self.gql.raw(login or self.login, document, variables)
        assert response.status_code == 200, response.text
        return response.json(), response.headers["x-request-id"]

    async def result(self, document: str, variables: dict[str, Any]) -> tuple[Any, str]:
        """The ``r`` of a response that must have no errors, and the request's id."""
        body, request_id = await self.send(document, variables)
        assert "errors" not in body, body
        return body["data"]["r"], request_id

    async def entries(self, request_id: str) -> list[Any]:
        """The audit entries the request wrote, in order."""
        stmt = select(tables.audit_entries).where(e.request_id == request_id).order_by(e.id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).all())


Check = Callable[["Operation", Cell], Awaitable[None]]
MakeTarget = Callable[[Cell], Awaitable[Target]]


@dataclass(frozen=True)
class Operation:
    """One root operation as the matrix calls it."""

    name: str  # the cell's name; one root field may have several (node: nodeCase, nodeStaff…)
    field: str  # the root field of Query or Mutation
    document: str  # a minimal document selecting the field as ``r``
    variables: Callable[[Target], dict[str, Any]]
    allowed: frozenset[str]  # role names that may call it (every role when ``denied`` is None)
    denied: Denial | None  # what a caller whose roles are not allowed gets
    check: Check  # asserts what an allowed caller gets inside scope
    scope: str | None = None  # "case" or "staff": the scope that decides inside and outside
    outside: Denial | None = None  # what an allowed caller gets outside that scope
    permission: str | None = None  # the permission ``allowed`` stands for (docs/API.md)
    fresh: MakeTarget | None = None  # a new object for an allowed call inside scope
    aim: MakeTarget | None = None  # the object of any other call (default: the world's)
    snapshot: Callable[[Cell], Awaitable[Any]] | None = None  # what a refusal leaves alone
    # Confidential borrower fields the document returns: masked for every caller without a
    # clear rule (legal sees them in clear while the borrower is in legal proceedings).
    masked: tuple[str, ...] = ()

    @property
    def mutation(self) -> bool:
        return self.document.lstrip().startswith("mutation")


def roles_holding(permission: str) -> frozenset[str]:
    """Every role name whose logins hold ``permission`` (tests/access.py)."""
    return frozenset(
        name for role in LOGINS.values() if permission in role.permissions for name in role.roles
    )


EVERY_ROLE = ROLE_NAMES


def has_outside(op: Operation, login: str) -> bool:
    """Whether the login's scope of the operation's objects leaves anything out."""
    if op.scope == "case":
        return CASE_TARGETS[login][1] is not None
    if op.scope == "staff":
        return STAFF_TARGETS[login][1] is not None
    return False


def placements(op: Operation, login: str) -> list[bool | None]:
    """The cells of a login: inside and outside its scope, or one when nothing is scoped."""
    if op.scope is None:
        return [None]
    return [True, False] if has_outside(op, login) else [True]


async def target_for(op: Operation, cell: Cell) -> Target:
    """A fresh object when an allowed call changes state, else the declared or world's one."""
    if op.fresh is not None and cell.role.holds(op.allowed) and cell.inside is not False:
        return await op.fresh(cell)
    if op.aim is not None:
        return await op.aim(cell)
    world, index = cell.world, 0 if cell.inside is not False else 1
    case_name = CASE_TARGETS[cell.login][index]
    staff_login = STAFF_TARGETS[cell.login][index]
    agency_name = AGENCY_TARGETS[cell.login][index]
    return Target(
        case=world.cases[case_name] if case_name else None,
        staff=world.staff[staff_login] if staff_login else None,
        agency=world.agencies[agency_name] if agency_name else None,
        login=cell.login,
    )
