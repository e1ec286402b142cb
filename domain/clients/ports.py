"""Ports of API client work: the repository and the unit of work that holds it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.agencies.model import Agency
from domain.clients.model import ApiClient, ClientSecret
from domain.ports import UnitOfWork


class ApiClientRepository(Protocol):
    async def agency(self, agency_id: int | None, name: str | None) -> Agency | None:
        """Returns the agency with that id (or, with no id, that name), or None."""
        ...

    async def add(self, client: ApiClient) -> None:
        """Adds a new client, its service account and its secrets; gives them their ids."""
        ...

    async def get(self, client_id: str) -> ApiClient | None:
        """Returns the client with its secrets, locked until commit (its changes serialised)."""
        ...

    async def add_secret(self, client: ApiClient, secret: ClientSecret) -> None:
        """Adds a secret to a client and gives it its id."""
        ...

    async def expire_secrets(self, client: ApiClient, at: datetime) -> None:
        """Gives every secret of the client that would outlive ``at`` the expiry ``at``."""
        ...

    async def set_allowed_operations(self, client: ApiClient) -> None:
        """Writes the client's allow-list (``client.allowed_operations``; None: any)."""
        ...

    async def revoke(self, client: ApiClient) -> None:
        """Writes the revocation and deactivates the client's service account."""
        ...


class ApiClientsUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> ApiClientsUnitOfWork: ...

    @property
    def api_clients(self) -> ApiClientRepository: ...
