"""The rules of API clients (domain/clients): identifiers and secrets, which secrets work when,
who may manage which agency's clients, and the use cases over an in-memory unit of work."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

import pytest

from domain.agencies.model import Agency
from domain.cases.errors import AgencyInactive, AgencyNotFound
from domain.clients import services
from domain.clients.errors import ApiClientNotFound, ApiClientRevoked
from domain.clients.events import (
    ApiClientCreated,
    ApiClientOperationsSet,
    ApiClientRevokedEvent,
    ApiClientSecretRotated,
)
from domain.clients.model import (
    ApiClient,
    ClientSecret,
    digest,
    may_send,
    new_client_id,
    new_secret,
    operation_digest,
    service_login,
)
from domain.clients.policy import may_manage
from domain.clock import FixedClock
from domain.errors import InvalidInput

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ACME, ZENITH, DORMANT = 1, 2, 3


def test_identifiers_and_secrets() -> None:
    ids = {new_client_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"ac_[A-Za-z0-9]{16}", i) for i in ids)
    secret = new_secret()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert digest(secret) == digest(secret) != secret
    assert len(digest(secret)) == 64
    assert service_login("ac_x") == "client:ac_x"


def test_which_secrets_a_client_accepts() -> None:
    old, new = "old-secret", "new-secret"
    client = ApiClient(
        "ac_1",
        ACME,
        "c",
        NOW,
        secrets=[
            ClientSecret(digest(old), NOW, expires_at=NOW + timedelta(hours=1)),
            ClientSecret(digest(new), NOW),
        ],
    )
    assert client.accepts(old, NOW) and client.accepts(new, NOW)
    assert client.accepts(old, NOW + timedelta(minutes=59, seconds=59))
    assert not client.accepts(old, NOW + timedelta(hours=1))  # the expiry is exclusive
    assert client.accepts(new, NOW + timedelta(days=400))
    assert not client.accepts("other", NOW)
    assert not client.accepts(digest(new), NOW)  # the digest is not a way in
    client.revoked_at = NOW
    assert not client.accepts(new, NOW)


@pytest.mark.parametrize(
    ("roles", "own", "agency", "allowed"),
    [
        (None, None, ACME, True),  # the operator at the command line
        (("admin",), None, ZENITH, True),
        (("agency_manager",), ACME, ACME, True),
        (("agency_manager",), ACME, ZENITH, False),
        (("agency_manager",), None, ACME, False),
        (("agency_agent",), ACME, ACME, False),
        (("manager",), None, ACME, False),
        (("auditor",), None, ACME, False),
    ],
)
def test_who_may_manage(
    roles: tuple[str, ...] | None, own: int | None, agency: int, allowed: bool
) -> None:
    assert may_manage(roles, own, agency) is allowed


# ---- the use cases, over an in-memory unit of work --------------------------------------------


@dataclass
class FakeClients:
    agencies: dict[int, Agency]
    clients: dict[str, ApiClient] = field(default_factory=dict)
    deactivated: set[int] = field(default_factory=set)
    lists_written: list[list[str] | None] = field(default_factory=list)
    _ids: int = 0

    def _next(self) -> int:
        self._ids += 1
        return self._ids

    async def agency(self, agency_id: int | None, name: str | None) -> Agency | None:
        if agency_id is not None:
            return self.agencies.get(agency_id)
        return next((a for a in self.agencies.values() if a.name == name), None)

    async def add(self, client: ApiClient) -> None:
        client.id, client.staff_id = self._next(), self._next()
        for secret in client.secrets:
            secret.id = self._next()
        self.clients[client.client_id] = client

    async def get(self, client_id: str) -> ApiClient | None:
        return self.clients.get(client_id)

    async def add_secret(self, client: ApiClient, secret: ClientSecret) -> None:
        secret.id = self._next()
        client.secrets.append(secret)

    async def expire_secrets(self, client: ApiClient, at: datetime) -> None:
        for secret in client.secrets:
            if secret.expires_at is None or secret.expires_at > at:
                secret.expires_at = at

    async def set_allowed_operations(self, client: ApiClient) -> None:
        self.lists_written.append(client.allowed_operations)

    async def revoke(self, client: ApiClient) -> None:
        assert client.staff_id is not None
        self.deactivated.add(client.staff_id)


@dataclass
class FakeUnitOfWork:
    api_clients: FakeClients
    events: list[Any] = field(default_factory=list)
    pending: list[Any] = field(default_factory=list)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pending.clear()

    def record(self, event: object) -> None:
        self.pending.append(event)

    async def commit(self) -> None:
        self.events += self.pending
        self.pending.clear()


def _world() -> FakeUnitOfWork:
    def agency(pk: int, name: str, active: bool = True) -> Agency:
        return Agency(name, Decimal("0.15"), 60, active=active, id=pk)

    return FakeUnitOfWork(
        FakeClients(
            {
                ACME: agency(ACME, "Acme"),
                ZENITH: agency(ZENITH, "Zenith"),
                DORMANT: agency(DORMANT, "Dormant", active=False),
            }
        )
    )


ACME_MANAGER = services.Actor(7, ("agency_manager",), ACME)
ADMIN = services.Actor(1, ("admin",), None)


async def test_create_rotate_revoke() -> None:
    uow = _world()
    clock = FixedClock(NOW)
    factory: Any = lambda: uow  # noqa: E731 - the fake is its own factory
    issued = await services.create_client(factory, clock, ACME_MANAGER, agency_id=ACME, name=" ")
    client = issued.client
    assert client.name == "Acme API client" and client.created_by == 7
    assert client.accepts(issued.secret, NOW)
    assert uow.events == [ApiClientCreated(client.id, client.client_id, ACME, NOW, 7, client.name)]

    # Rotation: the old secret works for the overlap, the new one from now on.
    later = FixedClock(NOW + timedelta(hours=1))
    rotated = await services.rotate_secret(factory, later, ACME_MANAGER, client.client_id, 600)
    ends = later.now() + timedelta(seconds=600)
    assert client.accepts(issued.secret, ends - timedelta(seconds=1))
    assert not client.accepts(issued.secret, ends)
    assert client.accepts(rotated.secret, ends)
    assert uow.events[-1] == ApiClientSecretRotated(
        client.id, client.client_id, ACME, later.now(), 7, ends
    )
    # A second rotation with a longer overlap never lengthens an expiry already set.
    third = await services.rotate_secret(factory, later, ADMIN, client.client_id, 86400)
    assert [s.expires_at for s in client.secrets] == [ends, later.now() + timedelta(days=1), None]
    assert client.accepts(third.secret, NOW + timedelta(days=30))

    revoked = await services.revoke_client(factory, later, ADMIN, client.client_id, " done ")
    assert revoked.revoked_at == later.now() and revoked.revoked_by == 1
    assert uow.api_clients.deactivated == {client.staff_id}
    assert uow.events[-1] == ApiClientRevokedEvent(
        client.id, client.client_id, ACME, later.now(), 1, "done"
    )
    with pytest.raises(ApiClientRevoked):
        await services.rotate_secret(factory, later, ADMIN, client.client_id, 0)
    with pytest.raises(ApiClientRevoked):
        await services.revoke_client(factory, later, ADMIN, client.client_id, None)


async def test_refusals() -> None:
    uow = _world()
    clock = FixedClock(NOW)
    factory: Any = lambda: uow  # noqa: E731
    with pytest.raises(AgencyNotFound):
        await services.create_client(factory, clock, ACME_MANAGER, agency_id=ZENITH)
    with pytest.raises(AgencyNotFound):
        await services.create_client(factory, clock, services.OPERATOR, agency_name="Nope")
    with pytest.raises(AgencyInactive):
        await services.create_client(factory, clock, ADMIN, agency_id=DORMANT)
    zenith = await services.create_client(
        factory, clock, services.OPERATOR, agency_name="Zenith", name="z"
    )
    assert zenith.client.created_by is None
    # Another agency's client does not exist for an agency manager.
    for attempt in (
        services.rotate_secret(factory, clock, ACME_MANAGER, zenith.client.client_id, 0),
        services.revoke_client(factory, clock, ACME_MANAGER, zenith.client.client_id, None),
        services.rotate_secret(factory, clock, ADMIN, "ac_unknown", 0),
    ):
        with pytest.raises(ApiClientNotFound):
            await attempt
    assert zenith.client.revoked_at is None


def test_the_digest_of_a_document_is_of_its_exact_text() -> None:
    document = "query Who { viewer { login } }"
    assert operation_digest(document) == hashlib.sha256(document.encode("utf-8")).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", operation_digest(document))
    allowed = [operation_digest(document)]
    assert may_send(allowed, document) and may_send(None, "{ anything }")
    for other in (document + " ", document + "\n", " " + document, document.replace(" {", "{")):
        assert not may_send(allowed, other)
    assert not may_send([], document)
    assert operation_digest("{ viewer { name } } # é") != operation_digest(
        "{ viewer { name } } # e"
    )


async def test_allowed_operations_set_and_cleared() -> None:
    uow = _world()
    clock = FixedClock(NOW)
    factory: Any = lambda: uow  # noqa: E731
    client = (await services.create_client(factory, clock, ACME_MANAGER, agency_id=ACME)).client
    b, a = operation_digest("{ b }"), operation_digest("{ a }")
    held = await services.set_allowed_operations(
        factory, clock, ACME_MANAGER, client.client_id, [b, a, b]
    )
    assert held.allowed_operations == sorted([a, b])
    assert uow.api_clients.lists_written == [sorted([a, b])]
    assert uow.events[-1] == ApiClientOperationsSet(
        client.id, client.client_id, ACME, NOW, 7, tuple(sorted([a, b]))
    )
    cleared = await services.set_allowed_operations(factory, clock, ADMIN, client.client_id, None)
    assert cleared.allowed_operations is None
    assert uow.events[-1] == ApiClientOperationsSet(client.id, client.client_id, ACME, NOW, 1, None)

    # Refused: none, too many, not a digest; another agency's client; a revoked one.
    for digests, field_name in (
        ([], "documents"),
        ([operation_digest(f"{{ q{i} }}") for i in range(201)], "documents"),
        ([a, "not-a-digest"], "documents[1]"),
        ([a.upper()], "documents[0]"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await services.set_allowed_operations(factory, clock, ADMIN, client.client_id, digests)
        assert refused.value.field == field_name
    exactly = [operation_digest(f"{{ q{i} }}") for i in range(200)]
    await services.set_allowed_operations(factory, clock, ADMIN, client.client_id, exactly)
    zenith_manager = services.Actor(8, ("agency_manager",), ZENITH)
    with pytest.raises(ApiClientNotFound):
        await services.set_allowed_operations(factory, clock, zenith_manager, client.client_id, [a])
    await services.revoke_client(factory, clock, ADMIN, client.client_id, None)
    with pytest.raises(ApiClientRevoked):
        await services.set_allowed_operations(factory, clock, ADMIN, client.client_id, [a])
    assert len(uow.api_clients.lists_written) == 3
