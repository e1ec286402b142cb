"""Retention as versioned rules with stable names, one per kind of record.

The lender sets its own periods (``ARREARS_RETENTION_*``, passed in as ``LenderPeriods``); a
conduct profile may set a floor that no lender setting shortens (US Regulation F keeps the
records of a debt three years after the last collection activity on it). ``cutoffs`` turns the
rules and a date into the instants the purge compares with: a record is past retention when its
instant lies strictly before the cutoff (the whole period has passed by the start of that UTC
day)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType

from domain.legal.policy import add_years

RULES_VERSION = "2026-11"
# The lender's default periods (days): five years after closure, as the lender's record period.
DEFAULT_CLOSED_CASE_DAYS = 5 * 365
DEFAULT_CONTACT_DAYS = 5 * 365
# A period shorter than this is refused in configuration: a purge must never follow closure so
# closely that a cure's watch window, a reopening or a late payment would find the data gone.
MIN_DAYS = 30


class RetentionRule(enum.StrEnum):
    """The stable names of the rules (documented in docs/API.md, "Data life cycle")."""

    # Personal data of a borrower (the person's row, contact points, free text about them and
    # their cases) once every case of theirs has been CLOSED longer than the lender's period.
    CLOSED_CASE_PERSONAL_DATA = "CLOSED_CASE_PERSONAL_DATA"
    # Records of communication (contacts' notes and recording references, notices' subject and
    # body) once the last collection activity on their case is older than the lender's period,
    # and never before the profile's floor (US_REG_F: three years).
    CONTACT_RECORDS = "CONTACT_RECORDS"
    # Audit entries: never purged (they hold ids, field names and hashes, never a value in
    # clear, and they are the evidence of what was done).
    AUDIT_ENTRIES = "AUDIT_ENTRIES"


@dataclass(frozen=True)
class Floor:
    """A conduct profile's minimum keeping period, in years after the last collection activity."""

    years: int
    source: str


# Floors per conduct profile for CONTACT_RECORDS (profiles not named: the lender's period).
CONTACT_FLOORS: Mapping[str, Floor] = MappingProxyType(
    {
        "US_REG_F": Floor(
            3, "12 CFR 1006.100: records kept 3 years after the last collection activity"
        )
    }
)


@dataclass(frozen=True)
class RuleText:
    """What a rule keeps and for how long, in words (the API guide's table)."""

    rule: RetentionRule
    purged: bool
    description: str


RULES: tuple[RuleText, ...] = (
    RuleText(
        RetentionRule.CLOSED_CASE_PERSONAL_DATA,
        True,
        "a borrower's personal data, once every case of theirs has been CLOSED for longer than "
        "ARREARS_RETENTION_CLOSED_CASE_DAYS, none is on legal hold and none has contact records "
        "a profile's floor still keeps",
    ),
    RuleText(
        RetentionRule.CONTACT_RECORDS,
        True,
        "contacts' notes and recording references and notices' subject and body of such a "
        "borrower's case, once its last collection activity is older than "
        "ARREARS_RETENTION_CONTACT_DAYS (US_REG_F: never before 3 years)",
    ),
    RuleText(
        RetentionRule.AUDIT_ENTRIES,
        False,
        "never purged: entries hold ids, field names and hashes, not values, and are the evidence",
    ),
)


@dataclass(frozen=True)
class LenderPeriods:
    """The lender's periods in days (the settings ``retention_closed_case_days`` and
    ``retention_contact_days``)."""

    closed_case_days: int = DEFAULT_CLOSED_CASE_DAYS
    contact_days: int = DEFAULT_CONTACT_DAYS

    def __post_init__(self) -> None:
        for name, days in (
            ("closed_case_days", self.closed_case_days),
            ("contact_days", self.contact_days),
        ):
            if days < MIN_DAYS:
                raise ValueError(f"{name} must be at least {MIN_DAYS} days, not {days}")


@dataclass(frozen=True)
class Cutoffs:
    """The instants a purge on ``as_of`` compares with: closed before ``closed_before``;
    communication records whose case's last activity is before the cutoff of its profile
    (``contact_before`` for profiles without a floor)."""

    as_of: date
    closed_before: datetime
    contact_before: datetime
    contact_before_by_profile: Mapping[str, datetime]

    def contact_cutoff(self, profile: str) -> datetime:
        """The contact-records cutoff of a conduct profile (the earlier of the lender's and the
        profile's floor: the longer keeping wins)."""
        return self.contact_before_by_profile.get(profile, self.contact_before)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def cutoffs(as_of: date, periods: LenderPeriods) -> Cutoffs:
    """Returns the cutoffs of a purge on ``as_of`` (UTC dates) under the lender's periods and
    the profiles' floors."""
    lender = _start_of(as_of - timedelta(days=periods.contact_days))
    by_profile = {
        profile: min(lender, _start_of(add_years(as_of, -floor.years)))
        for profile, floor in CONTACT_FLOORS.items()
    }
    return Cutoffs(
        as_of=as_of,
        closed_before=_start_of(as_of - timedelta(days=periods.closed_case_days)),
        contact_before=lender,
        contact_before_by_profile=MappingProxyType(by_profile),
    )
