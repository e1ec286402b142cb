"""An API client: a partner agency's system that exchanges its client credentials for short
bearer tokens (OAuth 2.0, RFC 6749 §4.4) and then acts as its own service account, a staff
row with the login ``client:<client_id>``, role agency_agent, of the client's agency. The
existing scopes, permissions, masking and audit apply to it unchanged.

Only a digest of each secret is kept: SHA-256 is enough for a random 256-bit secret (nothing
to guess, so no slow password hash is needed), compared in constant time.

A client may be held to an allow-list of persisted operations (as Hasura does in production):
the digests of the GraphQL documents it may send (``operation_digest``); None lets it send
any operation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from domain.staff.model import Role

CLIENT_ID_PREFIX = "ac_"
CLIENT_ID_LENGTH = 16  # random characters after the prefix
SECRET_BYTES = 32
SERVICE_LOGIN_PREFIX = "client:"
SERVICE_ROLE = Role.AGENCY_AGENT
MAX_NAME = 120
MAX_ALLOWED_OPERATIONS = 200  # documents in one client's allow-list
_ALPHABET = string.ascii_letters + string.digits


def new_client_id() -> str:
    """Returns a fresh client identifier: not a secret, URL-safe, e.g. ``ac_4fQz…``."""
    return CLIENT_ID_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(CLIENT_ID_LENGTH))


def new_secret() -> str:
    """Returns a fresh client secret (256 random bits, URL-safe); shown once, never stored."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """Returns the stored digest of a secret (hex SHA-256)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def operation_digest(document: str) -> str:
    """Returns the digest by which an allow-list holds a GraphQL document: the hex SHA-256 of
    its exact UTF-8 text. Nothing is normalised (not blanks, not comments, not the order of
    fields), so a client must send the registered text byte for byte: one space more is
    another document."""
    return hashlib.sha256(document.encode()).hexdigest()


def is_operation_digest(value: str) -> bool:
    """Whether ``value`` is an operation digest as ``operation_digest`` writes it."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def may_send(allowed: Collection[str] | None, document: str) -> bool:
    """Whether an allow-list (None: any operation) holds the document's exact text."""
    return allowed is None or operation_digest(document) in allowed


def service_login(client_id: str) -> str:
    """Returns the login of a client's service account."""
    return SERVICE_LOGIN_PREFIX + client_id


@dataclass(eq=False)
class ClientSecret:
    """One secret of a client, by digest; ``expires_at`` is set when a rotation replaces it."""

    digest: str
    created_at: datetime
    expires_at: datetime | None = None
    id: int | None = None

    def valid_at(self, now: datetime) -> bool:
        """Whether the secret still works at ``now`` (until its expiry, exclusive)."""
        return self.expires_at is None or now < self.expires_at


@dataclass(eq=False)
class ApiClient:
    client_id: str
    agency_id: int
    name: str
    created_at: datetime
    staff_id: int | None = None
    created_by: int | None = None
    revoked_at: datetime | None = None
    revoked_by: int | None = None
    secrets: list[ClientSecret] = field(default_factory=list)
    # Digests of the documents the client may send, sorted; None: any operation.
    allowed_operations: list[str] | None = None
    id: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def accepts(self, secret: str, now: datetime) -> bool:
        """Whether ``secret`` is one of the client's secrets valid at ``now`` (never for a
        revoked client). Every valid digest is compared, in constant time."""
        if self.revoked:
            return False
        offered = digest(secret)
        matched = False
        for held in self.secrets:
            if held.valid_at(now) and hmac.compare_digest(held.digest, offered):
                matched = True
        return matched
