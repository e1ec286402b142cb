"""Tokens of the company's OpenID Connect provider: keys from a real JWKS endpoint on loopback
(its key set changed by the tests), checked issuer, audience and times, the login mapped to staff,
and 503 when the provider cannot be asked."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.auth import mint_token
from api.settings import Settings
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.servers import free_port

ISSUER = "https://login.example.test/realms/staff"
AUDIENCE = "arrears-api"
VIEWER = "{ viewer { login } }"


@dataclass
class SigningKey:
    """A private key of the provider and the public JWK it publishes."""

    kid: str
    algorithm: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    jwk: dict[str, Any]

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid}
        )


def rsa_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = f"rsa-{uuid.uuid4().hex[:8]}"
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, "RS256", private, {**jwk, "kid": kid, "use": "sig", "alg": "RS256"})


def ec_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = f"ec-{uuid.uuid4().hex[:8]}"
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, "ES256", private, {**jwk, "kid": kid, "use": "sig", "alg": "ES256"})


@dataclass
class Provider:
    """The JWKS endpoint: serves ``keys`` (or ``status`` when not 200) and counts fetches."""

    url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    status: int = 200
    fetches: int = 0


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches += 1
            body = json.dumps({"keys": [key.jwk for key in provider.keys]}).encode()
            if provider.status != 200:
                body = b'{"error": "unavailable"}'
            self.send_response(provider.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/protocol/openid-connect/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Clock:
    """A monotonic clock the test moves (the key cache's ages), so no test sleeps or races."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def oidc_client(
    engine: AsyncEngine,
    settings: Settings,
    jwks_url: str,
    clock: Clock | None = None,
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app configured for the provider at ``jwks_url``, over HTTP (ASGI transport);
    its key cache ages by ``clock`` when one is given."""
    configured = settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": jwks_url,
            **overrides,
        }
    )
    app = create_app(configured, engine=engine)
    if clock is not None:
        app.state.tokens.oidc.monotonic = clock
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as c:
            yield c


def claims(login: str | None, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 300,
        "preferred_username": login,
    }
    return {key: value for key, value in {**base, **overrides}.items() if value is not None}


async def ask(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )


async def viewer_login(client: httpx.AsyncClient, token: str) -> str:
    response = await ask(client, token)
    assert response.status_code == 200, response.text
    login: str = response.json()["data"]["viewer"]["login"]
    return login


def assert_unauthenticated(response: httpx.Response, message: str = "invalid token") -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]
    }


async def test_rs256_and_es256_tokens_of_the_provider_sign_staff_in(
    engine: AsyncEngine, settings: Settings, provider: Provider
) -> None:
    rsa_signer, ec_signer = rsa_key(), ec_key()
    provider.keys = [rsa_signer, ec_signer]
    async with oidc_client(engine, settings, provider.url) as client:
        assert await viewer_login(client, rsa_signer.sign(claims("admin"))) == "admin"
        assert await viewer_login(client, ec_signer.sign(claims("collector3"))) == "collector3"
        # The built-in tokens keep working beside the provider's.
        assert await viewer_login(client, mint_token(settings, "lead1")) == "lead1"
    assert provider.fetches == 1


async def test_the_login_claim_is_configurable(
    engine: AsyncEngine, settings: Settings, provider: Provider
) -> None:
    signer = rsa_key()
    provider.keys = [signer]
    async with oidc_client(engine, settings, provider.url, oidc_login_claim="upn") as client:
        token = signer.sign(claims("collector3", upn="lead1"))
        assert await viewer_login(client, token) == "lead1"
        response = await ask(client, signer.sign(claims("admin")))
    assert_unauthenticated(response, "the token names no staff login")


async def test_cached_keys_serve_many_requests_with_one_fetch(
    engine: AsyncEngine, settings: Settings, provider: Provider
) -> None:
    signer = ec_key()
    provider.keys = [signer]
    token = signer.sign(claims("admin"))
    async with oidc_client(engine, settings, provider.url, oidc_jwks_min_refetch_seconds=0) as c:
        # Concurrent first requests share the one fetch; later ones use its keys.
        first = await asyncio.gather(*(ask(c, token) for _ in range(10)))
        assert [r.status_code for r in first] == [200] * 10
        for _ in range(5):
            assert await viewer_login(c, token) == "admin"
    assert provider.fetches == 1


async def test_a_new_key_id_is_fetched_at_once_and_the_rotated_out_key_refused(
    engine: AsyncEngine, settings: Settings, provider: Provider
) -> None:
    old, new = rsa_key(), rsa_key()
    provider.keys = [old]
    async with oidc_client(engine, settings, provider.url, oidc_jwks_min_refetch_seconds=0) as c:
        assert await viewer_login(c, old.sign(claims("admin"))) == "admin"
        provider.keys = [new]
        assert await viewer_login(c, new.sign(claims("admin"))) == "admin"
        assert provider.fetches == 2
        # The refetch replaced the cached set: the old key id is unknown now.
        assert_unauthenticated(await ask(c, old.sign(claims("admin"))))
    assert provider.fetches == 3


async def test_a_rotated_out_key_is_refused_once_the_cache_expires(
    engine: AsyncEngine, settings: Settings, provider: Provider
) -> None:
    old, new = ec_key(), ec_key()
    provider.keys = [old, new]
    token = old.sign(claims("admin"))
    clock = Clock()
    async with oidc_client(
        engine,
        settings,
        provider.url,
        clock,
        oidc_jwks_cache_seconds=60,
        oidc_jwks_min_refetch_seconds=0,
    ) as client:
        assert await viewer_login(client, token) == "admin"
        provider.keys = [new]
        clock.now += 59
        assert await viewer_login(client, token) == "admin"  # still cached
        assert provider.fetches == 1
        clock.now += 1
        assert_unauthenticated(await ask(client, token))
        # The expired cache was fetched once; the request did not fetch a second time.
        assert provider.fetches == 2
        assert await viewer_login(client, new.sign(claims("admin"))) == "admin"
    assert provider.fetches == 2


async def test_unknown_key_ids_fetch_at_most_once_per_window(
    engine: AsyncEngine, settings: Settings, provider: Provider
) -> None:
    signer, stranger = rsa_key(), rsa_key()
    provider.keys = [signer]

    def garbage() -> str:
        return stranger.sign(claims("admin"), kid=uuid.uuid4().hex)

    clock = Clock()
    async with oidc_client(
        engine, settings, provider.url, clock, oidc_jwks_min_refetch_seconds=10
    ) as c:
        assert await viewer_login(c, signer.sign(claims("admin"))) == "admin"
        clock.now += 9
        burst = await asyncio.gather(*(ask(c, garbage()) for _ in range(10)))
        assert [r.status_code for r in burst] == [401] * 10
        assert provider.fetches == 1  # the window since the first fetch has not passed
        clock.now += 1
        burst = await asyncio.gather(*(ask(c, garbage()) for _ in range(10)))
        assert [r.status_code for r in burst] == [401] * 10
        assert provider.fetches == 2
        burst = await asyncio.gather(*(ask(c, garbage()) for _ in range(10)))
        assert [r.status_code for r in burst] == [401] * 10
        assert_unauthenticated(burst[0])
    assert provider.fetches == 2


def _forged(signer: SigningKey) -> str:
    """Signed by another key under the provider's key id."""
    impostor = rsa_key()
    return impostor.sign(claims("admin"), kid=signer.kid)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other audience", "invalid token"),
        ("other issuer", "invalid token"),
        ("expired", "token expired"),
        ("issued in the future", "invalid token"),
        ("no exp", "invalid token"),
        ("no iat", "invalid token"),
        ("forged signature", "invalid token"),
        ("HS256 with the issuer's claims", "invalid token"),
        ("alg none", "invalid token"),
        ("unknown login", "unknown or deactivated staff login"),
        ("deactivated login", "unknown or deactivated staff login"),
        ("no login claim", "the token names no staff login"),
        ("an API client's service login", "the token names no staff login"),
        ("a job's login", "the token names no staff login"),
    ],
)
async def test_bad_provider_tokens_get_401(
    engine: AsyncEngine, settings: Settings, provider: Provider, case: str, message: str
) -> None:
    signer = rsa_key()
    provider.keys = [signer]
    now = int(time.time())
    token = {
        "other audience": lambda: signer.sign(claims("admin", aud="another-api")),
        "other issuer": lambda: signer.sign(claims("admin", iss="https://evil.example.test")),
        # Beyond the 30 seconds of leeway for clock skew.
        "expired": lambda: signer.sign(claims("admin", iat=now - 600, exp=now - 60)),
        "issued in the future": lambda: signer.sign(claims("admin", iat=now + 600)),
        "no exp": lambda: signer.sign(claims("admin", exp=None)),
        "no iat": lambda: signer.sign(claims("admin", iat=None)),
        "forged signature": lambda: _forged(signer),
        "HS256 with the issuer's claims": lambda: jwt.encode(
            claims("admin"), TEST_SECRET[::-1], algorithm="HS256", headers={"kid": signer.kid}
        ),
        "alg none": lambda: jwt.encode(
            claims("admin"), key="", algorithm="none", headers={"kid": signer.kid}
        ),
        "unknown login": lambda: signer.sign(claims("nobody")),
        "deactivated login": lambda: signer.sign(claims("collector9")),
        "no login claim": lambda: signer.sign(claims(None)),
        # Refused before any lookup: never the service account of an API client or a job.
        "an API client's service login": lambda: signer.sign(claims("client:ac_0000000000000000")),
        "a job's login": lambda: signer.sign(claims("system:cli")),
    }[case]()
    async with oidc_client(engine, settings, provider.url) as client:
        response = await ask(client, token)
    assert_unauthenticated(response, message)
    assert token not in response.text


