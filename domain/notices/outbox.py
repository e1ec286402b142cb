"""What the outbox does with a queued notice at send time, and with the gateway's answer (pure).

At send time a QUEUED notice meets the conduct rules again (``domain.contacts.conduct.assess``,
its case's protections and life cycle included): allowed → sent; refused by a rule that waiting
lifts (the quiet hours of a timed channel such as SMS) → kept QUEUED until the next allowed
instant (``not_before``), which is not a failure; refused for good → SUPPRESSED naming the
rule. The gateway's answer then decides: 2xx → SENT; 408, 429, 5xx, a timeout or no answer →
tried again later (``RETRY_DELAYS`` after each failed attempt), FAILED ``GATEWAY_REJECTED`` when
the attempts run out; any other 4xx → FAILED ``GATEWAY_REJECTED`` at once.

Destinations printed in development are masked here (jobs never import ``authz``): a number
keeps its last four digits, an e-mail its first letter and domain, an address nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.conduct.engine import Allowance
from domain.contacts.model import ContactPointKind

# How long the outbox waits before trying a notice again after the gateway could not take it
# (the n-th failed attempt waits the n-th delay); after the last, the notice FAILED.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# The Reg F validation period a notice states: 30 days after it is received, which a notice
# assumes 5 days after it is dated (12 CFR 1006.34(b)(5): the itemization and validation dates).
VALIDATION_DAYS = 35


class Verdict(enum.StrEnum):
    SEND = "SEND"
    DEFER = "DEFER"  # kept QUEUED until ``not_before``
    SUPPRESS = "SUPPRESS"  # SUPPRESSED, naming ``rule``


@dataclass(frozen=True)
class AtSend:
    """What to do with a queued notice now."""

    verdict: Verdict
    rule: str | None = None
    not_before: datetime | None = None


def at_send(allowance: Allowance) -> AtSend:
    """Decides from the conduct rules' answer: send, wait for the next allowed instant (every
    refusing rule lifts by waiting and such an instant exists), or suppress naming the rule
    that refuses (the first that waiting cannot lift)."""
    if allowance.allowed:
        return AtSend(Verdict.SEND)
    failure = allowance.first_failure
    assert failure is not None
    if failure.next_allowed_at is not None and allowance.next_allowed_at is not None:
        return AtSend(Verdict.DEFER, failure.rule, allowance.next_allowed_at)
    return AtSend(Verdict.SUPPRESS, failure.rule)


class Answer(enum.StrEnum):
    """The gateway's answer to one notice."""

    ACCEPTED = "ACCEPTED"  # 2xx: SENT
    REJECTED = "REJECTED"  # a 4xx other than 408 and 429: FAILED at once
    UNAVAILABLE = "UNAVAILABLE"  # 408, 429, 5xx, a timeout, no connection: try again later


def answer_of(status_code: int) -> Answer:
    """Classifies an HTTP status of the gateway's answer."""
    if 200 <= status_code < 300:
        return Answer.ACCEPTED
    if 400 <= status_code < 500 and status_code not in (408, 429):
        return Answer.REJECTED
    return Answer.UNAVAILABLE


def retry_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts in all (None: they ran out)."""
    if attempts < 1:
        raise ValueError("a retry follows at least one failed attempt")
    if attempts > len(RETRY_DELAYS):
        return None
    return now + RETRY_DELAYS[attempts - 1]


def dispute_deadline(as_of: date) -> date:
    """The last day to dispute the debt that a notice dated ``as_of`` states."""
    return as_of + timedelta(days=VALIDATION_DAYS)


# Who signs a notice of a case neither a collector nor an agency works: the lender's department.
COLLECTIONS_DEPARTMENT = {"zh": "贷后管理部", "en": "Collections Department"}
NO_IDENTITY = "-"


def collector_of(
    name: str | None, login: str | None, agency: str | None, language: str
) -> tuple[str, str]:
    """(collector name, collector identity) a notice states: the case's collector and their
    login; else the agency working the case; else the lender's collections department."""
    if name:
        return name, login or NO_IDENTITY
    if agency:
        return agency, NO_IDENTITY
    return COLLECTIONS_DEPARTMENT.get(language, COLLECTIONS_DEPARTMENT["en"]), NO_IDENTITY


def mask_account(number: str) -> str:
    """An account number as a notice prints it: its last four characters only."""
    tail = number.strip()[-4:]
    return f"****{tail}" if tail else "****"


def mask_destination(kind: ContactPointKind, value: str) -> str:
    """Where a notice goes, as a development printout shows it (no personal data in clear)."""
    if kind is ContactPointKind.PHONE:
        digits = [ch for ch in value if ch.isdigit()]
        return f"****{''.join(digits[-4:])}" if len(digits) > 4 else "****"
    if kind is ContactPointKind.EMAIL:
        local, at, domain = value.partition("@")
        return f"{local[0]}***@{domain}" if at and local else "****"
    return "****"
