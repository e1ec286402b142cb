"""API clients in the database: the repository of a unit of work (clients, their secrets by
digest, their service accounts, their allow-lists of operations), the listing behind
``apiClients`` and ``arrears client list``, the read of a client at the token endpoint, and the
read of a service account's allow-list at the gate.

A listing's rows are in creation order (id); who sees which agency's clients comes in as the
caller's agency scope clause (store never imports authz)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.agencies.model import Agency
from domain.clients.model import SERVICE_ROLE, ApiClient, ClientSecret, service_login
from domain.staff.model import Staff
from store import keyset, tables
from store.uow import SqlUnitOfWork

ac, acs, st = tables.api_clients.c, tables.api_client_secrets.c, tables.staff.c
_LISTING = "api_clients"


def _client(row: Any, secrets: Sequence[ClientSecret]) -> ApiClient:
    return ApiClient(
        id=row.id,
        client_id=row.client_id,
        agency_id=row.agency_id,
        staff_id=row.staff_id,
        name=row.name,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        secrets=list(secrets),
        allowed_operations=_allowed(row.allowed_operations),
    )


def _allowed(value: Any) -> list[str] | None:
    return None if value is None else [str(item) for item in value]


def _secret(row: Any) -> ClientSecret:
    return ClientSecret(
        id=row.id, digest=row.secret_digest, created_at=row.created_at, expires_at=row.expires_at
    )


async def _secrets_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[ClientSecret]]:
    found: dict[int, list[ClientSecret]] = {pk: [] for pk in ids}
    if not ids:
        return found
    stmt = (
        select(tables.api_client_secrets)
        .where(acs.api_client_id.in_(ids))
        .order_by(acs.api_client_id, acs.id)
    )
    for row in (await session.execute(stmt)).all():
        found[row.api_client_id].append(_secret(row))
    return found


class SqlApiClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def agency(self, agency_id: int | None, name: str | None) -> Agency | None:
        a = tables.agencies.c
        clause = a.id == agency_id if agency_id is not None else a.name == name
        return (await self.session.execute(select(Agency).where(clause))).scalar_one_or_none()

    async def add(self, client: ApiClient) -> None:
        staff_id = (
            await self.session.execute(
                insert(tables.staff)
                .values(
                    login=service_login(client.client_id),
                    name=client.name,
                    roles=[SERVICE_ROLE.value],
                    team=None,
                    agency_id=client.agency_id,
                    capacity=0,
                    active=True,
                )
                .returning(st.id)
            )
        ).scalar_one()
        client.staff_id = int(staff_id)
        inserted = (
            await self.session.execute(
                insert(tables.api_clients)
                .values(
                    client_id=client.client_id,
                    agency_id=client.agency_id,
                    staff_id=client.staff_id,
                    name=client.name,
                    created_by=client.created_by,
                    created_at=client.created_at,
                    version=1,
                )
                .returning(ac.id)
            )
        ).scalar_one()
        client.id = int(inserted)
        for secret in client.secrets:
            await self.add_secret(client, secret, append=False)

    async def get(self, client_id: str) -> ApiClient | None:
        stmt = select(tables.api_clients).where(ac.client_id == client_id).with_for_update()
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        return _client(row, (await _secrets_of(self.session, [row.id]))[row.id])

    async def add_secret(
        self, client: ApiClient, secret: ClientSecret, append: bool = True
    ) -> None:
        stmt = insert(tables.api_client_secrets).values(
            api_client_id=client.id,
            secret_digest=secret.digest,
            created_at=secret.created_at,
            expires_at=secret.expires_at,
        )
        secret.id = int((await self.session.execute(stmt.returning(acs.id))).scalar_one())
        if append:
            client.secrets.append(secret)

    async def expire_secrets(self, client: ApiClient, at: datetime) -> None:
        await self.session.execute(
            update(tables.api_client_secrets)
            .where(
                acs.api_client_id == client.id, or_(acs.expires_at.is_(None), acs.expires_at > at)
            )
            .values(expires_at=at)
        )
        for secret in client.secrets:
            if secret.expires_at is None or secret.expires_at > at:
                secret.expires_at = at

    async def set_allowed_operations(self, client: ApiClient) -> None:
        await self.session.execute(
            update(tables.api_clients)
            .where(ac.id == client.id)
            .values(allowed_operations=client.allowed_operations, version=ac.version + 1)
        )

    async def revoke(self, client: ApiClient) -> None:
        await self.session.execute(
            update(tables.api_clients)
            .where(ac.id == client.id)
            .values(
                revoked_at=client.revoked_at, revoked_by=client.revoked_by, version=ac.version + 1
            )
        )
        # The gate refuses a deactivated login: the client's unexpired tokens stop here.
        await self.session.execute(
            update(tables.staff).where(st.id == client.staff_id).values(active=False)
        )


class SqlApiClientUnitOfWork(SqlUnitOfWork):
    """The unit of work of API client work: the shared one, with the clients' repository."""

    api_clients: SqlApiClientRepository

    async def __aenter__(self) -> SqlApiClientUnitOfWork:
        await super().__aenter__()
        self.api_clients = SqlApiClientRepository(self.session)
        return self