async def _assert_provider_unavailable(response: httpx.Response, retry_after: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == retry_after
    assert response.json() == {
        "errors": [
            {
                "message": "the identity provider cannot be reached; try again later",
                "extensions": {"code": "IDENTITY_PROVIDER_UNAVAILABLE"},
            }
        ]
    }


async def test_an_unreachable_provider_without_a_cached_key_gives_503(
    engine: AsyncEngine, settings: Settings
) -> None:
    token = rsa_key().sign(claims("admin"))
    nobody_listens = f"http://127.0.0.1:{free_port()}/certs"
    async with oidc_client(engine, settings, nobody_listens) as client:
        await _assert_provider_unavailable(await ask(client, token), "10")
        # The built-in tokens do not depend on the provider.
        assert await viewer_login(client, mint_token(settings, "admin")) == "admin"


async def test_a_failing_provider_keeps_the_cached_keys_in_use(
    engine: AsyncEngine, settings: Settings, provider: Provider
) -> None:
    signer, newcomer = ec_key(), ec_key()
    provider.keys = [signer]
    async with oidc_client(engine, settings, provider.url, oidc_jwks_min_refetch_seconds=0) as c:
        assert await viewer_login(c, signer.sign(claims("admin"))) == "admin"
        provider.status = 500
        provider.keys = [signer, newcomer]
        # A key id the cache lacks cannot be checked while the provider fails: 503, not 401.
        await _assert_provider_unavailable(await ask(c, newcomer.sign(claims("admin"))), "1")
        assert await viewer_login(c, signer.sign(claims("admin"))) == "admin"
        provider.status = 200
        assert await viewer_login(c, newcomer.sign(claims("admin"))) == "admin"
    assert provider.fetches == 3


@pytest.mark.parametrize(
    "given",
    [
        {"oidc_issuer": ISSUER},
        {"oidc_audience": AUDIENCE},
        {"oidc_jwks_url": "http://127.0.0.1:1/certs"},
        {"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE},
        {"oidc_issuer": ISSUER, "oidc_jwks_url": "http://127.0.0.1:1/certs"},
    ],
)
def test_oidc_settings_are_set_together_or_not_at_all(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, str]
) -> None:
    for name in ("ISSUER", "AUDIENCE", "JWKS_URL"):
        monkeypatch.delenv(f"ARREARS_OIDC_{name}", raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET, env="test", **given)
    assert (
        "ARREARS_OIDC_ISSUER, ARREARS_OIDC_AUDIENCE and ARREARS_OIDC_JWKS_URL are set "
        "together or not at all"
    ) in str(refused.value)
    whole = Settings(
        secret_key=TEST_SECRET,
        audit_secret=TEST_AUDIT_SECRET,
        env="test",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url="http://127.0.0.1:1/certs",
    )
    assert whole.oidc_enabled
