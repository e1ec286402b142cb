"""Access-matrix declarations of API clients (tests/operations.py joins them to OPERATIONS):

- ``apiClients``, ``api_client:read`` — admins and auditors list every agency's clients, an
  agency manager their own agency's only; everyone else is FORBIDDEN;
- createApiClient, rotateApiClientSecret, setApiClientOperations, revokeApiClient,
  ``api_client:manage`` — an admin for any agency, an agency manager for their own only: another
  agency is AGENCY_NOT_FOUND and its clients API_CLIENT_NOT_FOUND, exactly as ones that do not
  exist.

tests/e2e/test_api_clients.py covers the token endpoint, what a client sees, the allow-lists of
operations and the CLI.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

from domain.clients.model import operation_digest
from store import tables
from tests.factories import global_id, writing
from tests.matrix import Cell, Forbidden, Operation, Refused, Target, roles_holding

ac, acs, s, a = (
    tables.api_clients.c,
    tables.api_client_secrets.c,
    tables.staff.c,
    tables.agencies.c,
)
PAYLOAD = "__typename ... on UserError { code field }"
FIELDS = "clientId name revokedAt agency { name } secrets { expiresAt }"
MANAGE, READ = "api_client:manage", "api_client:read"

LIST = f"{{ r: apiClients(first: 100) {{ totalCount edges {{ node {{ {FIELDS} }} }} }} }}"
CREATE = f"""
mutation($input: CreateApiClientInput!) {{
  r: createApiClient(input: $input) {{
    {PAYLOAD} ... on CreateApiClientSuccess {{ clientSecret apiClient {{ {FIELDS} }} }}
  }}
}}"""
ROTATE = f"""
mutation($input: RotateApiClientSecretInput!) {{
  r: rotateApiClientSecret(input: $input) {{
    {PAYLOAD} ... on RotateApiClientSecretSuccess {{ clientSecret apiClient {{ {FIELDS} }} }}
  }}
}}"""
OPERATIONS = f"""
mutation($input: SetApiClientOperationsInput!) {{
  r: setApiClientOperations(input: $input) {{
    {PAYLOAD} ... on SetApiClientOperationsSuccess {{ apiClient {{ {FIELDS} allowedOperations }} }}
  }}
}}"""
# The one document a matrix client is allowed.
ALLOWED_DOCUMENT = "{ viewer { login } }"
REVOKE = f"""
mutation($input: RevokeApiClientInput!) {{
  r: revokeApiClient(input: $input) {{
    {PAYLOAD} ... on RevokeApiClientSuccess {{ apiClient {{ {FIELDS} }} }}
  }}
}}"""


def _agency_for(cell: Cell) -> str:
    """The agency a cell's client or new client belongs to: the login's own (Acme for the
    internal roles), another one outside its scope."""
    return "Zenith Collections" if cell.inside is False else "Acme Recovery"


async def _agency(cell: Cell) -> Target:
    return Target(agency=cell.world.agencies[_agency_for(cell)], login=cell.login)


async def _client(cell: Cell) -> Target:
    """A client of the cell's agency, made as createApiClient makes one."""
    agency = cell.world.agencies[_agency_for(cell)]
    client_id = "ac_" + secrets.token_hex(8)
    now = datetime.now(UTC)
    async with writing(cell.engine) as conn:
        staff_id = (
            await conn.execute(
                insert(tables.staff)
                .values(
                    login=f"client:{client_id}",
                    name="matrix client",
                    roles=["agency_agent"],
                    agency_id=agency.id,
                    capacity=0,
                    active=True,
                )
                .returning(s.id)
            )
        ).scalar_one()
        pk = (
            await conn.execute(
                insert(tables.api_clients)
                .values(
                    client_id=client_id,
                    agency_id=agency.id,
                    staff_id=staff_id,
                    name="matrix client",
                    created_at=now,
                    version=1,
                )
                .returning(ac.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(tables.api_client_secrets).values(
                api_client_id=pk,
                secret_digest=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
                created_at=now,
            )
        )
    return Target(agency=agency, login=client_id)


def _client_variables(target: Target) -> dict[str, Any]:
    assert target.login is not None
    return {"input": {"clientId": target.login, "reason": "matrix"}}


def _create_variables(target: Target) -> dict[str, Any]:
    return {"input": {"agencyId": global_id("Agency", target.agency.id), "name": "matrix"}}


async def _state(cell: Cell) -> tuple[Any, ...]:
    """What a refusal leaves alone: every client, secret and service account."""
    async with cell.engine.connect() as conn:
        clients = (await conn.execute(select(tables.api_clients).order_by(ac.id))).all()
        held = (await conn.execute(select(tables.api_client_secrets).order_by(acs.id))).all()
        accounts = (
            await conn.execute(select(func.count()).where(s.login.like("client:%"), s.active))
        ).scalar_one()
    return tuple(clients), tuple(held), accounts


async def _audited(cell: Cell, request_id: str, action: str, client_id: str) -> None:
    [entry] = [x for x in await cell.entries(request_id) if x.action == action]
    assert (entry.actor_login, entry.outcome) == (cell.login, "ALLOWED")
    assert entry.changes["clientId"] == client_id
    assert entry.changes["agencyId"] == cell.target.agency.id


async def check_list(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, {})
    own = cell.role.agency
    stmt = select(ac.client_id).join(tables.agencies, a.id == ac.agency_id)
    if own is not None:
        stmt = stmt.where(a.name == own)
    async with cell.engine.connect() as conn:
        expected = set((await conn.execute(stmt)).scalars().all())
    listed = {edge["node"]["clientId"] for edge in result["edges"]}
    assert listed == expected and result["totalCount"] == len(expected)
    if own is not None:
        assert {edge["node"]["agency"]["name"] for edge in result["edges"]} <= {own}


async def check_create(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result["__typename"] == "CreateApiClientSuccess", result
    client = result["apiClient"]
    assert client["agency"] == {"name": cell.target.agency.name}
    assert client["name"] == "matrix" and client["revokedAt"] is None
    assert client["secrets"] == [{"expiresAt": None}] and result["clientSecret"]
    async with cell.engine.connect() as conn:
        account = (
            await conn.execute(select(s).where(s.login == f"client:{client['clientId']}"))
        ).one()
    assert (account.roles, account.agency_id, account.active) == (
        ["agency_agent"],
        cell.target.agency.id,
        True,
    )
    await _audited(cell, request_id, "api_client.create", client["clientId"])


async def check_rotate(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result["__typename"] == "RotateApiClientSecretSuccess", result
    first, second = result["apiClient"]["secrets"]
    assert first["expiresAt"] is not None and second["expiresAt"] is None
    assert result["clientSecret"]
    await _audited(cell, request_id, "api_client.rotate", cell.target.login or "")


async def check_operations(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result["__typename"] == "SetApiClientOperationsSuccess", result
    digest = operation_digest(ALLOWED_DOCUMENT)
    assert result["apiClient"]["allowedOperations"] == [digest]
    async with cell.engine.connect() as conn:
        kept = (
            await conn.execute(
                select(ac.allowed_operations).where(ac.client_id == cell.target.login)
            )
        ).scalar_one()
    assert kept == [digest]
    await _audited(cell, request_id, "api_client.operations", cell.target.login or "")
    [entry] = [x for x in await cell.entries(request_id) if x.action == "api_client.operations"]
    assert (entry.changes["operations"], entry.changes["digests"]) == (1, [digest])


async def check_revoke(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result["__typename"] == "RevokeApiClientSuccess", result
    assert result["apiClient"]["revokedAt"] is not None
    async with cell.engine.connect() as conn:
        active = (
            await conn.execute(select(s.active).where(s.login == f"client:{cell.target.login}"))
        ).scalar_one()
    assert active is False
    await _audited(cell, request_id, "api_client.revoke", cell.target.login or "")


CLIENT_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="apiClients",
        field="apiClients",
        document=LIST,
        variables=lambda target: {},
        allowed=roles_holding(READ),
        denied=Forbidden(READ),
        check=check_list,
        permission=READ,
    ),
    Operation(
        name="createApiClient",
        field="createApiClient",
        document=CREATE,
        variables=_create_variables,
        allowed=roles_holding(MANAGE),
        denied=Forbidden(MANAGE),
        check=check_create,
        scope="staff",
        outside=Refused("NotFoundError", "AGENCY_NOT_FOUND", "agencyId", "api_client.create"),
        permission=MANAGE,
        fresh=_agency,
        aim=_agency,
        snapshot=_state,
    ),
    Operation(
        name="rotateApiClientSecret",
        field="rotateApiClientSecret",
        document=ROTATE,
        variables=lambda target: {"input": {"clientId": target.login}},
        allowed=roles_holding(MANAGE),
        denied=Forbidden(MANAGE),
        check=check_rotate,
        scope="staff",
        outside=Refused("NotFoundError", "API_CLIENT_NOT_FOUND", "clientId", "api_client.rotate"),
        permission=MANAGE,
        fresh=_client,
        aim=_client,
        snapshot=_state,
    ),
    Operation(
        name="setApiClientOperations",
        field="setApiClientOperations",
        document=OPERATIONS,
        variables=lambda target: {
            "input": {"clientId": target.login, "documents": [ALLOWED_DOCUMENT]}
        },
        allowed=roles_holding(MANAGE),
        denied=Forbidden(MANAGE),
        check=check_operations,
        scope="staff",
        outside=Refused(
            "NotFoundError", "API_CLIENT_NOT_FOUND", "clientId", "api_client.operations"
        ),
        permission=MANAGE,
        fresh=_client,
        aim=_client,
        snapshot=_state,
    ),
    Operation(
        name="revokeApiClient",
        field="revokeApiClient",
        document=REVOKE,
        variables=_client_variables,
        allowed=roles_holding(MANAGE),
        denied=Forbidden(MANAGE),
        check=check_revoke,
        scope="staff",
        outside=Refused("NotFoundError", "API_CLIENT_NOT_FOUND", "clientId", "api_client.revoke"),
        permission=MANAGE,
        fresh=_client,
        aim=_client,
        snapshot=_state,
    ),
)
