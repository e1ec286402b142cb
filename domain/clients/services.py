"""Use cases of API clients: create, rotate a secret, set the allow-list of operations, revoke
(each one unit of work), and the record of a token issued to a client.

Who may (``domain.clients.policy``): an admin any agency's clients, an agency manager only their
own agency's (another agency's client is API_CLIENT_NOT_FOUND, another agency AGENCY_NOT_FOUND,
exactly as ones that do not exist); the operator at the command line any. A secret is shown
once, when it is made; a rotation leaves the old secrets working for the overlap; a revocation
stops the client's secrets and, through its deactivated service account, its tokens at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from domain.cases.errors import AgencyInactive, AgencyNotFound
from domain.clients import errors
from domain.clients.events import (
    ApiClientCreated,
    ApiClientOperationsSet,
    ApiClientRevokedEvent,
    ApiClientSecretRotated,
    ApiClientTokenIssued,
)
from domain.clients.model import (
    MAX_ALLOWED_OPERATIONS,
    MAX_NAME,
    ApiClient,
    ClientSecret,
    digest,
    is_operation_digest,
    new_client_id,
    new_secret,
)
from domain.clients.policy import may_manage
from domain.clients.ports import ApiClientsUnitOfWork
from domain.clock import Clock
from domain.errors import InvalidInput, free_text

MAX_REASON = 500

UowFactory = Callable[[], ApiClientsUnitOfWork]


@dataclass(frozen=True)
class Actor:
    """Who manages clients: a staff member (id, roles, agency), or the operator (roles None)."""

    id: int | None
    roles: Sequence[str] | None
    agency_id: int | None


OPERATOR = Actor(None, None, None)


@dataclass(frozen=True)
class Issued:
    """A client with the secret just made for it (shown once, never stored)."""

    client: ApiClient
    secret: str


async def create_client(
    uow_factory: UowFactory,
    clock: Clock,
    actor: Actor,
    *,
    agency_id: int | None = None,
    agency_name: str | None = None,
    name: str | None = None,
) -> Issued:
    """Creates a client of an agency the actor may manage (AGENCY_NOT_FOUND otherwise, and for
    an inactive one AGENCY_INACTIVE) with its first secret and its service account."""
    label = free_text(name, "name", MAX_NAME)
    async with uow_factory() as uow:
        agency = await uow.api_clients.agency(agency_id, agency_name)
        if (
            agency is None
            or agency.id is None
            or not may_manage(actor.roles, actor.agency_id, agency.id)
        ):
            raise AgencyNotFound("no such agency", field="agencyId")
        if not agency.active:
            raise AgencyInactive(f"the agency {agency.name} is inactive", field="agencyId")
        now = clock.now()
        secret = new_secret()
        client = ApiClient(
            client_id=new_client_id(),
            agency_id=agency.id,
            name=label or f"{agency.name} API client"[:MAX_NAME],
            created_at=now,
            created_by=actor.id,
            secrets=[ClientSecret(digest(secret), now)],
        )
        await uow.api_clients.add(client)
        assert client.id is not None
        uow.record(
            ApiClientCreated(client.id, client.client_id, agency.id, now, actor.id, client.name)
        )
        await uow.commit()
        return Issued(client, secret)


async def _managed(uow: ApiClientsUnitOfWork, actor: Actor, client_id: str) -> ApiClient:
    client = await uow.api_clients.get(client_id)
    if client is None or not may_manage(actor.roles, actor.agency_id, client.agency_id):
        raise errors.ApiClientNotFound("no such API client", field="clientId")
    if client.revoked:
        raise errors.ApiClientRevoked("the API client is revoked", field="clientId")
    return client


async def rotate_secret(
    uow_factory: UowFactory, clock: Clock, actor: Actor, client_id: str, overlap_seconds: int
) -> Issued:
    """Gives a client a new secret; its other secrets keep working ``overlap_seconds`` longer
    (0: they stop at once), or less if they were to expire sooner already."""
    async with uow_factory() as uow:
        client = await _managed(uow, actor, client_id)
        assert client.id is not None
        now = clock.now()
        ends = now + timedelta(seconds=overlap_seconds)
        await uow.api_clients.expire_secrets(client, ends)
        secret = new_secret()
        await uow.api_clients.add_secret(client, ClientSecret(digest(secret), now))
        uow.record(
            ApiClientSecretRotated(
                client.id, client.client_id, client.agency_id, now, actor.id, ends
            )
        )
        await uow.commit()
        return Issued(client, secret)


def check_operation_count(count: int) -> None:
    """Refuses an allow-list of no document (a client that may send nothing is to be revoked)
    or of more than MAX_ALLOWED_OPERATIONS."""
    if count == 0:
        raise InvalidInput(
            "an empty list would let the client send nothing: revoke the client instead, or "
            "send null to allow any operation",
            field="documents",
        )
    if count > MAX_ALLOWED_OPERATIONS:
        raise InvalidInput(
            f"at most {MAX_ALLOWED_OPERATIONS} documents may be allowed, not {count}",
            field="documents",
        )


def allow_list(digests: Sequence[str] | None) -> list[str] | None:
    """Returns the allow-list as kept: the distinct digests, sorted (None: any operation); or
    refuses one that is empty, too long, or holds what is not an operation digest."""
    if digests is None:
        return None
    check_operation_count(len(digests))
    for index, value in enumerate(digests):
        if not is_operation_digest(value):
            raise InvalidInput(
                "not the hex SHA-256 digest of a document", field=f"documents[{index}]"
            )
    return sorted(set(digests))


async def set_allowed_operations(
    uow_factory: UowFactory,
    clock: Clock,
    actor: Actor,
    client_id: str,
    digests: Sequence[str] | None,
) -> ApiClient:
    """Holds a client to the documents with those digests (``operation_digest``), or, with
    None, lets it send any operation again. Who may: as for a rotation."""
    allowed = allow_list(digests)
    async with uow_factory() as uow:
        client = await _managed(uow, actor, client_id)
        assert client.id is not None
        now = clock.now()
        client.allowed_operations = allowed
        await uow.api_clients.set_allowed_operations(client)
        uow.record(
            ApiClientOperationsSet(
                client.id,
                client.client_id,
                client.agency_id,
                now,
                actor.id,
                None if allowed is None else tuple(allowed),
            )
        )
        await uow.commit()
        return client


async def revoke_client(
    uow_factory: UowFactory, clock: Clock, actor: Actor, client_id: str, reason: str | None
) -> ApiClient:
    """Revokes a client: its secrets and the tokens already issued stop working at once."""
    text = free_text(reason, "reason", MAX_REASON)
    async with uow_factory() as uow:
        client = await _managed(uow, actor, client_id)
        assert client.id is not None
        now = clock.now()
        client.revoked_at, client.revoked_by = now, actor.id
        await uow.api_clients.revoke(client)
        uow.record(
            ApiClientRevokedEvent(
                client.id, client.client_id, client.agency_id, now, actor.id, text
            )
        )
        await uow.commit()
        return client


async def token_issued(
    uow_factory: UowFactory, clock: Clock, client: ApiClient, expires_in: int
) -> None:
    """Records that a token was issued to an authenticated client (for the audit trail)."""
    assert client.id is not None
    async with uow_factory() as uow:
        uow.record(
            ApiClientTokenIssued(
                client.id, client.client_id, client.agency_id, clock.now(), None, expires_in
            )
        )
        await uow.commit()
