"""``GET /evidence-packs/{id}``: a stored evidence pack's zip, for the one who generated it.

Behind the same gate as ``/graphql`` (``GraphQLApp.guarded``: the same bearer token, refused the
same way — 401, or 429 for an address over its limit — and the same per-caller and process-wide
shares, 429 ``TOO_MANY_CONCURRENT_REQUESTS``). The caller must still hold ``evidence:generate``,
the pack must be theirs (its content was cut for their view, clear or masked), its case still in
their scope, generated less than ``DOWNLOAD_FOR`` ago, and a pack with personal data in clear
only while they would still see every such field in clear (``authz.masking``, for their roles
and the borrower's legal stage now). Anything else is 404 ``EVIDENCE_PACK_NOT_FOUND``, as for a
pack that does not exist; the audit entry alone says which it was. Every download, allowed or
refused, is audited (``evidence.download``) before the response is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.audit import RequestAudit, RequestInfo
from api.common.ids import to_global_id
from api.context import Context
from api.evidence.parts import still_clear
from api.settings import Settings
from domain.clock import Clock
from domain.evidence.errors import EvidencePackNotFound
from domain.evidence.pack import DOWNLOAD_FOR
from domain.staff.model import Staff
from store import evidence_queries
from store.audit import AuditAction, Outcome
from store.evidence_queries import StoredPack
from store.keys import is_row_id

PERMISSION = "evidence:generate"
log = structlog.get_logger("arrears.http")

# An authenticated route's work: the request, its caller and their address → the response.
Handler = Callable[[Request, Staff, str | None], Awaitable[Response]]
# The app's gate (``GraphQLApp.guarded``): authenticates, takes the request guards, runs a handler.
Guarded = Callable[[Request, Handler], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


def content_disposition(filename: str) -> str:
    """An attachment header for any file name: an ASCII ``filename`` (anything else, and quotes
    and backslashes, as ``_``) and the exact name as ``filename*`` (RFC 6266, UTF-8)."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def evidence_download(settings: Settings, clock: Clock, guarded: Guarded) -> Endpoint:
    """Returns the download endpoint (a Starlette request → response function)."""

    async def download(request: Request) -> Response:
        return await guarded(request, handle)

    async def handle(request: Request, viewer: Staff, address: str | None) -> Response:
        sessions = request.app.state.sessions
        info = RequestInfo(
            request_id=request.scope.get("state", {}).get("request_id", ""),
            client_ip=address,
            user_agent=request.headers.get("user-agent"),
            operation_name="evidencePackDownload",
            operation_type="download",
        )
        audit = RequestAudit(settings.audit_key, sessions, clock, info, viewer)
        ctx = Context(
            request=request,
            settings=settings,
            sessions=sessions,
            clock=clock,
            viewer=viewer,
            authorizer=request.app.state.authorizer,
            audit=audit,
        )
        raw: int = request.path_params["pack_id"]
        pack_id = raw if is_row_id(raw) else None
        try:
            found = await _find(ctx, viewer, pack_id)
        finally:
            await ctx.close()
        if isinstance(found, str):
            return await _refused(audit, pack_id, found)
        stored = found
        fields = [{"name": n, "clear": c} for n, c in sorted(stored.fields.items())]
        try:
            # Written before the content is sent, as every read's entry is.
            await audit.write(
                audit.record(
                    AuditAction.EVIDENCE_DOWNLOAD,
                    Outcome.ALLOWED,
                    resource_type="EvidencePack",
                    resource_ids=[to_global_id("EvidencePack", stored.id)],
                    case_ids=[stored.case_id],
                    borrower_ids=[stored.borrower_id],
                    fields=fields,
                    changes={"sha256": stored.sha256, "clear": stored.clear},
                )
            )
        except Exception as exc:
            log.error("audit.write_failed", error=type(exc).__name__)
            return _error(500, "INTERNAL", "Internal server error.")
        name = f"evidence-{stored.case_reference}-{stored.id}.zip"
        return Response(
            stored.content,
            media_type="application/zip",
            headers={
                "Content-Disposition": content_disposition(name),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def _find(ctx: Context, viewer: Staff, pack_id: int | None) -> StoredPack | str:
        """The pack to send, or why there is none (for the audit trail only)."""
        if pack_id is None:
            return "NO_SUCH_PACK"  # not an id any row can have
        if not ctx.allows(PERMISSION) or viewer.id is None:
            return "NO_PERMISSION"
        viewer_id = viewer.id
        after = ctx.clock.now() - DOWNLOAD_FOR
        stored = await ctx.read(
            lambda session: evidence_queries.pack_in_scope(
                session, pack_id, ctx.scope.case, generated_by=viewer_id, generated_after=after
            )
        )
        if stored is None:
            return await ctx.read(
                lambda session: evidence_queries.why_not_found(
                    session, pack_id, ctx.scope.case, generated_by=viewer_id, generated_after=after
                )
            )
        if stored.clear:
            # Cut in clear for a view the caller may no longer have: decided again, now.
            legal_stage = await ctx.legal_stage(stored.borrower_id)
            if not still_clear(stored.fields, viewer.roles, legal_stage=legal_stage):
                return "NO_LONGER_CLEAR"
        return stored

    return download


async def _refused(audit: RequestAudit, pack_id: int | None, reason: str) -> Response:
    """The audited 404 of a refused download: the same to the caller whatever the reason."""
    error = EvidencePackNotFound("no such evidence pack")
    try:
        await audit.refused(
            AuditAction.EVIDENCE_DOWNLOAD,
            error,
            resource_type="EvidencePack",
            resource_id=pack_id,
            changes={"reason": reason},
        )
    except Exception as exc:
        log.error("audit.write_failed", error=type(exc).__name__)
        return _error(500, "INTERNAL", "Internal server error.")
    return _error(404, str(error.code), error.message)
