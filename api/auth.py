"""Bearer tokens: HS256 JWTs naming a staff login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt

from api.settings import Settings

if TYPE_CHECKING:
    from api.oidc import OidcVerifier

ALGORITHM = "HS256"


class AuthenticationError(Exception):
    """The request carries no usable credentials; the message is safe to return."""


class IdentityProviderUnavailable(Exception):
    """The identity provider's keys cannot be fetched and no cached key fits the token: not the
    caller's fault (HTTP 503). The message is safe to return."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class TokenClaims:
    login: str
    issued_at: datetime
    expires_at: datetime
    # The OAuth client the token was issued to (client credentials), if any.
    client_id: str | None = None


def mint_token(
    settings: Settings,
    login: str,
    ttl_seconds: int | None = None,
    client_id: str | None = None,
) -> str:
    """Returns a signed bearer token for a staff login (or an API client's service login)."""
    now = datetime.now(UTC)
    ttl = settings.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    if ttl <= 0:
        raise ValueError("the token lifetime must be positive")
    claims: dict[str, Any] = {
        "sub": login,
        "iss": settings.token_issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    return jwt.encode(claims, settings.signing_key, algorithm=ALGORITHM)


def verify_token(settings: Settings, token: str) -> TokenClaims:
    """Returns the claims of a valid token, or raises AuthenticationError."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_key,
            algorithms=[ALGORITHM],
            issuer=settings.token_issuer,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("token expired") from None
    except jwt.InvalidTokenError:
        raise AuthenticationError("invalid token") from None
    login = claims["sub"]
    client_id = claims.get("client_id")
    if not isinstance(login, str) or not login or not isinstance(client_id, str | None):
        raise AuthenticationError("invalid token")
    return TokenClaims(
        login=login,
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        client_id=client_id,
    )


class TokenVerifier:
    """The one place a bearer token is checked: the built-in HS256 tokens (``arrears token``,
    API clients' tokens from ``POST /oauth/token``) and, when configured, the company's OpenID
    Connect provider's (asymmetric, keys from its JWKS URL; see api.oidc)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.oidc: OidcVerifier | None = None
        if settings.oidc_enabled:
            from api.oidc import OidcVerifier

            self.oidc = OidcVerifier(settings)

    async def verify(self, token: str) -> TokenClaims:
        """Returns the claims of a valid token, or raises AuthenticationError."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError:
            raise AuthenticationError("invalid token") from None
        if algorithm == ALGORITHM or self.oidc is None:
            return verify_token(self.settings, token)
        return await self.oidc.verify(token)

    async def close(self) -> None:
        if self.oidc is not None:
            await self.oidc.close()


def bearer_token(authorization: str | None) -> str:
    """Returns the token of an ``Authorization: Bearer …`` header, or raises."""
    if not authorization:
        raise AuthenticationError("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("malformed Authorization header: expected 'Bearer <token>'")
    return token.strip()
