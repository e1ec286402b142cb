"""Access tokens of the company's OpenID Connect provider, checked against its JWKS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import structlog

from api.auth import AuthenticationError, IdentityProviderUnavailable, TokenClaims
from api.settings import Settings
from domain.staff.services import LOGIN

log = structlog.get_logger("arrears.oidc")

# Only asymmetric signatures: a shared secret (HS256) or no signature ("none") never passes here.
ALGORITHMS = ("RS256", "ES256")
# Clock skew tolerated between the provider and us for exp, iat and nbf.
LEEWAY_SECONDS = 30
FETCH_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
MAX_JWKS_BYTES = 512 * 1024


class OidcVerifier:
    """Checks RS256/ES256 access tokens with the provider's keys (fetched from its JWKS URL,
    cached, fetched again on an unknown key id), their issuer and audience, and takes the login
    from the configured claim."""

    def __init__(self, settings: Settings, monotonic: Callable[[], float] = time.monotonic) -> None:
        url, issuer, audience = settings.oidc_jwks_url, settings.oidc_issuer, settings.oidc_audience
        if not (url and issuer and audience):
            raise ValueError("OIDC needs its issuer, audience and JWKS URL")
        self.settings = settings
        self._url, self._issuer, self._audience = url, issuer, audience
        # The clock of the cache's ages (seconds, monotonic); a test moves it instead of sleeping.
        self.monotonic = monotonic
        self._client: httpx.AsyncClient | None = None
        # One fetch at a time: requests arriving while it runs wait for it and use its keys.
        self._lock = asyncio.Lock()
        self._keys: list[jwt.PyJWK] = []
        self._fetched_at: float | None = None  # the last fetch that succeeded
        self._attempted_at: float | None = None  # the last fetch, successful or not
        self._failed = False  # whether the last fetch failed
        self._attempts = 0  # counts fetches, so waiters can tell one finished meanwhile

    async def verify(self, token: str) -> TokenClaims:
        """Returns the claims of a valid token, or raises AuthenticationError (a bad token) or
        IdentityProviderUnavailable (no key fits and the provider cannot be asked)."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise AuthenticationError("invalid token") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS or not isinstance(kid, str | None):
            raise AuthenticationError("invalid token")
        # Another issuer's tokens are refused before they can make us fetch keys.
        if unverified.get("iss") != self._issuer:
            raise AuthenticationError("invalid token")
        key = await self._signing_key(kid, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token expired") from None
        except jwt.InvalidTokenError:
            raise AuthenticationError("invalid token") from None
        login = claims.get(self.settings.oidc_login_claim)
        if not isinstance(login, str) or not login:
            raise AuthenticationError("the token names no staff login")
        # Only a person's login: never an API client's service account (client:…) or a job's
        # (system:…), whatever a provider lets its users put in the claim.
        if not LOGIN.fullmatch(login):
            raise AuthenticationError("the token names no staff login")
        try:
            issued_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
            expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise AuthenticationError("invalid token") from None
        return TokenClaims(login=login, issued_at=issued_at, expires_at=expires_at)

    async def close(self) -> None:
        """Closes the HTTP client of the JWKS fetches."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _signing_key(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The cached key the token names; fetched again when the cache is old or the key is
        unknown, at most once per oidc_jwks_min_refetch_seconds."""
        seen = self._attempts
        cache_seconds = self.settings.oidc_jwks_cache_seconds
        if self._fetched_at is None or self._age(self._fetched_at) >= cache_seconds:
            await self._fetch_if_due(seen)
        key = self._find(kid, algorithm)
        if key is None and self._attempts == seen:
            # A new key id after a rotation (unless a fetch finished since this request came);
            # garbage ones cost at most one fetch per window.
            await self._fetch_if_due(seen)
            key = self._find(kid, algorithm)
        if key is not None:
            return key
        if self._failed:
            raise IdentityProviderUnavailable(
                "the identity provider cannot be reached; try again later",
                retry_after=max(1, self.settings.oidc_jwks_min_refetch_seconds),
            )
        raise AuthenticationError("invalid token")

    def _age(self, since: float) -> float:
        return self.monotonic() - since

    def _find(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        usable = [
            key
            for key in self._keys
            if key.algorithm_name == algorithm and key.public_key_use in (None, "sig")
        ]
        if kid is None:
            # Without a key id only a set with a single fitting key says which one is meant.
            return usable[0] if len(usable) == 1 else None
        return next((key for key in usable if key.key_id == kid), None)

    async def _fetch_if_due(self, seen: int) -> None:
        """Fetches the key set unless a fetch finished since ``seen`` or one was tried less
        than oidc_jwks_min_refetch_seconds ago."""
        async with self._lock:
            if self._attempts != seen:
                return  # one finished while this request waited: its keys are new enough
            window = self.settings.oidc_jwks_min_refetch_seconds
            if self._attempted_at is not None and self._age(self._attempted_at) < window:
                return
            self._attempted_at = self.monotonic()
            try:
                keys = await self._fetch()
            except _FetchFailed as failed:
                self._failed = True
                log.warning("oidc.jwks_fetch_failed", reason=str(failed), cached=len(self._keys))
                return
            finally:
                # Counted when the fetch is over, so that a request which came while it ran
                # waits for it and uses its keys instead of fetching again.
                self._attempts += 1
            self._keys, self._failed = keys, False
            self._fetched_at = self._attempted_at
            log.info("oidc.jwks_fetched", keys=len(keys))

    async def _fetch(self) -> list[jwt.PyJWK]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False)
        try:
            response = await self._client.get(self._url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _FetchFailed(type(exc).__name__) from None
        if response.status_code != 200:
            raise _FetchFailed(f"HTTP {response.status_code}")
        if len(response.content) > MAX_JWKS_BYTES:
            raise _FetchFailed("response too large")
        try:
            document = response.json()
        except ValueError:
            raise _FetchFailed("not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise _FetchFailed("not a JWK set")
        if not document["keys"]:
            return []  # the provider withdrew every key: every token is refused
        try:
            return jwt.PyJWKSet.from_dict(document).keys
        except jwt.PyJWKSetError:
            log.warning("oidc.jwks_unusable")
            return []


class _FetchFailed(Exception):
    """The key set could not be fetched; the message (no URL, no body) is safe to log."""
