"""The ASGI application: Starlette routes, lifespan, authentication and the GraphQL view."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from cross_web import HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from api.audit import RequestAudit, RequestInfo
from api.auth import AuthenticationError, bearer_token, verify_token
from api.context import Context
from api.schema import build_schema
from api.settings import Settings
from authz.enforcer import Authorizer
from domain.clock import Clock, SystemClock
from domain.staff.model import Staff
from store import loaders
from store.db import create_engine, session_factory

log = structlog.get_logger("arrears.http")


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="arrears"'},
    )


class GraphQLApp(GraphQL[Context, None]):
    """Authenticates every operation before anything executes; GraphiQL itself is public."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        super().__init__(
            build_schema(introspection=not settings.is_production),
            graphql_ide=None if settings.is_production else "graphiql",
            subscription_protocols=(),
        )
        self.settings = settings
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self._is_ide_page(request):
            if self.graphql_ide is None:
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            else:
                await (await self.render_graphql_ide(request))(scope, receive, send)
            return
        try:
            viewer = await self._authenticate(request)
        except AuthenticationError as exc:
            log.info("auth.failed", reason=str(exc), client=_client(request))
            await self._audit_failed_login(request, str(exc))
            await _unauthorized(str(exc))(scope, receive, send)
            return
        sessions = request.app.state.sessions
        info = _request_info(request)
        context = Context(
            request=request,
            settings=self.settings,
            sessions=sessions,
            clock=self.clock,
            viewer=viewer,
            authorizer=request.app.state.authorizer,
            audit=RequestAudit(self.settings.audit_key, sessions, self.clock, info, viewer),
        )
        context.audit.enabled = self.settings.audit_reads
        try:
            response = await self.run(request, context=context)
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        finally:
            await context.close()
        try:
            # The request's audit entry is written before anything it read is sent.
            await context.audit.finish(context.audit.outcome)
        except Exception as exc:
            log.error("audit.write_failed", error=type(exc).__name__)
            response = JSONResponse(
                {
                    "errors": [
                        {"message": "Internal server error.", "extensions": {"code": "INTERNAL"}}
                    ]
                },
                status_code=500,
            )
        await response(scope, receive, send)

    async def _audit_failed_login(self, request: Request, reason: str) -> None:
        audit = RequestAudit(
            self.settings.audit_key,
            request.app.state.sessions,
            self.clock,
            _request_info(request),
            actor=None,
        )
        try:
            await audit.write(audit.record("auth.failed", "DENIED", changes={"reason": reason}))
        except Exception as exc:
            log.error("audit.write_failed", error=type(exc).__name__)

    def _is_ide_page(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )

    async def _authenticate(self, request: Request) -> Staff:
        claims = verify_token(self.settings, bearer_token(request.headers.get("authorization")))
        sessions = request.app.state.sessions
        async with sessions() as session:
            staff = await loaders.staff_by_login(session, claims.login)
        if staff is None or not staff.active:
            raise AuthenticationError("unknown or deactivated staff login")
        return staff


def _request_info(request: Request) -> RequestInfo:
    return RequestInfo(
        request_id=request.scope.get("state", {}).get("request_id", ""),
        client_ip=_client(request),
        user_agent=request.headers.get("user-agent"),
    )


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def healthz(_request: Request) -> Response:
    """The process is alive."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers."""
    engine: AsyncEngine = request.app.state.engine
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readyz.failed", error=type(exc).__name__)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


class RequestLog:
    """Logs one line per request with a request id; closes the request's read session."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def create_app(
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """Returns the application; it owns the engine unless one is handed in."""
    settings = settings or Settings()
    settings.signing_key  # noqa: B018 - fail at start-up, not at the first request
    graphql = GraphQLApp(settings, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = engine is None
        app.state.engine = engine or create_engine(settings.database_url)
        app.state.sessions = session_factory(app.state.engine)
        app.state.authorizer = await Authorizer.load(app.state.engine)
        try:
            yield
        finally:
            if own:
                await app.state.engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestLog)
    return app
