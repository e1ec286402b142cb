"""The access matrix: every root operation declared in tests/operations.py × every role login ×
an object inside and one outside that login's scope, each cell asserting the exact outcome:
the value a permitted caller gets (scoped, masked, the change made and its event and audit
entry), or what a refused caller gets (FORBIDDEN with an ``authz.denied`` entry, a typed refusal
with a DENIED entry, null, or an empty list) with nothing changed.

A guard introspects the served schema and fails when a root field of Query or Mutation has no
declaration, so every new operation joins the matrix.

The matrix runs on a database of its own, filled by the factories (tests/factories.py): the
agencies, the logins of tests/access.py and a handful of cases, one per scope boundary
(tests/matrix.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from store.db import create_engine
from store.migrate import upgrade
from tests.access import LOGINS, visible_ids
from tests.conftest import PG_URL, _create_pg_database
from tests.helpers import Gql
from tests.matrix import (
    AGENCY_TARGETS,
    CASE_TARGETS,
    EVERY_ROLE,
    MATRIX_LOGINS,
    STAFF_TARGETS,
    Cell,
    Denial,
    Empty,
    Failed,
    Forbidden,
    Null,
    Operation,
    Refused,
    World,
    build_world,
    placements,
    roles_holding,
    target_for,
)
from tests.operations import OPERATIONS


@dataclass
class Matrix:
    gql: Gql
    world: World
    visible: dict[str, dict[str, set[int]]]  # login → node type → ids, from tests/access.py


@pytest.fixture(scope="module")
async def matrix(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Matrix]:
    """The real app over a database of the matrix's own, built by the factories."""
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('matrix') / 'matrix.db'}"
    engine: AsyncEngine = create_engine(url)
    try:
        await upgrade(engine)
        world = await build_world(engine)
        visible = {login: await visible_ids(engine, login) for login in MATRIX_LOGINS}
        own = settings.model_copy(update={"database_url": url})
        app = create_app(own, engine=engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://matrix.test") as h:
                yield Matrix(Gql(h, own), world, visible)
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()


# ---- The declarations cover the schema ---------------------------------------------------------

INTROSPECTION = "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }"


async def test_every_root_field_is_declared(matrix: Matrix) -> None:
    schema = (await matrix.gql("admin", INTROSPECTION))["__schema"]
    served = {
        (kind, f["name"])
        for kind, key in (("query", "queryType"), ("mutation", "mutationType"))
        for f in (schema[key] or {"fields": []})["fields"]
    }
    declared = {("mutation" if op.mutation else "query", op.field) for op in OPERATIONS}
    missing = sorted(f"{kind} {name}" for kind, name in served - declared)
    assert not missing, f"root fields with no declaration in tests/operations.py: {missing}"
    assert declared <= served, f"declared but not served: {sorted(declared - served)}"


def test_declarations_follow_the_documented_permissions() -> None:
    assert len({op.name for op in OPERATIONS}) == len(OPERATIONS)
    for op in OPERATIONS:
        if op.denied is None:
            assert op.allowed == EVERY_ROLE, op.name
        else:
            assert op.permission is not None, op.name
            assert op.allowed == roles_holding(op.permission), op.name
        if isinstance(op.denied, Forbidden):
            assert op.denied.permission == op.permission, op.name
        for name in op.masked:
            assert f" {name}" in op.document, (op.name, name)
        assert (op.scope is None) == (op.outside is None) or op.field in (
            "grantRole",
            "revokeRole",  # refused before scoping: their outside cells are FORBIDDEN too
        ), op.name
    # Every role of the demo logins appears in the matrix.
    assert {name for login in MATRIX_LOGINS for name in LOGINS[login].roles} == EVERY_ROLE


# ---- The cells ---------------------------------------------------------------------------------

BY_NAME = {op.name: op for op in OPERATIONS}
CELLS = [
    (op.name, login, inside)
    for op in OPERATIONS
    for login in MATRIX_LOGINS
    for inside in placements(op, login)
]


def cell_id(cell: tuple[str, str, bool | None]) -> str:
    name, login, inside = cell
    return f"{name}-{login}" if inside is None else f"{name}-{login}-{'in' if inside else 'out'}"


@pytest.mark.parametrize(("name", "login", "inside"), CELLS, ids=map(cell_id, CELLS))
async def test_cell(matrix: Matrix, name: str, login: str, inside: bool | None) -> None:
    op = BY_NAME[name]
    cell = Cell(matrix.gql, matrix.world, login, inside)
    cell.target = await target_for(op, cell)
    allowed = cell.role.holds(op.allowed)
    fresh = op.fresh is not None and allowed and inside is not False
    if inside is not None and not fresh:
        assert_in_scope(matrix, op, cell)
    if allowed and inside is not False:
        await op.check(op, cell)
        return
    denial = op.denied if not allowed else op.outside
    assert denial is not None
    before = await op.snapshot(cell) if op.snapshot else None
    await assert_denied(op, cell, denial)
    if op.snapshot:
        assert await op.snapshot(cell) == before, "a refused call changed something"


def assert_in_scope(matrix: Matrix, op: Operation, cell: Cell) -> None:
    """The world object the cell addresses lies inside (or outside) the scope, by the rules."""
    visible = matrix.visible[cell.login]
    target = cell.target
    if op.scope == "case" and target.case is not None:
        assert (target.case.case.id in visible["Case"]) == cell.inside
        assert (target.case.borrower.id in visible["Borrower"]) == cell.inside
    elif op.field == "node" and target.staff is not None:
        assert (target.staff.id in visible["Staff"]) == cell.inside
        assert (target.agency.id in visible["Agency"]) == cell.inside


async def assert_denied(op: Operation, cell: Cell, denial: Denial) -> None:
    body, request_id = await cell.send(op.document, op.variables(cell.target))
    entries = await cell.entries(request_id)
    if isinstance(denial, Forbidden):
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        denied = [
            (x.actor_login, x.outcome, x.changes) for x in entries if x.action == "authz.denied"
        ]
        assert denied == [
            (cell.login, "DENIED", {"permission": denial.permission, "field": op.field})
        ]
        assert {x.outcome for x in entries} == {"DENIED"}
        if op.mutation:
            assert [x.action for x in entries] == ["authz.denied"]  # nothing else was done
        return
    if isinstance(denial, Failed):
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == [denial.code], body
        assert all(x.borrower_ids == [] for x in entries)
        return
    assert "errors" not in body, body
    result = body["data"]["r"]
    if isinstance(denial, Refused):
        assert result == {"__typename": denial.typename, "code": denial.code, "field": denial.field}
        assert [(x.action, x.outcome, x.changes) for x in entries] == [
            (denial.action, "DENIED", {"refused": denial.code})
        ]
        assert all(x.borrower_ids == [] for x in entries)  # nothing of the borrower was shown
    elif isinstance(denial, Null):
        assert result is None
        assert all(x.borrower_ids == [] for x in entries)
    else:
        assert isinstance(denial, Empty)
        assert result == {"totalCount": 0, "edges": []}
        assert all(x.borrower_ids == [] for x in entries)


def test_every_login_has_targets() -> None:
    for login in MATRIX_LOGINS:
        assert login in CASE_TARGETS and login in STAFF_TARGETS and login in AGENCY_TARGETS
        # Outside objects exist exactly where the login's scope leaves something out.
        assert (CASE_TARGETS[login][1] is None) == LOGINS[login].sees_all_cases
        assert (STAFF_TARGETS[login][1] is None) == LOGINS[login].internal
