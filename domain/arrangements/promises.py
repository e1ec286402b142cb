"""Promises to pay: what counts toward one, and when it is kept, partially kept or broken.

The rule is a pure function of the promises and the payments (``evaluate``), so that a payment
posted late, a reversal and the daily cycle all re-evaluate the same way: each payment that was
not reversed counts toward the oldest promise whose window holds its date (made on or before the
payment, due date plus grace days on or after it), each promise taking at most its amount. A
promise paid in full is KEPT at once; once its window has passed it is BROKEN when nothing was
paid and PARTIALLY_KEPT when something was; until then it stays OPEN.

A case has at most one OPEN promise, its newest one that is not cancelled: a newer promise
supersedes an open one when it is recorded, and an older promise that a reversal would turn
back to OPEN (a KEPT one whose payment bounced, inside its window) becomes SUPERSEDED instead —
the newer promise replaced it. Once its window has passed it is judged as any other
(PARTIALLY_KEPT or BROKEN), since it would not have been open.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.arrangements import errors
from domain.money import exact_amount


class PromiseStatus(enum.StrEnum):
    OPEN = "OPEN"
    KEPT = "KEPT"
    PARTIALLY_KEPT = "PARTIALLY_KEPT"
    BROKEN = "BROKEN"
    SUPERSEDED = "SUPERSEDED"  # replaced by a newer promise on the same case
    CANCELLED = "CANCELLED"


_EARLIEST = datetime.min.replace(tzinfo=UTC)

# Statuses that no payment changes any more.
FINAL_STATUSES = frozenset({PromiseStatus.SUPERSEDED, PromiseStatus.CANCELLED})
# Statuses given only once a promise's window has passed.
LAPSED_STATUSES = frozenset({PromiseStatus.BROKEN, PromiseStatus.PARTIALLY_KEPT})


@dataclass(frozen=True, slots=True)
class PromisePolicy:
    """Days of grace after the due date, and how far ahead a promise may fall due."""

    grace_days: int = 3
    max_horizon_days: int = 30

    def __post_init__(self) -> None:
        if self.grace_days < 0 or self.max_horizon_days < 0:
            raise ValueError("grace_days and max_horizon_days cannot be negative")


DEFAULT_PROMISE_POLICY = PromisePolicy()


@dataclass(eq=False)
class Promise:
    """A borrower's promise to pay an amount by a date (dates are the portfolio's local dates).

    ``promised_on`` is the day it was made: payments from that day count toward it.
    ``staff_id``/``agency_id`` are who it is credited to (the collector or agency whose contact
    produced it)."""

    case_id: int
    amount: Decimal
    currency: str
    due_date: date
    promised_on: date
    grace_days: int = DEFAULT_PROMISE_POLICY.grace_days
    status: PromiseStatus = PromiseStatus.OPEN
    paid_amount: Decimal = Decimal(0)
    contact_id: int | None = None
    staff_id: int | None = None
    agency_id: int | None = None
    created_at: datetime | None = None
    resolved_at: datetime | None = None  # when it left OPEN (None while open)
    recorded_by: int | None = None
    idempotency_key: str | None = None
    id: int | None = None
    version: int = 1

    @property
    def last_day(self) -> date:
        """Returns the last day a payment counts: the due date plus the grace days."""
        return self.due_date + timedelta(days=self.grace_days)

    def counts(self, paid_on: date) -> bool:
        """Returns whether a payment made on that day counts toward this promise."""
        return self.promised_on <= paid_on <= self.last_day


@dataclass(frozen=True, slots=True)
class PaymentFact:
    """What the rule needs of a payment: its amount, its local date, and whether it was reversed."""

    id: int | None
    amount: Decimal
    paid_on: date
    reversed: bool = False


@dataclass(frozen=True, slots=True)
class PromiseChange:
    """A promise's new status and paid amount, with the previous ones."""

    promise: Promise
    status: PromiseStatus
    paid_amount: Decimal
    previous_status: PromiseStatus
    previous_paid_amount: Decimal

    def apply(self, at: datetime | None = None) -> None:
        """Sets the promise's status and paid amount to the evaluated ones (``at``: when, for
        ``resolved_at`` of a promise whose status changes)."""
        promise = self.promise
        if self.status == PromiseStatus.OPEN:
            promise.resolved_at = None
        elif self.status != self.previous_status and at is not None:
            promise.resolved_at = at
        promise.status = self.status
        promise.paid_amount = self.paid_amount


def _status(promise: Promise, paid: Decimal, today: date | None) -> PromiseStatus:
    if paid >= promise.amount:
        return PromiseStatus.KEPT
    # Without a date the rule cannot tell that a window has passed, except that it already
    # had: a promise judged BROKEN or PARTIALLY_KEPT stays lapsed.
    lapsed = (
        PromiseStatus(promise.status) in LAPSED_STATUSES
        if today is None
        else today > promise.last_day
    )
    if not lapsed:
        return PromiseStatus.OPEN
    return PromiseStatus.PARTIALLY_KEPT if paid > 0 else PromiseStatus.BROKEN


def _age(promise: Promise) -> tuple[date, datetime, int]:
    """Returns the order promises were made in: by day, then creation, then id."""
    return (promise.promised_on, promise.created_at or _EARLIEST, promise.id or 0)


