"""``arrears client create|rotate|operations|revoke|list``: the operator's work, without the
command line (api/cli.py parses the arguments and prints). The operator acts as ``system:cli``
in the audit trail and may manage any agency's clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from api.audit import RequestAudit, RequestInfo
from api.clients.audit import audit_hook
from api.clients.documents import digests_of
from api.settings import Settings
from domain.cases.errors import AgencyNotFound
from domain.clients import services
from domain.clients.errors import ApiClientNotFound
from domain.clients.model import ApiClient
from domain.clients.services import Issued
from domain.clock import SystemClock
from store import api_clients
from store.api_clients import SqlApiClientUnitOfWork
from store.db import Sessions, create_engine, session_factory
from store.schema_state import require_current_schema

ACTOR = "system:cli"
__all__ = [
    "ACTOR",
    "AgencyNotFound",
    "ApiClient",
    "ApiClientNotFound",
    "Issued",
    "create",
    "every",
    "revoke",
    "rotate",
    "set_operations",
]
T = TypeVar("T")


@asynccontextmanager
async def _sessions(settings: Settings) -> AsyncIterator[Sessions]:
    await require_current_schema(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _change(
    settings: Settings, command: str, work: Callable[[services.UowFactory], Awaitable[T]]
) -> T:
    async with _sessions(settings) as sessions:
        info = RequestInfo(uuid.uuid4().hex, None, None, operation_name=f"arrears client {command}")
        audit = RequestAudit(settings.audit_key, sessions, SystemClock(), info, actor=None)
        hook = audit_hook(audit, actor_login=ACTOR)
        return await work(lambda: SqlApiClientUnitOfWork(sessions, audit=hook))


async def create(settings: Settings, agency: str, name: str | None) -> Issued:
    """Creates a client of the agency with that name; returns it with its first secret."""
    return await _change(
        settings,
        "create",
        lambda uow: services.create_client(
            uow, SystemClock(), services.OPERATOR, agency_name=agency, name=name
        ),
    )


async def rotate(settings: Settings, client_id: str) -> Issued:
    """Gives the client a new secret (the old ones keep working for the overlap)."""
    overlap = settings.client_secret_overlap_seconds
    return await _change(
        settings,
        "rotate",
        lambda uow: services.rotate_secret(
            uow, SystemClock(), services.OPERATOR, client_id, overlap
        ),
    )


async def set_operations(
    settings: Settings, client_id: str, documents: list[str] | None
) -> ApiClient:
    """Holds the client to those documents (each checked against the schema; None: any
    operation again); the client comes back with its allow-list as kept."""
    from api.schema import build_schema

    digests = None
    if documents is not None:
        schema = build_schema(introspection=not settings.is_production)
        digests = digests_of(schema._schema, settings, documents)
    return await _change(
        settings,
        "operations",
        lambda uow: services.set_allowed_operations(
            uow, SystemClock(), services.OPERATOR, client_id, digests
        ),
    )


async def revoke(settings: Settings, client_id: str, reason: str | None) -> ApiClient:
    """Revokes the client: its secrets and tokens stop working at once."""
    return await _change(
        settings,
        "revoke",
        lambda uow: services.revoke_client(
            uow, SystemClock(), services.OPERATOR, client_id, reason
        ),
    )


async def every(settings: Settings) -> list[tuple[ApiClient, str]]:
    """Every client with its agency's name, oldest first."""
    async with _sessions(settings) as sessions, sessions() as session:
        return await api_clients.every_client(session)
