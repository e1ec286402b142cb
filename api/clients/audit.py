"""The audit records of API client work: one per change or token issued, naming the client id
and its agency; never a secret nor its digest (an allow-list's digests of documents, which are
no secrets, are recorded)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from api.audit import RequestAudit
from api.common.ids import to_global_id
from domain.clients.events import (
    ApiClientCreated,
    ApiClientEvent,
    ApiClientOperationsSet,
    ApiClientRevokedEvent,
    ApiClientSecretRotated,
    ApiClientTokenIssued,
)
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]
AuditHook = Callable[[Sequence[Any]], tuple[bytes, list[AuditRecord]]]

_ACTIONS: dict[type[ApiClientEvent], AuditAction] = {
    ApiClientCreated: AuditAction.API_CLIENT_CREATE,
    ApiClientSecretRotated: AuditAction.API_CLIENT_ROTATE,
    ApiClientOperationsSet: AuditAction.API_CLIENT_OPERATIONS,
    ApiClientRevokedEvent: AuditAction.API_CLIENT_REVOKE,
    ApiClientTokenIssued: AuditAction.AUTH_TOKEN_ISSUED,
}


def client_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of an API client event, or None for any other event."""
    if not isinstance(event, ApiClientEvent):
        return None
    changes: dict[str, Any] = {"clientId": event.client_id, "agencyId": event.agency_id}
    reason = None
    if isinstance(event, ApiClientCreated):
        changes["name"] = event.name
    elif isinstance(event, ApiClientSecretRotated):
        changes["oldSecretsExpireAt"] = event.old_secrets_expire_at.isoformat()
    elif isinstance(event, ApiClientOperationsSet):
        # The digests name documents; they are no secret (null: any operation again).
        digests = None if event.digests is None else list(event.digests)
        changes["operations"] = None if digests is None else len(digests)
        changes["digests"] = digests
    elif isinstance(event, ApiClientRevokedEvent):
        reason = event.reason
    elif isinstance(event, ApiClientTokenIssued):
        changes["expiresIn"] = event.expires_in
    return record(
        _ACTIONS[type(event)],
        Outcome.ALLOWED,
        resource_type="ApiClient",
        resource_ids=[to_global_id("ApiClient", event.api_client_id)],
        reason_text=reason,
        changes=changes,
    )


def audit_hook(audit: RequestAudit, actor_login: str | None = None) -> AuditHook:
    """The commit hook of a unit of work of API client work: its events' records, by the
    request's actor (``actor_login``: who acts where no staff member does, e.g. the CLI)."""
    record: Record = partial(audit.record, actor_login=actor_login) if actor_login else audit.record

    def hook(events: Sequence[Any]) -> tuple[bytes, list[AuditRecord]]:
        records = [r for e in events if (r := client_record(record, e)) is not None]
        audit.entries_written += len(records)
        return audit.key, records

    return hook
