"""Conduct profiles: the rules that say when, how often and whom a collector may contact, as data.

A profile is versioned data with stable rule names (``RuleName``): the engine
(``domain.conduct.engine``) reads the rules and their parameters, and every check it answers
names its rule. ``CN`` follows the Chinese industry guidelines (CBA 2026, NIFA 2024), ``US_REG_F``
models Regulation F's call-frequency and inconvenient-time rules (12 CFR 1006.6, 1006.14).
A new version of a profile is a new value here (or, later, a stored version); the rule names stay.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from types import MappingProxyType
from typing import ClassVar, TypeAlias

from domain.contacts.model import ContactChannel


class RuleName(enum.StrEnum):
    """The stable names of conduct rules (part of the public contract: clients switch on them)."""

    QUIET_HOURS = "QUIET_HOURS"
    DAILY_ATTEMPTS = "DAILY_ATTEMPTS"
    CONNECTED_CALLS_PER_DAY = "CONNECTED_CALLS_PER_DAY"
    WEEKLY_CALLS = "WEEKLY_CALLS"
    AFTER_CONVERSATION = "AFTER_CONVERSATION"
    THIRD_PARTY = "THIRD_PARTY"
    FIELD_VISIT_TWO_STAFF = "FIELD_VISIT_TWO_STAFF"
    CONTACT_POINT_INVALID = "CONTACT_POINT_INVALID"
    OPTED_OUT = "OPTED_OUT"
    # Cease conditions that callers pass to the engine as ``extra`` (later issues).
    OPEN_COMPLAINT = "OPEN_COMPLAINT"
    OPEN_DISPUTE = "OPEN_DISPUTE"
    CEASE_COMMUNICATION = "CEASE_COMMUNICATION"


def flag_rule(kind: str) -> str:
    """Returns the rule name of a borrower flag that stops contact (``FLAG_DECEASED``)."""
    return f"FLAG_{kind.upper()}"


# The channels that reach a person at a moment of the day (the quiet hours cover them).
TIMED_CHANNELS = frozenset(
    {
        ContactChannel.PHONE,
        ContactChannel.AUTOMATED_CALL,
        ContactChannel.SMS,
        ContactChannel.FIELD_VISIT,
    }
)


def hhmm(value: time) -> str:
    """A time of day as HH:MM."""
    return value.strftime("%H:%M")


@dataclass(frozen=True)
class QuietHours:
    """Contact only between ``allowed_from`` (inclusive) and ``allowed_until`` (exclusive), local
    time, in every time zone known for the person; hours the person consented to replace them."""

    allowed_from: time
    allowed_until: time
    channels: frozenset[ContactChannel]
    # Assumed when no time zone is known for the person or the point: every zone they could be in.
    fallback_time_zones: tuple[str, ...]
    explanation: str
    name: ClassVar[str] = RuleName.QUIET_HOURS

    def parameters(self) -> dict[str, str]:
        return {
            "allowedFrom": hhmm(self.allowed_from),
            "allowedUntil": hhmm(self.allowed_until),
            "channels": ",".join(sorted(self.channels)),
            "fallbackTimeZones": ",".join(self.fallback_time_zones),
        }


@dataclass(frozen=True)
class DailyAttempts:
    """At most ``limit`` unanswered outbound call attempts per contact point per local day."""

    limit: int
    consent_lifts: bool
    explanation: str
    name: ClassVar[str] = RuleName.DAILY_ATTEMPTS

    def parameters(self) -> dict[str, str]:
        return {"limit": str(self.limit), "consentLifts": str(self.consent_lifts).lower()}


@dataclass(frozen=True)
class ConnectedCallsPerDay:
    """At most ``limit`` connected outbound voice calls per person per local day, every caller
    (lender and agencies) and every number together."""

    limit: int
    explanation: str
    name: ClassVar[str] = RuleName.CONNECTED_CALLS_PER_DAY

    def parameters(self) -> dict[str, str]:
        return {"limit": str(self.limit)}


@dataclass(frozen=True)
class WeeklyCalls:
    """At most ``limit`` calls to a person about a case within any ``window``."""

    limit: int
    window: timedelta
    explanation: str
    name: ClassVar[str] = RuleName.WEEKLY_CALLS

    def parameters(self) -> dict[str, str]:
        return {"limit": str(self.limit), "windowDays": str(self.window.days)}


@dataclass(frozen=True)
class AfterConversation:
    """No call to a person about a case within ``wait`` after a telephone conversation about it."""

    wait: timedelta
    explanation: str
    name: ClassVar[str] = RuleName.AFTER_CONVERSATION

    def parameters(self) -> dict[str, str]:
        return {"waitDays": str(self.wait.days)}


@dataclass(frozen=True)
class ThirdParty:
    """An unrelated third party only when the borrower cannot be reached, never after a refusal."""

    failed_attempts: int
    explanation: str
    name: ClassVar[str] = RuleName.THIRD_PARTY

    def parameters(self) -> dict[str, str]:
        return {"failedAttempts": str(self.failed_attempts)}


@dataclass(frozen=True)
class FieldVisitTwoStaff:
    """A field visit needs at least ``min_staff`` collectors."""

    min_staff: int
    explanation: str
    name: ClassVar[str] = RuleName.FIELD_VISIT_TWO_STAFF

    def parameters(self) -> dict[str, str]:
        return {"minStaff": str(self.min_staff)}


@dataclass(frozen=True)
class ContactPointInvalid:
    """Outbound contact needs a usable contact point of the channel's kind."""

    explanation: str
    name: ClassVar[str] = RuleName.CONTACT_POINT_INVALID

    def parameters(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class OptedOut:
    """No contact through a point its owner opted out of."""

    explanation: str
    name: ClassVar[str] = RuleName.OPTED_OUT

    def parameters(self) -> dict[str, str]:
        return {}


ConductRule: TypeAlias = (
    QuietHours
    | DailyAttempts
    | ConnectedCallsPerDay
    | WeeklyCalls
    | AfterConversation
    | ThirdParty
    | FieldVisitTwoStaff
    | ContactPointInvalid
    | OptedOut
)


@dataclass(frozen=True)
class ConductProfile:
    """A named, versioned set of conduct rules, in the order the engine reports them.

    Rules that refuse for good (an invalid or opted-out point, a third party, a field visit's
    staff) come first, the rules of time and counts after them."""

    name: str
    version: str
    description: str
    # The zone whose calendar a daily count uses when none is known for the person or the point.
    default_time_zone: str
    rules: tuple[ConductRule, ...]

    def __post_init__(self) -> None:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"profile {self.name} lists a rule twice")

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)

    def rule(self, name: str) -> ConductRule | None:
        """Returns the profile's rule of that name, or None when the profile has none."""
        return next((r for r in self.rules if r.name == name), None)


