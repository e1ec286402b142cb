"""acknowledgeWarning, handleWarning and postExternalSignal: parse input → call the domain
service → map the result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.common.idempotency import UnitsOfWork, exactly_once
from api.common.ids import pk_of
from api.common.inputs import check_text
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.context import Context, Info
from api.permissions import needs
from api.warnings.types import ExternalSignal, ExternalSignalKind, Severity, WarningNode
from domain.borrowers.errors import BorrowerNotFound
from domain.errors import DomainError, IdempotencyKeyReused
from domain.warnings import errors, services
from domain.warnings.model import MAX_NOTE
from store import changes_queries, warnings_queries
from store.audit import AuditAction


@strawberry.input
class AcknowledgeWarningInput:
    warning_id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=None, description="Refused (CONFLICT) unless the warning is at this version."
    )


@strawberry.input
class HandleWarningInput:
    warning_id: strawberry.ID
    note: str | None = strawberry.field(
        default=None, description=f"What was done (at most {MAX_NOTE} characters)."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refused (CONFLICT) unless the warning is at this version."
    )


@strawberry.input(description="Give exactly one of borrowerId and borrowerExternalId.")
class PostExternalSignalInput:
    kind: ExternalSignalKind
    severity: Severity
    details: str = strawberry.field(
        description=f"The partner's summary (at most {services.MAX_DETAILS} characters); kept "
        "with the signal, never logged, audited or shown."
    )
    borrower_id: strawberry.ID | None = None
    borrower_external_id: str | None = strawberry.field(
        default=None, description="The core banking system's key of the borrower."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Any unique string (e.g. a UUID): a retry with the same key and the same "
        "input returns the first result instead of posting again; other input under a used key "
        "is refused (IDEMPOTENCY_KEY_REUSED).",
    )


@strawberry.type
class AcknowledgeWarningSuccess:
    warning: WarningNode


@strawberry.type
class HandleWarningSuccess:
    warning: WarningNode


@strawberry.type
class PostExternalSignalSuccess:
    external_signal: ExternalSignal
    warnings: list[WarningNode] = strawberry.field(
        description="The EXTERNAL_SIGNAL warnings it raised on the borrower's open cases."
    )


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
AcknowledgeWarningPayload = Annotated[
    AcknowledgeWarningSuccess | UserErrors, strawberry.union("AcknowledgeWarningPayload")
]
HandleWarningPayload = Annotated[
    HandleWarningSuccess | UserErrors, strawberry.union("HandleWarningPayload")
]
PostExternalSignalPayload = Annotated[
    PostExternalSignalSuccess | UserErrors, strawberry.union("PostExternalSignalPayload")
]


def _warning_pk(pk: int | None) -> int:
    """The decoded warning id, or the refusal of an id that names no warning."""
    if pk is None:
        raise errors.WarningNotFound("no such warning", field="warningId")
    return pk


async def _signal_success(
    ctx: Context,
    borrower_id: int,
    kind: str,
    severity: str,
    received_at: datetime,
    warning_ids: tuple[int, ...],
) -> PostExternalSignalSuccess:
    found = await ctx.warnings.load_many(list(warning_ids))
    return PostExternalSignalSuccess(
        external_signal=ExternalSignal(
            kind=ExternalSignalKind(kind),
            severity=Severity(severity),
            received_at=received_at,
            _borrower_id=borrower_id,
        ),
        warnings=[WarningNode.from_domain(w) for w in found if w is not None],
    )


async def _replay(
    ctx: Context, key: str, request: services.SignalRequest
) -> PostExternalSignalSuccess | None:
    """Returns what the signal posted with this key answered (None if the key is unused);
    refuses the key if it was used for anything else, this input included."""
    assert ctx.viewer.id is not None
    viewer_id = ctx.viewer.id
    prior = await ctx.read(lambda s: warnings_queries.claimed_signal(s, viewer_id, key))
    if prior is None:
        return None
    operation, signal = prior
    if (
        operation != AuditAction.SIGNAL_POST
        or signal is None
        or signal.request_digest != request.digest()
    ):
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {operation}",
            field="idempotencyKey",
        )
    return await _signal_success(
        ctx,
        signal.borrower_id,
        signal.kind,
        signal.severity,
        signal.received_at,
        signal.warning_ids,
    )


async def post_external_signal(
    info: Info, data: PostExternalSignalInput
) -> PostExternalSignalSuccess | UserErrors:
    """Posts once per idempotency key, also when retries race (the loser answers with the
    winner's result). The details never reach a log, an error or the audit trail."""
    ctx = info.context
    for name, text in (
        ("input.details", data.details),
        ("input.borrowerExternalId", data.borrower_external_id),
        ("input.idempotencyKey", data.idempotency_key),
    ):
        check_text(name, text)
    now = ctx.clock.now()
    borrower_pk = pk_of(data.borrower_id, "Borrower") if data.borrower_id is not None else None
    try:
        if data.borrower_id is not None and borrower_pk is None:
            raise BorrowerNotFound("no such borrower", field="borrowerId")
        request = services.SignalRequest(
            borrower_id=borrower_pk,
            borrower_external_id=data.borrower_external_id,
            kind=data.kind,
            severity=data.severity.value,
            details=data.details,
            actor_id=ctx.viewer.id,
            idempotency_key=data.idempotency_key or None,
        )

        # The early-warning rules in effect now (their EXTERNAL_SIGNAL rule raises the warnings).
        rules = await ctx.read(lambda s: changes_queries.warning_rules_in_effect(s, now))

        async def work(units: UnitsOfWork) -> PostExternalSignalSuccess:
            result = await services.post_external_signal(
                units, ctx.clock, request, at=now, rules=rules
            )
            return await _signal_success(
                ctx,
                result.borrower_id,
                result.kind,
                result.severity,
                result.received_at,
                result.warning_ids,
            )

        return await exactly_once(
            ctx,
            data.idempotency_key,
            AuditAction.SIGNAL_POST,
            lambda key: _replay(ctx, key, request),
            work,
            at=now,
        )
    except DomainError as error:
        return await refused(ctx, AuditAction.SIGNAL_POST, error, "Borrower", borrower_pk)


@strawberry.type
class WarningMutation:
    @strawberry.mutation(
        description="Marks a RAISED warning on a case you can see as seen by you.",
        extensions=needs("warning:handle"),
    )
    async def acknowledge_warning(
        self, info: Info, input: AcknowledgeWarningInput
    ) -> AcknowledgeWarningPayload:
        ctx = info.context
        pk = pk_of(input.warning_id, "Warning")
        await ctx.release()
        try:
            warning = await services.acknowledge(
                ctx.unit_of_work,
                ctx.clock,
                _warning_pk(pk),
                ctx.viewer.id,
                input.expected_version,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.WARNING_ACKNOWLEDGE, error, "Warning", pk)
        return AcknowledgeWarningSuccess(warning=WarningNode.from_domain(warning))

    @strawberry.mutation(
        description="Closes a RAISED or ACKNOWLEDGED warning on a case you can see, with a note "
        "of what was done.",
        extensions=needs("warning:handle"),
    )
    async def handle_warning(self, info: Info, input: HandleWarningInput) -> HandleWarningPayload:
        ctx = info.context
        check_text("input.note", input.note)
        pk = pk_of(input.warning_id, "Warning")
        await ctx.release()
        try:
            warning = await services.handle(
                ctx.unit_of_work,
                ctx.clock,
                _warning_pk(pk),
                ctx.viewer.id,
                input.note,
                input.expected_version,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.WARNING_HANDLE, error, "Warning", pk)
        return HandleWarningSuccess(warning=WarningNode.from_domain(warning))

    @strawberry.mutation(
        description="Takes a partner system's signal about a borrower (the credit bureau, the "
        "lender's risk engine) and raises an EXTERNAL_SIGNAL warning at once on each of the "
        "borrower's open cases.",
        extensions=needs("signal:post"),
    )
    async def post_external_signal(
        self, info: Info, input: PostExternalSignalInput
    ) -> PostExternalSignalPayload:
        return await post_external_signal(info, input)
