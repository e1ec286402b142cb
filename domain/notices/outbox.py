"""What the outbox does with a queued notice at send time, and with the gateway's answer (pure).

At send time a QUEUED notice meets the conduct rules again (``domain.contacts.conduct.assess``,
its case's protections and life cycle included): allowed → sent; refused by a rule that waiting
lifts (the quiet hours of a timed channel such as SMS) → kept QUEUED until the next allowed
instant (``not_before``), which is not a failure; refused for good → SUPPRESSED naming the
rule. The gateway's answer then decides: 2xx → SENT; 408, 429, 5xx, a timeout or no answer →
tried again later (``RETRY_DELAYS`` after each failed attempt), FAILED ``GATEWAY_REJECTED`` when
the attempts run out; any other 4xx → FAILED ``GATEWAY_REJECTED`` at once.

A notice the outbox has handed to the gateway at least once (``attempts`` > 0) may have
reached it: the gateway's answer was lost (a timeout, a crash). Such a notice is never
suppressed afterwards — its record would claim it was never sent, and a later receipt of its
delivery would be refused — nor re-rendered: it is resent exactly as stored, with the same
``Idempotency-Key``, so that a gateway that has it already takes the repeat as one message
(``at_resend``: only a rule that waiting lifts, the quiet hours, holds it back).

What a notice states: the amount overdue (the unpaid part of every instalment due on or before
its date) and the next instalment (``amounts_due``); the Reg F dispute deadline
(``dispute_deadline``: 12 CFR 1006.34(b)(5), counted in business days without the US federal
holidays, ``us_federal_holidays``).

Destinations printed in development are masked here (jobs never import ``authz``): a number
keeps its last four digits, an e-mail its first letter and domain, an address nothing.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

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
# After this many gateway answers in a row that say it cannot take a notice now (no connection,
# a timeout, 408, 429, 5xx), the run stops: the notices not tried yet stay as they are.
OUTAGE_AFTER = 3
# A notice queued longer ago than this is not sent (STALE): what it says was decided on facts
# that old; the next daily run queues a fresh one if the strategy still calls for it.
STALE_AFTER = timedelta(days=3)
# The Reg F validation period (12 CFR 1006.34(b)(5)): it ends 30 days after the consumer
# receives the notice, and receipt may be assumed 5 days after it is sent, not counting legal
# public holidays (5 U.S.C. 6103(a)), Saturdays and Sundays.
RECEIPT_BUSINESS_DAYS = 5
VALIDATION_PERIOD = timedelta(days=30)
# The conduct profile whose notices count US federal holidays out of the business days.
REG_F_PROFILE = "US_REG_F"


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


def at_resend(allowance: Allowance) -> AtSend:
    """Decides for a notice already handed to the gateway (``attempts`` > 0): never
    suppressed (it may have reached the gateway: it is resent as stored), only held back until
    the latest instant the rules that waiting lifts name (the quiet hours)."""
    waits = [c for c in allowance.checks if not c.passed and c.next_allowed_at is not None]
    if allowance.allowed or not waits:
        return AtSend(Verdict.SEND)
    until = max(c.next_allowed_at for c in waits if c.next_allowed_at is not None)
    return AtSend(Verdict.DEFER, waits[0].rule, until)


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


def lease_until(attempts: int, now: datetime) -> datetime:
    """Until when a notice handed to the gateway for its ``attempts``-th time is left alone if
    the run dies before recording the answer (then it is due again, and resent as stored): the
    delay its retry would wait."""
    if attempts < 1:
        raise ValueError("a lease follows at least one attempt")
    return now + RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


def attempts_ran_out(attempts: int) -> bool:
    """Whether a notice still QUEUED after ``attempts`` attempts may not be tried again (the
    answer to its last one was never recorded: the run died)."""
    return attempts >= MAX_ATTEMPTS


# ---- dates ----------------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The ``nth`` (1-based; -1: the last) given weekday (Monday 0) of a month."""
    days = [
        day
        for day in calendar.Calendar().itermonthdates(year, month)
        if day.month == month and day.weekday() == weekday
    ]
    return days[nth - 1] if nth > 0 else days[nth]


