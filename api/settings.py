"""Configuration from ARREARS_* environment variables, shared by the CLI and the server."""

from __future__ import annotations

import sys
from decimal import Decimal
from functools import cached_property

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.reports.goals import Goals, goals_from
from domain.retention.rules import DEFAULT_CLOSED_CASE_DAYS, DEFAULT_CONTACT_DAYS, LenderPeriods
from domain.retention.rules import MIN_DAYS as RETENTION_MIN_DAYS

DEVELOPMENT_KEY = "arrears-development-key-do-not-use-in-production"

# The development warnings this process has said: each is said once per process, however many
# Settings objects, apps and commands it builds.
_said: set[str] = set()


class ConfigurationError(ValueError):
    """The configuration cannot be used."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARREARS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./arrears.db"
    secret_key: str = DEVELOPMENT_KEY
    env: str = "development"
    token_ttl_seconds: int = Field(default=8 * 3600, gt=0)
    token_issuer: str = "arrears"
    log_level: str = "INFO"
    reveal_limit_per_hour: int = Field(default=30, gt=0)
    # Key of the audit chain's HMAC; by default derived from secret_key. Set it apart in
    # production so that rotating the token key leaves the trail verifiable.
    audit_secret: str | None = None
    # Recording of read requests; switched off only to measure its cost (refused in production).
    audit_reads: bool = True
    # How queries execute (api.plans): ``compiled`` plans, graphql-core's ``standard`` executor,
    # or ``compare`` (both, differences kept: the test suite's mode, twice the work).
    execution: str = "compiled"
    # Signed checkpoints of the audit chain heads, kept where the database cannot rewrite them.
    audit_checkpoint_dir: str | None = None
    audit_signing_key_file: str | None = None
    audit_verify_key_file: str | None = None
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses or networks).
    trusted_proxies: str = ""
    # Shared storage for rate and concurrency limits across workers (optional).
    redis_url: str | None = None
    # Prefix of every Redis key this service writes (several deployments may share a Redis).
    redis_key_prefix: str = "arrears"
    # The notice gateway: ``arrears outbox`` POSTs each queued notice there (unset: it prints
    # them, in development only). The secret, when set, signs each request body (HMAC-SHA256).
    notice_webhook_url: str | None = None
    notice_webhook_secret: str | None = None
    # Request limits (security: a request must not be able to stall other users).
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    max_tokens: int = Field(default=5000, gt=0)
    max_operations: int = Field(default=10, gt=0)
    max_directives_per_field: int = Field(default=5, gt=0)
    max_response_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_concurrent_per_caller: int = Field(default=4, gt=0)
    # Requests executing at once in a process (the rest wait); below the connection pool's size.
    max_concurrent_requests: int = Field(default=10, gt=0)
    # Requests without valid credentials allowed per client address and minute.
    unauthenticated_per_minute: int = Field(default=30, gt=0)
    # Failed logins from one address within this window are recorded as one entry with a count.
    failed_login_window_seconds: int = Field(default=60, gt=0)
    # ---- identity from the company's provider (OIDC): all three of issuer, audience and JWKS
    # URL together, or none (built-in HS256 tokens only).
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_login_claim: str = "preferred_username"
    # How long fetched signing keys are used before they are fetched again (an unknown key id
    # fetches at once, at most once per oidc_jwks_min_refetch_seconds).
    oidc_jwks_cache_seconds: int = Field(default=300, gt=0)
    oidc_jwks_min_refetch_seconds: int = Field(default=10, ge=0)
    # ---- API clients of partner agencies (OAuth 2.0 client credentials)
    client_token_ttl_seconds: int = Field(default=900, gt=0)
    # After a rotation the old secret keeps working this long (0: it stops at once).
    client_secret_overlap_seconds: int = Field(default=86400, ge=0)
    # ---- browsers on other origins (comma-separated, exact origins; none by default)
    cors_origins: str = ""
    # ---- metrics and traces: /metrics answers only with this bearer token when set; traces
    # go to the OTLP endpoint when set (needs the ``otel`` extra).
    metrics_token: str | None = None
    otel_endpoint: str | None = None
    # ---- shared limits: ``auto`` keeps them in Redis when ARREARS_REDIS_URL is set, else in the
    # database when more than one worker serves (ARREARS_WORKERS, set by ``arrears serve``),
    # else in the process; ``memory``, ``database`` or ``redis`` choose one.
    limits_storage: str = "auto"
    workers: int = Field(default=1, gt=0)
    # ---- data life cycle (days; see domain.retention)
    # A borrower's personal data is purged once every case of theirs has been closed this long;
    # contact records once their case's last collection activity is this old (US_REG_F cases:
    # never before 3 years, whatever is set here). At least retention.MIN_DAYS each.
    retention_closed_case_days: int = Field(default=DEFAULT_CLOSED_CASE_DAYS, ge=RETENTION_MIN_DAYS)
    retention_contact_days: int = Field(default=DEFAULT_CONTACT_DAYS, ge=RETENTION_MIN_DAYS)
    # ---- faults: a request waits at most this long for a database connection before HTTP 503.
    database_timeout_seconds: float = Field(default=5.0, gt=0)
    # On SIGTERM the requests in flight get this long to finish before they are cancelled.
    shutdown_timeout_seconds: int = Field(default=30, gt=0)
    # The manual's goals that reports judge figures by (unset: the manual's numbers, see
    # domain.reports.goals): fractions, e.g. ARREARS_GOAL_OVERDUE_RATE=0.05.
    goal_overdue_rate: Decimal | None = Field(default=None, gt=0, lt=1)
    goal_resolved_within_30_days: Decimal | None = Field(default=None, gt=0, lt=1)
    goal_cost_vs_loan_book: Decimal | None = Field(default=None, gt=0, lt=1)
    goal_loss_rate: Decimal | None = Field(default=None, gt=0, lt=1)

    @cached_property
    def goals(self) -> Goals:
        """The goals reports judge figures by."""
        return goals_from(
            overdue_rate=self.goal_overdue_rate,
            resolved_within_30_days=self.goal_resolved_within_30_days,
            cost_vs_loan_book=self.goal_cost_vs_loan_book,
            loss_rate=self.goal_loss_rate,
        )

    @property
    def retention(self) -> LenderPeriods:
        """The lender's retention periods (domain.retention)."""
        return LenderPeriods(self.retention_closed_case_days, self.retention_contact_days)

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        if value not in ("development", "production", "test"):
            raise ValueError("ARREARS_ENV must be development, production or test")
        return value

    @model_validator(mode="after")
    def _audit_in_production(self) -> Settings:
        if self.env == "production" and not self.audit_reads:
            raise ValueError("ARREARS_AUDIT_READS cannot be off in production")
        return self

    @model_validator(mode="after")
    def _cors_origins_exact(self) -> Settings:
        # "*" would let any web page a member of staff visits call the API with a token it got
        # hold of; production names the origins of its own front ends.
        if self.env == "production" and "*" in self.cors_origin_list:
            raise ValueError(
                "ARREARS_CORS_ORIGINS may not be * in production: list the exact origins, "
                "e.g. https://arrears.example.com"
            )
        return self

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> Settings:
        # Outside development a forgotten variable must stop the service, not silently fall
        # back to a key printed in the source.
        if self.env == "development":
            return self
        if self.secret_key == DEVELOPMENT_KEY:
            raise ValueError(
                f"ARREARS_SECRET_KEY must be set when ARREARS_ENV={self.env} "
                "(the development key is refused)"
            )
        if self.audit_secret is None:
            raise ValueError(f"ARREARS_AUDIT_SECRET must be set when ARREARS_ENV={self.env}")
        if len(self.secret_key) < 32 or len(self.audit_secret) < 32:
            raise ValueError("ARREARS_SECRET_KEY and ARREARS_AUDIT_SECRET need 32+ characters")
        if self.audit_secret == self.secret_key:
            raise ValueError("ARREARS_AUDIT_SECRET must differ from ARREARS_SECRET_KEY")
        return self

    def development_warnings(self) -> list[str]:
        """Returns what is unsafe about a development configuration (said loudly at start)."""
        warnings = []
        if self.secret_key == DEVELOPMENT_KEY:
            warnings.append(
                "ARREARS_SECRET_KEY is not set: tokens are signed with the development key "
                "printed in the source; anyone can forge them"
            )
        if self.audit_secret is None:
            warnings.append(
                "ARREARS_AUDIT_SECRET is not set: the audit chain's key is derived from the "
                "token key"
            )
        return warnings

    def unsaid_development_warnings(self) -> list[str]:
        """Returns the development warnings this process has not said yet, now counted as said."""
        if self.env != "development":
            return []
        fresh = [warning for warning in self.development_warnings() if warning not in _said]
        _said.update(fresh)
        return fresh

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_jwks_url is not None

    @field_validator("execution")
    @classmethod
    def _known_execution(cls, value: str) -> str:
        if value not in ("compiled", "standard", "compare"):
            raise ValueError("ARREARS_EXECUTION must be compiled, standard or compare")
        return value

    @field_validator("limits_storage")
    @classmethod
    def _known_limits_storage(cls, value: str) -> str:
        if value not in ("auto", "memory", "database", "redis"):
            raise ValueError("ARREARS_LIMITS_STORAGE must be auto, memory, database or redis")
        return value

    @model_validator(mode="after")
    def _oidc_whole(self) -> Settings:
        given = [self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url]
        if any(given) and not all(given):
            raise ValueError(
                "ARREARS_OIDC_ISSUER, ARREARS_OIDC_AUDIENCE and ARREARS_OIDC_JWKS_URL are set "
                "together or not at all"
            )
        if self.limits_storage == "redis" and not self.redis_url:
            raise ValueError("ARREARS_LIMITS_STORAGE=redis needs ARREARS_REDIS_URL")
        return self

    @property
    def shared_limits(self) -> str:
        """Where limits are kept: memory, database or redis (see limits_storage)."""
        if self.limits_storage != "auto":
            return self.limits_storage
        if self.redis_url:
            return "redis"
        return "database" if self.workers > 1 else "memory"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @cached_property
    def signing_key(self) -> str:
        """Returns the HS256 key, refusing the development key outside development.

        It says nothing about the development key: say_development_warnings (the CLI) and the
        app at start-up do, once per process."""
        if self.secret_key == DEVELOPMENT_KEY:
            if self.env != "development":
                raise ConfigurationError(
                    f"ARREARS_SECRET_KEY must be set when ARREARS_ENV={self.env} "
                    "(the development key is refused)"
                )
        elif len(self.secret_key) < 32:
            raise ConfigurationError("ARREARS_SECRET_KEY must be at least 32 characters")
        return self.secret_key

    @cached_property
    def audit_key(self) -> bytes:
        """Returns the HMAC key of the audit chain (derived from the signing key)."""
        from store.audit import audit_key

        return audit_key(self.audit_secret or self.signing_key)


def say_development_warnings(settings: Settings) -> None:
    """Writes to stderr what is unsafe about a development configuration, once per process."""
    for warning in settings.unsaid_development_warnings():
        sys.stderr.write(f"arrears: WARNING: {warning} (ARREARS_ENV=development only)\n")
