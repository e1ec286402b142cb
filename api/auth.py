"""Bearer tokens: HS256 JWTs naming a staff login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from api.settings import Settings

ALGORITHM = "HS256"


class AuthenticationError(Exception):
    """The request carries no usable credentials; the message is safe to return."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    login: str
    issued_at: datetime
    expires_at: datetime


def mint_token(settings: Settings, login: str, ttl_seconds: int | None = None) -> str:
    """Returns a signed bearer token for a staff login."""
    now = datetime.now(UTC)
    ttl = settings.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    if ttl <= 0:
        raise ValueError("the token lifetime must be positive")
    claims = {
        "sub": login,
        "iss": settings.token_issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
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
    if not isinstance(login, str) or not login:
        raise AuthenticationError("invalid token")
    return TokenClaims(
        login=login,
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def bearer_token(authorization: str | None) -> str:
    """Returns the token of an ``Authorization: Bearer …`` header, or raises."""
    if not authorization:
        raise AuthenticationError("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("malformed Authorization header: expected 'Bearer <token>'")
    return token.strip()