def _allocate(live: Sequence[Promise], counted: Sequence[PaymentFact]) -> dict[int, Decimal]:
    """Returns how much counts toward each promise (by ``id()``), oldest payment first to the
    oldest promise whose window holds its date, each taking at most its amount."""
    paid = {id(p): Decimal(0) for p in live}
    for fact in counted:
        left = fact.amount
        for promise in live:
            if left <= 0:
                break
            if not promise.counts(fact.paid_on):
                continue
            take = min(promise.amount - paid[id(promise)], left)
            if take > 0:
                paid[id(promise)] += take
                left -= take
    return paid


def evaluate(
    promises: Sequence[Promise],
    payments: Sequence[PaymentFact],
    today: date | None = None,
    *,
    closed_on: date | None = None,
    reopened_from: datetime | None = None,
) -> list[PromiseChange]:
    """Returns the changes of status and paid amount that the payments make to the promises.

    Superseded and cancelled promises are left as they are. Payments are taken oldest first
    (by date, then id) and fill the oldest promise (by the day it was made, then creation, then
    id) whose window holds their date first. Only the newest promise that is not cancelled can
    be OPEN: an older one that would be open is SUPERSEDED, keeping what counted toward it, and
    the payments are then shared among the others (so evaluating again changes nothing).

    ``closed_on``: the case is closed since that local day, and a promise that would stay OPEN
    and whose window still held that day is CANCELLED instead (nothing is left to keep); one
    whose window had ended before is judged as usual (BROKEN or PARTIALLY_KEPT once ``today``
    is past it). ``reopened_from``: the case was closed at that instant and is open again
    because that closing was undone (its payment reversed), so the promises cancelled by that
    closing stand again and are judged like the others."""
    revived = {
        id(p)
        for p in promises
        if reopened_from is not None
        and PromiseStatus(p.status) == PromiseStatus.CANCELLED
        and p.resolved_at == reopened_from
    }
    standing = sorted(
        (
            p
            for p in promises
            if PromiseStatus(p.status) != PromiseStatus.CANCELLED or id(p) in revived
        ),
        key=_age,
    )
    newest = standing[-1] if standing else None
    live = [
        p for p in standing if PromiseStatus(p.status) not in FINAL_STATUSES or id(p) in revived
    ]
    counted = sorted((f for f in payments if not f.reversed), key=lambda f: (f.paid_on, f.id or 0))
    superseded: dict[int, Decimal] = {}
    while True:
        paid = _allocate(live, counted)
        # Taking a promise out frees its payments for the others: share them again (each
        # round takes one out at least, so this ends).
        out = [
            p
            for p in live
            if p is not newest and _status(p, paid[id(p)], today) == PromiseStatus.OPEN
        ]
        if not out:
            break
        superseded.update((id(p), paid[id(p)]) for p in out)
        live = [p for p in live if id(p) not in superseded]
    changes: list[PromiseChange] = []
    for promise in sorted((p for p in standing if id(p) in superseded or id(p) in paid), key=_age):
        if id(promise) in superseded:
            status, amount = PromiseStatus.SUPERSEDED, superseded[id(promise)]
        else:
            amount = paid[id(promise)]
            status = _status(promise, amount, today)
            if (
                status == PromiseStatus.OPEN
                and closed_on is not None
                and closed_on <= promise.last_day
            ):
                status = PromiseStatus.CANCELLED
        previous = PromiseStatus(promise.status)  # loaded rows hold plain strings
        if status != previous or amount != promise.paid_amount:
            changes.append(PromiseChange(promise, status, amount, previous, promise.paid_amount))
    return changes


def new_promise(
    *,
    case_id: int,
    case_currency: str,
    amount: Decimal,
    currency: str,
    due_date: date,
    today: date,
    at: datetime,
    policy: PromisePolicy = DEFAULT_PROMISE_POLICY,
    contact_id: int | None = None,
    staff_id: int | None = None,
    agency_id: int | None = None,
) -> Promise:
    """Returns a new open promise made ``today`` (the portfolio's local date), or refuses it.

    The amount must be above zero, exact to the cent and in the case's currency; the due date
    from today up to ``policy.max_horizon_days`` ahead, both inclusive."""
    money = exact_amount(amount, currency, case_currency)
    latest = today + timedelta(days=policy.max_horizon_days)
    if not today <= due_date <= latest:
        raise errors.PromiseDueDateInvalid(
            f"a promise must fall due between {today} and {latest}, not on {due_date}",
            field="dueDate",
        )
    return Promise(
        case_id=case_id,
        amount=money.amount,
        currency=money.currency,
        due_date=due_date,
        promised_on=today,
        grace_days=policy.grace_days,
        contact_id=contact_id,
        staff_id=staff_id,
        agency_id=agency_id,
        created_at=at,
    )


def supersede_open(promises: Sequence[Promise], at: datetime | None = None) -> list[Promise]:
    """Marks a case's open promises SUPERSEDED (a new one replaces them); returns them.

    Evaluate first, so that a promise whose window has passed is judged rather than replaced."""
    superseded = [p for p in promises if PromiseStatus(p.status) == PromiseStatus.OPEN]
    for promise in superseded:
        promise.status = PromiseStatus.SUPERSEDED
        promise.resolved_at = at
    return superseded
