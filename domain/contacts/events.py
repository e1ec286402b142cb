"""Events of contact work; the audit trail records them in the transaction of the change.

They carry ordinary values only: never a contact point's value, never a contact's notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ContactPointAdded:
    borrower_id: int
    contact_point_id: int
    at: datetime
    actor_id: int | None
    kind: str
    owner: str
    status: str
    time_zone: str | None
    consented_hours: str | None = None
    consented_at: datetime | None = None
    consent_evidence: str | None = None  # the reference to the consent's evidence


@dataclass(frozen=True, slots=True)
class ContactPointUpdated:
    borrower_id: int
    contact_point_id: int
    at: datetime
    actor_id: int | None
    changes: dict[str, dict[str, str | None]]  # field → {before, after}
    consent_evidence: str | None = None  # with a consent change, or an opt-out lifted


@dataclass(frozen=True, slots=True)
class ContactStarted:
    """startContact granted an attempt, now in progress."""

    case_id: int
    borrower_id: int
    contact_id: int
    at: datetime
    actor_id: int | None
    channel: str
    party: str
    contact_point_id: int | None
    profile_version: str


@dataclass(frozen=True, slots=True)
class ContactRefused:
    """startContact was refused by a conduct rule; the blocked attempt is recorded."""

    case_id: int
    borrower_id: int
    contact_id: int
    at: datetime
    actor_id: int | None
    channel: str
    party: str
    contact_point_id: int | None
    profile_version: str
    rule: str
    breaches: tuple[str, ...]
    next_allowed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ContactCompleted:
    case_id: int
    borrower_id: int
    contact_id: int
    at: datetime
    actor_id: int | None
    outcome: str
    callback_at: datetime | None
    recorded: bool  # whether a recording reference was given


@dataclass(frozen=True, slots=True)
class ContactLogged:
    """A contact recorded after the fact, with the rules it broke (never refused for them)."""

    case_id: int
    borrower_id: int
    contact_id: int
    at: datetime
    actor_id: int | None
    channel: str
    direction: str
    party: str
    outcome: str
    occurred_at: datetime
    contact_point_id: int | None
    profile_version: str
    breaches: tuple[str, ...] = field(default=())
