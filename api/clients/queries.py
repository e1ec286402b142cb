"""The ``apiClients`` connection: the API clients of the agencies the viewer sees (an agency
manager: their own agency's; admins and auditors: all), oldest first."""

from __future__ import annotations

import strawberry

from api.clients.types import ApiClient
from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from store import api_clients
from store.keyset import InvalidCursor


@strawberry.type
class ApiClientQuery:
    @strawberry.field(
        description="API clients of the agencies you see, oldest first (never a secret).",
        extensions=needs("api_client:read"),
    )
    async def api_clients(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ApiClient]:
        ctx = info.context
        limit = page_size(first)
        try:
            position = api_clients.decode_cursor(after) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        scope = ctx.scope.agency
        rows, more = await ctx.read(
            lambda session: api_clients.fetch_page(session, scope, position, limit)
        )
        return connection(
            rows,
            more,
            after=after,
            cursor=api_clients.encode_cursor,
            node=ApiClient.from_domain,
            count=lambda: ctx.read(lambda session: api_clients.count(session, scope)),
        )


async def api_client_node(info: Info, pk: int) -> ApiClient | None:
    """The client with that id as ``node(id:)`` answers it: to api_client:read, in scope."""
    ctx = info.context
    if not ctx.allows("api_client:read"):
        return None
    found = await ctx.read(lambda session: api_clients.by_id(session, pk, ctx.scope.agency))
    return ApiClient.from_domain(found) if found else None