# ---- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """A client as the token endpoint checks it, with its service account."""

    client: ApiClient
    service: Staff | None


async def credentials(session: AsyncSession, client_id: str) -> Credentials | None:
    """Returns the client with that id, its secrets and its service account, or None."""
    row = (
        await session.execute(select(tables.api_clients).where(ac.client_id == client_id))
    ).one_or_none()
    if row is None:
        return None
    client = _client(row, (await _secrets_of(session, [row.id]))[row.id])
    service = (
        await session.execute(select(Staff).where(st.id == row.staff_id))
    ).scalar_one_or_none()
    return Credentials(client, service)


async def allowed_operations_of(session: AsyncSession, staff_id: int) -> list[str] | None:
    """Returns the allow-list of the client whose service account is that staff member (the
    digests of the documents it may send), or None: any operation (also for a staff member who
    is no client's service account)."""
    stmt = select(ac.allowed_operations).where(ac.staff_id == staff_id)
    return _allowed((await session.execute(stmt)).scalar_one_or_none())


def visible_clause(agency_scope: ColumnElement[bool] | None) -> ColumnElement[bool]:
    """The clients of the agencies the scope lets through (None: every client)."""
    if agency_scope is None:
        return true()
    return ac.agency_id.in_(select(tables.agencies.c.id).where(agency_scope))


def encode_cursor(client: ApiClient) -> str:
    assert client.id is not None
    return keyset.encode_cursor(_LISTING, client.id)


def decode_cursor(cursor: str) -> keyset.Keyset:
    """Returns the position a cursor of this listing holds, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, _LISTING)
    if position.value is not None:
        raise keyset.InvalidCursor("malformed cursor")
    return position


async def fetch_page(
    session: AsyncSession,
    agency_scope: ColumnElement[bool] | None,
    after: keyset.Keyset | None,
    first: int,
) -> tuple[list[ApiClient], bool]:
    """Returns up to ``first`` clients after the position, oldest first, with their secrets
    (dates only are shown), and whether more follow."""
    clauses = [visible_clause(agency_scope)]
    if after is not None:
        clauses.append(keyset.after_clause(None, False, ac.id, after))
    stmt = select(tables.api_clients).where(*clauses).order_by(ac.id)
    rows, more = await keyset.fetch_page(session, stmt, first, scalars=False)
    secrets = await _secrets_of(session, [row.id for row in rows])
    return [_client(row, secrets[row.id]) for row in rows], more


async def count(session: AsyncSession, agency_scope: ColumnElement[bool] | None) -> int:
    stmt = select(func.count()).select_from(tables.api_clients).where(visible_clause(agency_scope))
    return int((await session.execute(stmt)).scalar_one())


async def every_client(session: AsyncSession) -> list[tuple[ApiClient, str]]:
    """Returns every client with its agency's name, oldest first (``arrears client list``)."""
    a = tables.agencies.c
    stmt = (
        select(tables.api_clients, a.name.label("agency_name"))
        .join(tables.agencies, a.id == ac.agency_id)
        .order_by(ac.id)
    )
    rows = (await session.execute(stmt)).all()
    secrets = await _secrets_of(session, [row.id for row in rows])
    return [(_client(row, secrets[row.id]), row.agency_name) for row in rows]


async def by_id(
    session: AsyncSession, pk: int, agency_scope: ColumnElement[bool] | None
) -> ApiClient | None:
    """Returns the client with that id if the scope lets its agency through, else None."""
    stmt = select(tables.api_clients).where(ac.id == pk, visible_clause(agency_scope))
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    return _client(row, (await _secrets_of(session, [row.id]))[row.id])
