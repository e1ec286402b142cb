"""Configuration from ARREARS_* environment variables, shared by the CLI and the server."""

from __future__ import annotations

import sys
from functools import cached_property

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_KEY = "arrears-development-key-do-not-use-in-production"


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

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @cached_property
    def signing_key(self) -> str:
        """Returns the HS256 key, refusing the development key in production."""
        if self.secret_key == DEVELOPMENT_KEY:
            if self.is_production:
                raise ConfigurationError(
                    "ARREARS_SECRET_KEY must be set in production (the development key is refused)"
                )
            sys.stderr.write(
                "arrears: warning: ARREARS_SECRET_KEY is not set; using the development key "
                "(never do this in production)\n"
            )
        elif len(self.secret_key) < 32:
            raise ConfigurationError("ARREARS_SECRET_KEY must be at least 32 characters")
        return self.secret_key

    @cached_property
    def audit_key(self) -> bytes:
        """Returns the HMAC key of the audit chain (derived from the signing key)."""
        from store.audit import audit_key

        return audit_key(self.audit_secret or self.signing_key)