_CONTACT_POINT_INVALID = ContactPointInvalid(
    explanation="Outbound contact needs a contact point of the channel's kind that is not invalid."
)
_OPTED_OUT = OptedOut(explanation="No contact through a contact point its owner opted out of.")
_THIRD_PARTY = ThirdParty(
    failed_attempts=3,
    explanation=(
        "An unrelated third party may be contacted only when the borrower cannot be reached "
        "(no usable number, or 3 failed attempts in a row), and never again once they refused."
    ),
)

CN = ConductProfile(
    name="CN",
    version="CN-2026.1",
    description=(
        "China: CBA personal consumer-loan collection guideline (2026), national standard on "
        "collection services (2025), NIFA post-loan guideline (2024)."
    ),
    default_time_zone="Asia/Shanghai",
    rules=(
        _CONTACT_POINT_INVALID,
        _OPTED_OUT,
        _THIRD_PARTY,
        FieldVisitTwoStaff(
            min_staff=2, explanation="A field visit is made by at least two collectors."
        ),
        QuietHours(
            allowed_from=time(8, 0),
            allowed_until=time(22, 0),
            channels=TIMED_CHANNELS,
            fallback_time_zones=("Asia/Shanghai",),
            explanation=(
                "No calls, messages or visits 22:00-08:00 local time of the person, unless they "
                "agreed other hours."
            ),
        ),
        DailyAttempts(
            limit=6,
            consent_lifts=True,
            explanation=(
                "At most 6 unanswered call attempts per number per local day, unless the person "
                "consented to more."
            ),
        ),
        ConnectedCallsPerDay(
            limit=3,
            explanation=(
                "At most 3 connected outbound calls per person per local day, human and automated, "
                "lender and agencies together."
            ),
        ),
    ),
)

US_REG_F = ConductProfile(
    name="US_REG_F",
    version="US_REG_F-2021.1",
    description="United States: Regulation F (12 CFR 1006), sections 1006.6 and 1006.14.",
    default_time_zone="America/New_York",
    rules=(
        _CONTACT_POINT_INVALID,
        _OPTED_OUT,
        _THIRD_PARTY,
        QuietHours(
            allowed_from=time(8, 0),
            allowed_until=time(21, 0),
            channels=TIMED_CHANNELS,
            fallback_time_zones=(
                "America/New_York",
                "America/Chicago",
                "America/Denver",
                "America/Los_Angeles",
            ),
            explanation=(
                "No contact before 08:00 or from 21:00 local time at any location known for the "
                "person."
            ),
        ),
        WeeklyCalls(
            limit=7,
            window=timedelta(days=7),
            explanation=(
                "No more than 7 calls to a person about a debt within 7 days (calls that never "
                "connect and calls consented to in the last 7 days do not count)."
            ),
        ),
        AfterConversation(
            wait=timedelta(days=7),
            explanation=(
                "No call to a person about a debt within 7 days after a telephone conversation "
                "about it, whoever called."
            ),
        ),
    ),
)

DEFAULT_PROFILE = "CN"

PROFILES: Mapping[str, ConductProfile] = MappingProxyType({CN.name: CN, US_REG_F.name: US_REG_F})


class UnknownProfile(KeyError):
    """No conduct profile has that name."""


def profile(name: str) -> ConductProfile:
    """Returns the conduct profile of that name."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"no conduct profile named {name!r}") from None
