"""The ASGI application: Starlette routes, lifespan, authentication and the GraphQL view."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from api.audit import RequestAudit, RequestInfo
from api.auth import (
    AuthenticationError,
    IdentityProviderUnavailable,
    TokenVerifier,
    bearer_token,
)
from api.clients.token import token_endpoint
from api.context import Context
from api.errors import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE
from api.evidence.download import Handler, evidence_download
from api.guards import (
    AddressLimiter,
    CallerSlots,
    DatabaseLeases,
    Leases,
    Network,
    RedisLeases,
    RefusalWriter,
    RepeatedRefusals,
    RequestRefused,
    address_key,
    check_post,
    client_address,
    parse_networks,
    read_body,
)
from api.metrics import Metrics, metrics_endpoint, note_refusal
from api.schema import build_schema
from api.settings import Settings
from api.shutdown import Draining
from api.tracing import RequestSpans, tracing_for
from authz.enforcer import Authorizer
from domain.clients.model import SERVICE_LOGIN_PREFIX, may_send
from domain.clock import Clock, SystemClock
from domain.staff.model import Staff
from store import api_clients, loaders
from store.audit import AuditAction, Outcome
from store.db import Commits, Engine, Sessions, create_engine, ping, session_factory, watch_commits
from store.errors import is_unavailable

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
        self.tokens = TokenVerifier(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self._is_ide_page(request):
            if self.graphql_ide is None:
                off = _error_response(404, "NOT_FOUND", "GraphiQL is off in production")
                await off(scope, receive, send)
            else:
                await (await self.render_graphql_ide(request))(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        try:
            response = await self.guarded(request, self._authenticated)
            status = response.status_code
        finally:
            metrics: Metrics = request.app.state.metrics
            metrics.request_done(request, status, time.perf_counter() - started)
        await response(scope, receive, send)

    async def guarded(self, request: Request, handler: Handler) -> Response:
        """The gate of every authenticated route (``/graphql``, evidence packs): the bearer token
        (401, or 429 for an address over its limit; 503 when the identity provider cannot be
        asked for its keys), the caller's share and the process's (429
        ``TOO_MANY_CONCURRENT_REQUESTS``), then the handler with the caller and their address."""
        guards: Guards = request.app.state.guards
        address = client_address(request, guards.trusted)
        try:
            claims = await self.tokens.verify(bearer_token(request.headers.get("authorization")))
        except AuthenticationError as exc:
            return await self._refuse_unauthenticated(request, address, str(exc))
        except IdentityProviderUnavailable as exc:
            # Not a bad token: the caller may retry, and it is not counted as a failed login.
            log.warning("auth.identity_provider_unavailable", status=503)
            return _error_response(
                503, "IDENTITY_PROVIDER_UNAVAILABLE", str(exc), retry_after=exc.retry_after
            )
        # The caller's share is taken before any database work, and the process's before the
        # first connection: neither a flood from one caller nor many callers exhaust the pool.
        slot = await guards.slots.acquire(claims.login)
        if slot is None:
            return await self._refuse_busy(request, address, claims.login, guards)
        try:
            async with guards.running:
                try:
                    viewer = await self._staff(request, claims.login)
                except AuthenticationError as exc:
                    return await self._refuse_unauthenticated(request, address, str(exc))
                return await handler(request, viewer, address)
        except Exception as exc:
            # The database went away under the gate's own reads (the caller's staff record) or
            # under the handler outside GraphQL's execution: a 503 to retry, not a fault.
            if not is_unavailable(exc):
                raise
            return database_unavailable()
        finally:
            await guards.slots.release(slot)

    async def _authenticated(
        self, request: Request, viewer: Staff, address: str | None
    ) -> Response:
        sessions = request.app.state.sessions
        info = _request_info(request, address)
        clock = self.clock
        context = Context(
            request=request,
            settings=self.settings,
            sessions=sessions,
            clock=clock,
            viewer=viewer,
            authorizer=request.app.state.authorizer,
            audit=RequestAudit(self.settings.audit_key, sessions, clock, info, viewer),
        )
        context.audit.enabled = self.settings.audit_reads
        return await self._execute(request, context)

    async def _refuse_busy(
        self, request: Request, address: str | None, login: str, guards: Guards
    ) -> Response:
        """429 for a caller over their share; recorded like failed logins (first at once, the
        rest of the window as one entry with a count), so a flood cannot flood the trail."""
        log.info("request.refused", code="TOO_MANY_CONCURRENT_REQUESTS", status=429)
        note_refusal(request, "TOO_MANY_CONCURRENT_REQUESTS")
        try:
            await guards.busy.failed(
                login,
                "TOO_MANY_CONCURRENT_REQUESTS",
                self.clock.now(),
                rate_limited=True,
                request_id=request.scope.get("state", {}).get("request_id"),
                user_agent=request.headers.get("user-agent"),
                address=address,
            )
        except Exception as exc:
            log.error("audit.write_failed", error=type(exc).__name__)
        return _error_response(
            429,
            "TOO_MANY_CONCURRENT_REQUESTS",
            f"at most {guards.slots.limit} requests of yours may run at once",
            retry_after=1,
        )

    async def _execute(self, request: Request, context: Context) -> Response:
        """Checks the request's shape, runs it, and writes its audit entry before replying."""
        try:
            if request.method != "POST":
                # GraphQL travels in POST bodies only: a query string ends up in proxy and
                # access logs, with whatever values it carries.
                raise RequestRefused(
                    405, "METHOD_NOT_ALLOWED", "send GraphQL requests as POST with a JSON body"
                )
            body = await read_body(request, self.settings.max_body_bytes)
            request_body = check_post(request.headers.get("content-type", ""), body)
            if context.viewer.login.startswith(SERVICE_LOGIN_PREFIX):
                await self._check_allowed(context, request_body["query"])
        except RequestRefused as refused:
            return await self._refuse(context, refused)
        commits = watch_commits()
        try:
            response = await self.run(request, context=context)
        except Exception as exc:
            # The view's own refusals (e.g. an operation name the document does not define)
            # come as its HTTP library's exception, with a status and a reason: refused and
            # audited like any other. Anything else is a fault.
            status, reason = getattr(exc, "status_code", None), getattr(exc, "reason", None)
            if not (isinstance(status, int) and 400 <= status < 500 and isinstance(reason, str)):
                if is_unavailable(exc):
                    return _unavailable_after(commits)
                raise
            return await self._refuse(context, RequestRefused(status, "BAD_REQUEST", reason))
        finally:
            await context.close()
        if request.scope.get("state", {}).get(_UNAVAILABLE):
            # A resolver lost the database (MaskInternalErrors turned it into a
            # DATABASE_UNAVAILABLE error): the whole answer is a 503 the client retries. Its
            # audit entry is tried, but the database is most likely still away.
            context.audit.outcome = Outcome.ERROR
            try:
                await context.audit.finish(context.audit.outcome)
            except Exception as exc:
                log.warning("audit.write_failed", error=type(exc).__name__)
            return _unavailable_after(commits)
        body = getattr(response, "body", b"")
        if len(body) > self.settings.max_response_bytes:
            limit = self.settings.max_response_bytes
            context.audit.outcome = Outcome.DENIED
            note_refusal(request, "RESPONSE_TOO_LARGE")
            response = _error_response(
                200,
                "RESPONSE_TOO_LARGE",
                f"the response of {len(body):,} bytes exceeds the limit of {limit:,} bytes; "
                "ask for fewer items or fields",
                data=True,
            )
        try:
            # The request's audit entry is written before anything it read is sent.
            await context.audit.finish(context.audit.outcome)
        except Exception as exc:
            if is_unavailable(exc):
                log.warning("audit.write_failed", error=type(exc).__name__)
                return _unavailable_after(commits)
            log.error("audit.write_failed", error=type(exc).__name__)
            return _error_response(500, "INTERNAL", "Internal server error.")
        return response

    async def _check_allowed(self, context: Context, query: str) -> None:
        """Refuses (403 OPERATION_NOT_ALLOWED) a document an API client's allow-list does not
        hold, byte for byte (docs/API.md, "Allowed operations"). One small read, and for
        clients' service accounts only: staff requests cost nothing more."""
        staff_id = context.viewer.id
        assert staff_id is not None
        async with context.sessions() as session:
            allowed = await api_clients.allowed_operations_of(session, staff_id)
        if not may_send(allowed, query):
            raise RequestRefused(
                403,
                "OPERATION_NOT_ALLOWED",
                "this API client may send only its registered operations",
            )

    async def _refuse(self, context: Context, refused: RequestRefused) -> Response:
        """Records an authenticated request refused before execution, and answers it."""
        log.info("request.refused", code=refused.code, status=refused.status)
        note_refusal(context.request, refused.code)
        audit = context.audit
        try:
            await audit.write(
                audit.record(
                    AuditAction.REQUEST_REFUSED,
                    Outcome.DENIED,
                    reason_code=refused.code,
                    changes={"status": refused.status},
                )
            )
        except Exception as exc:
            log.error("audit.write_failed", error=type(exc).__name__)
            return _error_response(500, "INTERNAL", "Internal server error.")
        response = _error_response(
            refused.status, refused.code, refused.message, retry_after=refused.retry_after
        )
        if refused.status == 405:
            response.headers["Allow"] = "POST"
        return response

    async def _refuse_unauthenticated(
        self, request: Request, address: str | None, reason: str
    ) -> Response:
        """Counts a failed login against its address: 401, or 429 once over the limit."""
        guards: Guards = request.app.state.guards
        retry_after = await guards.unauthenticated.hit(address)
        log.info("auth.failed", reason=reason, rate_limited=retry_after is not None)
        note_refusal(request, "UNAUTHENTICATED" if retry_after is None else "RATE_LIMITED")
        try:
            await guards.failed_logins.failed(
                address_key(address),
                reason,
                self.clock.now(),
                rate_limited=retry_after is not None,
                request_id=request.scope.get("state", {}).get("request_id"),
                user_agent=request.headers.get("user-agent"),
                address=address,
            )
        except Exception as exc:
            log.error("audit.write_failed", error=type(exc).__name__)
        if retry_after is not None:
            return _error_response(
                429,
                "RATE_LIMITED",
                "too many requests without valid credentials; try again later",
                retry_after=retry_after,
            )
        return _unauthorized(reason)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Notes a result that lost the database, for _execute to answer 503 instead."""
        codes = {(error.extensions or {}).get("code") for error in result.errors or ()}
        if DATABASE_UNAVAILABLE in codes:
            request.scope.setdefault("state", {})[_UNAVAILABLE] = True
        return await super().process_result(request, result)

    def _is_ide_page(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )

    async def _staff(self, request: Request, login: str) -> Staff:
        sessions = request.app.state.sessions
        async with sessions() as session:
            staff = await loaders.staff_by_login(session, login)
        if staff is None or not staff.active:
            raise AuthenticationError("unknown or deactivated staff login")
        return staff


_settled: list[bool] = []


def settle_heap() -> None:
    """Hides what start-up built (modules, the schema, plans' types, the policy) from the
    garbage collector, once per process: a request allocates thousands of short-lived objects,
    and every full collection would otherwise walk that whole long-lived heap again
    (``gc.freeze``, as the Python documentation advises for servers)."""
    if not _settled:
        _settled.append(True)
        gc.collect()
        gc.freeze()


def _request_info(request: Request, address: str | None) -> RequestInfo:
    return RequestInfo(
        request_id=request.scope.get("state", {}).get("request_id", ""),
        client_ip=address,
        user_agent=request.headers.get("user-agent"),
    )


# Set in the request's state when its GraphQL execution lost the database.
_UNAVAILABLE = "database_unavailable"
SAVED_BUT_UNAVAILABLE = (
    "your change was saved, but the database became unavailable before the answer was "
    "complete; read the result again shortly (do not repeat the change)"
)
# Seconds a client is asked to wait after a 503: about what a database restart takes.
UNAVAILABLE_RETRY_AFTER = 2


def _unavailable_after(commits: Commits) -> JSONResponse:
    """The answer to a request that lost the database: 503 (retry it) unless a change of its was
    already saved — then retrying without an idempotency key would make it twice, so the answer
    says it was saved (200, no data: what it read was never audited, so it is not sent)."""
    if commits.count == 0:
        return database_unavailable()
    log.warning("database.unavailable_after_commit", status=200)
    return _error_response(200, DATABASE_UNAVAILABLE, SAVED_BUT_UNAVAILABLE, data=True)


def database_unavailable() -> JSONResponse:
    """HTTP 503 for a request that could not reach the database (refused, lost, restarting,
    no pooled connection in time): the client retries, a mutation with its idempotency key."""
    log.warning("database.unavailable", status=503)
    return _error_response(
        503, DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER
    )


def _error_response(
    status: int, code: str, message: str, retry_after: int | None = None, data: bool = False
) -> JSONResponse:
    body: dict[str, object] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    if data:
        body = {"data": None, **body}
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class Guards:
    """The process's request guards (see api.guards)."""

    trusted: list[Network]
    unauthenticated: AddressLimiter
    slots: CallerSlots
    running: asyncio.Semaphore
    failed_logins: RepeatedRefusals
    busy: RepeatedRefusals


def _leases(settings: Settings, engine: Engine) -> Leases | None:
    """Where the per-caller cap is counted when it must hold across workers (else None)."""
    if settings.shared_limits == "redis":
        assert settings.redis_url is not None
        return RedisLeases(settings.redis_url, settings.redis_key_prefix)
    if settings.shared_limits == "database":
        return DatabaseLeases(engine)
    return None


def _guards(
    settings: Settings, engine: Engine, sessions: Sessions, clock: Clock, leases: Leases | None
) -> Guards:
    def writer(action: AuditAction, actor_key: bool) -> RefusalWriter:
        async def write(
            key: str | None,
            changes: dict[str, object],
            request_id: str | None,
            user_agent: str | None,
            address: str | None,
        ) -> None:
            client = address if actor_key else (address or key)
            info = RequestInfo(request_id or uuid.uuid4().hex, client, user_agent)
            audit = RequestAudit(settings.audit_key, sessions, clock, info, actor=None)
            details: dict[str, object] = {"changes": changes}
            if actor_key:
                details |= {"actor_login": key, "reason_code": "TOO_MANY_CONCURRENT_REQUESTS"}
            await audit.write(audit.record(action, Outcome.DENIED, **details))

        return write

    return Guards(
        trusted=parse_networks(settings.trusted_proxy_list),
        unauthenticated=AddressLimiter(
            settings.unauthenticated_per_minute,
            settings.shared_limits,
            settings.redis_url,
            engine,
            settings.redis_key_prefix,
        ),
        slots=CallerSlots(settings.max_concurrent_per_caller, leases=leases),
        running=asyncio.Semaphore(settings.max_concurrent_requests),
        failed_logins=RepeatedRefusals(
            settings.failed_login_window_seconds, writer(AuditAction.AUTH_FAILED, actor_key=False)
        ),
        busy=RepeatedRefusals(
            settings.failed_login_window_seconds,
            writer(AuditAction.REQUEST_REFUSED, actor_key=True),
        ),
    )


def _warn_development(settings: Settings) -> None:
    """Says loudly, at start, what is unsafe about a development configuration."""
    if settings.env != "development":
        return
    for warning in settings.unsaid_development_warnings():
        sys.stderr.write(f"arrears: WARNING: {warning} (ARREARS_ENV=development only)\n")
        log.warning("insecure_configuration", warning=warning)


async def healthz(_request: Request) -> Response:
    """The process is alive."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers, and the process is not shutting down (503 ``draining`` from the
    moment it was told to stop, so that a load balancer sends nothing new)."""
    draining: Draining = request.app.state.draining
    if draining.started:
        return JSONResponse({"status": "draining"}, status_code=503)
    engine: Engine = request.app.state.engine
    try:
        await ping(engine)
    except Exception as exc:
        log.warning("readyz.failed", error=type(exc).__name__)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
# The request headers a browser on another origin may send (bearer tokens, not cookies).
CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Answers Starlette's own refusals (unknown path, wrong method) in JSON like the rest."""
    assert isinstance(exc, HTTPException)
    response = _error_response(
        exc.status_code, _HTTP_CODES.get(exc.status_code, "BAD_REQUEST"), exc.detail
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


class DatabaseFaults:
    """Answers 503 ``DATABASE_UNAVAILABLE`` for a request whose route raised because the database
    could not be reached (the GraphQL gate answers its own; this covers every other route), as
    long as nothing of the response was sent yet."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started or not is_unavailable(exc):
                raise
            await database_unavailable()(scope, receive, send)


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
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """Returns the application; it owns the engine unless one is handed in."""
    settings = settings or Settings()
    settings.signing_key  # noqa: B018 - fail at start-up, not at the first request
    _warn_development(settings)
    the_clock = clock or SystemClock()
    graphql = GraphQLApp(settings, the_clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = engine is None
        app.state.engine = engine or create_engine(
            settings.database_url, timeout=settings.database_timeout_seconds
        )
        app.state.sessions = session_factory(app.state.engine)
        app.state.authorizer = await Authorizer.load(app.state.engine)
        leases = _leases(settings, app.state.engine)
        app.state.guards = guards = _guards(
            settings, app.state.engine, app.state.sessions, the_clock, leases
        )
        settle_heap()
        flushers = [
            asyncio.create_task(guards.failed_logins.run()),
            asyncio.create_task(guards.busy.run()),
        ]
        draining: Draining = app.state.draining
        draining.install()
        try:
            yield
        finally:
            draining.begin()
            draining.uninstall()
            for task in flushers:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            try:
                await guards.failed_logins.flush(force=True)
                await guards.busy.flush(force=True)
            except Exception as exc:
                log.error("audit.write_failed", error=type(exc).__name__)
            await guards.unauthenticated.close()
            if isinstance(leases, RedisLeases):
                await leases.close()
            await graphql.tokens.close()
            if app.state.tracing is not None:
                app.state.tracing.shutdown()
            if own:
                await app.state.engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(settings), methods=["GET"]),
            # OAuth 2.0 client credentials for partner agencies' API clients (api/clients).
            Route("/oauth/token", token_endpoint(settings, the_clock), methods=["POST"]),
            Route(
                "/evidence-packs/{pack_id:int}",
                evidence_download(settings, the_clock, graphql.guarded),
                methods=["GET"],
            ),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    # Read at scrape time: the engine exists once the lifespan has started.
    app.state.metrics = Metrics(lambda: getattr(app.state, "engine", None))
    app.state.draining = Draining()
    app.state.tokens = graphql.tokens
    app.state.tracing = tracing_for(settings)
    # Innermost: any route (the token endpoint, /metrics, …) that loses the database answers 503.
    app.add_middleware(DatabaseFaults)
    app.add_middleware(RequestSpans)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=CORS_HEADERS,
            expose_headers=["X-Request-Id"],
            max_age=600,
        )
    app.add_middleware(RequestLog)
    return app
