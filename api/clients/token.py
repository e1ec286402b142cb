"""``POST /oauth/token``: the OAuth 2.0 client credentials grant (RFC 6749 §4.4) for API
clients, by Authlib's authorization server with a small Starlette adaptation.

Authlib is synchronous, so the client (its secret digests and service account) is read before
the server runs; the server then authenticates it (HTTP Basic only), checks the grant and
answers ``{"access_token", "token_type": "Bearer", "expires_in"}`` or an RFC 6749 error. The
access token is our own HS256 bearer token for the client's service login
(``client:<client_id>``), so the gate, scopes, permissions, masking and audit treat the client
as the agency agent it is. Tokens are not stored: a revoked client's are stopped by its
deactivated service account.

A failed client authentication counts against the address's limit of requests without valid
credentials (429 with Retry-After once over it) and is audited like a failed login; an issued
token is audited (``auth.token_issued``, by the client's service account). Never the secret."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import structlog
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.audit import RequestAudit, RequestInfo
from api.auth import mint_token
from api.clients.audit import audit_hook
from api.guards import RequestRefused, address_key, client_address, read_body
from api.settings import Settings
from domain.clients import services
from domain.clients.model import service_login
from domain.clock import Clock
from store import api_clients
from store.api_clients import Credentials, SqlApiClientUnitOfWork

if TYPE_CHECKING:
    from api.app import Guards

log = structlog.get_logger("arrears.oauth")
# Authlib logs the tokens it issues at debug level: never let them reach a log.
logging.getLogger("authlib").setLevel(logging.WARNING)

FORM = "application/x-www-form-urlencoded"
MAX_CLIENT_ID = 64  # the column's width: a longer one names no client
FAILED = "invalid client credentials"
Handler = Callable[[Request], Awaitable[Response]]


class _Client(ClientMixin):
    """A client as Authlib asks about it; an unknown client id is a client that never
    authenticates, so that the answer does not tell which clients exist."""

    def __init__(self, client_id: str, found: Credentials | None, now: datetime) -> None:
        self.client_id = client_id
        self.found = found
        self.now = now

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        found = self.found
        if found is None or found.service is None or not found.service.active:
            return False
        return found.client.accepts(client_secret, self.now)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic" and endpoint == "token"

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _Payload(OAuth2Payload):
    def __init__(self, form: dict[str, str]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return self._form

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {key: [value] for key, value in self._form.items()}


class _Request(OAuth2Request):
    """A Starlette request, its form already read, as Authlib's OAuth2Request."""

    def __init__(self, request: Request, form: dict[str, str]) -> None:
        # TLS ends in front of the service (as for bearer tokens on /graphql); Authlib's own
        # check of the URL's scheme would refuse every request behind the proxy.
        super().__init__(
            request.method, str(request.url.replace(scheme="https")), headers=request.headers
        )
        self.payload = _Payload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Server(AuthorizationServer):
    """Authlib's server for one request: the client read beforehand, tokens minted by us."""

    def __init__(self, client: _Client | None, generate: Callable[..., dict[str, Any]]) -> None:
        super().__init__()
        self.client = client
        self.register_grant(ClientCredentialsGrant)
        self.register_token_generator("default", generate)

    def query_client(self, client_id: str) -> _Client | None:
        return self.client if self.client and self.client.client_id == client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to save: the token is signed and self-contained."""

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals."""


def _answer(status: int, body: dict[str, Any], headers: list[tuple[str, str]]) -> Response:
    kept = {k: v for k, v in headers if k.lower() != "content-type"}
    return JSONResponse(body, status_code=status, headers=kept)


def _invalid_request(description: str) -> Response:
    return _answer(*InvalidRequestError(description)())


async def _form(request: Request, settings: Settings) -> dict[str, str] | Response:
    """The request's form parameters, or the error answer to a body that is not one."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != FORM:
        return _invalid_request(f"send the parameters form-encoded ({FORM})")
    try:
        body = await read_body(request, settings.max_body_bytes)
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except RequestRefused as refused:
        return _answer(refused.status, {"error": "invalid_request"}, [])
    except (UnicodeDecodeError, ValueError):
        return _invalid_request("the body is not a UTF-8 form")
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            return _invalid_request(f"the parameter {key[:40]} is repeated")
        form[key] = value
    if not form.get("grant_type"):
        return _invalid_request("grant_type is required")
    return form


def token_endpoint(settings: Settings, clock: Clock) -> Handler:
    """Returns the handler of ``POST /oauth/token``."""
    ttl = settings.client_token_ttl_seconds

    async def handle(request: Request) -> Response:
        guards: Guards = request.app.state.guards
        address = client_address(request, guards.trusted)
        form = await _form(request, settings)
        if isinstance(form, Response):
            return form
        client_id, _ = extract_basic_authorization(request.headers)
        found = None
        if client_id and len(client_id) <= MAX_CLIENT_ID:
            async with request.app.state.sessions() as session:
                found = await api_clients.credentials(session, client_id)
        client = _Client(client_id, found, clock.now()) if client_id else None

        def generate(grant_type: str, client: _Client, **_: Any) -> dict[str, Any]:
            login = service_login(client.client_id)
            token = mint_token(settings, login, ttl, client_id=client.client_id)
            return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

        try:
            status, body, headers = _Server(client, generate).create_token_response(
                _Request(request, form)
            )
        except OAuth2Error as error:  # raised outside the server's own handling
            status, body, headers = error()
        if status == 200 and found is not None:
            await _issued(request, address, found, clock, settings)
        elif body.get("error") == "invalid_client":
            return await _refuse(request, address, guards, clock, (status, body, headers))
        return _answer(status, body, headers)

    return handle


async def _issued(
    request: Request, address: str | None, found: Credentials, clock: Clock, settings: Settings
) -> None:
    sessions = request.app.state.sessions
    info = _info(request, address)
    audit = RequestAudit(settings.audit_key, sessions, clock, info, found.service)
    await services.token_issued(
        lambda: SqlApiClientUnitOfWork(sessions, audit=audit_hook(audit)),
        clock,
        found.client,
        settings.client_token_ttl_seconds,
    )
    log.info("oauth.token_issued", client_id=found.client.client_id)


async def _refuse(
    request: Request,
    address: str | None,
    guards: Guards,
    clock: Clock,
    answer: tuple[int, dict[str, Any], list[tuple[str, str]]],
) -> Response:
    """A failed client authentication: counted against the address (429 once over its
    limit) and recorded like a failed login (never the credentials)."""
    retry_after = await guards.unauthenticated.hit(address)
    log.info("auth.failed", reason=FAILED, rate_limited=retry_after is not None)
    try:
        await guards.failed_logins.failed(
            address_key(address),
            FAILED,
            clock.now(),
            rate_limited=retry_after is not None,
            request_id=request.scope.get("state", {}).get("request_id"),
            user_agent=request.headers.get("user-agent"),
            address=address,
        )
    except Exception as exc:
        log.error("audit.write_failed", error=type(exc).__name__)
    if retry_after is not None:
        return JSONResponse(
            {
                "error": "invalid_client",
                "error_description": "too many failed client authentications; try again later",
            },
            status_code=429,
            headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
        )
    return _answer(*answer)


def _info(request: Request, address: str | None) -> RequestInfo:
    return RequestInfo(
        request_id=request.scope.get("state", {}).get("request_id", ""),
        client_ip=address,
        user_agent=request.headers.get("user-agent"),
        operation_name="oauth.token",
    )
