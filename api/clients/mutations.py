"""createApiClient, rotateApiClientSecret, setApiClientOperations, revokeApiClient: parse
input → call the clients service → map. A secret appears once, in the success payload that made
it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.clients.audit import audit_hook
from api.clients.documents import digests_of
from api.clients.types import ApiClient
from api.common.ids import pk_of
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    user_error,
)
from api.context import Context, Info
from api.permissions import needs
from domain.cases.errors import AgencyNotFound
from domain.clients import services
from domain.clients.model import MAX_ALLOWED_OPERATIONS, MAX_NAME
from domain.errors import DomainError, InvalidInput
from store.api_clients import SqlApiClientUnitOfWork
from store.audit import AuditAction

SECRET_NOTE = (
    "The client secret: shown this once and never again (only a digest is kept). Send it with "
    "the clientId as HTTP Basic credentials to POST /oauth/token."
)


@strawberry.input
class CreateApiClientInput:
    agency_id: strawberry.ID = strawberry.field(
        description="The agency the client acts for: an agency manager's own only."
    )
    name: str | None = strawberry.field(
        default=None,
        description=f"What the client is (at most {MAX_NAME} characters); default: the "
        "agency's name and 'API client'.",
    )


@strawberry.input
class RotateApiClientSecretInput:
    client_id: str = strawberry.field(description="The client's clientId (ac_…).")


@strawberry.input
class SetApiClientOperationsInput:
    client_id: str = strawberry.field(description="The client's clientId (ac_…).")
    documents: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The GraphQL documents the client may send from now on (at most "
        f"{MAX_ALLOWED_OPERATIONS}), each exactly the text it will send, holding one operation "
        "valid against the schema; only their digests are kept. Null: any operation again. "
        "Required (null, not absent, to clear); an empty list is refused (revoke the client "
        "instead).",
    )


@strawberry.input
class RevokeApiClientInput:
    client_id: str = strawberry.field(description="The client's clientId (ac_…).")
    reason: str | None = strawberry.field(
        default=None,
        description=f"Why (at most {services.MAX_REASON} characters), for the audit trail.",
    )


@strawberry.type
class CreateApiClientSuccess:
    api_client: ApiClient
    client_secret: str = strawberry.field(description=SECRET_NOTE)


@strawberry.type
class RotateApiClientSecretSuccess:
    api_client: ApiClient = strawberry.field(
        description="The client: its older secrets now carry their expiry."
    )
    client_secret: str = strawberry.field(description="The new secret. " + SECRET_NOTE)


@strawberry.type
class SetApiClientOperationsSuccess:
    api_client: ApiClient = strawberry.field(
        description="The client, with its allowedOperations as now kept."
    )


@strawberry.type
class RevokeApiClientSuccess:
    api_client: ApiClient


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
CreateApiClientPayload = Annotated[
    CreateApiClientSuccess | UserErrors, strawberry.union("CreateApiClientPayload")
]
RotateApiClientSecretPayload = Annotated[
    RotateApiClientSecretSuccess | UserErrors, strawberry.union("RotateApiClientSecretPayload")
]
SetApiClientOperationsPayload = Annotated[
    SetApiClientOperationsSuccess | UserErrors, strawberry.union("SetApiClientOperationsPayload")
]
RevokeApiClientPayload = Annotated[
    RevokeApiClientSuccess | UserErrors, strawberry.union("RevokeApiClientPayload")
]


def _actor(ctx: Context) -> services.Actor:
    viewer = ctx.viewer
    return services.Actor(viewer.id, tuple(viewer.roles), viewer.agency_id)


def _unit_of_work(ctx: Context) -> services.UowFactory:
    return lambda: SqlApiClientUnitOfWork(ctx.sessions, audit=audit_hook(ctx.audit))


async def _refused(
    ctx: Context, action: AuditAction, error: DomainError, agency_pk: int | None = None
) -> UserErrors:
    """A refusal audited (naming the agency where one decoded; a client id that names no
    client the caller may manage is the caller's to choose, so it is not recorded)."""
    await ctx.release()
    if agency_pk is not None:
        await ctx.audit.refused(action, error, resource_type="Agency", resource_id=agency_pk)
    else:
        await ctx.audit.refused(action, error, resource_type="ApiClient")
    return user_error(error)


@strawberry.type
class ApiClientMutation:
    @strawberry.mutation(
        description="Creates an API client for an agency (an agency manager: their own agency "
        "only) with its service account and a first secret, shown once.",
        extensions=needs("api_client:manage"),
    )
    async def create_api_client(
        self, info: Info, input: CreateApiClientInput
    ) -> CreateApiClientPayload:
        ctx = info.context
        agency_pk = pk_of(input.agency_id, "Agency")
        try:
            if agency_pk is None:
                raise AgencyNotFound("no such agency", field="agencyId")
            await ctx.release()
            issued = await services.create_client(
                _unit_of_work(ctx), ctx.clock, _actor(ctx), agency_id=agency_pk, name=input.name
            )
        except DomainError as error:
            return await _refused(ctx, AuditAction.API_CLIENT_CREATE, error, agency_pk)
        return CreateApiClientSuccess(
            api_client=ApiClient.from_domain(issued.client), client_secret=issued.secret
        )

    @strawberry.mutation(
        description="Gives an API client a new secret, shown once; its older secrets keep "
        "working for the overlap (ARREARS_CLIENT_SECRET_OVERLAP_SECONDS, a day by default).",
        extensions=needs("api_client:manage"),
    )
    async def rotate_api_client_secret(
        self, info: Info, input: RotateApiClientSecretInput
    ) -> RotateApiClientSecretPayload:
        ctx = info.context
        try:
            await ctx.release()
            issued = await services.rotate_secret(
                _unit_of_work(ctx),
                ctx.clock,
                _actor(ctx),
                input.client_id,
                ctx.settings.client_secret_overlap_seconds,
            )
        except DomainError as error:
            return await _refused(ctx, AuditAction.API_CLIENT_ROTATE, error)
        return RotateApiClientSecretSuccess(
            api_client=ApiClient.from_domain(issued.client), client_secret=issued.secret
        )

    @strawberry.mutation(
        description="Holds an API client to an allow-list of persisted operations: from now on "
        "it may send only these documents, byte for byte (anything else is refused with HTTP "
        "403 OPERATION_NOT_ALLOWED); documents: null lets it send any operation again.",
        extensions=needs("api_client:manage"),
    )
    async def set_api_client_operations(
        self, info: Info, input: SetApiClientOperationsInput
    ) -> SetApiClientOperationsPayload:
        ctx = info.context
        try:
            if input.documents is strawberry.UNSET:
                raise InvalidInput(
                    "documents is required: the documents the client may send, or null to "
                    "allow any operation",
                    field="documents",
                )
            digests = (
                None
                if input.documents is None
                else digests_of(info.schema._schema, ctx.settings, input.documents)
            )
            await ctx.release()
            client = await services.set_allowed_operations(
                _unit_of_work(ctx), ctx.clock, _actor(ctx), input.client_id, digests
            )
        except DomainError as error:
            return await _refused(ctx, AuditAction.API_CLIENT_OPERATIONS, error)
        return SetApiClientOperationsSuccess(api_client=ApiClient.from_domain(client))

    @strawberry.mutation(
        description="Revokes an API client: its secrets and the tokens already issued to it "
        "stop working at once (its service account is deactivated).",
        extensions=needs("api_client:manage"),
    )
    async def revoke_api_client(
        self, info: Info, input: RevokeApiClientInput
    ) -> RevokeApiClientPayload:
        ctx = info.context
        try:
            await ctx.release()
            client = await services.revoke_client(
                _unit_of_work(ctx), ctx.clock, _actor(ctx), input.client_id, input.reason
            )
        except DomainError as error:
            return await _refused(ctx, AuditAction.API_CLIENT_REVOKE, error)
        return RevokeApiClientSuccess(api_client=ApiClient.from_domain(client))
