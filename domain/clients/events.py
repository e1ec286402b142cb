"""Events of API client work, one per change, for the audit trail: the client id and its
agency, never a secret nor its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ApiClientEvent:
    api_client_id: int
    client_id: str
    agency_id: int
    at: datetime
    actor_id: int | None


@dataclass(frozen=True, slots=True)
class ApiClientCreated(ApiClientEvent):
    name: str


@dataclass(frozen=True, slots=True)
class ApiClientSecretRotated(ApiClientEvent):
    old_secrets_expire_at: datetime


@dataclass(frozen=True, slots=True)
class ApiClientRevokedEvent(ApiClientEvent):
    reason: str | None


@dataclass(frozen=True, slots=True)
class ApiClientTokenIssued(ApiClientEvent):
    expires_in: int


@dataclass(frozen=True, slots=True)
class ApiClientOperationsSet(ApiClientEvent):
    """The client's allow-list was set (the digests, sorted) or cleared (None: any operation).
    Digests are not secrets: they name documents, and say nothing of the credentials."""

    digests: tuple[str, ...] | None
