"""Plain-value builders for the conduct engine's tests."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from domain.conduct.engine import Allowance, ContactRequest, PastContact, PointFacts, RuleCheck
from domain.contacts.model import (
    CHANNEL_KIND,
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointStatus,
)

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"
CASE = 10
OTHER_CASE = 11
POINT = 1
OTHER_POINT = 2
# When a point's owner gave the consent that goes with its consented hours (long before).
CONSENT_GIVEN = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    """An instant given in UTC."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int) -> datetime:
    """An instant given as a zone's wall-clock time (first showing), returned in UTC."""
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]


def point(
    *,
    id: int | None = POINT,
    channel: ContactChannel = ContactChannel.PHONE,
    owner: ContactParty = ContactParty.BORROWER,
    status: ContactPointStatus = ContactPointStatus.VERIFIED,
    zone: str | None = SHANGHAI,
    consent: tuple[time, time] | None = None,
    consented_at: datetime | None = None,
    key: str | None = None,
) -> PointFacts:
    """A point's facts; consented hours come with consent (given at ``CONSENT_GIVEN`` unless
    ``consented_at`` says otherwise), as they only apply while consent is recorded."""
    if consent is not None and consented_at is None:
        consented_at = CONSENT_GIVEN
    return PointFacts(
        id=id,
        kind=CHANNEL_KIND[channel],
        owner=owner,
        status=status,
        time_zone=zone,
        consent_start=consent[0] if consent else None,
        consent_end=consent[1] if consent else None,
        consented_at=consented_at,
        key=key,
    )


def request(
    *,
    channel: ContactChannel = ContactChannel.PHONE,
    party: ContactParty = ContactParty.BORROWER,
    direction: ContactDirection = ContactDirection.OUTBOUND,
    contact_point: PointFacts | None = None,
    no_point: bool = False,
    zones: tuple[str, ...] = (SHANGHAI,),
    case_id: int = CASE,
    borrower_reachable: bool = True,
    staff_count: int = 1,
    extra: tuple[tuple[str, str], ...] = (),
) -> ContactRequest:
    if contact_point is None and not no_point:
        contact_point = point(channel=channel, owner=party)
    return ContactRequest(
        case_id=case_id,
        channel=channel,
        party=party,
        direction=direction,
        point=contact_point,
        person_time_zones=zones,
        borrower_reachable=borrower_reachable,
        staff_count=staff_count,
        extra=extra,
    )


def call(
    at: datetime,
    outcome: ContactOutcome | None = ContactOutcome.NO_ANSWER,
    *,
    point_id: int | None = POINT,
    case_id: int = CASE,
    channel: ContactChannel = ContactChannel.PHONE,
    party: ContactParty = ContactParty.BORROWER,
    direction: ContactDirection = ContactDirection.OUTBOUND,
    blocked: bool = False,
    consented: bool = False,
    agency_id: int | None = None,
    key: str | None = None,
) -> PastContact:
    return PastContact(
        at=at,
        case_id=case_id,
        channel=channel,
        party=party,
        direction=direction,
        contact_point_id=point_id,
        outcome=outcome,
        blocked=blocked,
        consented=consented,
        agency_id=agency_id,
        point_key=key,
    )


def check(allowance: Allowance, rule: str) -> RuleCheck:
    """The check of one rule in an allowance."""
    found = [c for c in allowance.checks if c.rule == rule]
    assert len(found) == 1, f"{rule} checked {len(found)} times"
    return found[0]
