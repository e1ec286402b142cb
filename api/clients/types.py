"""GraphQL types of API clients: what a client is, never a secret nor its digest."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from api.staff.types import Agency, load_agency
from domain.clients.model import ApiClient as DomainApiClient
from domain.clients.model import ClientSecret


@strawberry.type(description="One secret of an API client: its dates only, never the secret.")
class ApiClientSecret:
    created_at: datetime
    expires_at: datetime | None = strawberry.field(
        description="When it stops working: set when a rotation replaced it (the overlap); "
        "null while it is the current secret."
    )

    @classmethod
    def from_domain(cls, secret: ClientSecret) -> ApiClientSecret:
        return cls(created_at=secret.created_at, expires_at=secret.expires_at)


@strawberry.type(
    description="A partner agency's system that exchanges its client credentials for bearer "
    "tokens at POST /oauth/token (OAuth 2.0 client credentials) and then acts as its service "
    "account `client:<clientId>` (role agency_agent of its agency)."
)
class ApiClient(Node):
    client_id: str = strawberry.field(
        description="The OAuth client identifier (not a secret), e.g. ac_…; the user name of "
        "HTTP Basic at the token endpoint."
    )
    name: str
    created_at: datetime
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked: its secrets and tokens stopped working then."
    )
    secrets: list[ApiClientSecret] = strawberry.field(
        description="Its secrets, oldest first (dates only)."
    )
    allowed_operations: list[str] | None = strawberry.field(
        description="The persisted operations the client may send: the hex SHA-256 digests of "
        "the exact text of their documents, sorted (setApiClientOperations). Any other document "
        "is refused with HTTP 403 OPERATION_NOT_ALLOWED. Null: any operation."
    )
    _agency_id: strawberry.Private[int]

    @strawberry.field(description="The agency the client acts for.")
    async def agency(self, info: Info) -> Agency | None:
        return await load_agency(info, self._agency_id)

    @classmethod
    def from_domain(cls, client: DomainApiClient) -> ApiClient:
        assert client.id is not None
        return cls(
            id=strawberry.ID(to_global_id("ApiClient", client.id)),
            client_id=client.client_id,
            name=client.name,
            created_at=client.created_at,
            revoked_at=client.revoked_at,
            secrets=[ApiClientSecret.from_domain(s) for s in client.secrets],
            allowed_operations=(
                None if client.allowed_operations is None else list(client.allowed_operations)
            ),
            _agency_id=client.agency_id,
        )