def _observed(day: date) -> date:
    """The day a holiday is observed (5 U.S.C. 6103(b)): a Saturday's on the Friday before, a
    Sunday's on the Monday after."""
    if day.weekday() == calendar.SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == calendar.SUNDAY:
        return day + timedelta(days=1)
    return day


def _legal_public_holidays(year: int) -> list[date]:
    """The legal public holidays of 5 U.S.C. 6103(a) in a year, on their own dates
    (Inauguration Day, a holiday in the Washington area only, is not counted)."""
    monday, thursday = calendar.MONDAY, calendar.THURSDAY
    return [
        date(year, 1, 1),  # New Year's Day
        _nth_weekday(year, 1, monday, 3),  # Birthday of Martin Luther King, Jr.
        _nth_weekday(year, 2, monday, 3),  # Washington's Birthday
        _nth_weekday(year, 5, monday, -1),  # Memorial Day
        date(year, 6, 19),  # Juneteenth National Independence Day
        date(year, 7, 4),  # Independence Day
        _nth_weekday(year, 9, monday, 1),  # Labor Day
        _nth_weekday(year, 10, monday, 2),  # Columbus Day
        date(year, 11, 11),  # Veterans Day
        _nth_weekday(year, 11, thursday, 4),  # Thanksgiving Day
        date(year, 12, 25),  # Christmas Day
    ]


@lru_cache(maxsize=64)
def us_federal_holidays(year: int) -> frozenset[date]:
    """The US federal holidays that fall in a year's calendar, each on its own date and on the
    day it is observed (both are days off: counting neither as a business day gives the later,
    safer, assumed receipt) — with 31 December when the next New Year's Day is a Saturday."""
    days: set[date] = set()
    for holiday in [*_legal_public_holidays(year), date(year + 1, 1, 1)]:
        days.update(d for d in (holiday, _observed(holiday)) if d.year == year)
    return frozenset(days)


def _no_holidays(_year: int) -> frozenset[date]:
    return frozenset()


def add_business_days(
    day: date, count: int, holidays: Callable[[int], frozenset[date]] = us_federal_holidays
) -> date:
    """The ``count``-th day after ``day`` that is neither a Saturday, a Sunday nor one of
    ``holidays(year)``."""
    if count < 0:
        raise ValueError("count business days forward only")
    found = day
    while count:
        found += timedelta(days=1)
        if found.weekday() < calendar.SATURDAY and found not in holidays(found.year):
            count -= 1
    return found


def dispute_deadline(sent_on: date, profile: str) -> date:
    """The last day to dispute the debt that a notice sent on ``sent_on`` states: 30 days after
    its assumed receipt, 5 business days after it was sent (12 CFR 1006.34(b)(5)). US federal
    holidays are not business days under US_REG_F; other profiles count weekdays only (the
    holidays of their own calendars are not computed by rule)."""
    holidays = us_federal_holidays if profile == REG_F_PROFILE else _no_holidays
    return add_business_days(sent_on, RECEIPT_BUSINESS_DAYS, holidays) + VALIDATION_PERIOD


# ---- amounts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instalment:
    """One scheduled instalment of an open debt of the case, as a notice reads it."""

    due_date: date
    amount_due: Decimal
    amount_paid: Decimal

    @property
    def unpaid(self) -> Decimal:
        return max(self.amount_due - self.amount_paid, Decimal(0))


@dataclass(frozen=True)
class AmountsDue:
    overdue: Decimal  # the unpaid part of every instalment due on or before the date
    next_due_date: date | None  # the earliest unpaid instalment's due date after it
    next_amount: Decimal | None  # the unpaid part of the instalments due that day


def amounts_due(instalments: Iterable[Instalment], as_of: date) -> AmountsDue:
    """What a notice dated ``as_of`` says is overdue and due next, from the case's open debts'
    instalments (never below zero; the next instalment sums every debt's due that day)."""
    overdue = Decimal(0)
    upcoming: dict[date, Decimal] = {}
    for row in instalments:
        if row.due_date <= as_of:
            overdue += row.unpaid
        elif row.unpaid > 0:
            upcoming[row.due_date] = upcoming.get(row.due_date, Decimal(0)) + row.unpaid
    if not upcoming:
        return AmountsDue(overdue, None, None)
    first = min(upcoming)
    return AmountsDue(overdue, first, upcoming[first])


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
